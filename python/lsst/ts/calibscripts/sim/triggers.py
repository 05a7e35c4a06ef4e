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

"""Instants at which to act on a running simulation: the k-th message of a topic, or a simulated time.

Most fault options of the mock CSCs are tied to a frame or a job number.
A fault at a *random instant* (a stop, a CSC going to FAULT, an operator
aborting a job) needs a moment that is defined by what happens on the bus,
not by wall-clock time, so that it reproduces from its description:

* `TopicCounter` counts the samples of one topic as any client sees them
  (through its own ``Remote``, so it works on either SAL backend and takes
  nothing from the readers it observes) and lets a task wait for the k-th;
* `at_simulated_time` waits a simulated duration, scaled by the
  observatory's `~lsst.ts.calibscripts.sim.timing.Timing`.

Example::

    async with TopicCounter(domain, "CCOODS", 0, "imageInOODS") as counter:
        await counter.wait_for(4)   # the 4th imageInOODS has been delivered
        await act()

Nothing here knows about the script under test.
"""

from __future__ import annotations

__all__ = ["TopicCounter", "at_simulated_time"]

import asyncio
import typing

from ..sal import salobj
from .timing import Timing


class TopicCounter:
    """Count the samples of one event topic and wait for the k-th.

    Parameters
    ----------
    domain : `salobj.Domain`
        The domain of the Remote this counter makes.
    component : `str`
        SAL component, e.g. ``"CCCamera"``.
    index : `int`
        SAL index (0 for a component that is not indexed, or any index).
    topic : `str`
        Event name without ``evt_``, e.g. ``"endReadout"``.
    where : callable, optional
        Count only the samples for which ``where(data)`` is true.

    Attributes
    ----------
    count : `int`
        Samples counted so far (from the moment the Remote started; late
        joiners' historical samples are not counted).
    """

    def __init__(
        self,
        domain: typing.Any,
        component: str,
        index: int,
        topic: str,
        where: typing.Callable[[typing.Any], bool] | None = None,
    ) -> None:
        self.component = component
        self.topic = topic
        self.where = where
        self.count = 0
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self.remote = salobj.Remote(domain, component, index, readonly=True, include=[topic])
        self._started = False

    async def start(self) -> None:
        """Wait for the Remote and start counting."""
        await self.remote.start_task
        getattr(self.remote, f"evt_{self.topic}").callback = self._on_sample
        self._started = True

    async def _on_sample(self, data: typing.Any) -> None:
        if self.where is not None and not self.where(data):
            return
        self.count += 1
        for count, future in list(self._waiters):
            if self.count >= count and not future.done():
                future.set_result(None)

    async def wait_for(self, count: int) -> None:
        """Return once ``count`` samples have been counted (at once if already)."""
        if self.count >= count:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (count, future)
        self._waiters.append(entry)
        try:
            await future
        finally:
            self._waiters.remove(entry)

    async def close(self) -> None:
        """Stop counting and close the Remote."""
        if self._started:
            getattr(self.remote, f"evt_{self.topic}").callback = None
        await self.remote.close()

    async def __aenter__(self) -> TopicCounter:
        await self.start()
        return self

    async def __aexit__(self, *args: typing.Any) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"TopicCounter({self.component}.{self.topic}, count={self.count})"


async def at_simulated_time(timing: Timing, seconds: float) -> None:
    """Return after ``seconds`` of simulated time (``seconds * timing.time_scale`` real seconds)."""
    await timing.sleep(seconds)
