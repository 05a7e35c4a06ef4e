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

"""BaseScript of the simulated SAL: the complete script state machine."""

import asyncio
import logging
import types
import typing

import pytest
import yaml
from lsst.ts.calibscripts.simsal import salobj
from lsst.ts.calibscripts.simsal.salobj import _bus
from lsst.ts.calibscripts.simsal.xml.enums.Script import MetadataDome, ScriptState

STD_TIMEOUT = 10
SalRetCode = salobj.SalRetCode


class StepScript(salobj.BaseScript):
    """Runs ``steps`` checkpoints named ``step <i>``, sleeping ``wait_time`` between them."""

    def __init__(self, index: int, remotes: typing.Sequence[tuple[str, int]] = ()) -> None:
        super().__init__(index=index, descr="A test script", help="Some help")
        self.cleanup_states: list[ScriptState] = []
        self.fail_cleanup = False
        self.cleanup_started = asyncio.Event()
        self.cleanup_gate: asyncio.Event | None = None
        self.run_started = asyncio.Event()
        self.config: types.SimpleNamespace | None = None
        self.remotes = [salobj.Remote(self.domain, name, index) for name, index in remotes]

    @classmethod
    def get_schema(cls) -> dict[str, typing.Any]:
        return yaml.safe_load("""
            $schema: http://json-schema.org/draft-07/schema#
            type: object
            properties:
              wait_time:
                type: number
                default: 0
              steps:
                type: integer
                default: 1
              checkpoint_name:
                type: string
                default: step
              fail_run:
                type: boolean
                default: false
            additionalProperties: false
            """)

    async def configure(self, config: types.SimpleNamespace) -> None:
        self.config = config

    def set_metadata(self, metadata: typing.Any) -> None:
        assert self.config is not None
        metadata.duration = self.config.wait_time * self.config.steps
        metadata.nimages = self.config.steps
        metadata.instrument = "LSSTComCam"

    async def run(self) -> None:
        assert self.config is not None
        self.run_started.set()
        for i in range(self.config.steps):
            name = self.config.checkpoint_name
            await self.checkpoint(f"{name} {i}" if name else "")
            await asyncio.sleep(self.config.wait_time)
        if self.config.fail_run:
            raise RuntimeError("run failed as asked")

    async def cleanup(self) -> None:
        self.cleanup_states.append(ScriptState(self.state.state))
        self.cleanup_started.set()
        if self.cleanup_gate is not None:
            await self.cleanup_gate.wait()
        if self.fail_cleanup:
            raise RuntimeError("cleanup failed as asked")


async def make_script(index: int = 1, **kwargs: typing.Any) -> StepScript:
    script = StepScript(index=index, **kwargs)
    await script.start_task
    return script


async def configure(script: StepScript, **config: typing.Any) -> None:
    data = script.cmd_configure.DataType()
    data.config = yaml.safe_dump(config) if config else ""
    await script.do_configure(data)
    group_data = script.cmd_setGroupId.DataType()
    group_data.groupId = "2026-01-01T00:00:00.000"
    await script.do_setGroupId(group_data)


async def states_seen(remote: salobj.Remote, final: ScriptState) -> list[ScriptState]:
    states = []
    while True:
        data = await remote.evt_state.next(flush=False, timeout=STD_TIMEOUT)
        states.append(ScriptState(data.state))
        if data.state == final:
            return states


async def test_constructor_checks() -> None:
    with pytest.raises(ValueError, match="index must be nonzero"):
        StepScript(index=0)

    class BadScript(StepScript):
        async def do_take_bias(self, data: typing.Any) -> None:
            pass

    with pytest.raises(TypeError, match="This class must remove do_take_bias methods"):
        BadScript(index=1)


async def test_start_events(monkeypatch: pytest.MonkeyPatch) -> None:
    assert salobj.base_script.HEARTBEAT_INTERVAL == 5
    monkeypatch.setattr(salobj.base_script, "HEARTBEAT_INTERVAL", 0.1)
    async with salobj.Domain() as domain:
        remote = salobj.Remote(domain, "Script", 12)
        await remote.start_task
        script = await make_script(index=12, remotes=[("CCCamera", 0), ("OCPS", 2)])
        state = await remote.evt_state.next(flush=False, timeout=STD_TIMEOUT)
        assert state.state == ScriptState.UNCONFIGURED
        description = await remote.evt_description.next(flush=False, timeout=STD_TIMEOUT)
        assert description.classname == "StepScript"
        assert description.description == "A test script"
        assert description.help == "Some help"
        assert description.remotes == "CCCamera:0,OCPS:2"
        log_level = await remote.evt_logLevel.aget(timeout=STD_TIMEOUT)
        assert log_level.level <= logging.INFO
        heartbeat = await remote.evt_heartbeat.next(flush=False, timeout=STD_TIMEOUT)
        assert heartbeat.salIndex == 12
        # Every remote of the script identifies itself as the script.
        assert all(r.salinfo.identity == "Script:12" for r in script.remotes)
        await script.close()


async def test_first_heartbeat_one_interval_after_start() -> None:
    # The heartbeat loop sleeps first: nothing at start, the first after 5 s.
    async with salobj.Domain() as domain:
        remote = salobj.Remote(domain, "Script", 13)
        await remote.start_task
        script = await make_script(index=13)
        await remote.evt_description.next(flush=False, timeout=STD_TIMEOUT)
        await _bus.delivery_barrier()  # every message written so far has arrived
        assert remote.evt_heartbeat.get() is None
        assert remote.evt_state.get().state == ScriptState.UNCONFIGURED
        await script.close()


async def test_configure_failures() -> None:
    for config_text, message in (
        ("no_such_arg: 1", "Additional properties are not allowed ('no_such_arg' was unexpected)"),
        ("steps: many", "'many' is not of type 'integer'"),
        ("a : : 2", "mapping values are not allowed"),
        ("just a string", "just a string is not a dict"),
        ("[1, 2]", "[1, 2] is not a dict"),
    ):
        script = await make_script()
        data = script.cmd_configure.DataType()
        data.config = config_text
        with pytest.raises(salobj.ExpectedError) as exc_info:
            await script.do_configure(data)
        assert script.state.state == ScriptState.CONFIGURE_FAILED
        assert script.state.reason.startswith(f"config({config_text}) failed: ")
        assert message in script.state.reason
        assert str(exc_info.value) == script.state.reason
        await asyncio.wait_for(script.done_task, timeout=STD_TIMEOUT)
        assert ScriptState.CONFIGURE_FAILED in script.timestamps


async def test_configure_failed_seen_remotely() -> None:
    async with salobj.Domain() as domain:
        remote = salobj.Remote(domain, "Script", 3)
        await remote.start_task
        script = StepScript(index=3)
        await script.start_task
        with pytest.raises(salobj.AckError) as exc_info:
            await remote.cmd_configure.set_start(config="no_such_arg: 1", timeout=STD_TIMEOUT)
        assert exc_info.value.ackcmd.ack == SalRetCode.CMD_FAILED
        assert exc_info.value.ackcmd.result.startswith("Failed: config(no_such_arg: 1) failed: Additional")
        assert await states_seen(remote, ScriptState.CONFIGURE_FAILED) == [
            ScriptState.UNCONFIGURED,
            ScriptState.CONFIGURE_FAILED,
        ]
        final = remote.evt_state.get()
        assert final.state == 11
        assert "Additional properties are not allowed ('no_such_arg' was unexpected)" in final.reason
        await asyncio.wait_for(script.done_task, timeout=STD_TIMEOUT)


async def test_full_run_through_remote() -> None:
    async with salobj.Domain() as domain:
        remote = salobj.Remote(domain, "Script", 5)
        await remote.start_task
        script = StepScript(index=5)
        await script.start_task
        await remote.cmd_configure.set_start(
            config="steps: 2", logLevel=logging.DEBUG, pauseCheckpoint="", stopCheckpoint="none", blockId="B1"
        )
        metadata = await remote.evt_metadata.next(flush=False, timeout=STD_TIMEOUT)
        assert (metadata.nimages, metadata.instrument, metadata.dome) == (
            2,
            "LSSTComCam",
            MetadataDome.EITHER,
        )
        checkpoints = await remote.evt_checkpoints.next(flush=False, timeout=STD_TIMEOUT)
        assert (checkpoints.pause, checkpoints.stop) == ("", "none")
        with pytest.raises(salobj.AckError, match="Group ID not set"):
            await remote.cmd_run.start(timeout=STD_TIMEOUT)
        with pytest.raises(
            salobj.AckError, match="Cannot configure: state=CONFIGURED instead of UNCONFIGURED"
        ):
            await remote.cmd_configure.set_start(config="")
        await remote.cmd_setGroupId.set_start(groupId="group1", timeout=STD_TIMEOUT)
        assert script.next_supplemented_group_id() == "group1#1"
        assert script.next_supplemented_group_id() == "group1#2"
        await remote.cmd_setGroupId.set_start(groupId="group2", timeout=STD_TIMEOUT)
        assert script.next_supplemented_group_id() == "group2#1"
        ackcmd = await remote.cmd_run.start(timeout=STD_TIMEOUT)
        assert ackcmd.ack == SalRetCode.CMD_COMPLETE
        assert await states_seen(remote, ScriptState.DONE) == [
            ScriptState.UNCONFIGURED,
            ScriptState.CONFIGURED,
            ScriptState.CONFIGURED,
            ScriptState.CONFIGURED,
            ScriptState.RUNNING,
            ScriptState.RUNNING,
            ScriptState.RUNNING,
            ScriptState.ENDING,
            ScriptState.DONE,
        ]
        final = remote.evt_state.get()
        assert (final.groupId, final.blockId, final.numCheckpoints, final.lastCheckpoint) == (
            "group2",
            "B1",
            2,
            "step 1",
        )
        await asyncio.wait_for(script.done_task, timeout=STD_TIMEOUT)
        assert script.cleanup_states == [ScriptState.ENDING]
        assert set(script.timestamps) >= {ScriptState.RUNNING, ScriptState.ENDING, ScriptState.DONE}


async def test_run_failure_is_acked_complete() -> None:
    async with salobj.Domain() as domain:
        remote = salobj.Remote(domain, "Script", 6)
        await remote.start_task
        script = StepScript(index=6)
        await script.start_task
        await remote.cmd_configure.set_start(config="fail_run: true", timeout=STD_TIMEOUT)
        await remote.cmd_setGroupId.set_start(groupId="g", timeout=STD_TIMEOUT)
        ackcmd = await remote.cmd_run.start(timeout=STD_TIMEOUT)
        assert ackcmd.ack == SalRetCode.CMD_COMPLETE
        states = await states_seen(remote, ScriptState.FAILED)
        assert states[-2:] == [ScriptState.FAILING, ScriptState.FAILED]
        assert remote.evt_state.get().reason == "Error in run: run failed as asked"
        assert script.cleanup_states == [ScriptState.FAILING]
        await asyncio.wait_for(script.done_task, timeout=STD_TIMEOUT)


async def test_empty_checkpoint_name_stops_under_default_checkpoints() -> None:
    script = await make_script()
    await configure(script, checkpoint_name="", steps=3)
    await script.do_run(script.cmd_run.DataType())
    assert script.state.state == ScriptState.STOPPED
    assert script.num_checkpoints == 1
    assert script.cleanup_states == [ScriptState.STOPPING]
    await asyncio.wait_for(script.done_task, timeout=STD_TIMEOUT)


async def test_named_checkpoints_do_not_stop_under_default_checkpoints() -> None:
    script = await make_script()
    await configure(script, steps=3)
    await script.do_run(script.cmd_run.DataType())
    assert script.state.state == ScriptState.DONE
    assert script.num_checkpoints == 3
    await asyncio.wait_for(script.done_task, timeout=STD_TIMEOUT)


async def test_stop_during_run() -> None:
    script = await make_script()
    await configure(script, steps=1, wait_time=30)
    run_task = asyncio.create_task(script.do_run(script.cmd_run.DataType()))
    await asyncio.wait_for(script.run_started.wait(), timeout=STD_TIMEOUT)
    await asyncio.sleep(0.01)
    await script.do_stop(script.cmd_stop.DataType())
    await asyncio.wait_for(run_task, timeout=STD_TIMEOUT)
    assert script.state.state == ScriptState.STOPPED
    assert script.cleanup_states == [ScriptState.STOPPING]
    await asyncio.wait_for(script.done_task, timeout=STD_TIMEOUT)


async def test_stop_before_run_skips_cleanup() -> None:
    script = await make_script()
    await configure(script)
    await script.do_stop(script.cmd_stop.DataType())
    assert script.state.state == ScriptState.STOPPED
    assert script.cleanup_states == []
    await asyncio.wait_for(script.done_task, timeout=STD_TIMEOUT)


async def test_pause_resume_and_stop_checkpoints() -> None:
    async with salobj.Domain() as domain:
        remote = salobj.Remote(domain, "Script", 7)
        await remote.start_task
        script = StepScript(index=7)
        await script.start_task
        await remote.cmd_configure.set_start(
            config="steps: 3", pauseCheckpoint="step 1", stopCheckpoint="step 2", timeout=STD_TIMEOUT
        )
        await remote.cmd_setGroupId.set_start(groupId="g", timeout=STD_TIMEOUT)
        with pytest.raises(salobj.AckError, match="Cannot resume: state=CONFIGURED instead of PAUSED"):
            await remote.cmd_resume.start(timeout=STD_TIMEOUT)
        run_task = asyncio.create_task(remote.cmd_run.start(timeout=STD_TIMEOUT))
        states = await states_seen(remote, ScriptState.PAUSED)
        assert script.last_checkpoint == "step 1"
        await remote.cmd_resume.start(timeout=STD_TIMEOUT)
        states += await states_seen(remote, ScriptState.STOPPED)
        assert states[-4:] == [
            ScriptState.PAUSED,
            ScriptState.RUNNING,
            ScriptState.STOPPING,
            ScriptState.STOPPED,
        ]
        assert (await run_task).ack == SalRetCode.CMD_COMPLETE
        assert remote.evt_state.get().lastCheckpoint == "step 2"
        await asyncio.wait_for(script.done_task, timeout=STD_TIMEOUT)


async def test_stop_while_paused() -> None:
    script = await make_script()
    data = script.cmd_configure.DataType()
    data.config = "steps: 2"
    data.pauseCheckpoint = ".*"
    await script.do_configure(data)
    await script.do_setGroupId(script.cmd_setGroupId.DataType(groupId="g"))
    run_task = asyncio.create_task(script.do_run(script.cmd_run.DataType()))
    for _ in range(100):
        if script.state.state == ScriptState.PAUSED:
            break
        await asyncio.sleep(0.01)
    assert script.state.state == ScriptState.PAUSED
    await script.do_stop(script.cmd_stop.DataType())
    await asyncio.wait_for(run_task, timeout=STD_TIMEOUT)
    assert script.state.state == ScriptState.STOPPED
    assert script.cleanup_states == [ScriptState.STOPPING]


async def test_invalid_checkpoint_regex() -> None:
    script = await make_script()
    data = script.cmd_setCheckpoints.DataType()
    data.pause = "("
    with pytest.raises(salobj.ExpectedError, match=r"pause='\(' not a valid regex"):
        await script.do_setCheckpoints(data)
    await script.close()


async def test_cleanup_failure() -> None:
    script = await make_script()
    script.fail_cleanup = True
    await configure(script)
    await script.do_run(script.cmd_run.DataType())
    assert script.state.state == ScriptState.FAILED
    assert script.state.reason == "failed in _exit: cleanup failed as asked"
    with pytest.raises(RuntimeError, match="cleanup failed as asked"):
        await asyncio.wait_for(script.done_task, timeout=STD_TIMEOUT)


async def test_commands_during_cleanup_see_an_exiting_script() -> None:
    # Real salobj marks the script as exiting when _exit begins, before
    # cleanup: a stop command during cleanup is a no-op (cleanup is not run
    # again, the final state stays DONE) and assert_state refuses commands.
    async with salobj.Domain() as domain:
        remote = salobj.Remote(domain, "Script", 8)
        await remote.start_task
        script = StepScript(index=8)
        await script.start_task
        script.cleanup_gate = asyncio.Event()
        await remote.cmd_configure.set_start(timeout=STD_TIMEOUT)
        await remote.cmd_setGroupId.set_start(groupId="g", timeout=STD_TIMEOUT)
        run_task = asyncio.create_task(remote.cmd_run.start(timeout=STD_TIMEOUT))
        await asyncio.wait_for(script.cleanup_started.wait(), timeout=STD_TIMEOUT)
        assert script.state.state == ScriptState.ENDING
        ackcmd = await remote.cmd_stop.start(timeout=STD_TIMEOUT)
        assert ackcmd.ack == SalRetCode.CMD_COMPLETE
        with pytest.raises(salobj.AckError) as exc_info:
            await remote.cmd_setCheckpoints.set_start(pause="x", timeout=STD_TIMEOUT)
        assert exc_info.value.ackcmd.result == "Failed: Cannot setCheckpoints: script is exiting"
        script.cleanup_gate.set()
        ackcmd = await asyncio.wait_for(run_task, timeout=STD_TIMEOUT)
        assert ackcmd.ack == SalRetCode.CMD_COMPLETE
        await asyncio.wait_for(script.done_task, timeout=STD_TIMEOUT)
        assert script.cleanup_states == [ScriptState.ENDING]
        assert script.state.state == ScriptState.DONE
        assert remote.evt_state.get().state == ScriptState.DONE


async def test_close_while_closing_waits_for_done_task() -> None:
    # A second close (e.g. a test harness closing a script that is already
    # closing itself after its final state) returns only once the first has
    # finished, and does not raise the cleanup error held by done_task.
    script = await make_script()
    await configure(script)
    await script.do_run(script.cmd_run.DataType())
    assert script.state.state == ScriptState.DONE
    await asyncio.sleep(0)  # the script's own close begins
    assert not script.isopen and not script.done_task.done()
    await script.close()
    assert script.done_task.done()
    assert script.done_task.result() is None

    script = await make_script(index=2)
    script.fail_cleanup = True
    await configure(script)
    await script.do_run(script.cmd_run.DataType())
    assert script.state.state == ScriptState.FAILED
    await asyncio.sleep(0)
    assert not script.isopen and not script.done_task.done()
    await script.close()
    assert script.done_task.done()
    assert isinstance(script.done_task.exception(), RuntimeError)


async def test_checkpoint_outside_run() -> None:
    script = await make_script()
    with pytest.raises(RuntimeError, match="state=UNCONFIGURED instead of RUNNING"):
        await script.checkpoint("x")
    with pytest.raises(ValueError):
        await script.set_state(99)
    await script.close()


async def test_set_state_reasons() -> None:
    script = await make_script()
    await script.set_state(reason="first")
    await script.set_state(reason="second", keep_old_reason=True)
    assert script.state.reason == "first; second"
    await script.set_state(ScriptState.CONFIGURED)
    assert script.state.reason == "first; second"
    assert script.state_name == "CONFIGURED"
    await script.close()


async def test_log_messages_are_events() -> None:
    async with salobj.Domain() as domain:
        remote = salobj.Remote(domain, "Script", 8)
        await remote.start_task
        script = await make_script(index=8)
        remote.evt_logMessage.flush()
        script.log.warning("Something to say: %s", 42)
        message = await remote.evt_logMessage.next(flush=False, timeout=STD_TIMEOUT)
        assert (message.message, message.level, message.name) == (
            "Something to say: 42",
            logging.WARNING,
            "Script",
        )
        assert message.functionName == "test_log_messages_are_events"
        await script.do_setLogLevel(script.cmd_setLogLevel.DataType(level=logging.ERROR))
        # Samples written earlier (the level published at start) may still be on their way: read
        # them in order until the new level, which must come (next raises if it does not).
        level = await remote.evt_logLevel.next(flush=False, timeout=STD_TIMEOUT)
        while level.level != logging.ERROR:
            level = await remote.evt_logLevel.next(flush=False, timeout=STD_TIMEOUT)
        await script.close()
        script.log.setLevel(logging.INFO)


async def test_final_state_delivered_before_done_task() -> None:
    async with salobj.Domain() as domain:
        remote = salobj.Remote(domain, "Script", 9)
        await remote.start_task
        final_states: list[int] = []

        async def state_callback(data: typing.Any) -> None:
            final_states.append(data.state)

        remote.evt_state.callback = state_callback
        script = await make_script(index=9)
        await configure(script)
        await script.do_run(script.cmd_run.DataType())
        await asyncio.wait_for(script.done_task, timeout=STD_TIMEOUT)
        # No further waiting: the final state has already reached the remote.
        assert final_states[-1] == ScriptState.DONE
        assert not script.salinfo.isopen
        with pytest.raises(RuntimeError, match="No longer open"):
            await script.evt_state.write()


async def test_amain_cleanup_failure_exits_1(monkeypatch: pytest.MonkeyPatch) -> None:
    class FailingCleanup(StepScript):
        def __init__(self, index: int) -> None:
            super().__init__(index=index)
            self.fail_cleanup = True

    monkeypatch.setattr("sys.argv", ["failing_cleanup.py", "10"])

    async def amain_exit_code() -> int:
        try:
            await FailingCleanup.amain()
        except SystemExit as e:
            return int(e.code or 0)
        return 0

    async with salobj.Domain() as domain:
        remote = salobj.Remote(domain, "Script", 10)
        await remote.start_task
        task = asyncio.create_task(amain_exit_code())
        await remote.evt_state.next(flush=False, timeout=STD_TIMEOUT)
        await remote.cmd_configure.set_start(config="", timeout=STD_TIMEOUT)
        await remote.cmd_setGroupId.set_start(groupId="g", timeout=STD_TIMEOUT)
        await remote.cmd_run.start(timeout=STD_TIMEOUT)
        assert await asyncio.wait_for(task, timeout=STD_TIMEOUT) == 1
        final = remote.evt_state.get()
        assert final.state == ScriptState.FAILED
        assert final.reason == "failed in _exit: cleanup failed as asked"


async def test_log_messages_from_threads_and_before_start() -> None:
    async with salobj.Domain() as domain:
        remote = salobj.Remote(domain, "Script", 11)
        await remote.start_task
        script = StepScript(index=11)
        script.log.warning("before start")
        await script.start_task
        messages = []
        while len(messages) < 1 or messages[-1] != "before start":
            messages.append((await remote.evt_logMessage.next(flush=False, timeout=STD_TIMEOUT)).message)
        await asyncio.to_thread(script.log.warning, "from a thread")
        message = await remote.evt_logMessage.next(flush=False, timeout=STD_TIMEOUT)
        assert message.message == "from a thread"
        await script.close()
