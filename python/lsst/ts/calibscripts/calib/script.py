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

"""BaseMakeCalibrations: the bias/dark/flat sequence of one camera, as a SAL script.

The procedure:

1. ``configure``: the schema (errors name the option first), then
   `~.plan.make_plan`: every check before any frame is taken.
2. ``preflight`` (once): the camera's CSCs ENABLED (if frames are taken),
   OCPS ENABLED with no other instrument's configuration (if a job runs),
   ``repo`` a butler repository (if anything is verified or certified),
   the certified calibrations the jobs read (a ``DARK`` build's bias, a
   verified type's own and those it is built on) in their input
   collections for every detector,
   and ``check_filter`` when flats are taken (nothing by default; a camera
   checks there, before any frame, what its filter change needs).
3. The `~.sequence.CalibrationSequence`: the camera takes the types one
   after another (``take``: a `~.procedure.CalibProcedure`'s take and
   ingest stages). Before the flats' first frame, ``set_filter`` sets the
   filter once through the camera group and checks the filter the camera
   then reports; if that fails the flats are not taken and the types
   taken before keep their outcome. Each type's processing (build,
   verify, judge, certify) starts when its frames are in, while the
   camera takes the next type. A
   dark is built with this run's bias job output, a flat with this run's
   bias and dark job outputs (``extra_build_inputs``); a type whose
   prerequisite failed is not built.

Checkpoints: ``preflight``, then ``<type>:<stage>`` for each type's stages
(``bias:take_biases``, ``dark:cp_dark``, ``flat:certify`` ...) and
``flat:set_filter`` before the flats' first frame, so that
``stopCheckpoint: "dark:.*"`` stops before the first dark stage.
Checkpoints of concurrent types pass one at a time (a pause holds them all).

Stop: the sequence cancels the take and every running processing, each
type aborts its own OCPS jobs and records where it stopped; the script ends
STOPPED. Failure of a type does not stop the others (unless they need it);
the run ends FAILED with a reason naming what failed, what was kept and what
was skipped, and why. A failure in ``preflight`` (``check_filter``
included) ends FAILED with ``preflight failed: <cause>``; whatever stage the run ends in,
every type's summary is finished with the reason (a type that had not
started: ``stopped in stage preflight before DARK started``) and its report
written.

A camera is a subclass setting `BaseMakeCalibrations.camera` (a
`~lsst.ts.calibscripts.cameras.CameraProfile`) and
`BaseMakeCalibrations.schema_name`; a different filter mechanism overrides
`BaseMakeCalibrations.set_filter` (and `BaseMakeCalibrations.check_filter`).

Public API
----------
`BaseMakeCalibrations`
    the script base; ``plan``, ``procedures``, ``summaries``, ``result``,
    ``summary`` (text), `BaseMakeCalibrations.type_summary`.
`TypeSettings`
    the shared options of one type's procedure (a ``RunSettings``).
`FilterNotSet`
    the filter could not be set or is not the one asked for.
"""

from __future__ import annotations

__all__ = ["BaseMakeCalibrations", "FilterNotSet", "TypeSettings", "type_settings"]

import asyncio
import dataclasses
import functools
import typing

from .. import sal
from ..cameras import CameraProfile
from ..errors import CalibScriptsError
from ..sal import ScriptState, salobj
from . import butler_ops
from . import config as calib_config
from . import ocps
from .aio import finish_despite_stop, wait_within
from .metadata import estimate_plan_duration
from .plan import CalibrationPlan, TypePlan, make_plan
from .procedure import KNOWN_ERRORS, CalibProcedure, RunSettings, TypeConfig, describe_error, tai_isot
from .sequence import CalibrationSequence, ProcessOutcome, SequenceResult, TypeProgress
from .summary import Outcome, RunSummary
from .types import spec_for


class FilterNotSet(CalibScriptsError, salobj.ExpectedError):
    """The filter for the flats could not be set, or the camera reports another one."""


_CASTS: dict[str, typing.Callable[[typing.Any], typing.Any]] = {
    "int": int,
    "float": float,
    "bool": bool,
    "str": str,
}
_FROM_TYPE_PLAN = ("do_verify", "do_certify")
"""Settings that are the type's own (`TypePlan`): a take-only or verify-frames type certifies nothing."""

TypeSettings = dataclasses.make_dataclass(
    "TypeSettings",
    [*RunSettings.__annotations__.items(), ("wait_between_exposures", "float")],
    frozen=True,
)
TypeSettings.__module__ = __name__
TypeSettings.__doc__ = """The options of a run that one type's procedure reads: a ``RunSettings``.

Its fields are ``RunSettings``'s (one list of the shared options) and
``wait_between_exposures``; ``do_verify`` and ``do_certify`` are the
type's own (`TypePlan`).
"""


def type_settings(plan: CalibrationPlan, type_plan: TypePlan) -> typing.Any:
    """The `TypeSettings` of one type of a plan.

    Each field comes from the type plan (``do_verify``, ``do_certify``),
    else from the plan (``calib_collection``, ``detectors``, ``repo``,
    validity dates, ``report_dir``), else from the plan's shared options.
    """
    values: dict[str, typing.Any] = {}
    for field in dataclasses.fields(TypeSettings):
        if field.name in _FROM_TYPE_PLAN:
            value = getattr(type_plan, field.name)
        elif hasattr(plan, field.name):
            value = getattr(plan, field.name)
        else:
            value = plan.options[field.name]
        cast = _CASTS.get(str(field.type))
        values[field.name] = cast(value) if cast is not None else value
    return TypeSettings(**values)


def type_config(type_plan: TypePlan, prerequisite_outputs: typing.Sequence[str] = ()) -> TypeConfig:
    """The `TypeConfig` of one type, its jobs built on ``prerequisite_outputs``.

    The prerequisites' output collections (this run's bias job for cpDark;
    bias and dark for cpFlat) come first in the build job's ``-i``
    (``extra_build_inputs``) and, after the type's own output, in the
    verification job's.
    """
    extra = tuple(prerequisite_outputs)
    return TypeConfig(
        n_combined=type_plan.n_frames,
        n_discard=type_plan.n_discard,
        n_verify=0,
        pipeline_build=type_plan.pipeline,
        pipeline_verify=type_plan.pipeline_verify,
        input_collections_build=tuple(c for c in type_plan.calib_job_inputs(extra) if c not in extra),
        input_collections_verify=type_plan.verify_job_inputs(None, extra),
        config_options_build=type_plan.config_options,
        config_options_verify=type_plan.config_options_verify,
        threshold=type_plan.verification_threshold,
        exposure_times=type_plan.exp_times if type_plan.calib_type != "BIAS" else (),
        # The filter is set once for the whole run (set_filter), not per frame.
        physical_filter=None,
        extra_build_inputs=extra,
        build=type_plan.builds,
        exposure_ids=type_plan.exposure_ids,
        build_job_id=type_plan.build_job_id,
        resume_option_suffix=True,
    )


class _TypeHost:
    """The `~.procedure.ProcedureHost` of one type: the script, with type-prefixed checkpoints."""

    def __init__(self, script: "BaseMakeCalibrations", calib_type: str) -> None:
        self.script = script
        self.prefix = calib_type.lower()

    @property
    def log(self) -> typing.Any:
        return self.script.log

    @property
    def group_id(self) -> str:
        return self.script.group_id

    @property
    def state(self) -> typing.Any:
        return self.script.state

    async def checkpoint(self, name: str = "") -> None:
        await self.script.type_checkpoint(f"{self.prefix}:{name}")


class BaseMakeCalibrations(salobj.BaseScript):
    """Take, build, verify and certify biases, darks and flats of one camera.

    Parameters
    ----------
    index : `int`
        The Script SAL index.
    descr : `str`
        Short description.
    help : `str`, optional
        Help text.
    """

    camera: typing.ClassVar[CameraProfile]
    """The camera (set by the subclass)."""
    schema_name: typing.ClassVar[str]
    """The configuration schema file in `lsst.ts.calibscripts.schemas` (set by the subclass)."""

    def __init__(self, index: int, descr: str, help: str = "") -> None:
        super().__init__(index=index, descr=descr, help=help)
        # Schema errors name the option first (BaseScript validates before configure).
        self.config_validator = calib_config.SchemaValidator(
            self.config_validator, known_options=self.get_schema()["properties"]
        )
        self.group = sal.camera_group(self.camera.group_name)(domain=self.domain, log=self.log)
        self.ocps = salobj.Remote(domain=self.domain, name="OCPS", index=self.camera.ocps_index)
        self.jobs = ocps.OcpsJobClient(self.ocps, log=self.log)
        self.plan: CalibrationPlan | None = None
        self.procedures: dict[str, CalibProcedure] = {}
        self.sequence: CalibrationSequence | None = None
        self.progress: list[TypeProgress] = []
        self._checkpoint_lock = asyncio.Lock()
        self._stop_requested: asyncio.Event | None = None
        self.run_stage = ""
        """Where the run is: ``preflight``, ``sequence`` ("" before run)."""

    # ------------------------------------------------------------------
    # Configuration
    # ------------------------------------------------------------------

    @classmethod
    def get_schema(cls) -> dict[str, typing.Any]:
        """Return the configuration schema of this camera."""
        from ..schemas import load_schema

        return load_schema(cls.schema_name)

    async def configure(self, config: typing.Any) -> None:
        """Make the plan (every check beyond the schema) and one procedure per type.

        Raises
        ------
        ConfigError
            Naming the option, for values the schema cannot reject (e.g. an
            exposure-time list whose length is not ``n + n_discard``).
        """
        self.plan = make_plan(config, self.schema_name, self.camera)
        self.config = config
        self.procedures = {
            type_plan.calib_type: self.make_procedure(type_plan) for type_plan in self.plan.types
        }
        self.log.info(f"Configured: {self.plan_text()}")

    def make_procedure(self, type_plan: TypePlan) -> CalibProcedure:
        """The procedure of one type (its jobs' prerequisite inputs are set when it is processed)."""
        assert self.plan is not None
        return CalibProcedure(
            host=_TypeHost(self, type_plan.calib_type),
            spec=spec_for(type_plan.calib_type),
            settings=type_settings(self.plan, type_plan),
            type_config=type_config(type_plan),
            group=self.group,
            ocps_remote=self.ocps,
            jobs=self.jobs,
            camera=self.camera,
            summary=self.new_type_summary(type_plan),
            before_frames=functools.partial(self.check_before_frames, type_plan),
        )

    async def check_before_frames(self, type_plan: TypePlan) -> None:
        """Check, in a type's take stage right before its first frame, what its frames need.

        Nothing by default; a camera overrides it (LSSTCam checks the dome
        components before flats). What it raises fails that type's take with
        no frame of it taken; the types taken before it are kept.
        """

    def new_type_summary(self, type_plan: TypePlan) -> RunSummary:
        """A fresh summary of one type (its report file is named after the script and the type)."""
        plan = self.require_plan()
        return RunSummary(
            script=f"{type(self).__name__}_{type_plan.calib_type.lower()}",
            calib_type=spec_for(type_plan.calib_type).name,
            instrument=self.camera.instrument,
            salindex=self.salinfo.index,
            group_id=self.group_id,
            repo=plan.repo,
            detectors=list(plan.detectors),
            calib_collection=plan.calib_collection,
            started=tai_isot(),
        )

    def require_plan(self) -> CalibrationPlan:
        """Return the plan; `RuntimeError` if not configured."""
        if self.plan is None:
            raise RuntimeError("Not configured")
        return self.plan

    def plan_text(self) -> str:
        """One line per type saying what the run will do."""
        plan = self.require_plan()
        lines = [f"script_mode {plan.script_mode} on detectors {list(plan.detectors)}"]
        for type_plan in plan.types:
            text = (
                f"{type_plan.calib_type}: take {type_plan.n_frames_to_take} "
                f"({type_plan.n_discard} discarded), {type_plan.processing.value}"
            )
            if type_plan.filter:
                text += f" in {type_plan.filter}"
            if type_plan.depends_on:
                text += f", built on this run's {' and '.join(type_plan.depends_on)}"
            lines.append(text)
        return "; ".join(lines)

    def set_metadata(self, metadata: typing.Any) -> None:
        """Instrument, number of images, filter and the duration estimate."""
        plan = self.require_plan()
        metadata.instrument = self.camera.instrument
        metadata.nimages = plan.n_frames_to_take
        filters = [t.filter for t in plan.types if t.filter]
        if filters and hasattr(metadata, "filters"):
            metadata.filters = ",".join(filters)
        metadata.duration = estimate_plan_duration(
            plan, self.camera.read_out_time, self.camera.filter_change_timeout
        ).total

    # ------------------------------------------------------------------
    # The procedure
    # ------------------------------------------------------------------

    async def run(self) -> None:
        """Run the procedure; see the module documentation."""
        plan = self.require_plan()
        self._stop_requested = asyncio.Event()
        for type_plan in plan.types:
            self.procedures[type_plan.calib_type].summary = self.new_type_summary(type_plan)
        try:
            self.run_stage = "preflight"
            await self.checkpoint("preflight")
            await self.preflight()
        except asyncio.CancelledError:
            # cleanup finishes every type's summary as stopped in this stage.
            raise
        except Exception as e:
            raise salobj.ExpectedError(await self.fail_before_sequence(e)) from e
        self.run_stage = "sequence"
        self.sequence = CalibrationSequence(
            plan, take=self.take_type, process=self.process_type, progress=self.on_progress, log=self.log
        )
        result = await self._run_sequence(self.sequence)
        await self.close_type_summaries(result)
        if not result.succeeded:
            raise salobj.ExpectedError(self.failure_text(result))
        # The DONE state keeps this reason: the operator sees the result in the queue.
        await self.set_state(reason=self.done_text(result))

    async def fail_before_sequence(self, error: Exception) -> str:
        """Record a failure of ``preflight`` in every type's summary; return the reason.

        The reason names the stage and the cause (the CSC, the repository or
        the filter, and what to do), says what each type did (nothing was
        taken) and lists the report files written. Only an error the
        procedure does not expect has its traceback logged.
        """
        stage = self.run_stage or "run"
        cause = describe_error(error)
        if not isinstance(error, KNOWN_ERRORS):
            self.log.exception(f"Unexpected error in stage {stage}")
            cause = f"unexpected {type(error).__name__}: {cause}"
        headline = f"{stage} failed: {cause}"
        done = []
        for name, procedure in self.procedures.items():
            await self.finish_unstarted_type(procedure, Outcome.FAILED, headline)
            done.append(f"{name}: {procedure.summary.what_was_done()}")
        reports = self.report_paths()
        return "\n".join([headline, *done]) + (f"\nReports: {', '.join(reports)}" if reports else "")

    async def finish_unstarted_type(self, procedure: CalibProcedure, outcome: Outcome, reason: str) -> None:
        """Finish the summary of a type that had not started (no stage of its own) and write its report.

        Its ``failed_stage`` is the run's stage (``preflight``), or none if
        the sequence was running.
        """
        if procedure.summary.outcome is not Outcome.RUNNING:
            return
        procedure.summary.finish(outcome, reason=reason, finished=tai_isot())
        if self.run_stage == "preflight":
            procedure.summary.failed_stage = self.run_stage
        await procedure.report()

    async def _run_sequence(self, sequence: CalibrationSequence) -> SequenceResult:
        """Run the sequence; a stop (command or stop checkpoint) cancels it and waits for its cleanup."""
        assert self._stop_requested is not None
        running = asyncio.ensure_future(sequence.run())
        stop = asyncio.ensure_future(self._stop_requested.wait())
        try:
            await asyncio.wait({running, stop}, return_when=asyncio.FIRST_COMPLETED)
            if running.done():
                return running.result()
            raise asyncio.CancelledError("stop checkpoint")
        except asyncio.CancelledError:
            running.cancel()
            while not running.done():
                # The sequence waits until every type has aborted its jobs; so does the stop.
                try:
                    await asyncio.wait({running})
                except asyncio.CancelledError:
                    # Stopped again: passed on, in case a wait swallowed the first stop
                    # (the sequence keeps waiting for its cleanup either way).
                    running.cancel()
            raise
        finally:
            stop.cancel()

    async def type_checkpoint(self, name: str) -> None:
        """Pass one type's checkpoint; types running concurrently pass one at a time.

        A stop checkpoint met in a type's task stops the whole run.
        """
        async with self._checkpoint_lock:
            try:
                await self.checkpoint(name)
            except asyncio.CancelledError:
                if self.state.state == ScriptState.STOPPING and self._stop_requested is not None:
                    self._stop_requested.set()
                raise

    async def preflight(self) -> None:
        """Check once, for every type, the CSCs and the repository the run needs.

        Raises
        ------
        CscNotReady, RepoNotUsable, ...
            Before any frame is taken, naming the CSC or the repository.
        """
        plan = self.require_plan()
        rem = self.group.rem
        remotes = [getattr(rem, name.lower()) for name in self.camera.sal_components]
        needs_ocps = any(t.processes for t in plan.types)
        if needs_ocps:
            remotes.append(self.ocps)
        states = await ocps.check_enabled(remotes)
        ready = ", ".join(f"{name} {state.name}" for name, state in states.items())
        if needs_ocps:
            applied = await ocps.check_ocps_configuration(
                self.ocps, instrument=self.camera.instrument, log=self.log
            )
            await self.jobs.start()
            if applied is not None:
                ready += f"; {self.jobs.name} configuration {applied.configurations}"
        if plan.certified_inputs or any(t.do_verify or t.do_certify for t in plan.types):
            await asyncio.to_thread(butler_ops.check_repo, plan.repo)
            ready += f"; repo {plan.repo}"
        if plan.certified_inputs:
            ready += await self.check_certified_inputs(plan)
        flat_filters = [t.filter for t in plan.types if t.filter and not t.resumes]
        if flat_filters:
            await self.check_filter(flat_filters[0])
        self.log.info(f"Ready: {ready}")

    async def check_certified_inputs(self, plan: CalibrationPlan) -> str:
        """Check at preflight that the jobs' inputs hold the certified calibrations they need.

        A run that builds darks without biases (``DARK``, ``DARK_FLAT``) or
        flats without darks (``FLAT``) takes them from the build job's input
        collections (``calib_collection``, then ``input_collections_<type>``);
        a run that only verifies its new frames takes the type's own
        calibration and those it is built on (a flat's bias, dark and flat
        of the filter) from ``input_collections_verify_<type>``. Without
        them, or with an input collection that does not exist, the job
        would fail after the frames were taken.

        Returns
        -------
        ready : `str`
            What was found, for the ``Ready:`` line.

        Raises
        ------
        CertifiedInputsMissing
            An input collection does not exist or none holds one of them
            for a detector; the message says what to do.
        """
        found = []
        for type_plan in plan.types:
            butler_filter = self.butler_physical_filter(type_plan.filter) if type_plan.filter else None
            checks = plan.certified_inputs_checks(type_plan, butler_filter)
            for check in checks:
                await asyncio.to_thread(
                    butler_ops.check_certified_inputs,
                    plan.repo,
                    check.collections,
                    check.dataset_types,
                    plan.detectors,
                    needed_by=check.needed_by,
                    remedy=check.remedy,
                    instrument=self.camera.instrument,
                    physical_filters=check.physical_filters,
                )
            if checks:
                found.append(f"{type_plan.calib_type.lower()}: {'/'.join(checks[0].dataset_types)}")
        return f"; certified inputs in the jobs' collections ({'; '.join(found)}; validity not checked)"

    def butler_physical_filter(self, filter_name: str) -> str:
        """The butler ``physical_filter`` of the flats taken through ``filter_name`` (LATISS overrides)."""
        return self.camera.physical_filter(filter_name)

    async def check_filter(self, physical_filter: str) -> None:
        """Check, at preflight (before any frame), that the flats' filter can be put in the beam.

        Nothing by default (the camera group refuses an unknown filter when
        `set_filter` runs before the first flat). A camera overrides it:
        LATISS checks its spectrograph's wheels, LSSTCam that the filter is
        already in the beam. What it raises fails the run before any frame.
        """

    async def set_filter(self, physical_filter: str) -> None:
        """Put ``physical_filter`` in the beam through the camera group and check it.

        Raises
        ------
        FilterNotSet
            The group failed or timed out, or the camera reports another
            filter afterwards; the message names the filter and the CSC.
        """
        component = self.camera.filter_component or self.camera.camera_component
        timeout = self.camera.filter_change_timeout * 2
        try:
            await wait_within(self.group.setup_instrument(filter=physical_filter), timeout)
            current = await self.group.get_current_filter()
        except asyncio.TimeoutError:
            raise FilterNotSet(
                f"filter {physical_filter} not set within {timeout:g} s through {component}; "
                f"check {component} (no flat was taken)"
            ) from None
        except (salobj.AckError, RuntimeError) as e:
            raise FilterNotSet(
                f"filter {physical_filter} could not be set through {component}: {describe_error(e)}; "
                "no flat was taken"
            ) from e
        if current != physical_filter:
            raise FilterNotSet(
                f"{component} reports filter {current!r} after setting filter {physical_filter}; "
                "no flat was taken"
            )
        self.log.info(f"Filter {physical_filter} in the beam ({component})")

    async def take_type(self, type_plan: TypePlan) -> list[int]:
        """The sequence's ``take``: set the type's filter if it has one, then its take and ingest stages.

        The filter is set just before the first frame that needs it, so that
        a filter changer fault costs only that type: the types taken before
        it keep their outcome.
        """
        procedure = self.procedures[type_plan.calib_type]
        if type_plan.filter and procedure.config.takes_frames:
            await self.type_checkpoint(f"{type_plan.calib_type.lower()}:set_filter")
            try:
                await self.set_filter(type_plan.filter)
            except FilterNotSet as e:
                text = f"set_filter failed: {e}"
                procedure.summary.finish(Outcome.FAILED, reason=text, finished=tai_isot())
                self.log.error(text)
                await procedure.report()
                raise
        try:
            taken = await procedure.take()
            if procedure.current_stage is not None:
                procedure.summary.mark_done(procedure.current_stage)
        except asyncio.CancelledError:
            procedure.stop_ingest_tracking()
            raise
        except Exception as e:
            self.log.error(procedure.failure_reason(e))
            await procedure.report()
            raise
        if not type_plan.processes:
            # Take only: the type ends here.
            reason = (
                f"{len(taken)} {type_plan.calib_type.lower()} frame(s) taken and ingested (take only): "
                f"exposure ids {taken}"
            )
            procedure.summary.finish(Outcome.DONE, reason=reason, finished=tai_isot())
            await procedure.report()
        return taken

    async def process_type(
        self, type_plan: TypePlan, exposure_ids: tuple[int, ...], prerequisite_outputs: tuple[str, ...]
    ) -> ProcessOutcome:
        """The sequence's ``process``: build, verify, judge and certify one type.

        The prerequisites' output collections are the first inputs of its
        jobs. Cancelled, it aborts its own jobs and records the stop before
        it re-raises.
        """
        procedure = self.procedures[type_plan.calib_type]
        procedure.config = type_config(type_plan, prerequisite_outputs)
        if prerequisite_outputs:
            self.log.info(f"{type_plan.calib_type} is built on {', '.join(prerequisite_outputs)}")
        try:
            await procedure.process()
            detail = await procedure.finish_done()
        except asyncio.CancelledError:
            await self.stop_type(procedure)
            raise
        except Exception as e:
            text = procedure.failure_reason(e)
            self.log.error(text)
            # A stop now waits until the failed type's jobs are aborted and recorded.
            await finish_despite_stop(self.end_failed_type(procedure))
            return ProcessOutcome(output_collection=self.output_of(procedure), failure=text.splitlines()[0])
        return ProcessOutcome(
            output_collection=self.output_of(procedure),
            certified=procedure.certification is not None,
            detail=detail,
        )

    @staticmethod
    async def end_failed_type(procedure: CalibProcedure) -> None:
        """Abort a failed type's unfinished jobs, record their results and write its report."""
        await procedure.abort_jobs(names=procedure.job_names)
        await procedure.report()

    @staticmethod
    def output_of(procedure: CalibProcedure) -> str | None:
        """The output collection of a procedure's build job, if it ran."""
        return ocps.output_collection(procedure.build_job_id) if procedure.build_job_id else None

    async def stop_type(self, procedure: CalibProcedure) -> None:
        """Abort one type's jobs and record where it stopped (in its summary and report)."""
        procedure.stop_ingest_tracking()
        await procedure.abort_jobs(names=procedure.job_names)
        if procedure.summary.outcome is Outcome.RUNNING:
            stage = procedure.current_stage
            procedure.summary.finish(
                Outcome.STOPPED,
                reason=f"stopped in stage {stage.value if stage else 'run'}",
                failed_stage=stage,
                finished=tai_isot(),
            )
            await procedure.report()

    async def close_type_summaries(self, result: SequenceResult) -> None:
        """Finish the summaries of types the sequence did not take or build, with its reason."""
        for type_result in result.types:
            procedure = self.procedures[type_result.calib_type]
            if procedure.summary.outcome is not Outcome.RUNNING:
                continue
            procedure.stop_ingest_tracking()
            if procedure.current_stage is not None:
                procedure.summary.mark_done(procedure.current_stage)
            procedure.summary.finish(
                Outcome.FAILED, reason=type_result.reason or type_result.state.value, finished=tai_isot()
            )
            await procedure.report()

    def on_progress(self, progress: TypeProgress) -> None:
        """Keep every state change of a type (for operators' tools and tests)."""
        self.progress.append(progress)

    async def cleanup(self) -> None:
        """Stop listening; on stop or failure abort any job still running and report every type."""
        for procedure in self.procedures.values():
            procedure.stop_ingest_tracking()
        if self.state.state not in (ScriptState.STOPPING, ScriptState.FAILING):
            return
        stopping = self.state.state == ScriptState.STOPPING
        for name, procedure in self.procedures.items():
            if procedure.summary.outcome is not Outcome.RUNNING:
                continue
            if procedure.current_stage is not None:
                await self.stop_type(procedure)
            elif self.run_stage:
                # Not started: stopped (or failed) before the type took or built anything.
                where = f" in stage {self.run_stage}" if self.run_stage != "sequence" else ""
                reason = (
                    f"stopped{where} before {name} started"
                    if stopping
                    else f"failed{where} before {name} started: {self.state.reason}"
                )
                await self.finish_unstarted_type(
                    procedure, Outcome.STOPPED if stopping else Outcome.FAILED, reason
                )
        await self.jobs.abort_unfinished()
        await self.write_summaries()

    async def write_summaries(self) -> None:
        """Write every finished type's YAML summary as it ends the run.

        A stop can cut a type's report short (its write never started, or
        the script ended before the write's thread did); this write, in
        cleanup, is waited for.
        """
        report_dir = self.plan.report_dir if self.plan is not None else ""
        if not report_dir:
            return
        for procedure in self.procedures.values():
            if procedure.summary.outcome is Outcome.RUNNING:
                continue
            try:
                await asyncio.to_thread(procedure.summary.write, report_dir)
            except Exception as e:
                self.log.warning(
                    f"Could not write the run summary {procedure.summary.report_path}: {e!r}; "
                    f"check report_dir={report_dir!r}; the summary is in the log"
                )

    # ------------------------------------------------------------------
    # What the run did
    # ------------------------------------------------------------------

    @property
    def result(self) -> SequenceResult | None:
        """Where every type ended (None before the sequence starts)."""
        return self.sequence.result if self.sequence is not None else None

    @property
    def summaries(self) -> dict[str, RunSummary]:
        """The run summary of each type (``"BIAS"`` ...)."""
        return {name: procedure.summary for name, procedure in self.procedures.items()}

    def type_summary(self, calib_type: str) -> RunSummary:
        """The run summary of one type (``"BIAS"``, ``"DARK"``, ``"FLAT"``)."""
        return self.procedures[calib_type].summary

    @property
    def summary(self) -> str:
        """One line per type: where it ended and why."""
        result = self.result
        return result.describe() if result is not None else ""

    def report_paths(self) -> list[str]:
        """The report files written, every type."""
        return [p for s in self.summaries.values() for p in s.report_files]

    def done_text(self, result: SequenceResult) -> str:
        """The reason of a DONE run."""
        reports = self.report_paths()
        return result.describe() + (f"\nReports: {', '.join(reports)}" if reports else "")

    def failure_text(self, result: SequenceResult) -> str:
        """The reason of a FAILED run: what failed, what was kept, what was skipped, and why."""

        def names(types: tuple[str, ...]) -> str:
            return ", ".join(types) or "nothing"

        headline = (
            f"{names(result.failed)} failed; kept: {names(result.kept)}; "
            f"not built: {names(result.skipped)}"
        )
        reports = self.report_paths()
        return (
            f"{headline}\n{result.describe()}"
            + "".join(f"\n{hint}" for hint in self.resume_hints(result.failed))
            + (f"\nReports: {', '.join(reports)}" if reports else "")
        )

    def resume_hints(self, calib_types: typing.Iterable[str]) -> list[str]:
        """For each type, the options that resume it after what was done (none if nothing to reuse).

        E.g. ``To resume dark: exposure_ids_dark: [...], dark_job_id: ...``.
        """
        hints = []
        for calib_type in calib_types:
            procedure = self.procedures.get(calib_type)
            hint = procedure.resume_hint().strip() if procedure is not None else ""
            if hint:
                hints.append(hint.replace("To resume", f"To resume {calib_type.lower()}", 1))
        return hints
