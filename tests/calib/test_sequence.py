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


"""CalibrationSequence: serial takes, overlapping processing, dependencies, failures, stop.

The take and process callables are fakes that block on futures the test
resolves, so every interleaving is set by the test, not by timing.
"""

from __future__ import annotations

import asyncio
import typing

import pytest
from lsst.ts.calibscripts.calib.plan import CalibrationPlan, TypePlan, make_plan
from lsst.ts.calibscripts.calib.sequence import (
    CalibrationSequence,
    ProcessOutcome,
    Stage,
    TypeProgress,
    TypeState,
)

# Guard against a hang when the code under test is wrong; never reached when it is right.
GUARD = 10.0


def small_plan(script_mode: str = "BIAS_DARK_FLAT", **options: typing.Any) -> CalibrationPlan:
    config: dict[str, typing.Any] = {
        "script_mode": script_mode,
        "calib_collection": "LSSTComCam/calib/daily",
        "n_bias": 3,
        "n_discard_bias": 1,
        "n_dark": 2,
        "n_discard_dark": 1,
        "exp_times_dark": 30,
        "n_flat": 2,
        "n_discard_flat": 0,
        "exp_times_flat": [1.0, 2.0],
        "generate_calibrations": True,
    }
    if "FLAT" in script_mode:
        config["filter"] = "r_03"
    config.update(options)
    return make_plan(config)


class Fakes:
    """Take and process callables the test drives through futures.

    ``timeline`` records ("take-start"|"take-end"|"process-start"|"process-end"|
    "process-cancelled"|"process-cleaned", type) in the order they happen.
    """

    def __init__(self, plan: CalibrationPlan) -> None:
        loop = asyncio.get_running_loop()
        types = plan.calib_types
        self.take_started = {t: asyncio.Event() for t in types}
        self.take_release: dict[str, asyncio.Future[typing.Any]] = {t: loop.create_future() for t in types}
        self.process_started = {t: asyncio.Event() for t in types}
        self.process_release: dict[str, asyncio.Future[typing.Any]] = {t: loop.create_future() for t in types}
        self.cleanup_release: dict[str, asyncio.Future[None]] = {t: loop.create_future() for t in types}
        self.process_args: dict[str, tuple[tuple[int, ...], tuple[str, ...]]] = {}
        self.timeline: list[tuple[str, str]] = []
        self.progress: list[TypeProgress] = []
        self.next_id = 2026112500001

    async def take(self, type_plan: TypePlan) -> list[int]:
        name = type_plan.calib_type
        self.timeline.append(("take-start", name))
        self.take_started[name].set()
        try:
            value = await self.take_release[name]
        except asyncio.CancelledError:
            self.timeline.append(("take-cancelled", name))
            raise
        self.timeline.append(("take-end", name))
        if isinstance(value, BaseException):
            raise value
        if value is not None:
            return value
        ids = list(range(self.next_id, self.next_id + type_plan.n_frames_to_take))
        self.next_id += type_plan.n_frames_to_take
        return ids

    async def process(
        self, type_plan: TypePlan, exposure_ids: tuple[int, ...], inputs: tuple[str, ...]
    ) -> ProcessOutcome:
        name = type_plan.calib_type
        self.process_args[name] = (exposure_ids, inputs)
        self.timeline.append(("process-start", name))
        self.process_started[name].set()
        try:
            value = await self.process_release[name]
        except asyncio.CancelledError:
            # The real callable aborts its OCPS job here and waits for it to end.
            self.timeline.append(("process-cancelled", name))
            await self.cleanup_release[name]
            self.timeline.append(("process-cleaned", name))
            raise
        self.timeline.append(("process-end", name))
        if isinstance(value, BaseException):
            raise value
        return value

    def sequence(self, plan: CalibrationPlan) -> CalibrationSequence:
        return CalibrationSequence(plan, self.take, self.process, progress=self.progress.append)

    def ok(self, name: str) -> ProcessOutcome:
        return ProcessOutcome(output_collection=f"u/ocps/{name.lower()}-job", certified=True)


async def wait_for(event: asyncio.Event) -> None:
    await asyncio.wait_for(event.wait(), GUARD)


async def until(condition: typing.Callable[[], bool], what: str) -> None:
    """Let other tasks run (zero-time yields) until ``condition`` holds."""
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError(f"never happened: {what}")


async def yield_a_while() -> None:
    """Give every ready task many turns (zero time), e.g. to show one stays blocked."""
    for _ in range(20):
        await asyncio.sleep(0)


async def run_all_ok(fakes: Fakes, plan: CalibrationPlan, task: asyncio.Task) -> None:
    """Release every take and process in order as they start."""
    for name in plan.calib_types:
        await wait_for(fakes.take_started[name])
        fakes.take_release[name].set_result(None)
        await wait_for(fakes.process_started[name])
        fakes.process_release[name].set_result(fakes.ok(name))


async def test_takes_are_serial_and_overlap_the_previous_processing() -> None:
    plan = small_plan()
    fakes = Fakes(plan)
    task = asyncio.create_task(fakes.sequence(plan).run())

    await wait_for(fakes.take_started["BIAS"])
    fakes.take_release["BIAS"].set_result(None)
    await wait_for(fakes.process_started["BIAS"])
    await wait_for(fakes.take_started["DARK"])
    # The bias is being processed while the camera takes darks.
    assert fakes.timeline == [
        ("take-start", "BIAS"),
        ("take-end", "BIAS"),
        ("take-start", "DARK"),
        ("process-start", "BIAS"),
    ]
    fakes.take_release["DARK"].set_result(None)
    await wait_for(fakes.take_started["FLAT"])
    # Dark frames are taken, but the dark waits for the bias; the flat take is not held back.
    assert not fakes.process_started["DARK"].is_set()
    assert ("take-start", "FLAT") in fakes.timeline
    fakes.take_release["FLAT"].set_result(None)
    fakes.process_release["BIAS"].set_result(fakes.ok("BIAS"))
    await wait_for(fakes.process_started["DARK"])
    fakes.process_release["DARK"].set_result(fakes.ok("DARK"))
    await wait_for(fakes.process_started["FLAT"])
    fakes.process_release["FLAT"].set_result(fakes.ok("FLAT"))
    result = await asyncio.wait_for(task, GUARD)

    assert result.succeeded
    assert result.kept == ("BIAS", "DARK", "FLAT")
    takes = [name for event, name in fakes.timeline if event == "take-start"]
    assert takes == ["BIAS", "DARK", "FLAT"]
    # Never two takes at once: each take ends before the next starts.
    take_events = [(e, n) for e, n in fakes.timeline if e.startswith("take")]
    assert take_events == [(e, n) for n in ("BIAS", "DARK", "FLAT") for e in ("take-start", "take-end")]
    # Processing of each type starts only after its prerequisites' processing ended.
    order = fakes.timeline.index
    assert order(("process-end", "BIAS")) < order(("process-start", "DARK"))
    assert order(("process-end", "DARK")) < order(("process-start", "FLAT"))


async def test_processing_of_type_k_is_in_progress_while_take_of_k_plus_1_runs() -> None:
    plan = small_plan("BIAS_DARK", generate_calibrations=False)  # no dependencies: verify frames
    fakes = Fakes(plan)
    sequence = fakes.sequence(plan)
    task = asyncio.create_task(sequence.run())
    await wait_for(fakes.take_started["BIAS"])
    fakes.take_release["BIAS"].set_result(None)
    await wait_for(fakes.process_started["BIAS"])
    await wait_for(fakes.take_started["DARK"])
    assert sequence.state("BIAS") is TypeState.PROCESSING
    assert sequence.state("DARK") is TypeState.TAKING
    fakes.take_release["DARK"].set_result(None)
    # Without a dependency the dark is processed while the bias still is.
    await wait_for(fakes.process_started["DARK"])
    assert sequence.state("BIAS") is TypeState.PROCESSING
    fakes.process_release["DARK"].set_result(ProcessOutcome(detail="frames pass"))
    fakes.process_release["BIAS"].set_result(ProcessOutcome(detail="frames pass"))
    result = await asyncio.wait_for(task, GUARD)
    assert result.succeeded
    assert fakes.process_args["DARK"][1] == ()


async def test_prerequisite_outputs_and_kept_exposures_are_passed() -> None:
    plan = small_plan()
    fakes = Fakes(plan)
    task = asyncio.create_task(fakes.sequence(plan).run())
    await run_all_ok(fakes, plan, task)
    result = await asyncio.wait_for(task, GUARD)

    bias_ids, bias_inputs = fakes.process_args["BIAS"]
    dark_ids, dark_inputs = fakes.process_args["DARK"]
    flat_ids, flat_inputs = fakes.process_args["FLAT"]
    assert bias_inputs == ()
    assert dark_inputs == ("u/ocps/bias-job",)
    assert flat_inputs == ("u/ocps/bias-job", "u/ocps/dark-job")
    # Discarded frames are taken but not processed.
    assert result["BIAS"].exposure_ids == (2026112500001, 2026112500002, 2026112500003, 2026112500004)
    assert bias_ids == (2026112500002, 2026112500003, 2026112500004)
    assert dark_ids == (2026112500006, 2026112500007)
    assert flat_ids == (2026112500008, 2026112500009)
    assert result["DARK"].output_collection == "u/ocps/dark-job"
    assert result["DARK"].certified
    # Job inputs as the process callable would build them from the plan.
    assert plan.type_plan("FLAT").calib_job_inputs(flat_inputs)[:2] == flat_inputs


async def test_dark_failure_skips_flat_and_keeps_bias() -> None:
    plan = small_plan()
    fakes = Fakes(plan)
    sequence = fakes.sequence(plan)
    task = asyncio.create_task(sequence.run())
    for name in plan.calib_types:
        await wait_for(fakes.take_started[name])
        fakes.take_release[name].set_result(None)
    await wait_for(fakes.process_started["BIAS"])
    fakes.process_release["BIAS"].set_result(fakes.ok("BIAS"))
    await wait_for(fakes.process_started["DARK"])
    fakes.process_release["DARK"].set_result(ProcessOutcome(failure="verifyDark: 5 of 8 exposures fail"))
    result = await asyncio.wait_for(task, GUARD)

    assert not result.succeeded
    assert result.failed == ("DARK",)
    assert result["DARK"].stage is Stage.PROCESS
    assert result["DARK"].reason == "verifyDark: 5 of 8 exposures fail"
    assert result.kept == ("BIAS",)
    assert result["BIAS"].certified
    assert result.skipped == ("FLAT",)
    assert "DARK FAILED" in result["FLAT"].reason and "verifyDark" in result["FLAT"].reason
    # The flat frames were taken before the dark failed: kept for a later build.
    assert len(result["FLAT"].exposure_ids) == 2
    assert not fakes.process_started["FLAT"].is_set()
    assert "FLAT: SKIPPED" in result.describe()


async def test_flat_is_not_taken_when_a_prerequisite_already_failed() -> None:
    plan = small_plan()
    fakes = Fakes(plan)
    task = asyncio.create_task(fakes.sequence(plan).run())
    await wait_for(fakes.take_started["BIAS"])
    fakes.take_release["BIAS"].set_result(None)
    await wait_for(fakes.process_started["BIAS"])
    # The bias fails while the darks are being taken.
    await wait_for(fakes.take_started["DARK"])
    fakes.process_release["BIAS"].set_result(ProcessOutcome(failure="cpBias job failed"))
    fakes.take_release["DARK"].set_result(None)
    result = await asyncio.wait_for(task, GUARD)

    assert not fakes.take_started["FLAT"].is_set()
    assert result.failed == ("BIAS",)
    assert result.skipped == ("DARK", "FLAT")
    assert result["DARK"].reason.startswith("not built: BIAS FAILED")
    assert len(result["DARK"].exposure_ids) == 3
    assert result["FLAT"].reason == "not taken: BIAS FAILED (cpBias job failed)"
    assert result["FLAT"].exposure_ids == ()


@pytest.mark.parametrize("stage", ["take", "process"])
async def test_exception_from_a_callable_becomes_a_failure_naming_type_and_stage(stage: str) -> None:
    plan = small_plan("BIAS_DARK")
    fakes = Fakes(plan)
    task = asyncio.create_task(fakes.sequence(plan).run())
    await wait_for(fakes.take_started["BIAS"])
    fakes.take_release["BIAS"].set_result(None)
    await wait_for(fakes.take_started["DARK"])
    await wait_for(fakes.process_started["BIAS"])
    fakes.process_release["BIAS"].set_result(fakes.ok("BIAS"))
    if stage == "take":
        fakes.take_release["DARK"].set_result(RuntimeError("camera FAULT on frame 2"))
    else:
        fakes.take_release["DARK"].set_result(None)
        await wait_for(fakes.process_started["DARK"])
        fakes.process_release["DARK"].set_result(TimeoutError("no job_result in 3600 s"))
    result = await asyncio.wait_for(task, GUARD)

    assert result.failed == ("DARK",)
    assert result.kept == ("BIAS",)
    if stage == "take":
        assert result["DARK"].stage is Stage.TAKE
        assert result["DARK"].reason == "DARK take raised RuntimeError: camera FAULT on frame 2"
    else:
        assert result["DARK"].stage is Stage.PROCESS
        assert result["DARK"].reason == "DARK processing raised TimeoutError: no job_result in 3600 s"


async def test_failed_take_stops_the_camera_but_not_running_processing() -> None:
    plan = small_plan("BIAS_DARK_FLAT", generate_calibrations=False)
    fakes = Fakes(plan)
    task = asyncio.create_task(fakes.sequence(plan).run())
    await wait_for(fakes.take_started["BIAS"])
    fakes.take_release["BIAS"].set_result(None)
    await wait_for(fakes.take_started["DARK"])
    fakes.take_release["DARK"].set_result(RuntimeError("shutter fault"))
    await wait_for(fakes.process_started["BIAS"])
    assert not task.done()  # the bias processing goes on
    fakes.process_release["BIAS"].set_result(ProcessOutcome(detail="frames pass"))
    result = await asyncio.wait_for(task, GUARD)
    assert not fakes.take_started["FLAT"].is_set()
    assert result.kept == ("BIAS",)
    assert result.failed == ("DARK",)
    assert result["FLAT"].state is TypeState.SKIPPED
    assert result["FLAT"].reason == "not taken: the take of DARK failed"


async def test_wrong_number_of_exposure_ids_is_a_take_failure() -> None:
    plan = small_plan("BIAS")
    fakes = Fakes(plan)
    task = asyncio.create_task(fakes.sequence(plan).run())
    await wait_for(fakes.take_started["BIAS"])
    fakes.take_release["BIAS"].set_result([2026112500001, 2026112500002])
    result = await asyncio.wait_for(task, GUARD)
    assert result["BIAS"].state is TypeState.FAILED
    assert result["BIAS"].stage is Stage.TAKE
    assert result["BIAS"].reason == "BIAS take returned 2 exposure id(s), expected 4"
    assert not fakes.process_started["BIAS"].is_set()


async def test_take_only_takes_every_type_and_processes_none() -> None:
    plan = small_plan(take_only=True, generate_calibrations=False)
    fakes = Fakes(plan)
    task = asyncio.create_task(fakes.sequence(plan).run())
    for name in plan.calib_types:
        await wait_for(fakes.take_started[name])
        fakes.take_release[name].set_result(None)
    result = await asyncio.wait_for(task, GUARD)
    assert result.succeeded
    assert [r.state for r in result.types] == [TypeState.TAKEN] * 3
    assert fakes.process_args == {}
    assert [len(r.exposure_ids) for r in result.types] == [4, 3, 2]


@pytest.mark.parametrize("stop_during", ["BIAS", "DARK", "FLAT"])
async def test_stop_during_processing_cancels_exactly_the_running_ones_and_awaits_cleanup(
    stop_during: str,
) -> None:
    # Verify-frames plan: no dependencies, so each process runs once its frames are taken.
    plan = small_plan(generate_calibrations=False)
    fakes = Fakes(plan)
    sequence = fakes.sequence(plan)
    task = asyncio.create_task(sequence.run())
    types = plan.calib_types
    index = types.index(stop_during)
    for name in types[: index + 1]:
        await wait_for(fakes.take_started[name])
        fakes.take_release[name].set_result(None)
        await wait_for(fakes.process_started[name])
    # Everything before the previous type has finished; the previous and this one run.
    running = set(types[max(0, index - 1) : index + 1])
    for name in types[: index + 1]:
        if name not in running:
            fakes.process_release[name].set_result(ProcessOutcome(detail="frames pass"))
    if index + 1 < len(types):
        await wait_for(fakes.take_started[types[index + 1]])
        running_take = types[index + 1]
    else:
        running_take = None
    for name in types[: index + 1]:
        if name not in running:
            await until(lambda: sequence.state(name) is TypeState.SUCCEEDED, name + " succeeded")

    task.cancel()
    # Cancelled processes are cleaning up: run must not end before they have.
    for name in running:
        await until(lambda: ("process-cancelled", name) in fakes.timeline, "cleanup of " + name)
    await yield_a_while()
    assert not task.done()
    for name in running:
        fakes.cleanup_release[name].set_result(None)
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, GUARD)

    cancelled = {name for event, name in fakes.timeline if event == "process-cancelled"}
    assert cancelled == running
    for name in running:
        assert fakes.timeline.index(("process-cleaned", name)) > fakes.timeline.index(
            ("process-cancelled", name)
        )
    result = sequence.result
    assert result.stopped
    assert set(result.in_state(TypeState.CANCELLED)) == running | ({running_take} if running_take else set())
    for name in running:
        assert result[name].stage is Stage.PROCESS
    if running_take:
        assert ("take-cancelled", running_take) in fakes.timeline
        assert result[running_take].stage is Stage.TAKE
    assert set(result.kept) == set(types[: index + 1]) - running
    later = types[index + 2 :]
    assert result.skipped == tuple(later)
    assert all(r.state.is_final for r in result.types)


async def test_stop_while_waiting_for_a_prerequisite_cancels_the_waiter() -> None:
    plan = small_plan("BIAS_DARK")
    fakes = Fakes(plan)
    sequence = fakes.sequence(plan)
    task = asyncio.create_task(sequence.run())
    for name in ("BIAS", "DARK"):
        await wait_for(fakes.take_started[name])
        fakes.take_release[name].set_result(None)
    await wait_for(fakes.process_started["BIAS"])
    await until(lambda: sequence.state("DARK") is TypeState.WAITING, "DARK waiting")
    task.cancel()
    await until(lambda: ("process-cancelled", "BIAS") in fakes.timeline, "BIAS cleanup")
    fakes.cleanup_release["BIAS"].set_result(None)
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, GUARD)
    result = sequence.result
    assert result["BIAS"].state is TypeState.CANCELLED
    assert result["DARK"].state is TypeState.CANCELLED
    assert result["DARK"].reason == "stopped while waiting for its prerequisites"
    assert not fakes.process_started["DARK"].is_set()


async def test_a_second_stop_still_waits_for_cleanup() -> None:
    plan = small_plan("BIAS")
    fakes = Fakes(plan)
    sequence = fakes.sequence(plan)
    task = asyncio.create_task(sequence.run())
    await wait_for(fakes.take_started["BIAS"])
    fakes.take_release["BIAS"].set_result(None)
    await wait_for(fakes.process_started["BIAS"])
    task.cancel()
    await until(lambda: ("process-cancelled", "BIAS") in fakes.timeline, "BIAS cleanup")
    task.cancel()
    await yield_a_while()
    assert not task.done()
    fakes.cleanup_release["BIAS"].set_result(None)
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, GUARD)
    assert ("process-cleaned", "BIAS") in fakes.timeline
    assert sequence.result["BIAS"].state is TypeState.CANCELLED


async def test_progress_reports_every_state_change_per_type() -> None:
    plan = small_plan("BIAS_DARK")
    fakes = Fakes(plan)
    task = asyncio.create_task(fakes.sequence(plan).run())
    await run_all_ok(fakes, plan, task)
    await asyncio.wait_for(task, GUARD)
    per_type = {name: [p.state for p in fakes.progress if p.calib_type == name] for name in plan.calib_types}
    assert per_type["BIAS"] == [
        TypeState.TAKING,
        TypeState.WAITING,
        TypeState.PROCESSING,
        TypeState.SUCCEEDED,
    ]
    assert per_type["DARK"] == [
        TypeState.TAKING,
        TypeState.WAITING,
        TypeState.WAITING,
        TypeState.PROCESSING,
        TypeState.SUCCEEDED,
    ]
    assert "u/ocps/bias-job" in [p for p in fakes.progress if p.calib_type == "DARK"][3].message


async def test_a_failing_progress_callback_does_not_stop_the_sequence(
    caplog: pytest.LogCaptureFixture,
) -> None:
    plan = small_plan("BIAS")
    fakes = Fakes(plan)

    def bad_progress(progress: TypeProgress) -> None:
        raise ValueError("display gone")

    sequence = CalibrationSequence(plan, fakes.take, fakes.process, progress=bad_progress)
    task = asyncio.create_task(sequence.run())
    await run_all_ok(fakes, plan, task)
    result = await asyncio.wait_for(task, GUARD)
    assert result.succeeded
    assert "Progress callback failed" in caplog.text


async def test_run_twice_is_refused() -> None:
    plan = small_plan("BIAS", take_only=True, generate_calibrations=False)
    fakes = Fakes(plan)
    sequence = fakes.sequence(plan)
    fakes.take_release["BIAS"].set_result(None)
    await asyncio.wait_for(sequence.run(), GUARD)
    with pytest.raises(RuntimeError, match="runs once"):
        await sequence.run()


async def test_a_stop_swallowed_inside_the_take_still_stops_the_sequence() -> None:
    # A wait inside the take (asyncio.wait_for of Python 3.11 in a library) may
    # swallow the stop and return the frames; the sequence must stop anyway.
    plan = small_plan("BIAS_DARK")
    fakes = Fakes(plan)
    sequence = fakes.sequence(plan)
    swallowed: list[str] = []

    async def swallowing_take(type_plan: TypePlan) -> list[int]:
        try:
            await fakes.take_release[type_plan.calib_type]
        except asyncio.CancelledError:
            if swallowed:
                raise
            swallowed.append(type_plan.calib_type)  # swallowed once
        return list(range(fakes.next_id, fakes.next_id + type_plan.n_frames_to_take))

    for cleanup in fakes.cleanup_release.values():
        cleanup.set_result(None)  # a cancelled process cleans up at once
    sequence = CalibrationSequence(plan, swallowing_take, fakes.process, progress=fakes.progress.append)
    task = asyncio.create_task(sequence.run())
    await yield_a_while()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, GUARD)
    assert swallowed == ["BIAS"]
    result = sequence.result
    assert result.stopped
    assert result["BIAS"].state is TypeState.CANCELLED
    assert result["DARK"].state is TypeState.SKIPPED
    assert not fakes.process_started["BIAS"].is_set()
