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

"""BaseCsc and the summary-state helpers of the simulated SAL."""

import asyncio
import typing

import pytest
from lsst.ts.calibscripts.simsal import salobj

STD_TIMEOUT = 5
State = salobj.State


async def next_state(remote: salobj.Remote) -> State:
    data = await remote.evt_summaryState.next(flush=False, timeout=STD_TIMEOUT)
    return State(data.summaryState)


async def test_state_machine(mini_csc_class: typing.Any) -> None:
    csc = mini_csc_class(index=1)
    await csc.start_task
    async with salobj.Domain() as domain:
        remote = salobj.Remote(domain, "Test", 1)
        await remote.start_task
        assert await next_state(remote) == State.STANDBY
        software = await remote.evt_softwareVersions.aget(timeout=STD_TIMEOUT)
        assert software.cscVersion == "1.2.3"
        assert (await remote.evt_simulationMode.aget(timeout=STD_TIMEOUT)).mode == 0
        with pytest.raises(salobj.AckError, match="enable not allowed in state <State.STANDBY: 5>"):
            await remote.cmd_enable.start(timeout=STD_TIMEOUT)
        await remote.cmd_start.set_start(configurationOverride="x.yaml", timeout=STD_TIMEOUT)
        assert await next_state(remote) == State.DISABLED
        await remote.cmd_enable.start(timeout=STD_TIMEOUT)
        assert await next_state(remote) == State.ENABLED
        assert csc.summary_state == State.ENABLED and csc.disabled_or_enabled
        await remote.cmd_fault.start(timeout=STD_TIMEOUT)
        assert await next_state(remote) == State.FAULT
        # errorCode is another topic than summaryState: wait for its own sample.
        error = await remote.evt_errorCode.aget(timeout=10)
        while error.errorCode == 0:
            error = await remote.evt_errorCode.next(flush=False, timeout=10)
        assert (error.errorCode, error.errorReport) == (47, "Asked to fault")
        remote.evt_errorCode.flush()
        await remote.cmd_standby.start(timeout=STD_TIMEOUT)
        assert await next_state(remote) == State.STANDBY
        error = await remote.evt_errorCode.next(flush=False, timeout=STD_TIMEOUT)
        assert error.errorCode == 0
        await remote.cmd_exitControl.start(timeout=STD_TIMEOUT)
        assert await next_state(remote) == State.OFFLINE
        await asyncio.wait_for(csc.done_task, timeout=STD_TIMEOUT)


async def test_hooks_and_revert() -> None:
    calls: list[str] = []

    class HookCsc(salobj.BaseCsc):
        version = "0.1"
        valid_simulation_modes = (0, 1)

        def __init__(self) -> None:
            super().__init__("CCOODS", simulation_mode=1)

        async def begin_enable(self, data: typing.Any) -> None:
            calls.append(f"begin_enable {self.summary_state.name}")

        async def end_enable(self, data: typing.Any) -> None:
            calls.append(f"end_enable {self.summary_state.name}")
            raise RuntimeError("cannot enable")

        async def handle_summary_state(self) -> None:
            calls.append(f"handle {self.summary_state.name}")

    csc = HookCsc()
    await csc.start_task
    async with salobj.Domain() as domain:
        remote = salobj.Remote(domain, "CCOODS")
        await remote.start_task
        assert (await remote.evt_simulationMode.aget(timeout=STD_TIMEOUT)).mode == 1
        await remote.cmd_start.start(timeout=STD_TIMEOUT)
        with pytest.raises(salobj.AckError, match="cannot enable"):
            await remote.cmd_enable.start(timeout=STD_TIMEOUT)
        assert csc.summary_state == State.DISABLED
        assert calls == ["handle STANDBY", "handle DISABLED", "begin_enable DISABLED", "end_enable ENABLED"]
    await csc.close()


async def test_initial_state_and_set_summary_state(mini_csc_class: typing.Any) -> None:
    csc = mini_csc_class(index=4, initial_state=State.ENABLED)
    await csc.start_task
    async with salobj.Domain() as domain:
        remote = salobj.Remote(domain, "Test", 4)
        await remote.start_task
        assert remote.evt_summaryState.get().summaryState == State.ENABLED
        states = await salobj.set_summary_state(remote, State.STANDBY, timeout=STD_TIMEOUT)
        assert states == [State.ENABLED, State.DISABLED, State.STANDBY]
        # The STANDBY sample may come after the ack of standby (another topic): wait for it.
        while (await remote.evt_summaryState.aget(timeout=10)).summaryState != State.STANDBY:
            await remote.evt_summaryState.next(flush=False, timeout=10)
        assert await salobj.set_summary_state(remote, State.STANDBY) == [State.STANDBY]
        states = await salobj.set_summary_state(remote, State.ENABLED, override="a.yaml", timeout=STD_TIMEOUT)
        assert states == [State.STANDBY, State.DISABLED, State.ENABLED]
        with pytest.raises(ValueError):
            await salobj.set_summary_state(remote, State.FAULT)
        await remote.cmd_fault.start(timeout=STD_TIMEOUT)
        # The FAULT summaryState is another topic than the ack: wait for it, not for a time.
        while (await remote.evt_summaryState.aget(timeout=10)).summaryState != State.FAULT:
            await remote.evt_summaryState.next(flush=False, timeout=10)
        states = await salobj.set_summary_state(remote, State.DISABLED, timeout=STD_TIMEOUT)
        assert states == [State.FAULT, State.STANDBY, State.DISABLED]
        # A CSC that does not exist: the summary state cannot be read.
        absent = salobj.Remote(domain, "Test", 99)
        await absent.start_task
        with pytest.raises(RuntimeError, match="Cannot get summaryState from Test:99"):
            await salobj.set_summary_state(absent, State.ENABLED, timeout=0.1)
    await csc.close()
    transitions = salobj.make_state_transition_dict()
    assert transitions[(State.OFFLINE, State.ENABLED)] == [
        ("enterControl", State.STANDBY),
        ("start", State.DISABLED),
        ("enable", State.ENABLED),
    ]
    assert salobj.get_expected_summary_states(State.ENABLED, State.OFFLINE) == [
        State.DISABLED,
        State.STANDBY,
        State.OFFLINE,
    ]


async def test_failing_transition_reports_command(mini_csc_class: typing.Any) -> None:
    class NoStart(mini_csc_class):  # type: ignore[misc, valid-type]
        async def begin_start(self, data: typing.Any) -> None:
            raise salobj.ExpectedError("no hardware")

    csc = NoStart(index=5)
    await csc.start_task
    async with salobj.Domain() as domain:
        remote = salobj.Remote(domain, "Test", 5)
        await remote.start_task
        with pytest.raises(RuntimeError, match="Error on cmd=cmd_start, initial_state=5: .*no hardware"):
            await salobj.set_summary_state(remote, State.ENABLED, timeout=STD_TIMEOUT)
    await csc.close()


async def test_heartbeat(mini_csc_class: typing.Any) -> None:
    csc = mini_csc_class(index=1)
    await csc.start_task
    async with salobj.Domain() as domain:
        remote = salobj.Remote(domain, "Test", 1, evt_max_history=0)
        await remote.start_task
        first = await remote.evt_heartbeat.next(flush=False, timeout=STD_TIMEOUT)
        second = await remote.evt_heartbeat.next(flush=False, timeout=STD_TIMEOUT)
        # Heartbeats are written every second even though nothing changes.
        assert second.private_seqNum == first.private_seqNum + 1
        assert second.private_sndStamp - first.private_sndStamp > 0.5
    await csc.close()


async def test_constructor_errors(mini_csc_class: typing.Any) -> None:
    class NoVersion(salobj.BaseCsc):
        def __init__(self) -> None:
            super().__init__("CCOODS")

    with pytest.raises(RuntimeError, match="version"):
        NoVersion()
    with pytest.raises(ValueError):
        mini_csc_class(index=1, initial_state=State.FAULT)
    with pytest.raises(ValueError):
        mini_csc_class(index=1, simulation_mode=1)


async def test_assert_enabled_message(mini_csc_class: typing.Any) -> None:
    csc = mini_csc_class(index=1, initial_state=State.DISABLED)
    await csc.start_task
    with pytest.raises(salobj.ExpectedError, match=r"^execute not allowed in state=<State.DISABLED: 1>$"):
        csc.assert_enabled("execute")
    await csc.close()


SIGNAL_SCRIPT = """
import asyncio, os, signal, sys
from lsst.ts.calibscripts.simsal import salobj

class Csc(salobj.BaseCsc):
    version = "1"
    def __init__(self):
        super().__init__("CCOODS")

async def main():
    csc = Csc()
    await csc.start_task
    os.kill(os.getpid(), signal.SIGTERM)
    await asyncio.wait_for(csc.done_task, timeout=10)
    print("closed by SIGTERM", flush=True)
    # The handler has been removed: a second signal terminates the process.
    os.kill(os.getpid(), signal.SIGTERM)
    await asyncio.sleep(10)
    print("still alive", flush=True)

asyncio.run(main())
"""


@pytest.mark.slow
def test_sigterm_closes_csc_then_default_action() -> None:
    import os
    import subprocess
    import sys

    env = dict(os.environ, LSST_TOPIC_SUBNAME="test_signal")
    result = subprocess.run(
        [sys.executable, "-c", SIGNAL_SCRIPT], capture_output=True, text=True, env=env, timeout=60
    )
    assert "closed by SIGTERM" in result.stdout, result.stderr
    assert "still alive" not in result.stdout
    assert result.returncode == -15
