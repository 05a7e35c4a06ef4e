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


"""wait_within and raise_if_cancelling: a stop is never lost by a wait.

Every interleaving is made by the test in one loop iteration, not by timing.
"""

import asyncio

import pytest
from lsst.ts.calibscripts.calib.aio import finish_despite_stop, raise_if_cancelling, wait_within


async def test_wait_within_returns_the_result_and_times_out() -> None:
    future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    future.set_result(7)
    assert await wait_within(future, 1.0) == 7
    with pytest.raises(TimeoutError):
        await wait_within(asyncio.Event().wait(), 0.001)
    assert await wait_within(asyncio.sleep(0, result="x"), None) == "x"


async def test_a_cancel_arriving_with_the_result_is_not_swallowed() -> None:
    event = asyncio.Event()
    after: list[str] = []

    async def waiter() -> None:
        await wait_within(event.wait(), 60.0)
        after.append("went on")

    task = asyncio.create_task(waiter())
    await asyncio.sleep(0)  # the task is now waiting on the event
    # The awaited thing completes and the stop arrives in the same iteration.
    event.set()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert after == []


async def test_a_shielded_future_survives_a_timeout_and_a_cancel() -> None:
    future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    with pytest.raises(TimeoutError):
        await wait_within(asyncio.shield(future), 0.001)
    task = asyncio.create_task(wait_within(asyncio.shield(future), 60.0))
    await asyncio.sleep(0)
    future.set_result(3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert future.result() == 3


async def test_raise_if_cancelling_sees_a_swallowed_cancel() -> None:
    release = asyncio.get_running_loop().create_future()
    steps: list[str] = []

    async def swallowing_step() -> None:
        # What a library wait that swallows a cancellation looks like to its caller.
        try:
            await release
        except asyncio.CancelledError:
            steps.append("swallowed")

    async def procedure() -> None:
        raise_if_cancelling()  # no stop yet: goes on
        await swallowing_step()
        raise_if_cancelling()
        steps.append("next step ran")

    task = asyncio.create_task(procedure())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert steps == ["swallowed"]


async def test_finish_despite_stop_ends_the_cleanup_then_stops() -> None:
    release = asyncio.get_running_loop().create_future()
    steps: list[str] = []

    async def cleanup() -> str:
        await release
        steps.append("cleanup recorded")
        return "done"

    assert await finish_despite_stop(asyncio.sleep(0, result="x")) == "x"
    task = asyncio.create_task(finish_despite_stop(cleanup()))
    await asyncio.sleep(0)
    task.cancel()
    await asyncio.sleep(0)
    task.cancel()  # a repeated stop still waits
    await asyncio.sleep(0)
    assert not task.done() and steps == []
    release.set_result(None)
    with pytest.raises(asyncio.CancelledError):
        await task
    assert steps == ["cleanup recorded"]


async def test_finish_despite_stop_keeps_the_cleanups_error() -> None:
    async def failing() -> None:
        await asyncio.sleep(0)
        raise RuntimeError("abort refused")

    with pytest.raises(RuntimeError, match="abort refused"):
        await finish_despite_stop(failing())
    task = asyncio.create_task(finish_despite_stop(failing()))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError) as info:
        await task
    assert isinstance(info.value.__cause__, RuntimeError)
