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

"""Topic behaviours of the simulated SAL: delivery, routing, history, queues, callbacks."""

import asyncio
import inspect
import logging
import os
import typing

import pytest
from lsst.ts.calibscripts.simsal import salobj
from lsst.ts.calibscripts.simsal.salobj import _bus

STD_TIMEOUT = 5


async def make_controller(index: int = 1, name: str = "Test") -> salobj.Controller:
    controller = salobj.Controller(name, index)
    await controller.start_task
    return controller


async def test_write_returns_before_delivery_and_each_reader_gets_a_copy() -> None:
    controller = await make_controller()
    async with salobj.Domain() as domain:
        remote1 = salobj.Remote(domain, "Test", 1)
        remote2 = salobj.Remote(domain, "Test", 1)
        await asyncio.gather(remote1.start_task, remote2.start_task)
        sent = await controller.evt_scalars.set_write(int0=5, double0=1.5)
        # Delivery goes through the event loop: nothing has arrived yet.
        assert remote1.evt_scalars.get() is None
        data1 = await remote1.evt_scalars.next(flush=False, timeout=STD_TIMEOUT)
        data2 = await remote2.evt_scalars.next(flush=False, timeout=STD_TIMEOUT)
        assert data1 is not data2
        assert data1 is not sent.data
        assert data1.int0 == data2.int0 == 5
        data1.int0 = 99
        assert data2.int0 == 5
        assert remote2.evt_scalars.get().int0 == 5
    await controller.close()


async def test_fifo_order_and_stamping() -> None:
    controller = await make_controller(index=3)
    async with salobj.Domain() as domain:
        remote = salobj.Remote(domain, "Test", 3)
        await remote.start_task
        for i in range(20):
            await controller.evt_scalars.set_write(int0=i)
        received = [await remote.evt_scalars.next(flush=False, timeout=STD_TIMEOUT) for _ in range(20)]
        assert [data.int0 for data in received] == list(range(20))
        seq_nums = [data.private_seqNum for data in received]
        assert all(b == a + 1 for a, b in zip(seq_nums, seq_nums[1:]))
        first = received[0]
        assert first.salIndex == 3
        assert first.private_identity == "Test:3"
        assert first.private_origin == os.getpid()
        assert abs(first.private_sndStamp - (first.private_efdStamp + 37)) < 1e-6
        assert first.private_rcvStamp >= first.private_sndStamp
    await controller.close()


async def test_enum_values_arrive_as_int() -> None:
    controller = await make_controller()
    async with salobj.Domain() as domain:
        remote = salobj.Remote(domain, "Test", 1)
        await remote.start_task
        await controller.evt_summaryState.set_write(summaryState=salobj.State.ENABLED)
        data = await remote.evt_summaryState.next(flush=False, timeout=STD_TIMEOUT)
        assert type(data.summaryState) is int and data.summaryState == 2
        # Values that could not be serialized are rejected (more in test_field_types.py).
        with pytest.raises(TypeError, match="must be int on field int0"):
            controller.evt_scalars.set(int0="not an int")
    await controller.close()


async def test_routing_by_index() -> None:
    controller1 = await make_controller(index=1)
    controller2 = await make_controller(index=2)
    async with salobj.Domain() as domain:
        remote1 = salobj.Remote(domain, "Test", 1)
        remote_all = salobj.Remote(domain, "Test", 0)
        await asyncio.gather(remote1.start_task, remote_all.start_task)
        await controller2.evt_scalars.set_write(int0=2)
        await controller1.evt_scalars.set_write(int0=1)
        data = await remote_all.evt_scalars.next(flush=False, timeout=STD_TIMEOUT)
        assert (data.salIndex, data.int0) == (2, 2)
        data = await remote_all.evt_scalars.next(flush=False, timeout=STD_TIMEOUT)
        assert (data.salIndex, data.int0) == (1, 1)
        data = await remote1.evt_scalars.next(flush=False, timeout=STD_TIMEOUT)
        assert (data.salIndex, data.int0) == (1, 1)
        assert remote1.evt_scalars.nqueued == 0
    await asyncio.gather(controller1.close(), controller2.close())


async def test_late_joiner_gets_latest_event_in_get_and_next(mini_csc_class: typing.Any) -> None:
    csc = mini_csc_class(index=1, initial_state=salobj.State.ENABLED)
    await csc.start_task
    await csc.tel_scalars.set_write(int0=4)
    async with salobj.Domain() as domain:
        remote = salobj.Remote(domain, "Test", 1)
        await remote.start_task
        # Only the latest sample, already there when start_task is done.
        assert remote.evt_summaryState.get().summaryState == salobj.State.ENABLED
        assert remote.evt_summaryState.nqueued == 1
        data = await remote.evt_summaryState.next(flush=False, timeout=STD_TIMEOUT)
        assert data.summaryState == salobj.State.ENABLED
        assert remote.evt_summaryState.nqueued == 0
        # Telemetry has no history.
        assert remote.tel_scalars.get() is None
        # A remote for all indices also sees it; a remote for another index does not.
        remote_all = salobj.Remote(domain, "Test", 0)
        remote_other = salobj.Remote(domain, "Test", 5)
        await asyncio.gather(remote_all.start_task, remote_other.start_task)
        assert remote_all.evt_summaryState.get().summaryState == salobj.State.ENABLED
        assert remote_other.evt_summaryState.get() is None
        # evt_max_history=0 reads no history.
        remote_no_history = salobj.Remote(domain, "Test", 1, evt_max_history=0)
        await remote_no_history.start_task
        assert remote_no_history.evt_summaryState.get() is None
    await csc.close()


async def test_queue_keeps_newest_100(caplog: pytest.LogCaptureFixture) -> None:
    """A topic nobody reads keeps its newest 100 messages and says nothing, as in salobj."""
    controller = await make_controller()
    async with salobj.Domain() as domain:
        remote = salobj.Remote(domain, "Test", 1)
        await remote.start_task
        with caplog.at_level(logging.WARNING):
            for i in range(150):
                await controller.evt_scalars.set_write(int0=i)
            await _bus.delivery_barrier()  # every message written so far has arrived
        assert remote.evt_scalars.nqueued == 100
        assert "queue" not in caplog.text
        values = [remote.evt_scalars.get_oldest().int0 for _ in range(100)]
        assert values == list(range(50, 150))
        assert remote.evt_scalars.get_oldest() is None
        assert remote.evt_scalars.get().int0 == 149
    await controller.close()


async def test_flush_and_next_timeout() -> None:
    controller = await make_controller()
    async with salobj.Domain() as domain:
        remote = salobj.Remote(domain, "Test", 1)
        await remote.start_task
        await controller.evt_scalars.set_write(int0=1)
        await controller.evt_scalars.set_write(int0=2)
        await _bus.delivery_barrier()  # every message written so far has arrived
        assert remote.evt_scalars.nqueued == 2
        remote.evt_scalars.flush()
        assert remote.evt_scalars.nqueued == 0
        assert remote.evt_scalars.get().int0 == 2
        with pytest.raises(asyncio.TimeoutError):
            await remote.evt_scalars.next(flush=False, timeout=0.05)
        # A timed-out next does not swallow the following message.
        await controller.evt_scalars.set_write(int0=3)
        data = await remote.evt_scalars.next(flush=False, timeout=STD_TIMEOUT)
        assert data.int0 == 3
        # next(flush=True) discards what was queued.
        await controller.evt_scalars.set_write(int0=4)
        await _bus.delivery_barrier()  # every message written so far has arrived
        task = asyncio.create_task(remote.evt_scalars.next(flush=True, timeout=STD_TIMEOUT))
        await asyncio.sleep(0.01)
        assert not task.done()
        await controller.evt_scalars.set_write(int0=5)
        assert (await task).int0 == 5
        with pytest.raises(TypeError):
            await remote.evt_scalars.next()  # type: ignore[call-arg]
    await controller.close()


async def test_concurrent_next_get_same_message_and_aget() -> None:
    controller = await make_controller()
    async with salobj.Domain() as domain:
        remote = salobj.Remote(domain, "Test", 1)
        await remote.start_task
        aget_task = asyncio.create_task(remote.evt_scalars.aget(timeout=STD_TIMEOUT))
        tasks = [
            asyncio.create_task(remote.evt_scalars.next(flush=False, timeout=STD_TIMEOUT)) for _ in range(2)
        ]
        await asyncio.sleep(0.01)
        await controller.evt_scalars.set_write(int0=7)
        results = await asyncio.gather(*tasks)
        assert results[0] is results[1]
        assert (await aget_task).int0 == 7
        assert remote.evt_scalars.nqueued == 0
        with pytest.raises(asyncio.TimeoutError):
            await remote.evt_heartbeat.aget(timeout=0.05)
    await controller.close()


async def test_callbacks() -> None:
    controller = await make_controller()
    async with salobj.Domain() as domain:
        remote = salobj.Remote(domain, "Test", 1)
        await remote.start_task
        await controller.evt_scalars.set_write(int0=-1)
        await _bus.delivery_barrier()  # every message written so far has arrived
        assert remote.evt_scalars.nqueued == 1
        received: list[int] = []
        active = 0
        max_active = 0

        async def callback(data: typing.Any) -> None:
            nonlocal active, max_active
            active += 1
            max_active = max(max_active, active)
            await asyncio.sleep(0.005)
            received.append(data.int0)
            active -= 1

        remote.evt_scalars.callback = callback
        # Setting a callback flushes the queue.
        assert remote.evt_scalars.nqueued == 0
        for method in (remote.evt_scalars.flush, remote.evt_scalars.get_oldest):
            with pytest.raises(RuntimeError, match="callback"):
                method()
        with pytest.raises(RuntimeError, match="callback"):
            await remote.evt_scalars.next(flush=False, timeout=0.1)
        with pytest.raises(RuntimeError, match="callback"):
            await remote.evt_scalars.aget(timeout=0.1)
        for i in range(5):
            await controller.evt_scalars.set_write(int0=i)
        for _ in range(100):
            if len(received) == 5:
                break
            await asyncio.sleep(0.01)
        assert received == [0, 1, 2, 3, 4]
        assert max_active == 1  # serial per topic
        remote.evt_scalars.callback = None
        await controller.evt_scalars.set_write(int0=10)
        data = await remote.evt_scalars.next(flush=False, timeout=STD_TIMEOUT)
        assert data.int0 == 10
        assert received == [0, 1, 2, 3, 4]
    await controller.close()


async def test_set_write_only_on_change() -> None:
    controller = await make_controller()
    async with salobj.Domain() as domain:
        remote = salobj.Remote(domain, "Test", 1)
        await remote.start_task
        result = await controller.evt_scalars.set_write(int0=1)
        assert result.did_change and result.was_written
        result = await controller.evt_scalars.set_write(int0=1)
        assert not result.did_change and not result.was_written
        result = await controller.evt_scalars.set_write(int0=1, force_output=True)
        assert not result.did_change and result.was_written
        result = await controller.evt_scalars.set_write(double0=float("nan"))
        assert result.was_written
        result = await controller.evt_scalars.set_write(double0=float("nan"))
        assert not result.did_change and not result.was_written
        # Telemetry is written every time.
        result = await controller.tel_scalars.set_write(int0=1)
        result = await controller.tel_scalars.set_write(int0=1)
        assert result.was_written
        await _bus.delivery_barrier()  # every message written so far has arrived
        assert remote.evt_scalars.nqueued == 3
        assert remote.tel_scalars.nqueued == 2
        with pytest.raises(AttributeError, match="no fields"):
            controller.evt_scalars.set(no_such_field=1)
        with pytest.raises(TypeError):
            controller.evt_scalars.data = controller.evt_arrays.DataType()
    await controller.close()


async def test_remote_command_set_resets_data() -> None:
    async with salobj.Domain() as domain:
        remote = salobj.Remote(domain, "Test", 1)
        await remote.start_task
        remote.cmd_setScalars.set(int0=3)
        remote.cmd_setScalars.set(double0=2.5)
        assert remote.cmd_setScalars.data.int0 == 0
        assert remote.cmd_setScalars.data.double0 == 2.5
        with pytest.raises(NotImplementedError):
            await remote.cmd_setScalars.write()
        with pytest.raises(NotImplementedError):
            await remote.cmd_setScalars.set_write(int0=1)


async def test_obsolete_api_is_absent() -> None:
    controller = await make_controller()
    async with salobj.Domain() as domain:
        remote = salobj.Remote(domain, "Test", 1)
        await remote.start_task
        for obj, name in (
            (controller.evt_scalars, "put"),
            (controller.evt_scalars, "set_put"),
            (remote.evt_scalars, "get_vars"),
            (remote.evt_scalars, "print_vars"),
            (controller.cmd_setScalars, "ackInProgress"),
            (remote.cmd_setScalars, "put"),
        ):
            assert not hasattr(obj, name), name
        await controller.evt_scalars.set_write(int0=1)
        data = await remote.evt_scalars.next(flush=False, timeout=STD_TIMEOUT)
        assert not hasattr(data, "get_vars")
        assert vars(data)["int0"] == 1
        with pytest.raises(TypeError):
            remote.evt_scalars.get(flush=True)  # type: ignore[call-arg]
        with pytest.raises(TypeError):
            salobj.Remote(domain, "Test", 1, tel_max_history=1)  # type: ignore[call-arg]
        assert not hasattr(remote.salinfo, "makeAckCmd")
        with pytest.raises(TypeError):
            salobj.topics.RemoteTelemetry(remote.salinfo, "scalars", max_history=1)  # type: ignore[call-arg]
        with pytest.raises(TypeError):
            await remote.evt_scalars.next()  # type: ignore[call-arg]
        with pytest.raises(TypeError):
            await controller.cmd_setScalars.next(flush=False)  # type: ignore[call-arg]
    # set_state and fault are coroutines (not synchronous as in old salobj).
    assert inspect.iscoroutinefunction(salobj.BaseScript.set_state)
    assert inspect.iscoroutinefunction(salobj.BaseCsc.fault)
    await controller.close()


async def test_construction_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    async with salobj.Domain() as domain:
        with pytest.raises(ValueError, match="No such component"):
            salobj.Remote(domain, "LSSTComCam")
        with pytest.raises(ValueError, match="not an indexed SAL component"):
            salobj.Remote(domain, "CCCamera", index=2)
        with pytest.raises(TypeError):
            salobj.Remote("not a domain", "Test", 1)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="both include and exclude"):
            salobj.Remote(domain, "Test", 1, include=["scalars"], exclude=["arrays"])
        monkeypatch.delenv("LSST_TOPIC_SUBNAME")
        with pytest.raises(RuntimeError, match="LSST_TOPIC_SUBNAME"):
            salobj.Remote(domain, "Test", 1)


async def test_include_exclude_readonly() -> None:
    async with salobj.Domain() as domain:
        remote = salobj.Remote(domain, "Test", 1, include=["scalars", "no_such_topic"], start=False)
        assert hasattr(remote, "evt_scalars") and hasattr(remote, "tel_scalars")
        assert not hasattr(remote, "evt_summaryState")
        assert hasattr(remote, "cmd_enable")
        remote = salobj.Remote(domain, "Test", 1, exclude=["scalars"], readonly=True, start=False)
        assert not hasattr(remote, "evt_scalars") and hasattr(remote, "evt_arrays")
        assert not hasattr(remote, "cmd_enable")
        assert repr(remote) == "Remote(name=Test, index=1)"


async def test_lifecycle_errors() -> None:
    async with salobj.Domain() as domain:
        remote = salobj.Remote(domain, "Test", 1, start=False)
        with pytest.raises(RuntimeError, match="Not started"):
            await remote.cmd_enable.start(timeout=1)
        with pytest.raises(RuntimeError, match="Not started"):
            remote.evt_scalars.get()
        with pytest.raises(RuntimeError, match="Not started"):
            remote.evt_scalars.get_oldest()
        with pytest.raises(RuntimeError, match="Not started"):
            remote.evt_scalars.has_data
        await remote.start()
        with pytest.raises(RuntimeError, match="after the start"):
            salobj.topics.RemoteEvent(remote.salinfo, "heartbeat")
        await remote.close()
        await remote.close()  # idempotent
        with pytest.raises(RuntimeError, match="No longer open"):
            await remote.cmd_enable.start(timeout=1)
    controller = salobj.Controller("Test", 1)
    with pytest.raises(RuntimeError, match="Not started"):
        await controller.evt_scalars.write()
    await controller.start_task
    await controller.close()
    await controller.close()
    assert controller.done_task.done()


async def test_arrays() -> None:
    controller = await make_controller()
    async with salobj.Domain() as domain:
        remote = salobj.Remote(domain, "Test", 1)
        await remote.start_task
        values = [1, 2, 3, 4, 5]
        await controller.evt_arrays.set_write(int0=values)
        values[0] = 100
        data = await remote.evt_arrays.next(flush=False, timeout=STD_TIMEOUT)
        assert data.int0 == [1, 2, 3, 4, 5]
        with pytest.raises(ValueError, match="must be array of 5 items on field int0"):
            controller.evt_arrays.set(int0=[1, 2])
        controller.evt_arrays.data.int0 = [1, 2]
        with pytest.raises(ValueError, match="must be array of 5 items on field int0"):
            await controller.evt_arrays.write()
    await controller.close()


async def test_write_from_another_thread_reaches_readers() -> None:
    """A controller running its own event loop in a thread still reaches readers in this loop."""
    async with salobj.Domain() as domain:
        remote = salobj.Remote(domain, "Test", 1)
        await remote.start_task

        def run_controller() -> None:
            async def main() -> None:
                controller = salobj.Controller("Test", 1)
                await controller.start_task
                await controller.evt_scalars.set_write(int0=11)
                await controller.close()

            asyncio.run(main())

        await asyncio.to_thread(run_controller)
        data = await remote.evt_scalars.next(flush=False, timeout=STD_TIMEOUT)
        assert data.int0 == 11


async def test_reading_a_full_queue_logs_that_data_may_be_lost(caplog: pytest.LogCaptureFixture) -> None:
    controller = await make_controller()
    async with salobj.Domain() as domain:
        remote = salobj.Remote(domain, "Test", 1)
        await remote.start_task
        for i in range(120):
            await controller.evt_scalars.set_write(int0=i)
        await _bus.delivery_barrier()  # every message written so far has arrived
        with caplog.at_level(logging.WARNING):
            first = await remote.evt_scalars.next(flush=False, timeout=STD_TIMEOUT)
        assert first.int0 == 20  # the 20 oldest were dropped
        errors = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert [r.getMessage() for r in errors] == [
            "evt_scalars python read queue is full (100 elements); data may be lost"
        ]
        # Logged once per level; re-armed once the queue has emptied.
        caplog.clear()
        for _ in range(98):
            await remote.evt_scalars.next(flush=False, timeout=STD_TIMEOUT)
        assert "python read queue" not in caplog.text
    await controller.close()


def test_queue_capacity_levels(caplog: pytest.LogCaptureFixture) -> None:
    checker = salobj.topics.QueueCapacityChecker("q", logging.getLogger("test"), queue_len=100)
    assert checker.warn_levels == (10, 50, 90, 100)
    with caplog.at_level(logging.WARNING):
        logged = [checker.check_nitems(n) for n in (3, 10, 11, 49, 50, 95, 100, 100, 20, 24, 30, 4, 10)]
    assert logged == [False, True, False, False, True, True, True, False, False, False, False, False, True]
    assert [r.getMessage() for r in caplog.records][:2] == [
        "q is filling: 10 of 100 elements",
        "q is filling: 50 of 100 elements",
    ]
    assert salobj.topics.QueueCapacityChecker("q", logging.getLogger("t"), 11).warn_levels == (5, 9, 11)


async def test_a_lagging_callback_is_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    controller = await make_controller()
    async with salobj.Domain() as domain:
        remote = salobj.Remote(domain, "Test", 1)
        await remote.start_task
        seen: list[int] = []
        release = asyncio.Event()

        async def slow(data: typing.Any) -> None:
            await release.wait()
            seen.append(data.int0)

        remote.evt_scalars.callback = slow
        with caplog.at_level(logging.WARNING):
            for i in range(30):
                await controller.evt_scalars.set_write(int0=i)
            await _bus.delivery_barrier()  # every message written so far has arrived
            release.set()
            for _ in range(100):
                if len(seen) == 30:
                    break
                await asyncio.sleep(0.01)
        assert seen == list(range(30))
        assert "evt_scalars python read queue is filling: " in caplog.text
    await controller.close()
