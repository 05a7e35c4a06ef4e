# This file is part of ts_calibscripts.
#
# Developed for the Vera C. Rubin Observatory Telescope and Site Software.
# This product includes software developed by the LSST Project
# (https://www.lsst.org).
# See the COPYRIGHT file at the top-level directory of this distribution
# for details of code ownership.
#
# This program is free software: you can redistribute it and/or modify
# it under the terms of the GNU General Public License as published by
# the Free Software Foundation, either version 3 of the License, or
# (at your option) any later version.
#
# This program is distributed in the hope that it will be useful,
# but WITHOUT ANY WARRANTY; without even the implied warranty of
# MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE.  See the
# GNU General Public License for more details.
#
# You should have received a copy of the GNU General Public License
# along with this program.  If not, see <https://www.gnu.org/licenses/>.

"""MakeComCamBias: take LSSTComCam biases, combine, verify and certify them.

The procedure, one stage per checkpoint (`~lsst.ts.calibscripts.bias.stages.Stage`):

1. ``preflight``: CCCamera, CCHeaderService, CCOODS and OCPS:2 are ENABLED
   (OCPS:2 refuses another instrument's settings at start), no applied
   OCPS:2 configuration file is named after another instrument and, if the
   run verifies or certifies, ``repo`` opens as a butler repository;
   otherwise fail before any exposure.
2. ``take_biases``: subscribe to ``CCOODS.imageInOODS``, then take
   ``n_discard_bias + n_bias + n_verify_bias`` frames with ``ComCam.take_bias``
   tagged with the script's group id, reason, program and note, one at a
   time, each within ``frame_timeout`` (``take_bias`` itself can wait forever
   for an ``endReadout`` that never comes).
3. ``wait_ingest``: wait until every (exposure, detector) of the combined and
   verification frames is ingested with statusCode 0, within one deadline
   (the discarded frames are not waited for; their failures are warnings).
4. ``cp_bias``: run cpBias on the combined frames through OCPS:2, then check
   that its output collection is in ``repo`` (OCPS runs on its own butler).
5. ``verify_bias``: run verifyBias on ``u/ocps/<bias job>`` plus
   ``input_collections_verify``, on the independent frames if any.
6. ``judge``: read ``verifyBiasStats`` and judge it.
7. ``certify``: certify ``bias`` from the bias job's RUN into
   ``calib_collection`` over the validity range.
8. ``summary``: draw the pictures, write the YAML summary into ``report_dir``
   and log the summary with the full path of every file written.

The script ends DONE only when what the configuration asked for was done;
otherwise FAILED with a reason that names the cause and what was already
done (including the exposure ids and job ids to resume from). Stopping in
any stage gives STOPPED; on stop or failure every OCPS job the script started
and that has not ended is aborted.

SAL names come from `lsst.ts.calibscripts.sal` only, so the same file runs on
the real ts_salobj stack and on the simulated one. daf_butler is imported
only by the stages that use it, in a worker thread.
"""

from __future__ import annotations

__all__ = ["MakeComCamBias"]

import asyncio
import contextlib
import datetime
import types
import typing

from .. import sal
from ..bias import butler_ops
from ..bias import config as bias_config
from ..bias import ingest
from ..bias import metadata as bias_metadata
from ..bias import naming, ocps
from ..bias.stages import Stage
from ..bias.summary import JobRecord, Outcome, RunSummary
from ..sal import OCPSIndex, ScriptState, salobj

if typing.TYPE_CHECKING:
    from ..bias.butler_ops import CertificationResult
    from ..bias.verification import Verdict

DESCRIPTION = (
    "Take LSSTComCam biases, make a combined bias with cpBias through OCPS:2, "
    "verify it with verifyBias and certify it in a butler CALIBRATION collection."
)

HELP = """Options are described in the configuration schema (--schema).
Minimal configuration:
    calib_collection: LSSTComCam/calib/daily
Resume after a failure: give exposure_ids (skip taking) and, if the bias job
completed, bias_job_id (skip cpBias); the failure reason lists both.
"""


def tai_isot() -> str:
    """The current TAI time as ISO-8601 text."""
    when = datetime.datetime.fromtimestamp(sal.current_tai(), tz=datetime.timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]


STOP_FRAME_GRACE = 10.0
"""Seconds a stop waits for the frame in progress, so that its exposure id is recorded."""

CAMERA_EVENT_GRACE = 1.0
"""Seconds to wait, after a frame failed, for CCCamera's FAULT summaryState and errorCode."""


async def describe_camera_fault(
    camera: typing.Any, error_before: typing.Any, grace: float | None = None
) -> str:
    """Say whether CCCamera went to FAULT after a failed frame, and with which errorCode.

    ``summaryState`` and ``errorCode`` are other topics than the command's
    ack, and the SAL keeps order only within a topic, so they may arrive
    after the failed ack: wait up to ``grace`` seconds for a FAULT state and
    for an ``errorCode`` sample newer than ``error_before``.

    Parameters
    ----------
    camera : `lsst.ts.salobj.Remote`
        The CCCamera remote.
    error_before : `typing.Any`
        The latest ``errorCode`` sample before the frame was started (or None).
    grace : `float`, optional
        Seconds to wait; default `CAMERA_EVENT_GRACE`.

    Returns
    -------
    description : `str`
        ``CCCamera is in FAULT (errorCode N: report)``, ``CCCamera is in
        FAULT (no new errorCode)``, or ``""`` if the camera is not in FAULT.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + (CAMERA_EVENT_GRACE if grace is None else grace)
    while True:
        state = camera.evt_summaryState.get()
        error = camera.evt_errorCode.get()
        faulted = state is not None and state.summaryState == sal.State.FAULT
        if faulted and error is not None and error is not error_before:
            return f"CCCamera is in FAULT (errorCode {error.errorCode}: {error.errorReport})"
        if loop.time() >= deadline:
            return "CCCamera is in FAULT (no new errorCode)" if faulted else ""
        await asyncio.sleep(0.01)


class VerificationFailed(salobj.ExpectedError):
    """The master bias failed verification and was not certified."""


class FrameNotTaken(salobj.ExpectedError):
    """A bias frame failed or was not taken within ``frame_timeout``."""


KNOWN_ERRORS: tuple[type[BaseException], ...] = (
    salobj.ExpectedError,
    salobj.AckError,
    ingest.IngestError,
    ocps.OcpsError,
    ocps.CscNotReady,
    bias_config.ConfigError,
    butler_ops.CertificationError,
    butler_ops.RepoNotUsable,
    butler_ops.VerifyStatsNotFound,
)
"""Errors whose message says it all: no traceback is logged for them."""


def describe_error(error: BaseException) -> str:
    """The cause of a failure, as text for the reason."""
    if isinstance(error, salobj.AckError) and getattr(error, "ackcmd", None) is not None:
        try:
            code = sal.SalRetCode(error.ackcmd.ack).name
        except ValueError:
            code = str(error.ackcmd.ack)
        kind = "not acknowledged in time" if isinstance(error, salobj.AckTimeoutError) else "failed"
        return f"command {kind} ({code}): {error.ackcmd.result}"
    return str(error) or type(error).__name__


class MakeComCamBias(salobj.BaseScript):
    """Take LSSTComCam biases, make, verify and certify a combined bias.

    Parameters
    ----------
    index : `int`
        The Script SAL index.
    """

    def __init__(self, index: int = 1) -> None:
        super().__init__(index=index, descr=DESCRIPTION, help=HELP)
        # Schema errors name the option first (BaseScript validates before configure).
        self.config_validator = bias_config.SchemaValidator(self.config_validator)
        self.comcam = sal.ComCam(domain=self.domain, log=self.log)
        self.ocps = salobj.Remote(domain=self.domain, name="OCPS", index=OCPSIndex.LSSTComCam)
        self.jobs = ocps.OcpsJobClient(self.ocps, log=self.log)
        self.bias_config: bias_config.BiasConfig | None = None
        self.summary = RunSummary()
        self.current_stage: Stage | None = None
        self.ingest_tracker: ingest.IngestTracker | None = None
        self.ingest_report: ingest.IngestReport | None = None
        self.verdict: Verdict | None = None
        self.certification: CertificationResult | None = None
        self.bias_job_id = ""
        self.verify_job_id = ""
        self.bias_result: ocps.JobResult | None = None
        self.frame_at_stop = ""

    # ------------------------------------------------------------------
    # Configuration
    # ------------------------------------------------------------------

    @classmethod
    def get_schema(cls) -> dict[str, typing.Any]:
        """Return the configuration schema (``schemas/make_comcam_bias.yaml``)."""
        from ..schemas import load_schema

        return load_schema()

    async def configure(self, config: types.SimpleNamespace) -> None:
        """Check the configuration beyond the schema and keep it.

        Raises
        ------
        ConfigError
            Naming the option, for values the schema cannot reject.
        """
        self.bias_config = bias_config.make_config(config)
        self.config = config
        self.log.info(f"Configured: {self.plan_text()}")

    def set_metadata(self, metadata: typing.Any) -> None:
        """Set instrument, number of images and the duration estimate."""
        config = self.require_config()
        metadata.instrument = naming.COMCAM_INSTRUMENT
        metadata.nimages = config.n_frames_to_take
        metadata.duration = bias_metadata.estimate_duration(config, self.comcam.read_out_time).total
        if hasattr(metadata, "totalCheckpoints"):
            metadata.totalCheckpoints = len(self.planned_stages())

    def require_config(self) -> bias_config.BiasConfig:
        """Return the configuration; `RuntimeError` if not configured."""
        if self.bias_config is None:
            raise RuntimeError("Not configured")
        return self.bias_config

    def planned_stages(self) -> list[Stage]:
        """The stages this configuration runs, in order."""
        config = self.require_config()
        stages = [Stage.PREFLIGHT]
        if config.takes_frames:
            stages += [Stage.TAKE_BIASES, Stage.WAIT_INGEST]
        if config.runs_bias_job:
            stages.append(Stage.CP_BIAS)
        if config.do_verify:
            stages += [Stage.VERIFY_BIAS, Stage.JUDGE]
        if config.do_certify:
            stages.append(Stage.CERTIFY)
        stages.append(Stage.SUMMARY)
        return stages

    def plan_text(self) -> str:
        """One line saying what the run will do."""
        config = self.require_config()
        if config.takes_frames:
            frames = (
                f"take {config.n_frames_to_take} biases ({config.n_discard_bias} discarded, "
                f"{config.n_bias} combined, {config.n_verify_bias} for verification only)"
            )
        else:
            frames = f"use exposures {list(config.exposure_ids)}"
        bias = f"reuse bias job {config.bias_job_id}" if config.bias_job_id else "run cpBias"
        return (
            f"{frames} on detectors {list(config.detectors)}; {bias}; verify={config.do_verify}; "
            f"certify={config.do_certify} into {config.calib_collection}"
        )

    # ------------------------------------------------------------------
    # The procedure
    # ------------------------------------------------------------------

    async def run(self) -> None:
        """Run the procedure; see the module documentation."""
        config = self.require_config()
        self.summary = self.make_summary(config)
        try:
            await self.stage(Stage.PREFLIGHT)
            await self.preflight()
            if config.takes_frames:
                await self.stage(Stage.TAKE_BIASES)
                await self.take_biases()
                await self.stage(Stage.WAIT_INGEST)
                await self.wait_for_ingest()
            else:
                self.use_exposures(list(config.exposure_ids), n_discard=0)
            if config.runs_bias_job:
                await self.stage(Stage.CP_BIAS)
                await self.run_bias_job()
                await self.check_bias_output_in_repo()
            else:
                self.bias_job_id = config.bias_job_id
                self.summary.bias_collection = ocps.output_collection(config.bias_job_id)
            if config.do_verify:
                await self.stage(Stage.VERIFY_BIAS)
                await self.run_verify_job()
                await self.stage(Stage.JUDGE)
                await self.judge_verification()
            if config.do_certify:
                await self.stage(Stage.CERTIFY)
                await self.certify()
            await self.stage(Stage.SUMMARY)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            raise salobj.ExpectedError(self.failure_reason(e)) from e
        self.summary.mark_done(Stage.SUMMARY)
        reason = self.done_reason()
        self.summary.finish(Outcome.DONE, reason=reason, finished=tai_isot())
        await self.report()
        if self.summary.report_path in self.summary.report_files:
            reason += f"; report: {self.summary.report_path}"
        # The DONE state keeps this reason: the operator sees the result in the queue.
        await self.set_state(reason=reason)

    async def stage(self, stage: Stage) -> None:
        """Record the previous stage as done and pass the next one's checkpoint."""
        if self.current_stage is not None:
            self.summary.mark_done(self.current_stage)
        self.current_stage = stage
        await self.checkpoint(stage.checkpoint_name)
        self.log.info(f"Stage {stage.number} {stage.value}: {stage.title}")

    # Each stage below is a small unit, tested on its own.

    async def preflight(self) -> None:
        """Fail unless the needed CSCs are ENABLED, no OCPS:2 configuration
        names another instrument and ``repo`` opens as a butler repository.

        The camera, header service and OODS are needed only to take frames
        (not when resuming from ``exposure_ids``); OCPS:2 only to run jobs;
        ``repo`` only to read verification statistics or certify.
        """
        config = self.require_config()
        rem = self.comcam.rem
        remotes = [rem.cccamera, rem.ccheaderservice, rem.ccoods] if config.takes_frames else []
        needs_ocps = config.runs_bias_job or config.do_verify
        if needs_ocps:
            remotes.append(self.ocps)
        states = await ocps.check_enabled(remotes) if remotes else {}
        ready = ", ".join(f"{name} {state.name}" for name, state in states.items()) or "no CSC needed"
        if needs_ocps:
            # ENABLED is the requirement (OCPS refuses another instance's settings at start);
            # this only rejects an applied override named after another instrument.
            applied = await ocps.check_ocps_configuration(
                self.ocps, instrument=naming.COMCAM_INSTRUMENT, log=self.log
            )
            await self.jobs.start()
            if applied is not None:
                ready += f"; {self.jobs.name} configuration {applied.configurations}"
        if config.do_verify or config.do_certify:
            await asyncio.to_thread(butler_ops.check_repo, config.repo)
            ready += f"; repo {config.repo}"
        self.log.info(f"Ready: {ready}")

    async def take_biases(self) -> None:
        """Listen to imageInOODS, then take the frames one at a time.

        Taking one frame per call keeps the exposure ids of the frames
        already taken if a later one fails, so the run can be resumed.
        """
        config = self.require_config()
        self.ingest_tracker = ingest.IngestTracker(
            max_other_events=config.max_counter_archiver_check, log=self.log
        )
        self.ingest_tracker.install(self.comcam.rem.ccoods.evt_imageInOODS)
        n_frames = config.n_frames_to_take
        for frame in range(1, n_frames + 1):
            exposure_id = await self.take_one_bias(frame, n_frames)
            self.summary.exposures_taken.append(exposure_id)
            if frame > config.n_discard_bias:
                self.ingest_tracker.expect([exposure_id], config.detectors)
            self.log.debug(f"Bias {frame}/{n_frames}: exposure {exposure_id}")
        self.use_exposures(self.summary.exposures_taken, n_discard=config.n_discard_bias)
        self.log.info(f"Took {n_frames} biases: {self.summary.exposures_taken}")

    async def take_one_bias(self, frame: int, n_frames: int) -> int:
        """Take bias ``frame`` (1-based) of ``n_frames`` within ``frame_timeout``.

        Raises
        ------
        FrameNotTaken
            ``take_bias`` failed (the reason keeps its cause) or did not
            return in time; either names the frame, the camera's state if it
            is in FAULT, and the exposures already taken.
        """
        config = self.require_config()
        error_before = self.comcam.rem.cccamera.evt_errorCode.get()
        taking = asyncio.ensure_future(
            self.comcam.take_bias(
                1,
                group_id=self.group_id,
                reason=config.reason or None,
                program=config.program or None,
                note=config.note or None,
            )
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + config.frame_timeout
        try:
            await asyncio.wait({taking}, timeout=config.frame_timeout)
        except asyncio.CancelledError:
            await self.record_frame_in_progress(taking, frame, n_frames, deadline)
            raise
        finally:
            if not taking.done():
                taking.cancel()
        taken = f"; exposure ids taken before it: {self.summary.exposures_taken}"
        if not taking.done() or taking.cancelled():
            with contextlib.suppress(asyncio.CancelledError):
                await taking
            raise FrameNotTaken(
                f"bias {frame} of {n_frames} not taken within frame_timeout={config.frame_timeout:g} s; "
                f"probable cause: no endReadout / camera not ready; check CCCamera "
                f"({self.camera_diagnosis()}){taken}"
            )
        try:
            (exposure_id,) = taking.result()
        except (salobj.AckError, RuntimeError) as e:
            command = "CCCamera takeImages " if isinstance(e, salobj.AckError) else ""
            fault = await describe_camera_fault(self.comcam.rem.cccamera, error_before)
            raise FrameNotTaken(
                f"bias {frame} of {n_frames} failed: {command}{describe_error(e)}"
                + (f"; {fault}" if fault else "")
                + taken
            ) from e
        return int(exposure_id)

    async def record_frame_in_progress(
        self, taking: asyncio.Future, frame: int, n_frames: int, deadline: float
    ) -> None:
        """On a stop during a frame, wait for the camera to end it and record its exposure id.

        A stop does not stop the camera: a frame it has started is taken
        anyway. Waiting for it (at most `STOP_FRAME_GRACE` seconds, and not
        past the frame's ``frame_timeout``) keeps every exposure taken in
        the summary.
        """
        loop = asyncio.get_running_loop()
        wait = min(STOP_FRAME_GRACE, deadline - loop.time())
        if not taking.done() and wait > 0:
            await asyncio.wait({taking}, timeout=wait)
        if taking.done() and not taking.cancelled() and taking.exception() is None:
            (exposure_id,) = taking.result()
            self.summary.exposures_taken.append(int(exposure_id))
            self.log.warning(
                f"Bias {frame}/{n_frames} (exposure {exposure_id}) was taken as the script stopped"
            )
        else:
            # The image may exist without the script knowing its id: say what the camera events show.
            self.frame_at_stop = (
                f"bias {frame} of {n_frames} was in progress and did not end ({self.camera_diagnosis()})"
            )
            self.log.warning(f"Stopped while taking biases: {self.frame_at_stop}")

    def camera_in_fault(self) -> bool:
        """True if the last CCCamera summaryState seen is FAULT."""
        state = self.comcam.rem.cccamera.evt_summaryState.get()
        return state is not None and state.summaryState == sal.State.FAULT

    def camera_diagnosis(self) -> str:
        """What the CCCamera events seen so far say about a frame that did not end."""
        camera = self.comcam.rem.cccamera
        if self.camera_in_fault():
            error = camera.evt_errorCode.get() if hasattr(camera, "evt_errorCode") else None
            detail = f" (errorCode {error.errorCode}: {error.errorReport})" if error is not None else ""
            return f"CCCamera is in FAULT{detail}"
        start = camera.evt_startIntegration.get()
        end = camera.evt_endReadout.get()
        started = start.imageName if start is not None else ""
        read = end.imageName if end is not None else ""
        if started and started != read and started > read:
            return f"no endReadout for {started}; last endReadout {read or 'none'}"
        if read and started != read:
            return f"no startIntegration for {read}; last startIntegration {started or 'none'}"
        return f"last image started and read out: {started or 'none'}"

    def use_exposures(self, exposure_ids: list[int], n_discard: int) -> None:
        """Split exposures into discarded, combined and verification frames."""
        config = self.require_config()
        self.summary.exposures_taken = list(exposure_ids) if config.takes_frames else []
        kept = list(exposure_ids[n_discard:])
        n_combined = len(kept) - config.n_verify_bias
        self.summary.exposures_discarded = list(exposure_ids[:n_discard])
        self.summary.exposures_combined = kept[:n_combined]
        self.summary.exposures_verify = kept[n_combined:] or list(kept[:n_combined])

    async def wait_for_ingest(self) -> None:
        """Wait until CCOODS has ingested every (exposure, detector) of the frames used.

        The frames used are the combined and the verification frames; the
        discarded frames are not waited for, but an ingestion failure of one
        seen by then is a warning in the summary. One deadline for all pairs:
        ``oods_timeout`` after the last readout (``take_bias`` returns when
        the last frame's integration ends, so the readout time is added).
        """
        config = self.require_config()
        assert self.ingest_tracker is not None
        try:
            report = await self.ingest_tracker.wait(timeout=config.oods_timeout + self.comcam.read_out_time)
            self.ingest_report = report
        except ingest.IngestError as e:
            self.summary.ingest_problems.append(str(e))
            raise
        finally:
            self.note_discarded_ingest_failures()
            self.stop_ingest_tracking()
        self.summary.ingest_problems += [f"ingested after a retry: {o.describe()}" for o in report.retried]
        n_discarded = len(self.summary.exposures_discarded)
        not_awaited = f"; the {n_discarded} discarded frame(s) not awaited" if n_discarded else ""
        self.log.info(
            f"CCOODS ingested the {len(report.exposure_ids)} exposure(s) used (combined and verification) "
            f"x {len(report.detectors)} detector(s){not_awaited}"
        )

    def note_discarded_ingest_failures(self) -> None:
        """Warn (log and summary) about ingestion failures of discarded frames seen so far."""
        if self.ingest_tracker is None:
            return
        for outcome in self.ingest_tracker.failures_of(self.summary.exposures_discarded):
            problem = f"discarded frame (not used) failed ingestion: {outcome.describe()}"
            if problem not in self.summary.ingest_problems:
                self.summary.ingest_problems.append(problem)
                self.log.warning(problem)

    def stop_ingest_tracking(self) -> None:
        """Remove the imageInOODS callback, if installed."""
        if self.ingest_tracker is not None:
            self.ingest_tracker.uninstall(self.comcam.rem.ccoods.evt_imageInOODS)

    async def run_bias_job(self) -> None:
        """Run cpBias on the combined frames."""
        config = self.require_config()
        record = await self.run_job(
            "cp_bias",
            pipeline=config.pipeline_bias,
            inputs=config.input_collections_bias,
            options=config.config_options_bias,
            exposure_ids=self.summary.exposures_combined,
        )
        self.bias_job_id = typing.cast(str, record.job_id)

    async def check_bias_output_in_repo(self) -> None:
        """Fail at once unless the bias job's output is in ``repo`` (off the event loop).

        OCPS runs its jobs on its own configured butler; verification
        statistics and certification are read and written in ``repo``. The
        check is skipped when neither verification nor certification is done.

        Raises
        ------
        RepoMismatch
            Naming ``repo``, the OCPS's butler (when its result says) and what to fix.
        """
        config = self.require_config()
        if self.bias_result is None or not (config.do_verify or config.do_certify):
            return
        await asyncio.to_thread(ocps.check_output_in_repo, config.repo, self.bias_result, self.jobs.name)

    async def run_verify_job(self) -> None:
        """Run verifyBias on the bias job's output and the verification frames."""
        config = self.require_config()
        record = await self.run_job(
            "verify_bias",
            pipeline=config.pipeline_verify,
            inputs=(ocps.output_collection(self.bias_job_id),) + config.input_collections_verify,
            options=config.config_options_verify,
            exposure_ids=self.summary.exposures_verify,
        )
        self.verify_job_id = typing.cast(str, record.job_id)

    async def run_job(
        self,
        name: str,
        pipeline: str,
        inputs: typing.Sequence[str],
        options: typing.Sequence[str],
        exposure_ids: list[int],
    ) -> JobRecord:
        """Run one OCPS job and fail unless it completed (exit_code 0)."""
        config = self.require_config()
        words = ["-j", str(config.n_processes), "-i", ",".join(inputs), "--register-dataset-types"]
        record = self.summary.add_job(
            JobRecord(
                name=name,
                pipeline=pipeline,
                config=" ".join(words + list(options)),
                data_query=naming.build_data_query(naming.COMCAM_INSTRUMENT, config.detectors, exposure_ids),
            )
        )

        def on_job_id(job_id: str) -> None:
            record.job_id = job_id
            record.output_collection = ocps.output_collection(job_id)
            record.output_run = ocps.output_run(job_id)

        try:
            result = await self.jobs.run_job(
                name,
                pipeline=record.pipeline,
                config=record.config,
                data_query=record.data_query,
                timeout=config.job_timeout,
                on_job_id=on_job_id,
            )
        except ocps.JobFailed as e:
            self.record_job_result(record, e.result)
            raise
        except ocps.OcpsError as e:
            record.error = str(e)
            raise
        self.record_job_result(record, result)
        if name == "cp_bias":
            self.bias_result = result
        return record

    @staticmethod
    def record_job_result(record: JobRecord, result: ocps.JobResult) -> None:
        """Copy a job's result into its summary record.

        The job's outcome comes from its exit code alone; the phase OCPS
        reports is the job's phase at submission. A job that did not
        complete keeps, as its error, what the execution service said and
        where its log is.
        """
        record.job_id = result.job_id
        record.exit_code = result.exit_code
        record.outcome = result.outcome.value
        record.submitted_phase = result.submitted_phase
        record.error = "" if result.succeeded else result.failure_detail()
        record.output_collection = result.output_collection
        record.output_run = result.output_run

    async def judge_verification(self) -> None:
        """Read verifyBiasStats (off the event loop) and judge it."""
        from ..bias import verification

        config = self.require_config()
        collections = [ocps.output_collection(self.verify_job_id), ocps.output_collection(self.bias_job_id)]
        stats = await asyncio.to_thread(butler_ops.read_verify_stats, config.repo, collections)
        self.verdict = verification.judge_verify_stats(
            stats,
            n_detectors=len(config.detectors),
            threshold=config.number_verification_tests_threshold_bias,
            expected_exposures=self.summary.exposures_verify,
        )
        self.summary.set_verdict(self.verdict)
        log = self.log.info if self.verdict.passed else self.log.warning
        log(self.verdict.summary())
        if not self.verdict.passed and not (config.certify_on_verification_failure and config.do_certify):
            after = (
                "not certified (set certify_on_verification_failure to certify it anyway)"
                if config.do_certify
                else "not certified, as configured (do_certify: false)"
            )
            raise VerificationFailed(
                f"the master bias failed verification ({self.verdict.headline()}); {after}"
            )

    def validity_range(self) -> tuple[str, str]:
        """The configured validity range, or the biases' day_obs."""
        config = self.require_config()
        if config.certify_calib_begin_date is not None and config.certify_calib_end_date is not None:
            return config.certify_calib_begin_date, config.certify_calib_end_date
        return bias_config.day_obs_validity_range(self.summary.exposures_combined)

    async def certify(self) -> None:
        """Certify the bias job's ``bias`` datasets into ``calib_collection``."""
        config = self.require_config()
        begin, end = self.validity_range()
        certifying = asyncio.ensure_future(
            asyncio.to_thread(
                butler_ops.certify_biases,
                config.repo,
                ocps.output_run(self.bias_job_id),
                config.calib_collection,
                config.detectors,
                begin,
                end,
                supersede=config.supersede,
            )
        )
        try:
            self.certification = await asyncio.shield(certifying)
        except asyncio.CancelledError:
            # A stop cannot interrupt the butler transaction: wait for it so the
            # summary says what was certified, then stop.
            with contextlib.suppress(Exception):
                self.certification = await certifying
                self.summary.set_certification(self.certification)
            raise
        self.summary.set_certification(self.certification)
        self.log.info(self.certification.describe())
        missing = sorted(set(config.detectors) - set(self.certification.detectors))
        if missing:
            raise RuntimeError(f"no bias certified for detector(s) {missing}")

    def done_reason(self) -> str:
        """The one-line result of a successful run."""
        config = self.require_config()
        parts = []
        if self.certification is not None:
            parts.append(
                f"certified bias for detector(s) {self.certification.detectors} in {config.calib_collection} "
                f"[{self.certification.begin}, {self.certification.end})"
            )
        elif self.bias_job_id:
            parts.append(f"bias in {ocps.output_collection(self.bias_job_id)} (not certified, as configured)")
        if self.verdict is not None:
            parts.append(f"verification {self.verdict.outcome.value}")
        return "; ".join(parts)

    # ------------------------------------------------------------------
    # Ending
    # ------------------------------------------------------------------

    def make_summary(self, config: bias_config.BiasConfig) -> RunSummary:
        """A fresh summary for this run."""
        return RunSummary(
            salindex=self.salinfo.index,
            group_id=self.group_id,
            repo=config.repo,
            detectors=list(config.detectors),
            calib_collection=config.calib_collection,
            started=tai_isot(),
        )

    def failure_reason(self, error: Exception) -> str:
        """Record the failure; return the reason: stage, cause, what was done, where the report goes.

        An error the script does not expect is named by its type (its
        traceback goes to the log), e.g. ``judge failed: unexpected
        ValueError: ...``.
        """
        stage = self.current_stage
        where = stage.value if stage else "run"
        cause = describe_error(error)
        if not isinstance(error, KNOWN_ERRORS):
            self.log.exception(f"Unexpected error in stage {where}")
            cause = f"unexpected {type(error).__name__}: {cause}"
        headline = f"{where} failed: {cause}"
        self.summary.finish(Outcome.FAILED, reason=headline, failed_stage=stage, finished=tai_isot())
        config = self.require_config()
        report = f"\nReport: {self.summary.plan_report(config.report_dir)}" if config.report_dir else ""
        return f"{headline}\n{self.summary.what_was_done()}{self.resume_hint()}{report}"

    def resume_hint(self) -> str:
        """Configuration that resumes the run after what was done, if any."""
        config = self.require_config()
        if self.verdict is not None or not self.summary.exposures_combined:
            return ""
        used = self.summary.exposures_combined + (
            self.summary.exposures_verify if config.n_verify_bias else []
        )
        ingested = not config.takes_frames or Stage.WAIT_INGEST.value in self.summary.stages_completed
        hint = "\nTo resume" + ("" if ingested else " once every raw is ingested") + f": exposure_ids: {used}"
        bias_job = self.summary.job("cp_bias")
        if bias_job is not None and bias_job.succeeded:
            hint += f", bias_job_id: {bias_job.job_id}"
        elif config.bias_job_id:
            hint += f", bias_job_id: {config.bias_job_id}"
        return hint

    async def report(self) -> None:
        """Write the report files into ``report_dir`` (if set) and log the summary with their paths.

        The pictures are drawn first, so that the YAML summary lists every
        file this run wrote (``report_files``, full paths).
        """
        config = self.require_config()
        if config.report_dir:
            self.summary.plan_report(config.report_dir)
            await self.draw_report_pictures()
            try:
                await asyncio.to_thread(self.summary.write, config.report_dir)
            except Exception as e:
                self.log.warning(
                    f"Could not write the run summary {self.summary.report_path}: {e!r}; "
                    f"check report_dir={config.report_dir!r}; the summary follows in the log"
                )
        log = self.log.info if self.summary.outcome is Outcome.DONE else self.log.error
        log(self.summary.to_text())

    async def draw_report_pictures(self) -> None:
        """Draw the report pictures beside the YAML summary (best effort, in a thread)."""
        from ..report import write_run_pictures

        try:
            drawn = await asyncio.to_thread(write_run_pictures, self.summary, log=self.log)
        except Exception as e:
            self.log.warning(f"Could not draw the report pictures: {e!r}")
            return
        paths = [str(p) for p in drawn.pictures.values()]
        self.summary.report_files += [p for p in paths if p not in self.summary.report_files]
        if paths:
            self.log.info("Report pictures: " + ", ".join(paths))

    async def cleanup(self) -> None:
        """Stop listening; on stop or failure abort unfinished OCPS jobs and report."""
        self.stop_ingest_tracking()
        if self.state.state not in (ScriptState.STOPPING, ScriptState.FAILING):
            return
        # Also waits for a job id still to come (a stop right after execute was sent), and
        # records the result of a job that ended at the moment of the stop.
        for outcome in await self.jobs.abort_unfinished():
            record = self.summary.job(outcome.name)
            if record is None:
                continue
            if outcome.job_id and not record.job_id:
                record.job_id = outcome.job_id
                record.output_collection = ocps.output_collection(outcome.job_id)
                record.output_run = ocps.output_run(outcome.job_id)
            if outcome.result is not None:
                self.record_job_result(record, outcome.result)
            record.aborted = outcome.ok
            if outcome.ok and outcome.result is None:
                record.outcome = ocps.JobOutcome.ABORTED.value
            if not outcome.ok and outcome.result is None:
                record.error = f"could not abort: {outcome.message}"
        if self.summary.outcome is Outcome.RUNNING:
            stage = self.current_stage
            outcome = Outcome.STOPPED if self.state.state == ScriptState.STOPPING else Outcome.FAILED
            frame = f"; {self.frame_at_stop}" if self.frame_at_stop else ""
            self.summary.finish(
                outcome,
                reason=f"{outcome.value} in stage {stage.value if stage else 'run'}{frame}",
                failed_stage=stage,
                finished=tai_isot(),
            )
        await self.report()
