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


"""Run a `~.plan.CalibrationPlan`: one camera, overlapping processing.

`CalibrationSequence` takes the plan's types one after another (one camera,
so takes never overlap) and starts each type's processing as soon as its
frames are taken, so that the processing of a type runs while the camera
takes the next one. What taking and processing mean is injected as two
async callables, so the unit knows nothing of SAL, OCPS or butlers:

``take(type_plan) -> exposure ids``
    Take every frame of the type (discarded ones first), wait for their
    ingest, and return all ids taken, in order. Raise on failure.
``process(type_plan, exposure_ids, prerequisite_outputs) -> ProcessOutcome``
    Build/verify/certify the kept exposures (the discarded ones are already
    removed) with the output collections of the prerequisite types (in the
    order of `~.plan.TypePlan.depends_on`) as the first job inputs; return a
    `ProcessOutcome` with the output collection, or with ``failure`` set.
    When cancelled it must abort its job and return only when the job has
    ended (the sequence awaits that cleanup).

Policy
------
* A type is processed only when every prerequisite's processing
  SUCCEEDED; it then gets their output collections.
* When a prerequisite has already failed (or was skipped) by the time the
  camera would take a dependent type, that type is not taken: no camera
  time is spent on frames that will not be built. When a prerequisite fails
  after the dependent's frames were taken, the frames stay (their ids are in
  the result, e.g. to rebuild later) and the type is SKIPPED, not built.
  Take-only and verify-frames plans have no dependencies, so every type is
  taken and processed on its own.
* A failed take stops the camera: later types are not taken; processing of
  the types already taken goes on to its end.
* Exceptions from a callable become a failure naming the type and the stage
  (take or process); the sequence itself goes on.
* Stop: cancelling `CalibrationSequence.run` cancels the take in progress
  and every running process, waits until each has cleaned up (aborted its
  job), records what ended where in `CalibrationSequence.result` and
  re-raises `asyncio.CancelledError`.
* Progress: every state change of a type is reported to the ``progress``
  callback as a `TypeProgress` (a synchronous callable; an exception in it is
  logged and ignored).
"""

from __future__ import annotations

__all__ = [
    "CalibrationSequence",
    "ProcessCallable",
    "ProcessOutcome",
    "ProgressCallback",
    "SequenceResult",
    "Stage",
    "TakeCallable",
    "TypeProgress",
    "TypeResult",
    "TypeState",
]

import asyncio
import dataclasses
import enum
import logging
import typing

from .aio import raise_if_cancelling
from .plan import CalibrationPlan, TypePlan


class TypeState(enum.Enum):
    """State of one calibration type in a sequence."""

    PENDING = "pending"
    """Not started: waiting for the camera."""
    TAKING = "taking"
    """The camera is taking its frames."""
    WAITING = "waiting"
    """Frames taken; waiting for the prerequisites' processing to succeed."""
    PROCESSING = "processing"
    """Its processing (jobs, verification, certification) runs."""
    TAKEN = "taken"
    """Final (take-only): frames taken, nothing else to do."""
    SUCCEEDED = "succeeded"
    """Final: processing succeeded."""
    FAILED = "failed"
    """Final: the take or the processing failed (see the reason)."""
    SKIPPED = "skipped"
    """Final: not taken or not processed because of another type or a stop."""
    CANCELLED = "cancelled"
    """Final: stopped while taking, waiting or processing."""

    @property
    def is_final(self) -> bool:
        """True if the state does not change any more."""
        return self in _FINAL_STATES


_FINAL_STATES = frozenset(
    {TypeState.TAKEN, TypeState.SUCCEEDED, TypeState.FAILED, TypeState.SKIPPED, TypeState.CANCELLED}
)


class Stage(enum.Enum):
    """Where a type failed or was stopped."""

    TAKE = "take"
    PROCESS = "process"


@dataclasses.dataclass(frozen=True)
class ProcessOutcome:
    """What a ``process`` callable returns.

    Attributes
    ----------
    output_collection : `str` or `None`
        Output collection of the type's combine job (e.g. ``u/ocps/<job>``),
        which dependent types get as an input; `None` when nothing was built.
    certified : `bool`
        True if the new calibration was certified.
    failure : `str`
        Why the processing failed (job, verification, certification); empty
        on success.
    detail : `str`
        Anything else worth reporting (e.g. the verification verdict).
    """

    output_collection: str | None = None
    certified: bool = False
    failure: str = ""
    detail: str = ""

    @property
    def succeeded(self) -> bool:
        """True if the processing succeeded."""
        return not self.failure


@dataclasses.dataclass(frozen=True)
class TypeResult:
    """Where one type ended.

    Attributes
    ----------
    calib_type : `str`
        ``"BIAS"``, ``"DARK"`` or ``"FLAT"``.
    state : `TypeState`
        Its final state (or the current one, while running).
    exposure_ids : `tuple` [`int`, ...]
        Every exposure taken, discarded ones included.
    output_collection : `str` or `None`
        Output collection of its combine job.
    certified : `bool`
        True if the new calibration was certified.
    stage : `Stage` or `None`
        Where it failed or was cancelled.
    reason : `str`
        Why it failed, was skipped or cancelled, or the outcome's detail.
    """

    calib_type: str
    state: TypeState
    exposure_ids: tuple[int, ...] = ()
    output_collection: str | None = None
    certified: bool = False
    stage: Stage | None = None
    reason: str = ""

    def describe(self) -> str:
        """One line for logs and the final report."""
        text = f"{self.calib_type}: {self.state.name}"
        if self.stage is not None and self.state in (TypeState.FAILED, TypeState.CANCELLED):
            text += f" during {self.stage.value}"
        if self.certified:
            text += ", certified"
        if self.output_collection:
            text += f", output {self.output_collection}"
        if self.exposure_ids:
            text += f", {len(self.exposure_ids)} exposure(s) {self.exposure_ids[0]}..{self.exposure_ids[-1]}"
        if self.reason:
            text += f": {self.reason}"
        return text


@dataclasses.dataclass(frozen=True)
class SequenceResult:
    """Where every type of a sequence ended.

    Attributes
    ----------
    types : `tuple` [`TypeResult`, ...]
        One result per type, in take order.
    stopped : `bool`
        True if the sequence was stopped (cancelled).
    """

    types: tuple[TypeResult, ...]
    stopped: bool = False

    def __getitem__(self, calib_type: str) -> TypeResult:
        for result in self.types:
            if result.calib_type == calib_type:
                return result
        raise KeyError(calib_type)

    def in_state(self, *states: TypeState) -> tuple[str, ...]:
        """The types in any of ``states``, in take order."""
        return tuple(r.calib_type for r in self.types if r.state in states)

    @property
    def failed(self) -> tuple[str, ...]:
        """Types whose take or processing failed."""
        return self.in_state(TypeState.FAILED)

    @property
    def skipped(self) -> tuple[str, ...]:
        """Types not taken or not processed because of another type or a stop."""
        return self.in_state(TypeState.SKIPPED)

    @property
    def kept(self) -> tuple[str, ...]:
        """Types whose work stands: processed successfully, or taken (take-only)."""
        return self.in_state(TypeState.SUCCEEDED, TypeState.TAKEN)

    @property
    def succeeded(self) -> bool:
        """True if every type ended as planned."""
        return not self.stopped and all(r.state in (TypeState.SUCCEEDED, TypeState.TAKEN) for r in self.types)

    def describe(self) -> str:
        """Several lines, one per type, for logs and the final report."""
        lines = [r.describe() for r in self.types]
        if self.stopped:
            lines.insert(0, "stopped")
        return "\n".join(lines)


@dataclasses.dataclass(frozen=True)
class TypeProgress:
    """A state change of one type, as reported to the progress callback."""

    calib_type: str
    state: TypeState
    message: str


TakeCallable = typing.Callable[[TypePlan], typing.Awaitable[typing.Sequence[int]]]
ProcessCallable = typing.Callable[
    [TypePlan, tuple[int, ...], tuple[str, ...]], typing.Awaitable[ProcessOutcome]
]
ProgressCallback = typing.Callable[[TypeProgress], None]


class CalibrationSequence:
    """Take and process the types of a plan (see the module docstring).

    Parameters
    ----------
    plan : `CalibrationPlan`
        What to take and process.
    take : `TakeCallable`
        ``await take(type_plan)`` -> every exposure id taken.
    process : `ProcessCallable`
        ``await process(type_plan, exposure_ids, prerequisite_outputs)`` ->
        `ProcessOutcome`; not called for take-only types.
    progress : `ProgressCallback`, optional
        Called with a `TypeProgress` at each state change.
    log : `logging.Logger`, optional
        Logger; a module logger by default.
    """

    def __init__(
        self,
        plan: CalibrationPlan,
        take: TakeCallable,
        process: ProcessCallable,
        progress: ProgressCallback | None = None,
        log: logging.Logger | None = None,
    ) -> None:
        self.plan = plan
        self._take = take
        self._process = process
        self._progress = progress
        self.log = log or logging.getLogger(__name__)
        self._results: dict[str, TypeResult] = {
            t.calib_type: TypeResult(t.calib_type, TypeState.PENDING) for t in plan.types
        }
        self._final: dict[str, asyncio.Future[TypeResult]] = {}
        self._stopped = False
        self._started = False

    @property
    def result(self) -> SequenceResult:
        """Where every type is (final after `run` returns or is cancelled)."""
        return SequenceResult(tuple(self._results.values()), stopped=self._stopped)

    def state(self, calib_type: str) -> TypeState:
        """The current state of ``calib_type``."""
        return self._results[calib_type].state

    async def run(self) -> SequenceResult:
        """Take every type in order and process each as soon as it can be.

        Returns
        -------
        result : `SequenceResult`
            Where every type ended; failures are in it, not raised.

        Raises
        ------
        asyncio.CancelledError
            When stopped, after every take and process has ended; `result`
            then says what ended where.
        RuntimeError
            If called twice.
        """
        if self._started:
            raise RuntimeError("A CalibrationSequence runs once; make a new one")
        self._started = True
        loop = asyncio.get_running_loop()
        self._final = {calib_type: loop.create_future() for calib_type in self._results}
        tasks: list[asyncio.Task[None]] = []
        camera_failure = ""
        try:
            for type_plan in self.plan.types:
                calib_type = type_plan.calib_type
                if camera_failure:
                    self._finish(calib_type, TypeState.SKIPPED, reason=f"not taken: {camera_failure}")
                    continue
                blocker = self._failed_prerequisite(type_plan)
                if blocker:
                    self._finish(calib_type, TypeState.SKIPPED, reason=f"not taken: {blocker}")
                    continue
                exposure_ids = await self._take_type(type_plan)
                # A stop swallowed by a wait inside the take still stops the sequence.
                raise_if_cancelling()
                if exposure_ids is None:
                    camera_failure = f"the take of {calib_type} failed"
                    continue
                if not type_plan.processes:
                    self._finish(calib_type, TypeState.TAKEN, exposure_ids=exposure_ids)
                    continue
                self._set(calib_type, TypeState.WAITING, f"{len(exposure_ids)} exposure(s) taken")
                tasks.append(asyncio.create_task(self._process_type(type_plan, exposure_ids)))
            if tasks:
                await asyncio.wait(tasks)
        except asyncio.CancelledError:
            self._stopped = True
            await self._cancel_and_wait(tasks)
            # A process task cancelled before it started never ran its own handler.
            for calib_type, result in self._results.items():
                if result.state is TypeState.TAKING:
                    self._finish(
                        calib_type, TypeState.CANCELLED, stage=Stage.TAKE, reason="stopped while taking"
                    )
                elif result.state in (TypeState.WAITING, TypeState.PROCESSING):
                    self._finish(
                        calib_type,
                        TypeState.CANCELLED,
                        stage=Stage.PROCESS,
                        reason="stopped before processing",
                    )
                elif not result.state.is_final:
                    self._finish(calib_type, TypeState.SKIPPED, reason="not taken: stopped")
            self.log.warning("Calibration sequence stopped:\n%s", self.result.describe())
            raise
        return self.result

    def _failed_prerequisite(self, type_plan: TypePlan) -> str:
        """Why a prerequisite of ``type_plan`` has already failed, or ""."""
        for name in type_plan.depends_on:
            result = self._results[name]
            if result.state.is_final and result.state is not TypeState.SUCCEEDED:
                return f"{name} {result.state.name}" + (f" ({result.reason})" if result.reason else "")
        return ""

    async def _take_type(self, type_plan: TypePlan) -> tuple[int, ...] | None:
        """Take the frames of one type; None if the take failed."""
        calib_type = type_plan.calib_type
        self._set(calib_type, TypeState.TAKING, f"taking {type_plan.n_frames_to_take} frame(s)")
        try:
            taken = await self._take(type_plan)
        except Exception as e:
            self._finish(
                calib_type, TypeState.FAILED, stage=Stage.TAKE, reason=_raised(calib_type, "take", e)
            )
            return None
        exposure_ids = tuple(int(i) for i in taken)
        if len(exposure_ids) != type_plan.n_exposures:
            self._finish(
                calib_type,
                TypeState.FAILED,
                exposure_ids=exposure_ids,
                stage=Stage.TAKE,
                reason=f"{calib_type} take returned {len(exposure_ids)} exposure id(s), "
                f"expected {type_plan.n_exposures}",
            )
            return None
        self._results[calib_type] = dataclasses.replace(self._results[calib_type], exposure_ids=exposure_ids)
        return exposure_ids

    async def _process_type(self, type_plan: TypePlan, exposure_ids: tuple[int, ...]) -> None:
        """Wait for the prerequisites, then process one type; never raises but when cancelled."""
        calib_type = type_plan.calib_type
        stage: Stage | None = None
        try:
            outputs: list[str] = []
            if type_plan.depends_on:
                self._set(calib_type, TypeState.WAITING, f"waiting for {', '.join(type_plan.depends_on)}")
            for name in type_plan.depends_on:
                prerequisite = await asyncio.shield(self._final[name])
                if prerequisite.state is not TypeState.SUCCEEDED:
                    reason = f"not built: {name} {prerequisite.state.name}"
                    if prerequisite.reason:
                        reason += f" ({prerequisite.reason})"
                    self._finish(calib_type, TypeState.SKIPPED, reason=reason)
                    return
                if not prerequisite.output_collection:
                    self._finish(
                        calib_type,
                        TypeState.FAILED,
                        stage=Stage.PROCESS,
                        reason=f"{name} succeeded without an output collection to build {calib_type} on",
                    )
                    return
                outputs.append(prerequisite.output_collection)
            stage = Stage.PROCESS
            message = "processing" + (f" with {', '.join(outputs)}" if outputs else "")
            self._set(calib_type, TypeState.PROCESSING, message)
            try:
                outcome = await self._process(
                    type_plan, type_plan.kept_exposures(exposure_ids), tuple(outputs)
                )
            except Exception as e:
                self._finish(
                    calib_type,
                    TypeState.FAILED,
                    stage=Stage.PROCESS,
                    reason=_raised(calib_type, "processing", e),
                )
                return
            if not isinstance(outcome, ProcessOutcome):
                self._finish(
                    calib_type,
                    TypeState.FAILED,
                    stage=Stage.PROCESS,
                    reason=f"{calib_type} processing returned {outcome!r}, not a ProcessOutcome",
                )
                return
            self._finish(
                calib_type,
                TypeState.SUCCEEDED if outcome.succeeded else TypeState.FAILED,
                output_collection=outcome.output_collection,
                certified=outcome.certified,
                stage=None if outcome.succeeded else Stage.PROCESS,
                reason=outcome.failure or outcome.detail,
            )
        except asyncio.CancelledError:
            where = "processing" if stage is Stage.PROCESS else "waiting for its prerequisites"
            self._finish(calib_type, TypeState.CANCELLED, stage=stage, reason=f"stopped while {where}")
            raise

    async def _cancel_and_wait(self, tasks: list[asyncio.Task[None]]) -> None:
        """Cancel ``tasks`` and wait until every one has ended, even if stopped again."""
        for task in tasks:
            task.cancel()
        pending = {task for task in tasks if not task.done()}
        while pending:
            try:
                await asyncio.wait(pending)
            except asyncio.CancelledError:
                # Stopped again while the callables abort their jobs: keep waiting,
                # leaving a job running would be worse.
                self.log.warning("Stop repeated; still waiting for %d process(es) to end", len(pending))
            pending = {task for task in pending if not task.done()}
        for task in tasks:
            if not task.cancelled() and task.exception() is not None:  # pragma: no cover - defensive
                self.log.error("Processing task ended with %r", task.exception())

    def _set(self, calib_type: str, state: TypeState, message: str) -> None:
        self._results[calib_type] = dataclasses.replace(self._results[calib_type], state=state)
        self._report(TypeProgress(calib_type, state, message))

    def _finish(self, calib_type: str, state: TypeState, **changes: typing.Any) -> None:
        result = dataclasses.replace(self._results[calib_type], state=state, **changes)
        self._results[calib_type] = result
        future = self._final.get(calib_type)
        if future is not None and not future.done():
            future.set_result(result)
        self._report(TypeProgress(calib_type, state, result.describe()))

    def _report(self, progress: TypeProgress) -> None:
        self.log.info("%s %s: %s", progress.calib_type, progress.state.name, progress.message)
        if self._progress is None:
            return
        try:
            self._progress(progress)
        except Exception:
            self.log.exception("Progress callback failed on %s; going on", progress)


def _raised(calib_type: str, stage: str, error: BaseException) -> str:
    """A failure reason naming the type, the stage and the exception."""
    return f"{calib_type} {stage} raised {type(error).__name__}: {error}"
