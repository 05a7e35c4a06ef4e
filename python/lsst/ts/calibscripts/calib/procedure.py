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

"""The calibration procedure for one calibration type: the engine the scripts run.

`CalibProcedure` runs the stages of `~lsst.ts.calibscripts.calib.stages.StageKind`
for the type its `~lsst.ts.calibscripts.calib.types.CalibTypeSpec` describes:

1. ``preflight``: the camera group's CSCs (to take frames) and OCPS (to run
   jobs) are ENABLED, no applied OCPS configuration names another
   instrument, and ``repo`` opens as a butler repository (to verify or
   certify);
2. ``take_<type>s``: listen to ``imageInOODS``, then take the frames one at a
   time with the spec's ts_observatory_control method, each within
   ``frame_timeout``;
3. ``wait_ingest``: every (exposure, detector) of the combined and
   verification frames ingested, within one deadline;
4. ``cp_<type>``: the build job through OCPS (its inputs: the configured
   collections plus ``extra_build_inputs``, e.g. this run's bias job's output
   for cpDark), then check that its output is in ``repo``;
5. ``verify_<type>``: the verification job on ``u/ocps/<build job>``;
6. ``judge``: read the type's run-level statistics and judge them
   (`~lsst.ts.calibscripts.calib.verification.judge_verify_stats`);
7. ``certify``: certify the type's dataset (per filter for flats);
8. ``summary``: the report.

It is resumable (``TypeConfig.exposure_ids`` skips taking;
``TypeConfig.build_job_id`` skips the build job), stop-safe (`cleanup`
aborts unfinished jobs, a certification in progress is waited for) and
records every stage in a `~lsst.ts.calibscripts.calib.summary.RunSummary`.
The script owns the SAL objects (`ProcedureHost`: ``checkpoint``,
``group_id``, ``log``, ``state``) and hands them in; the procedure never
imports ``simsal`` or ``sim``.

Public API
----------
`CalibProcedure`
    ``run()`` (= ``preflight()``, ``take()``, ``process()``,
    ``finish_done()``: a sequence of types calls the take and the process
    parts from different tasks), ``abort_jobs(names)``,
    ``cleanup()``, ``planned_stages()``, ``plan_text()``,
    ``use_exposures()``, ``validity_range()``, ``resume_hint()``,
    ``failure_reason()``, ``report()`` and each stage as a method.
`TypeConfig`
    the per-type options (counts, exposure times, filter, pipelines,
    collections, options, threshold, resume ids, extra build inputs);
    `TypeConfig.from_options(spec, options)` reads upstream's per-type names
    (``n_bias``, ``n_discard_bias``, ``config_options_bias`` ...).
`RunSettings`
    the options shared by every type (a `typing.Protocol`;
    `~lsst.ts.calibscripts.calib.config.BiasConfig` is one).
`ProcedureHost`
    what the procedure needs from the script (a `typing.Protocol`).
`CalibButler`
    the butler work of one type (read statistics, certify), off the event loop.
`VerificationFailed`, `FrameNotTaken`, `KNOWN_ERRORS`, `describe_error`,
`describe_camera_fault`, `tai_isot`.
"""

from __future__ import annotations

__all__ = [
    "CAMERA_EVENT_GRACE",
    "KNOWN_ERRORS",
    "CalibButler",
    "CalibProcedure",
    "FrameNotTaken",
    "ProcedureHost",
    "RunSettings",
    "STOP_FRAME_GRACE",
    "TypeConfig",
    "VerificationFailed",
    "describe_camera_fault",
    "describe_error",
    "tai_isot",
]

import asyncio
import contextlib
import dataclasses
import datetime
import typing

from .. import sal
from ..cameras import COMCAM, CameraProfile
from ..errors import CalibScriptsError
from ..sal import ScriptState, salobj
from . import butler_ops
from . import config as calib_config
from . import ingest, naming, ocps
from .aio import raise_if_cancelling
from .stages import Stage, StageKind, TypeStage, plural, stage_for
from .summary import JobRecord, Outcome, RunSummary
from .types import CalibTypeSpec

if typing.TYPE_CHECKING:
    from .butler_ops import CertificationResult
    from .verification import Verdict

AnyStage = typing.Union[Stage, TypeStage]


def tai_isot() -> str:
    """The current TAI time as ISO-8601 text."""
    when = datetime.datetime.fromtimestamp(sal.current_tai(), tz=datetime.timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]


STOP_FRAME_GRACE = 10.0
"""Seconds a stop waits for the frame in progress, so that its exposure id is recorded."""

CAMERA_EVENT_GRACE = 1.0
"""Seconds to wait, after a frame failed, for the camera's FAULT summaryState and errorCode."""


async def describe_camera_fault(
    camera: typing.Any, error_before: typing.Any, grace: float | None = None, name: str = "CCCamera"
) -> str:
    """Say whether the camera went to FAULT after a failed frame, and with which errorCode.

    ``summaryState`` and ``errorCode`` are other topics than the command's
    ack, and the SAL keeps order only within a topic, so they may arrive
    after the failed ack: wait up to ``grace`` seconds for a FAULT state and
    for an ``errorCode`` sample newer than ``error_before``.

    Parameters
    ----------
    camera : `lsst.ts.salobj.Remote`
        The camera remote.
    error_before : `typing.Any`
        The latest ``errorCode`` sample before the frame was started (or None).
    grace : `float`, optional
        Seconds to wait; default `CAMERA_EVENT_GRACE`.
    name : `str`, optional
        The camera's SAL component name, for the text.

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
            return f"{name} is in FAULT (errorCode {error.errorCode}: {error.errorReport})"
        if loop.time() >= deadline:
            return f"{name} is in FAULT (no new errorCode)" if faulted else ""
        await asyncio.sleep(0.01)


class VerificationFailed(CalibScriptsError, salobj.ExpectedError):
    """The master calibration failed verification and was not certified."""


class FrameNotTaken(CalibScriptsError, salobj.ExpectedError):
    """A frame failed or was not taken within ``frame_timeout``."""


KNOWN_ERRORS: tuple[type[BaseException], ...] = (
    salobj.ExpectedError,
    salobj.AckError,
    CalibScriptsError,
)
"""Errors whose message says it all: no traceback is logged for them (every
`~lsst.ts.calibscripts.errors.CalibScriptsError`: ingest, OCPS, configuration,
certification, repository and statistics errors)."""


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


class RunSettings(typing.Protocol):
    """The options every calibration type of a run shares (names as in the schema)."""

    calib_collection: str
    detectors: tuple[int, ...]
    repo: str
    n_processes: int
    job_timeout: float
    frame_timeout: float
    oods_timeout: float
    do_verify: bool
    do_certify: bool
    certify_on_verification_failure: bool
    supersede: bool
    certify_calib_begin_date: str | None
    certify_calib_end_date: str | None
    max_counter_archiver_check: int
    reason: str
    program: str
    note: str
    report_dir: str


class ProcedureHost(typing.Protocol):
    """What the procedure needs from the script that runs it (a ``BaseScript``)."""

    log: typing.Any
    group_id: str
    state: typing.Any

    async def checkpoint(self, name: str = "") -> None:
        """Pass a checkpoint (pause or stop here if asked)."""


_MISSING = object()


@dataclasses.dataclass(frozen=True)
class TypeConfig:
    """The options of one calibration type in a run.

    Attributes
    ----------
    n_combined, n_discard, n_verify : `int`
        Frames combined, discarded first, and taken for verification only
        (upstream ``n_<type>``, ``n_discard_<type>``; ``n_verify_<type>``).
    exposure_times : `tuple` [`float`, ...]
        One exposure time per frame taken (dark, flat); empty for a bias.
    physical_filter : `str` or `None`
        The filter for flats (``take_flats(..., filter=)``), None to keep the one in place.
    pipeline_build, pipeline_verify : `str`
        Pipeline locations.
    input_collections_build, input_collections_verify : `tuple` [`str`, ...]
        ``-i`` collections of the build and verification jobs.
    config_options_build, config_options_verify : `tuple` [`str`, ...]
        Extra pipetask options.
    threshold : `int`
        ``number_verification_tests_threshold_<type>``.
    exposure_ids : `tuple` [`int`, ...]
        Resume from these exposures (no frame taken).
    build_job_id : `str`
        Resume from this completed build job (no build job run).
    extra_build_inputs : `tuple` [`str`, ...]
        Collections put before ``input_collections_build``: another job's
        output collection (cpDark: this run's bias job; cpFlat: bias and dark).
    build : `bool`
        Build a new master (default). False: no build job; the verification
        job verifies the frames against the calibrations already certified
        in ``input_collections_verify``, and nothing is certified.
    resume_option_suffix : `bool`
        The resume option of the exposures is per type
        (``exposure_ids_<type>``, the calibration scripts) rather than
        ``exposure_ids`` (the bias script); named in the resume hint.
    """

    n_combined: int
    n_discard: int
    n_verify: int
    pipeline_build: str
    pipeline_verify: str
    input_collections_build: tuple[str, ...]
    input_collections_verify: tuple[str, ...]
    config_options_build: tuple[str, ...]
    config_options_verify: tuple[str, ...]
    threshold: int
    exposure_times: tuple[float, ...] = ()
    physical_filter: str | None = None
    exposure_ids: tuple[int, ...] = ()
    build_job_id: str = ""
    extra_build_inputs: tuple[str, ...] = ()
    build: bool = True
    resume_option_suffix: bool = False

    @classmethod
    def from_options(cls, spec: CalibTypeSpec, options: typing.Any, **overrides: typing.Any) -> "TypeConfig":
        """Read a type's options by upstream's names.

        For each option the per-type name comes first (``n_discard_bias``,
        ``input_collections_verify_bias``), then the shared one
        (``input_collections_verify``); ``<type>_job_id`` resumes the build
        job and ``exp_times_<type>`` gives the exposure times (a number or
        one per frame).

        Parameters
        ----------
        spec : `CalibTypeSpec`
            The type.
        options : `typing.Any`
            An object with the options as attributes (e.g. ``BiasConfig``).
        **overrides
            Field values that replace what the options say (e.g. ``extra_build_inputs``).
        """

        def get(stem: str, default: typing.Any = _MISSING) -> typing.Any:
            for name in (spec.option(stem), stem):
                if hasattr(options, name):
                    return getattr(options, name)
            if default is _MISSING:
                raise AttributeError(f"no option {spec.option(stem)} (or {stem})")
            return default

        n_combined = int(get("n"))
        n_discard = int(get("n_discard", 0))
        n_verify = int(get("n_verify", 0))
        times: typing.Any = get("exp_times", ())
        if isinstance(times, (int, float)):
            times = (float(times),) * (n_discard + n_combined + n_verify)
        physical_filter = get("filter", None)
        values: dict[str, typing.Any] = dict(
            n_combined=n_combined,
            n_discard=n_discard,
            n_verify=n_verify,
            pipeline_build=get("pipeline"),
            pipeline_verify=get("pipeline_verify"),
            input_collections_build=tuple(get("input_collections")),
            input_collections_verify=tuple(get("input_collections_verify")),
            config_options_build=tuple(get("config_options")),
            config_options_verify=tuple(get("config_options_verify")),
            threshold=int(get("number_verification_tests_threshold", spec.default_threshold)),
            exposure_times=tuple(float(t) for t in times),
            physical_filter=physical_filter or None,
            exposure_ids=tuple(getattr(options, "exposure_ids", ()) or ()),
            build_job_id=str(getattr(options, f"{spec.option_suffix}_job_id", "") or ""),
        )
        values.update(overrides)
        return cls(**values)

    @property
    def takes_frames(self) -> bool:
        """True if frames are taken (no ``exposure_ids`` given)."""
        return not self.exposure_ids

    @property
    def runs_build_job(self) -> bool:
        """True if the build job runs (a master is built and no ``build_job_id`` given)."""
        return self.build and not self.build_job_id

    @property
    def n_frames_to_take(self) -> int:
        """Frames the camera takes: discarded + combined + verification."""
        if not self.takes_frames:
            return 0
        return self.n_discard + self.n_combined + self.n_verify


class CalibButler:
    """The butler work of one calibration type (blocking: call in a thread).

    The functions of `~lsst.ts.calibscripts.calib.butler_ops` are looked up
    when called. Their defaults are ComCam's bias (``read_verify_stats``,
    ``certify_biases``), and a bias on ComCam calls them with exactly the
    arguments the bias procedure always gave; any other type or camera
    passes its own instrument, dataset types and filters.

    Parameters
    ----------
    spec : `CalibTypeSpec`
        The type.
    camera : `~lsst.ts.calibscripts.cameras.CameraProfile`
        The camera.
    """

    def __init__(self, spec: CalibTypeSpec, camera: CameraProfile) -> None:
        self.spec = spec
        self.camera = camera

    def _instrument(self) -> dict[str, str]:
        return (
            {}
            if self.camera.instrument == butler_ops.DEFAULT_INSTRUMENT
            else {"instrument": self.camera.instrument}
        )

    def read_stats(self, repo: str, collections: typing.Sequence[str]) -> dict[typing.Any, typing.Any]:
        """The type's run-level statistics; per-filter ones (flats) merged into one."""
        from .verification import merge_filter_stats

        if "physical_filter" in self.spec.stats_dimensions:
            return merge_filter_stats(
                butler_ops.read_filter_stats(
                    repo, collections, self.spec.stats_dataset_type, instrument=self.camera.instrument
                )
            )
        kwargs = self._instrument()
        if self.spec.stats_dataset_type != butler_ops.DEFAULT_STATS_DATASET_TYPE:
            kwargs["dataset_type"] = self.spec.stats_dataset_type
        return butler_ops.read_verify_stats(repo, collections, **kwargs)

    def certify(
        self,
        repo: str,
        run: str,
        calib_collection: str,
        detectors: typing.Iterable[int],
        begin: str,
        end: str,
        supersede: bool,
    ) -> "CertificationResult":
        """Certify the type's datasets of ``run`` (every filter of a flat)."""
        if self.spec.dataset_type == butler_ops.DEFAULT_CALIB_DATASET_TYPE:
            return butler_ops.certify_biases(
                repo, run, calib_collection, detectors, begin, end, supersede=supersede, **self._instrument()
            )
        return butler_ops.certify_calibs(
            repo,
            run,
            calib_collection,
            detectors,
            begin,
            end,
            supersede=supersede,
            instrument=self.camera.instrument,
            dataset_type=self.spec.dataset_type,
        )


class CalibProcedure:
    """Run the calibration procedure for one type; see the module docstring.

    Parameters
    ----------
    host : `ProcedureHost`
        The script (checkpoints, group id, log, state).
    spec : `CalibTypeSpec`
        The calibration type.
    settings : `RunSettings`
        The options shared by every type.
    type_config : `TypeConfig`
        This type's options.
    group : `typing.Any`
        The camera's ts_observatory_control group (``ComCam``): ``rem``,
        ``take_bias``/``take_darks``/``take_flats``, ``read_out_time``.
    ocps_remote : `lsst.ts.salobj.Remote`
        The camera's OCPS.
    jobs : `~lsst.ts.calibscripts.calib.ocps.OcpsJobClient`
        The job client of ``ocps_remote``.
    camera : `~lsst.ts.calibscripts.cameras.CameraProfile`, optional
        The camera (default ComCam).
    summary : `RunSummary`, optional
        The summary to fill (a fresh one by default).
    before_frames : callable, optional
        ``await before_frames()`` runs in the take stage right before the
        first frame (e.g. LSSTCam's dome check before flats); what it
        raises fails the take stage with no frame taken.
    """

    def __init__(
        self,
        host: ProcedureHost,
        spec: CalibTypeSpec,
        settings: RunSettings,
        type_config: TypeConfig,
        group: typing.Any,
        ocps_remote: typing.Any,
        jobs: ocps.OcpsJobClient,
        camera: CameraProfile = COMCAM,
        summary: RunSummary | None = None,
        before_frames: typing.Callable[[], typing.Awaitable[None]] | None = None,
    ) -> None:
        self.host = host
        self.before_frames = before_frames
        self.spec = spec
        self.settings = settings
        self.config = type_config
        self.group = group
        self.ocps = ocps_remote
        self.jobs = jobs
        self.camera = camera
        self.butler = CalibButler(spec, camera)
        self.summary = summary if summary is not None else RunSummary(calib_type=spec.name)
        self.current_stage: AnyStage | None = None
        self.ingest_tracker: ingest.IngestTracker | None = None
        self.ingest_report: ingest.IngestReport | None = None
        self.verdict: Verdict | None = None
        self.certification: CertificationResult | None = None
        self.build_job_id = ""
        self.verify_job_id = ""
        self.build_result: ocps.JobResult | None = None
        self.frame_at_stop = ""

    @property
    def log(self) -> typing.Any:
        return self.host.log

    def stage_of(self, kind: StageKind) -> AnyStage:
        """This type's stage ``kind`` (``take_biases`` for a bias)."""
        return stage_for(kind, self.spec)

    @property
    def camera_remote(self) -> typing.Any:
        """The camera's SAL remote (``rem.cccamera``)."""
        return getattr(self.group.rem, self.camera.camera_component.lower())

    @property
    def oods_remote(self) -> typing.Any:
        """The OODS's SAL remote (``rem.ccoods``)."""
        return getattr(self.group.rem, self.camera.oods_component.lower())

    # ------------------------------------------------------------------
    # Plan
    # ------------------------------------------------------------------

    def planned_stages(self) -> list[AnyStage]:
        """The stages this configuration runs, in order."""
        settings, config = self.settings, self.config
        kinds = [StageKind.PREFLIGHT]
        if config.takes_frames:
            kinds += [StageKind.TAKE, StageKind.WAIT_INGEST]
        if config.runs_build_job:
            kinds.append(StageKind.BUILD)
        if settings.do_verify:
            kinds += [StageKind.VERIFY, StageKind.JUDGE]
        if settings.do_certify:
            kinds.append(StageKind.CERTIFY)
        kinds.append(StageKind.SUMMARY)
        return [self.stage_of(kind) for kind in kinds]

    def plan_text(self) -> str:
        """One line saying what the run will do."""
        settings, config = self.settings, self.config
        many = plural(self.spec.name)
        if config.takes_frames:
            frames = (
                f"take {config.n_frames_to_take} {many} ({config.n_discard} discarded, "
                f"{config.n_combined} combined, {config.n_verify} for verification only)"
            )
        else:
            frames = f"use exposures {list(config.exposure_ids)}"
        build_name = self.spec.build_pipeline.removesuffix(".yaml")
        build = (
            f"reuse {self.spec.name} job {config.build_job_id}"
            if config.build_job_id
            else f"run {build_name}"
        )
        return (
            f"{frames} on detectors {list(settings.detectors)}; {build}; verify={settings.do_verify}; "
            f"certify={settings.do_certify} into {settings.calib_collection}"
        )

    # ------------------------------------------------------------------
    # The procedure
    # ------------------------------------------------------------------

    async def run(self) -> str:
        """Run every stage; return the one-line result of a successful run.

        Raises
        ------
        salobj.ExpectedError
            Any failure, with the reason of `failure_reason` (the summary is
            finished as FAILED).
        """
        try:
            await self.stage(StageKind.PREFLIGHT)
            await self.preflight()
            await self.take()
            await self.process()
        except asyncio.CancelledError:
            raise
        except Exception as e:
            raise salobj.ExpectedError(self.failure_reason(e)) from e
        return await self.finish_done()

    async def take(self) -> list[int]:
        """The take part: take the frames and wait for their ingest (stages take, wait_ingest).

        With ``exposure_ids`` (resume) nothing is taken and those are used.
        Raises on failure (the caller records it, see `failure_reason`).

        Returns
        -------
        exposure_ids : `list` [`int`]
            Every exposure taken, discarded ones first (the resumed ones when resuming).
        """
        config = self.config
        if config.takes_frames:
            await self.stage(StageKind.TAKE)
            if self.before_frames is not None:
                await self.before_frames()
            await self.take_frames()
            await self.stage(StageKind.WAIT_INGEST)
            await self.wait_for_ingest()
            return list(self.summary.exposures_taken)
        self.use_exposures(list(config.exposure_ids), n_discard=0)
        return list(config.exposure_ids)

    async def process(self) -> None:
        """The process part: build, verify, judge and certify as configured (after `take`).

        Ends at the ``summary`` stage's checkpoint; `finish_done` completes a
        successful run. Raises on failure (the caller records it).
        """
        config = self.config
        if config.runs_build_job:
            await self.stage(StageKind.BUILD)
            await self.run_build_job()
            await self.check_build_output_in_repo()
        elif config.build_job_id:
            self.build_job_id = config.build_job_id
            self.summary.bias_collection = ocps.output_collection(config.build_job_id)
        if self.settings.do_verify:
            await self.stage(StageKind.VERIFY)
            await self.run_verify_job()
            await self.stage(StageKind.JUDGE)
            await self.judge_verification()
        if self.settings.do_certify:
            await self.stage(StageKind.CERTIFY)
            await self.certify()
        await self.stage(StageKind.SUMMARY)

    async def finish_done(self) -> str:
        """Finish the summary as DONE, write the report; return the one-line result."""
        self.summary.mark_done(self.stage_of(StageKind.SUMMARY))
        reason = self.done_reason()
        self.summary.finish(Outcome.DONE, reason=reason, finished=tai_isot())
        await self.report()
        if self.summary.report_path in self.summary.report_files:
            reason += f"; report: {self.summary.report_path}"
        return reason

    @property
    def job_names(self) -> tuple[str, ...]:
        """The names of this type's OCPS jobs (``cp_dark``, ``verify_dark``)."""
        return (self.spec.build_job_name, self.spec.verify_job_name)

    async def stage(self, kind: StageKind) -> None:
        """Record the previous stage as done and pass the next one's checkpoint."""
        stage = self.stage_of(kind)
        if self.current_stage is not None:
            self.summary.mark_done(self.current_stage)
        self.current_stage = stage
        # A stop swallowed by a wait in a library still stops the run here.
        raise_if_cancelling()
        await self.host.checkpoint(stage.checkpoint_name)
        self.log.info(f"Stage {stage.number} {stage.value}: {stage.title}")

    async def preflight(self) -> None:
        """Fail unless the needed CSCs are ENABLED, no OCPS configuration
        names another instrument and ``repo`` opens as a butler repository.

        The camera, header service and OODS are needed only to take frames
        (not when resuming from ``exposure_ids``); OCPS only to run jobs;
        ``repo`` only to read verification statistics or certify.
        """
        settings, config = self.settings, self.config
        rem = self.group.rem
        remotes = (
            [getattr(rem, name.lower()) for name in self.camera.sal_components] if config.takes_frames else []
        )
        needs_ocps = config.runs_build_job or settings.do_verify
        if needs_ocps:
            remotes.append(self.ocps)
        states = await ocps.check_enabled(remotes) if remotes else {}
        ready = ", ".join(f"{name} {state.name}" for name, state in states.items()) or "no CSC needed"
        if needs_ocps:
            # ENABLED is the requirement (OCPS refuses another instance's settings at start);
            # this only rejects an applied override named after another instrument.
            applied = await ocps.check_ocps_configuration(
                self.ocps, instrument=self.camera.instrument, log=self.log
            )
            await self.jobs.start()
            if applied is not None:
                ready += f"; {self.jobs.name} configuration {applied.configurations}"
        if settings.do_verify or settings.do_certify:
            await asyncio.to_thread(butler_ops.check_repo, settings.repo)
            ready += f"; repo {settings.repo}"
        self.log.info(f"Ready: {ready}")

    async def take_frames(self) -> None:
        """Listen to imageInOODS, then take the frames one at a time.

        Taking one frame per call keeps the exposure ids of the frames
        already taken if a later one fails, so the run can be resumed.
        """
        settings, config = self.settings, self.config
        self.ingest_tracker = ingest.IngestTracker(
            max_other_events=settings.max_counter_archiver_check, log=self.log, camera=self.camera
        )
        self.ingest_tracker.install(self.oods_remote.evt_imageInOODS)
        n_frames = config.n_frames_to_take
        for frame in range(1, n_frames + 1):
            exposure_id = await self.take_one_frame(frame, n_frames)
            self.summary.exposures_taken.append(exposure_id)
            if frame > config.n_discard:
                self.ingest_tracker.expect([exposure_id], settings.detectors)
            self.log.debug(f"{self.spec.name.capitalize()} {frame}/{n_frames}: exposure {exposure_id}")
            wait = float(getattr(settings, "wait_between_exposures", 0.0) or 0.0)
            if wait > 0 and frame < n_frames:
                await asyncio.sleep(wait)
        self.use_exposures(self.summary.exposures_taken, n_discard=config.n_discard)
        self.log.info(f"Took {n_frames} {plural(self.spec.name)}: {self.summary.exposures_taken}")

    def take_call(self, frame: int) -> typing.Awaitable[typing.Any]:
        """The ts_observatory_control call that takes frame ``frame`` (1-based).

        ``take_bias(1, ...)``, ``take_darks(exptime, 1, ...)`` or
        ``take_flats(exptime, 1, ..., filter=...)``, as the spec says.
        """
        settings, config = self.settings, self.config
        method = getattr(self.group, self.spec.take_method)
        args: tuple[typing.Any, ...] = (1,)
        if self.spec.needs_exposure_time:
            if len(config.exposure_times) < frame:
                raise ValueError(
                    f"exp_times_{self.spec.option_suffix}: {len(config.exposure_times)} exposure time(s) "
                    f"for {config.n_frames_to_take} frames; give one per frame (or one number)"
                )
            args = (config.exposure_times[frame - 1], 1)
        kwargs: dict[str, typing.Any] = dict(
            group_id=self.host.group_id,
            reason=settings.reason or None,
            program=settings.program or None,
            note=settings.note or None,
        )
        if self.spec.needs_filter and config.physical_filter:
            kwargs["filter"] = config.physical_filter
        sensors = self.sensors()
        if sensors:
            kwargs["sensors"] = sensors
        return method(*args, **kwargs)

    def sensors(self) -> str:
        """``takeImages.sensors``: blank unless a detector beyond the camera's default is asked for.

        Blank reads out the camera's default detectors (LSSTCam: the 189
        science sensors). With a guider or wavefront detector in
        ``detectors``, every detector asked for is named (``R00_SG0:R22_S11``),
        so that the camera reads out and the OODS ingests each of them.
        """
        detectors = self.settings.detectors
        if set(detectors) <= set(self.camera.default_detectors):
            return ""
        return ":".join(self.camera.detector_name(d) for d in detectors)

    async def take_one_frame(self, frame: int, n_frames: int) -> int:
        """Take frame ``frame`` (1-based) of ``n_frames`` within ``frame_timeout``.

        Raises
        ------
        FrameNotTaken
            The call failed (the reason keeps its cause) or did not return in
            time; either names the frame, the camera's state if it is in
            FAULT, and the exposures already taken.
        """
        settings = self.settings
        camera = self.camera_remote
        name = self.camera.camera_component
        error_before = camera.evt_errorCode.get()
        taking = asyncio.ensure_future(self.take_call(frame))
        deadline = asyncio.get_running_loop().time() + settings.frame_timeout
        try:
            await asyncio.wait({taking}, timeout=settings.frame_timeout)
        except asyncio.CancelledError:
            await self.record_frame_in_progress(taking, frame, n_frames, deadline)
            raise
        finally:
            if not taking.done():
                taking.cancel()
        taken = f"; exposure ids taken before it: {self.summary.exposures_taken}"
        what = f"{self.spec.name} {frame} of {n_frames}"
        if not taking.done() or taking.cancelled():
            with contextlib.suppress(asyncio.CancelledError):
                await taking
            raise FrameNotTaken(
                f"{what} not taken within frame_timeout={settings.frame_timeout:g} s; "
                f"probable cause: no endReadout / camera not ready; check {name} "
                f"({self.camera_diagnosis()}){taken}"
            )
        try:
            (exposure_id,) = taking.result()
        except (salobj.AckError, RuntimeError) as e:
            command = f"{name} takeImages " if isinstance(e, salobj.AckError) else ""
            fault = await describe_camera_fault(camera, error_before, name=name)
            raise FrameNotTaken(
                f"{what} failed: {command}{describe_error(e)}" + (f"; {fault}" if fault else "") + taken
            ) from e
        return int(exposure_id)

    async def record_frame_in_progress(
        self, taking: asyncio.Future, frame: int, n_frames: int, deadline: float
    ) -> None:
        """On a stop during a frame, wait for the camera to end it and record its exposure id.

        A stop does not stop the camera: a frame it has started is taken
        anyway. Waiting for it (at most `STOP_FRAME_GRACE` seconds, and not
        past the frame's ``frame_timeout``) keeps every exposure taken in
        the summary; if it does not end, `frame_at_stop` says what the
        camera events show of it (for the reason).
        """
        wait = min(STOP_FRAME_GRACE, deadline - asyncio.get_running_loop().time())
        if not taking.done() and wait > 0:
            await asyncio.wait({taking}, timeout=wait)
        if taking.done() and not taking.cancelled() and taking.exception() is None:
            (exposure_id,) = taking.result()
            self.summary.exposures_taken.append(int(exposure_id))
            self.log.warning(
                f"{self.spec.name.capitalize()} {frame}/{n_frames} (exposure {exposure_id}) "
                "was taken as the script stopped"
            )
        else:
            # The image may exist without the script knowing its id: say what the camera events show.
            self.frame_at_stop = (
                f"{self.spec.name} {frame} of {n_frames} was in progress and did not end "
                f"({self.camera_diagnosis()})"
            )
            self.log.warning(f"Stopped while taking {plural(self.spec.name)}: {self.frame_at_stop}")

    def camera_in_fault(self) -> bool:
        """True if the last camera summaryState seen is FAULT."""
        state = self.camera_remote.evt_summaryState.get()
        return state is not None and state.summaryState == sal.State.FAULT

    def camera_diagnosis(self) -> str:
        """What the camera events seen so far say about a frame that did not end."""
        camera = self.camera_remote
        name = self.camera.camera_component
        if self.camera_in_fault():
            error = camera.evt_errorCode.get() if hasattr(camera, "evt_errorCode") else None
            detail = f" (errorCode {error.errorCode}: {error.errorReport})" if error is not None else ""
            return f"{name} is in FAULT{detail}"
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
        config = self.config
        self.summary.exposures_taken = list(exposure_ids) if config.takes_frames else []
        kept = list(exposure_ids[n_discard:])
        n_combined = len(kept) - config.n_verify
        self.summary.exposures_discarded = list(exposure_ids[:n_discard])
        self.summary.exposures_combined = kept[:n_combined]
        self.summary.exposures_verify = kept[n_combined:] or list(kept[:n_combined])

    async def wait_for_ingest(self) -> None:
        """Wait until the OODS has ingested every (exposure, detector) of the frames used.

        The frames used are the combined and the verification frames; the
        discarded frames are not waited for, but an ingestion failure of one
        seen by then is a warning in the summary. One deadline for all pairs:
        ``oods_timeout`` after the last readout (the take call returns when
        the last frame's integration ends, so the readout time is added).
        """
        assert self.ingest_tracker is not None
        try:
            report = await self.ingest_tracker.wait(
                timeout=self.settings.oods_timeout + self.group.read_out_time
            )
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
            f"{self.camera.oods_component} ingested the {len(report.exposure_ids)} exposure(s) used "
            f"(combined and verification) x {len(report.detectors)} detector(s){not_awaited}"
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
            self.ingest_tracker.uninstall(self.oods_remote.evt_imageInOODS)

    async def run_build_job(self) -> None:
        """Run the build pipeline (cpBias, cpDark, cpFlat) on the combined frames."""
        config = self.config
        record = await self.run_job(
            self.spec.build_job_name,
            pipeline=config.pipeline_build,
            inputs=config.extra_build_inputs + config.input_collections_build,
            options=config.config_options_build,
            exposure_ids=self.summary.exposures_combined,
        )
        self.build_job_id = typing.cast(str, record.job_id)

    async def check_build_output_in_repo(self) -> None:
        """Fail at once unless the build job's output is in ``repo`` (off the event loop).

        OCPS runs its jobs on its own configured butler; verification
        statistics and certification are read and written in ``repo``. The
        check is skipped when neither verification nor certification is done.

        Raises
        ------
        RepoMismatch
            Naming ``repo``, the OCPS's butler (when its result says) and what to fix.
        """
        settings = self.settings
        if self.build_result is None or not (settings.do_verify or settings.do_certify):
            return
        await asyncio.to_thread(ocps.check_output_in_repo, settings.repo, self.build_result, self.jobs.name)

    async def run_verify_job(self) -> None:
        """Run the verification pipeline on the build job's output and the verification frames."""
        config = self.config
        own = (ocps.output_collection(self.build_job_id),) if self.build_job_id else ()
        record = await self.run_job(
            self.spec.verify_job_name,
            pipeline=config.pipeline_verify,
            inputs=own + config.input_collections_verify,
            options=config.config_options_verify,
            exposure_ids=self.summary.exposures_verify,
        )
        self.verify_job_id = typing.cast(str, record.job_id)

    def job_request(
        self,
        name: str,
        pipeline: str,
        inputs: typing.Sequence[str],
        options: typing.Sequence[str],
        exposure_ids: list[int],
    ) -> JobRecord:
        """The summary record of a job about to be submitted: pipeline, ``config`` words, data query."""
        words = ["-j", str(self.settings.n_processes), "-i", ",".join(inputs), "--register-dataset-types"]
        return JobRecord(
            name=name,
            pipeline=pipeline,
            config=" ".join(words + list(options)),
            data_query=naming.build_data_query(self.camera.instrument, self.settings.detectors, exposure_ids),
        )

    async def run_job(
        self,
        name: str,
        pipeline: str,
        inputs: typing.Sequence[str],
        options: typing.Sequence[str],
        exposure_ids: list[int],
    ) -> JobRecord:
        """Run one OCPS job and fail unless it completed (exit_code 0)."""
        record = self.summary.add_job(self.job_request(name, pipeline, inputs, options, exposure_ids))

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
                timeout=self.settings.job_timeout,
                on_job_id=on_job_id,
            )
        except ocps.JobFailed as e:
            self.record_job_result(record, e.result)
            raise
        except ocps.OcpsError as e:
            record.error = str(e)
            raise
        self.record_job_result(record, result)
        if name == self.spec.build_job_name:
            self.build_result = result
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
        """Read the type's statistics (off the event loop) and judge them."""
        from . import verification

        settings = self.settings
        collections = [ocps.output_collection(self.verify_job_id)]
        if self.build_job_id:
            collections.append(ocps.output_collection(self.build_job_id))
        stats = await asyncio.to_thread(self.butler.read_stats, settings.repo, collections)
        self.verdict = verification.judge_verify_stats(
            stats,
            n_detectors=len(settings.detectors),
            threshold=self.config.threshold,
            expected_exposures=self.summary.exposures_verify,
            spec=self.spec,
        )
        self.summary.set_verdict(self.verdict)
        log = self.log.info if self.verdict.passed else self.log.warning
        log(self.verdict.summary())
        if not self.verdict.passed and not self.config.build:
            raise VerificationFailed(
                f"the new {plural(self.spec.name)} failed verification against the certified "
                f"{self.spec.name} in {', '.join(self.config.input_collections_verify)} "
                f"({self.verdict.headline()}); nothing is certified without generate_calibrations"
            )
        if not self.verdict.passed and not (settings.certify_on_verification_failure and settings.do_certify):
            after = (
                "not certified (set certify_on_verification_failure to certify it anyway)"
                if settings.do_certify
                else "not certified, as configured (do_certify: false)"
            )
            raise VerificationFailed(
                f"the master {self.spec.name} failed verification ({self.verdict.headline()}); {after}"
            )

    def validity_range(self) -> tuple[str, str]:
        """The configured validity range, or the combined frames' day_obs."""
        settings = self.settings
        if settings.certify_calib_begin_date is not None and settings.certify_calib_end_date is not None:
            return settings.certify_calib_begin_date, settings.certify_calib_end_date
        return calib_config.day_obs_validity_range(self.summary.exposures_combined)

    async def certify(self) -> None:
        """Certify the build job's datasets into ``calib_collection``."""
        settings = self.settings
        begin, end = self.validity_range()
        certifying = asyncio.ensure_future(
            asyncio.to_thread(
                self.butler.certify,
                settings.repo,
                ocps.output_run(self.build_job_id),
                settings.calib_collection,
                settings.detectors,
                begin,
                end,
                settings.supersede,
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
        missing = sorted(set(settings.detectors) - set(self.certification.detectors))
        if missing:
            raise RuntimeError(f"no {self.spec.dataset_type} certified for detector(s) {missing}")

    def done_reason(self) -> str:
        """The one-line result of a successful run."""
        parts = []
        name = self.spec.dataset_type
        if self.certification is not None:
            parts.append(
                f"certified {name} for detector(s) {self.certification.detectors} in "
                f"{self.settings.calib_collection} [{self.certification.begin}, {self.certification.end})"
            )
        elif self.build_job_id:
            parts.append(
                f"{name} in {ocps.output_collection(self.build_job_id)} (not certified, as configured)"
            )
        if self.verdict is not None:
            parts.append(f"verification {self.verdict.outcome.value}")
        return "; ".join(parts)

    # ------------------------------------------------------------------
    # Ending
    # ------------------------------------------------------------------

    def failure_reason(self, error: Exception) -> str:
        """Record the failure; return the reason: stage, cause, what was done, where the report goes.

        An error the procedure does not expect is named by its type (its
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
        report_dir = self.settings.report_dir
        report = f"\nReport: {self.summary.plan_report(report_dir)}" if report_dir else ""
        return f"{headline}\n{self.summary.what_was_done()}{self.resume_hint()}{report}"

    def resume_hint(self) -> str:
        """Configuration that resumes the run after what was done, if any."""
        config = self.config
        if self.verdict is not None or not self.summary.exposures_combined:
            return ""
        used = self.summary.exposures_combined + (self.summary.exposures_verify if config.n_verify else [])
        waited = self.stage_of(StageKind.WAIT_INGEST).value in self.summary.stages_completed
        ingested = not config.takes_frames or waited
        exposures_option = (
            f"exposure_ids_{self.spec.option_suffix}" if config.resume_option_suffix else "exposure_ids"
        )
        hint = (
            "\nTo resume"
            + ("" if ingested else " once every raw is ingested")
            + f": {exposures_option}: {used}"
        )
        job_option = f"{self.spec.option_suffix}_job_id"
        build_job = self.summary.job(self.spec.build_job_name)
        if build_job is not None and build_job.succeeded:
            hint += f", {job_option}: {build_job.job_id}"
        elif config.build_job_id:
            hint += f", {job_option}: {config.build_job_id}"
        return hint

    async def report(self) -> None:
        """Write the report files into ``report_dir`` (if set) and log the summary with their paths.

        The pictures are drawn first, so that the YAML summary lists every
        file this run wrote (``report_files``, full paths).
        """
        report_dir = self.settings.report_dir
        if report_dir:
            self.summary.plan_report(report_dir)
            await self.draw_report_pictures()
            try:
                await asyncio.to_thread(self.summary.write, report_dir)
            except Exception as e:
                self.log.warning(
                    f"Could not write the run summary {self.summary.report_path}: {e!r}; "
                    f"check report_dir={report_dir!r}; the summary follows in the log"
                )
        log = self.log.info if self.summary.outcome is Outcome.DONE else self.log.error
        log(self.summary.to_text())

    async def draw_report_pictures(self) -> None:
        """Draw the report pictures beside the YAML summary (best effort, in a thread)."""
        from .. import report

        try:
            drawn = await asyncio.to_thread(report.write_run_pictures, self.summary, log=self.log)
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
        state = self.host.state.state
        if state not in (ScriptState.STOPPING, ScriptState.FAILING):
            return
        await self.abort_jobs()
        if self.summary.outcome is Outcome.RUNNING:
            stage = self.current_stage
            outcome = Outcome.STOPPED if state == ScriptState.STOPPING else Outcome.FAILED
            frame = f"; {self.frame_at_stop}" if self.frame_at_stop else ""
            self.summary.finish(
                outcome,
                reason=f"{outcome.value} in stage {stage.value if stage else 'run'}{frame}",
                failed_stage=stage,
                finished=tai_isot(),
            )
        await self.report()

    async def abort_jobs(self, names: typing.Collection[str] | None = None) -> None:
        """Abort the unfinished OCPS jobs of the job client and record their results.

        Also waits for a job id still to come (a stop right after execute was
        sent), and records the result of a job that ended at the moment of
        the stop.

        Parameters
        ----------
        names : collection of `str`, optional
            Only jobs of these names (`job_names`: this type's, while other
            types' jobs share the client); default every job of the client.
        """
        for outcome in await self.jobs.abort_unfinished(names=names):
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
