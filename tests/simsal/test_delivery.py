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

"""Delivery modes of the simulated bus: ordered (default) and unordered across topics."""

import typing

import pytest
from lsst.ts.calibscripts.simsal import salobj
from lsst.ts.calibscripts.simsal.salobj import _bus

STD_TIMEOUT = 5
N_PAIRS = 40


@pytest.fixture
def unordered() -> typing.Iterator[_bus.Delivery]:
    """Unordered delivery with a fixed seed for the test, then back to what it was."""
    delivery = _bus.Delivery("unordered", seed=20240611, max_delay=0.02)
    previous = _bus.set_delivery(delivery)
    yield delivery
    _bus.set_delivery(previous)


@pytest.fixture
def ordered() -> typing.Iterator[_bus.Delivery]:
    delivery = _bus.Delivery("ordered")
    previous = _bus.set_delivery(delivery)
    yield delivery
    _bus.set_delivery(previous)


def test_delivery_from_environment() -> None:
    default = _bus.delivery_from_environment({})
    assert default.ordered and default.mode is _bus.DeliveryMode.ORDERED
    delivery = _bus.delivery_from_environment(
        {
            "CALIBSCRIPTS_SIM_DELIVERY": "Unordered",
            "CALIBSCRIPTS_SIM_DELIVERY_SEED": "17",
            "CALIBSCRIPTS_SIM_DELIVERY_MAX_DELAY": "0.01",
        }
    )
    assert (delivery.mode, delivery.seed, delivery.max_delay) == (_bus.DeliveryMode.UNORDERED, 17, 0.01)
    assert "seed=17" in repr(delivery)
    # The same seed gives the same delays, so a failure reproduces.
    again = _bus.Delivery("unordered", seed=17, max_delay=0.01)
    delays = [delivery.draw_delay() for _ in range(10)]
    assert delays == [again.draw_delay() for _ in range(10)]
    assert all(0 <= d <= 0.01 for d in delays) and len(set(delays)) == 10
    # Without a seed one is drawn (and reported by repr).
    assert isinstance(_bus.delivery_from_environment({"CALIBSCRIPTS_SIM_DELIVERY": "unordered"}).seed, int)
    with pytest.raises(ValueError, match="CALIBSCRIPTS_SIM_DELIVERY.*'sideways'"):
        _bus.delivery_from_environment({"CALIBSCRIPTS_SIM_DELIVERY": "sideways"})
    with pytest.raises(ValueError, match="CALIBSCRIPTS_SIM_DELIVERY_SEED='x'"):
        _bus.delivery_from_environment({"CALIBSCRIPTS_SIM_DELIVERY_SEED": "x"})
    with pytest.raises(ValueError, match="CALIBSCRIPTS_SIM_DELIVERY_MAX_DELAY"):
        _bus.delivery_from_environment({"CALIBSCRIPTS_SIM_DELIVERY_MAX_DELAY": "-1"})


async def _arrival_order(n_pairs: int) -> list[tuple[str, int]]:
    """Write evt_scalars i then evt_arrays i, n_pairs times; return the order a remote saw them in."""
    controller = salobj.Controller("Test", 1)
    await controller.start_task
    arrived: list[tuple[str, int]] = []
    async with salobj.Domain() as domain:
        remote = salobj.Remote(domain, "Test", 1, include=["scalars", "arrays"])
        await remote.start_task

        def recorder(topic: typing.Any, name: str, key: typing.Callable) -> typing.Callable:
            deliver = topic._deliver

            def record(data: typing.Any) -> None:
                # The moment the bus hands the message to the reader.
                arrived.append((name, key(data)))
                deliver(data)

            return record

        remote.evt_scalars._deliver = recorder(remote.evt_scalars, "scalars", lambda data: data.int0)
        remote.evt_arrays._deliver = recorder(remote.evt_arrays, "arrays", lambda data: data.int0[0])
        for i in range(n_pairs):
            await controller.evt_scalars.set_write(int0=i)
            await controller.evt_arrays.set_write(int0=[i] * 5)
            # Each pair is delivered before the next is written, so that its order depends only
            # on its own two delays (not on how fast the loop writes nor on earlier delays).
            await _bus.delivery_barrier()
        assert len(arrived) == 2 * n_pairs
    await controller.close()
    return arrived


async def test_ordered_mode_keeps_order_across_topics(ordered: _bus.Delivery) -> None:
    arrived = await _arrival_order(N_PAIRS)
    expected = [(topic, i) for i in range(N_PAIRS) for topic in ("scalars", "arrays")]
    assert arrived == expected


async def test_unordered_mode_keeps_order_within_a_topic_only(unordered: _bus.Delivery) -> None:
    arrived = await _arrival_order(N_PAIRS)
    assert sorted(arrived) == sorted((topic, i) for i in range(N_PAIRS) for topic in ("scalars", "arrays"))
    # Same-topic order is kept.
    for topic in ("scalars", "arrays"):
        assert [i for name, i in arrived if name == topic] == list(range(N_PAIRS))
    # Cross-topic order varies: some pairs arrive as written, some reversed.
    position = {item: n for n, item in enumerate(arrived)}
    reversed_pairs = [i for i in range(N_PAIRS) if position[("arrays", i)] < position[("scalars", i)]]
    assert 0 < len(reversed_pairs) < N_PAIRS


async def _events_seen_when_acked(n_commands: int) -> list[bool]:
    """For each command, was the event its handler wrote already read when the ack came back?"""
    controller = salobj.Controller("Test", 1)

    async def do_set_scalars(data: typing.Any) -> None:
        await controller.evt_scalars.set_write(int0=data.int0)

    controller.cmd_setScalars.callback = do_set_scalars
    await controller.start_task
    seen = []
    async with salobj.Domain() as domain:
        remote = salobj.Remote(domain, "Test", 1, include=["scalars"])
        await remote.start_task
        for i in range(1, n_commands + 1):
            await remote.cmd_setScalars.set_start(int0=i, timeout=STD_TIMEOUT)
            latest = remote.evt_scalars.get()
            seen.append(latest is not None and latest.int0 == i)
            # The event does arrive, after the ack.
            data = await remote.evt_scalars.aget(timeout=STD_TIMEOUT)
            while data.int0 != i:
                data = await remote.evt_scalars.next(flush=False, timeout=STD_TIMEOUT)
    await controller.close()
    return seen


async def test_ordered_mode_event_arrives_before_the_ack(ordered: _bus.Delivery) -> None:
    assert all(await _events_seen_when_acked(10))


async def test_unordered_mode_ack_can_arrive_before_the_event(unordered: _bus.Delivery) -> None:
    seen = await _events_seen_when_acked(20)
    assert not all(seen), "the ack never overtook the event"
    assert any(seen)


async def test_delivery_barrier_waits_for_delayed_messages(unordered: _bus.Delivery) -> None:
    controller = salobj.Controller("Test", 1)
    await controller.start_task
    async with salobj.Domain() as domain:
        remote = salobj.Remote(domain, "Test", 1, include=["scalars"])
        await remote.start_task
        for i in range(10):
            await controller.evt_scalars.set_write(int0=i)
        await _bus.delivery_barrier()
        assert remote.evt_scalars.nqueued == 10
    await controller.close()


async def _ack_before_event(n_commands: int) -> list[bool]:
    """For each command, did its in-progress ack reach the remote before the event written after it?"""
    controller = salobj.Controller("Test", 1)

    async def do_wait(data: typing.Any) -> None:
        await controller.cmd_wait.ack_in_progress(data, timeout=STD_TIMEOUT)
        await controller.evt_scalars.set_write(int0=data.ack, force_output=True)

    controller.cmd_wait.callback = do_wait
    await controller.start_task
    arrived: list[tuple[str, int]] = []
    async with salobj.Domain() as domain:
        remote = salobj.Remote(domain, "Test", 1, include=["scalars"])
        await remote.start_task
        ack_reader = remote.salinfo._ensure_ackcmd_reader()
        deliver_ack = ack_reader._deliver
        deliver_event = remote.evt_scalars._deliver

        def record_ack(data: typing.Any) -> None:
            if data.ack == salobj.SalRetCode.CMD_INPROGRESS:
                arrived.append(("ack", data.private_seqNum))
            deliver_ack(data)

        def record_event(data: typing.Any) -> None:
            arrived.append(("event", data.int0))
            deliver_event(data)

        ack_reader._deliver = record_ack
        remote.evt_scalars._deliver = record_event
        seq_nums = []
        for i in range(1, n_commands + 1):
            ack = await remote.cmd_wait.set_start(ack=i, duration=0, wait_done=False, timeout=STD_TIMEOUT)
            seq_nums.append(ack.private_seqNum)
        await _bus.delivery_barrier()
    await controller.close()
    position = {item: n for n, item in enumerate(arrived)}
    return [position[("ack", seq_num)] < position[("event", i)] for i, seq_num in enumerate(seq_nums, 1)]


async def test_ordered_mode_ack_arrives_before_later_events(ordered: _bus.Delivery) -> None:
    assert all(await _ack_before_event(10))


async def test_unordered_mode_ack_can_arrive_after_events_the_command_caused(
    unordered: _bus.Delivery,
) -> None:
    # As CCCamera's startReadout can arrive before the ack of the takeImages that caused it.
    in_order = await _ack_before_event(20)
    assert not all(in_order), "no event overtook the ack"
    assert any(in_order)
