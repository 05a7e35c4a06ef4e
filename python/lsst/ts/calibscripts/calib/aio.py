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


"""Waits that never lose a stop.

`asyncio.wait_for` of Python 3.11 returns the awaited result when it
completes in the same loop iteration as a cancellation of the waiting task:
the cancellation is swallowed and the script goes on as if never stopped
(found when a stop met the last ingest event of a take). Every wait with a
timeout in the script's own code goes through `wait_within`, which is built
on `asyncio.timeout` and lets a cancellation through whatever else happens.
"""

from __future__ import annotations

__all__ = ["finish_despite_stop", "raise_if_cancelling", "wait_within"]

import asyncio
import typing

T = typing.TypeVar("T")


async def wait_within(awaitable: typing.Awaitable[T], timeout: float | None) -> T:
    """Await ``awaitable`` for at most ``timeout`` seconds.

    Parameters
    ----------
    awaitable : `typing.Awaitable`
        What to wait for; a coroutine is cancelled at the timeout (wrap a
        future in `asyncio.shield` to keep it).
    timeout : `float` or `None`
        Seconds; `None` waits without limit.

    Returns
    -------
    result
        The result of ``awaitable``.

    Raises
    ------
    TimeoutError
        If ``timeout`` passed first.
    asyncio.CancelledError
        If the waiting task is cancelled, even when ``awaitable`` completes
        in the same loop iteration.
    """
    async with asyncio.timeout(timeout):
        return await awaitable


def raise_if_cancelling() -> None:
    """Raise `asyncio.CancelledError` if the current task has a cancellation pending.

    A cancellation swallowed by a library (for example `asyncio.wait_for`
    inside a middleware call) leaves the task's cancel count raised; a
    sequence that checks this between steps still stops.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError("stop requested (a cancellation was swallowed by a wait)")


async def finish_despite_stop(awaitable: typing.Awaitable[T]) -> T:
    """Run ``awaitable`` to its end even if the waiting task is stopped meanwhile; then stop.

    For cleanup that must not be cut short (aborting a failed type's OCPS
    jobs and recording their results): a cancellation of the waiting task,
    even repeated, waits for ``awaitable`` to end and is then re-raised.

    Returns
    -------
    result
        The result of ``awaitable`` (if no stop came).

    Raises
    ------
    asyncio.CancelledError
        After ``awaitable`` ended, if the waiting task was cancelled
        meanwhile (chained to what ``awaitable`` raised, if anything).
    """
    task = asyncio.ensure_future(awaitable)
    stopped = False
    while not task.done():
        try:
            await asyncio.wait({task})
        except asyncio.CancelledError:
            stopped = True
    if stopped:
        error = None if task.cancelled() else task.exception()
        raise asyncio.CancelledError("stopped while finishing a cleanup") from error
    return task.result()
