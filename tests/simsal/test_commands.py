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

"""The command acknowledgement protocol of the simulated SAL."""

import asyncio
import json
import typing

import pytest
from lsst.ts.calibscripts.simsal import salobj
from lsst.ts.calibscripts.simsal.salobj import _bus
from lsst.ts.calibscripts.testing import script_runs

STD_TIMEOUT = 5
SalRetCode = salobj.SalRetCode


async def test_command_to_disabled_csc_fails(mini_csc_class: typing.Any) -> None:
    csc = mini_csc_class(index=1, initial_state=salobj.State.DISABLED)
    await csc.start_task
    async with salobj.Domain() as domain:
        remote = salobj.Remote(domain, "Test", 1)
        await remote.start_task
        with pytest.raises(salobj.AckError) as exc_info:
            await remote.cmd_setScalars.set_start(int0=1, timeout=STD_TIMEOUT)
        ackcmd = exc_info.value.ackcmd
        assert ackcmd.ack == SalRetCode.CMD_FAILED
        assert ackcmd.error == 1
        assert ackcmd.result == "Failed: setScalars not allowed in state=<State.DISABLED: 1>"
        assert not isinstance(exc_info.value, salobj.AckTimeoutError)
        assert str(exc_info.value) == (
            f"msg='Command failed', ackcmd=(ackcmd private_seqNum={ackcmd.private_seqNum}, "
            "ack=<SalRetCode.CMD_FAILED: -302>, error=1, "
            "result='Failed: setScalars not allowed in state=<State.DISABLED: 1>')"
        )
        assert csc.scalars_received == []
        # Once enabled, it works and the final ack is CMD_COMPLETE "Done".
        await remote.cmd_enable.start(timeout=STD_TIMEOUT)
        ackcmd = await remote.cmd_setScalars.set_start(int0=2, timeout=STD_TIMEOUT)
        assert (ackcmd.ack, ackcmd.result) == (SalRetCode.CMD_COMPLETE, "Done")
        assert [data.int0 for data in csc.scalars_received] == [2]
        received = csc.scalars_received[0]
        assert received.private_identity == domain.user_host
        assert received.salIndex == 1
    await csc.close()


async def test_in_progress_extends_deadline(mini_csc_class: typing.Any) -> None:
    csc = mini_csc_class(index=1, initial_state=salobj.State.ENABLED)
    csc.in_progress_timeout = 2.0
    await csc.start_task
    async with salobj.Domain() as domain:
        remote = salobj.Remote(domain, "Test", 1)
        await remote.start_task
        # The command takes 0.6 s, longer than the 0.3 s timeout, but the
        # CMD_INPROGRESS ack extends the deadline by 2 s.
        ackcmd = await remote.cmd_wait.set_start(duration=0.6, timeout=0.3)
        assert ackcmd.ack == SalRetCode.CMD_COMPLETE
        # Without an in-progress ack the same command times out, and the
        # timeout reports that no ack was seen.
        csc.in_progress_timeout = 0
        with pytest.raises(salobj.AckTimeoutError) as exc_info:
            await remote.cmd_wait.set_start(duration=0.6, timeout=0.3)
        assert exc_info.value.ackcmd.ack == SalRetCode.CMD_NOACK
        assert exc_info.value.ackcmd.result == "No command acknowledgement seen"
        assert exc_info.value.msg == "Timed out waiting for command acknowledgement"
        # The in-progress ack is the first ack: there is no CMD_ACK.
        csc.in_progress_timeout = 5.0
        ackcmd = await remote.cmd_wait.set_start(duration=0.2, timeout=STD_TIMEOUT, wait_done=False)
        assert (ackcmd.ack, ackcmd.result, ackcmd.timeout) == (SalRetCode.CMD_INPROGRESS, "started", 5.0)
        final = await remote.cmd_wait.next_ackcmd(ackcmd, timeout=STD_TIMEOUT)
        assert final.ack == SalRetCode.CMD_COMPLETE
        # Without an in-progress ack, wait_done=False gives the final ack.
        ackcmd = await remote.cmd_disable.start(timeout=STD_TIMEOUT, wait_done=False)
        assert ackcmd.ack == SalRetCode.CMD_COMPLETE
    await csc.close()


async def test_command_to_wrong_index_times_out(mini_csc_class: typing.Any) -> None:
    csc = mini_csc_class(index=2, initial_state=salobj.State.ENABLED)
    await csc.start_task
    async with salobj.Domain() as domain:
        wrong = salobj.Remote(domain, "Test", 1)
        any_index = salobj.Remote(domain, "Test", 0)
        await asyncio.gather(wrong.start_task, any_index.start_task)
        with pytest.raises(salobj.AckTimeoutError):
            await wrong.cmd_setScalars.set_start(int0=1, timeout=0.3)
        # salIndex=0 is not index 2 either: the controller ignores it.
        with pytest.raises(salobj.AckTimeoutError):
            await any_index.cmd_setScalars.set_start(int0=1, timeout=0.3)
        assert csc.scalars_received == []
    await csc.close()


async def test_next_ackcmd_unknown_or_finished() -> None:
    """A final ack that arrived (even unread) ends the command: next_ackcmd then fails."""
    controller = salobj.Controller("Test", 1)

    async def do_wait(data: typing.Any) -> None:
        # In progress, then done at once: the race upstream scripts can hit.
        await controller.cmd_wait.ack_in_progress(data, timeout=10, result=json.dumps({"job_id": "abc"}))

    controller.cmd_wait.callback = do_wait
    await controller.start_task
    async with salobj.Domain() as domain:
        remote = salobj.Remote(domain, "Test", 1)
        await remote.start_task
        ackcmd = await remote.cmd_wait.set_start(timeout=STD_TIMEOUT, wait_done=False)
        assert ackcmd.ack == SalRetCode.CMD_INPROGRESS
        assert json.loads(ackcmd.result)["job_id"] == "abc"
        await _bus.delivery_barrier()  # every message written so far has arrived
        with pytest.raises(
            RuntimeError, match=f"private_seqNum={ackcmd.private_seqNum} is unknown or finished"
        ):
            await remote.cmd_wait.next_ackcmd(ackcmd, timeout=STD_TIMEOUT)
    await controller.close()


async def test_final_ack_codes() -> None:
    controller = salobj.Controller("Test", 1)
    release = asyncio.Event()

    async def do_set_scalars(data: typing.Any) -> typing.Any:
        if data.int0 == 1:
            raise asyncio.TimeoutError()
        if data.int0 == 2:
            return controller.salinfo.make_ackcmd(
                private_seqNum=data.private_seqNum, ack=SalRetCode.CMD_NOPERM, error=3, result="nope"
            )
        if data.int0 == 3:
            raise salobj.ExpectedError("expected")
        if data.int0 == 4:
            await release.wait()
        return None

    controller.cmd_setScalars.callback = do_set_scalars
    await controller.start_task
    async with salobj.Domain() as domain:
        remote = salobj.Remote(domain, "Test", 1)
        await remote.start_task
        with pytest.raises(salobj.AckError) as exc_info:
            await remote.cmd_setScalars.set_start(int0=1, timeout=STD_TIMEOUT)
        assert (exc_info.value.ackcmd.ack, exc_info.value.ackcmd.result) == (
            SalRetCode.CMD_TIMEOUT,
            "Timeout",
        )
        with pytest.raises(salobj.AckError) as exc_info:
            await remote.cmd_setScalars.set_start(int0=2, timeout=STD_TIMEOUT)
        assert (exc_info.value.ackcmd.ack, exc_info.value.ackcmd.error) == (SalRetCode.CMD_NOPERM, 3)
        with pytest.raises(salobj.AckError) as exc_info:
            await remote.cmd_setScalars.set_start(int0=3, timeout=STD_TIMEOUT)
        assert exc_info.value.ackcmd.result == "Failed: expected"
        # Clearing the callback while a command runs aborts it.
        task = asyncio.create_task(remote.cmd_setScalars.set_start(int0=4, timeout=STD_TIMEOUT))
        await asyncio.sleep(0.05)
        controller.cmd_setScalars.callback = None
        with pytest.raises(salobj.AckError) as exc_info:
            await task
        assert (exc_info.value.ackcmd.ack, exc_info.value.ackcmd.result) == (
            SalRetCode.CMD_ABORTED,
            "Aborted",
        )
    await controller.close()


async def test_commands_are_serial_per_topic_and_concurrent_across_topics() -> None:
    controller = salobj.Controller("Test", 1)
    events: list[str] = []
    release = asyncio.Event()

    async def do_wait(data: typing.Any) -> None:
        events.append(f"wait start {data.duration}")
        await release.wait()
        events.append(f"wait end {data.duration}")

    async def do_set_scalars(data: typing.Any) -> None:
        events.append("scalars")
        release.set()

    controller.cmd_wait.callback = do_wait
    controller.cmd_setScalars.callback = do_set_scalars
    await controller.start_task
    async with salobj.Domain() as domain:
        remote = salobj.Remote(domain, "Test", 1)
        await remote.start_task
        wait1 = asyncio.create_task(remote.cmd_wait.set_start(duration=1, timeout=STD_TIMEOUT))
        wait2 = asyncio.create_task(remote.cmd_wait.set_start(duration=2, timeout=STD_TIMEOUT))
        await _bus.delivery_barrier()  # both commands have reached the controller
        await script_runs.wait_for(lambda: bool(events), timeout=5, what="the first command's callback")
        assert events == ["wait start 1.0"]
        await remote.cmd_setScalars.start(timeout=STD_TIMEOUT)
        await asyncio.gather(wait1, wait2)
        assert events == ["wait start 1.0", "scalars", "wait end 1.0", "wait start 2.0", "wait end 2.0"]
    await controller.close()


async def test_controller_do_methods_must_match() -> None:
    class Extra(salobj.Controller):
        def __init__(self) -> None:
            super().__init__("CCOODS", do_callbacks=True)

        async def do_start(self, data: typing.Any) -> None:
            pass

        async def do_take_bias(self, data: typing.Any) -> None:
            pass

    with pytest.raises(TypeError, match="must add .*do_disable.* and must remove do_take_bias methods"):
        Extra()

    class Missing(salobj.Controller):
        def __init__(self) -> None:
            super().__init__("CCOODS", do_callbacks=True, allow_missing_callbacks=True)

    controller = Missing()
    await controller.start_task
    async with salobj.Domain() as domain:
        remote = salobj.Remote(domain, "CCOODS")
        await remote.start_task
        with pytest.raises(salobj.AckError, match="This command is not supported"):
            await remote.cmd_enable.start(timeout=STD_TIMEOUT)
    await controller.close()
    with pytest.raises(ValueError):
        salobj.Controller("CCOODS", do_callbacks=True, write_only=True)
    with pytest.raises(ValueError):
        salobj.Controller("CCOODS", allow_missing_callbacks=True)


async def test_remote_identity_in_controller_domain() -> None:
    """Commands from a Remote built on a controller's domain carry the controller's name_index."""
    target = salobj.Controller("Test", 7)
    seen: list[typing.Any] = []

    async def do_set_scalars(data: typing.Any) -> None:
        seen.append(data)

    target.cmd_setScalars.callback = do_set_scalars
    await target.start_task
    sender = salobj.Controller("Test", 8)
    remote = salobj.Remote(sender.domain, "Test", 7)
    await asyncio.gather(sender.start_task, remote.start_task)
    await remote.cmd_setScalars.start(timeout=STD_TIMEOUT)
    assert seen[0].private_identity == "Test:8"
    await asyncio.gather(sender.close(), target.close())


def test_name_to_name_index() -> None:
    assert salobj.name_to_name_index("OCPS:2") == ("OCPS", 2)
    assert salobj.name_to_name_index("CCCamera") == ("CCCamera", 0)
    with pytest.raises(salobj.WildcardIndexError):
        salobj.name_to_name_index("Script:*")
    with pytest.raises(ValueError):
        salobj.name_to_name_index("bad name")
    assert salobj.MAX_SAL_INDEX == 2**31 - 1


async def test_script_queue_style_remote_for_all_indices() -> None:
    """A Remote with index 0 addresses each controller by setting salIndex, as the ScriptQueue does."""
    controllers = [salobj.Controller("Test", index) for index in (31, 32)]
    received: dict[int, list[int]] = {31: [], 32: []}

    def make_callback(index: int) -> typing.Callable:
        async def callback(data: typing.Any) -> None:
            received[index].append(data.int0)

        return callback

    for controller in controllers:
        controller.cmd_setScalars.callback = make_callback(controller.salinfo.index)
    await asyncio.gather(*[controller.start_task for controller in controllers])
    async with salobj.Domain() as domain:
        remote = salobj.Remote(domain, "Test", 0)
        await remote.start_task
        ackcmd = await remote.cmd_setScalars.set_start(salIndex=32, int0=5, timeout=STD_TIMEOUT)
        assert ackcmd.salIndex == 32
        await remote.cmd_setScalars.set_start(salIndex=31, int0=6, timeout=STD_TIMEOUT)
        assert received == {31: [6], 32: [5]}
        non_indexed = salobj.Remote(domain, "CCOODS", start=False)
        with pytest.raises(AttributeError, match="no fields"):
            non_indexed.cmd_enable.set(salIndex=1)
    await asyncio.gather(*[controller.close() for controller in controllers])


async def test_allow_multiple_callbacks() -> None:
    """With allow_multiple_callbacks (as the OCPS uses for execute) commands run concurrently."""
    controller = salobj.Controller("Test", 1)
    running = 0
    max_running = 0

    async def do_wait(data: typing.Any) -> None:
        nonlocal running, max_running
        running += 1
        max_running = max(max_running, running)
        await controller.cmd_wait.ack_in_progress(data, timeout=STD_TIMEOUT)
        await asyncio.sleep(0.1)
        running -= 1

    controller.cmd_wait.callback = do_wait
    controller.cmd_wait.allow_multiple_callbacks = True
    await controller.start_task
    async with salobj.Domain() as domain:
        remote = salobj.Remote(domain, "Test", 1)
        await remote.start_task
        acks = await asyncio.gather(
            *[remote.cmd_wait.set_start(duration=0.1, timeout=STD_TIMEOUT) for _ in range(3)]
        )
        assert [ack.ack for ack in acks] == [SalRetCode.CMD_COMPLETE] * 3
        assert max_running == 3
    await controller.close()


async def test_timeout_after_in_progress_reports_last_ack(mini_csc_class: typing.Any) -> None:
    csc = mini_csc_class(index=1, initial_state=salobj.State.ENABLED)
    csc.in_progress_timeout = 0.1
    await csc.start_task
    async with salobj.Domain() as domain:
        remote = salobj.Remote(domain, "Test", 1)
        await remote.start_task
        assert remote.evt_summaryState.has_data
        # 0.2 s + 0.1 s of extension is not enough for a 2 s command.
        with pytest.raises(salobj.AckTimeoutError) as exc_info:
            await remote.cmd_wait.set_start(duration=2, timeout=0.2)
        assert exc_info.value.ackcmd.ack == SalRetCode.CMD_INPROGRESS
        assert exc_info.value.ackcmd.result == "started"
        # The command was forgotten on timeout.
        with pytest.raises(RuntimeError, match="unknown or finished"):
            await remote.cmd_wait.next_ackcmd(exc_info.value.ackcmd, timeout=0.1)
    await csc.close()
