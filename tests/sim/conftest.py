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

"""Helpers for the simulated-observatory tests: record what Remotes see."""

from __future__ import annotations

import asyncio
import typing

import pytest
from lsst.ts.calibscripts.sal import salobj


class Recorder:
    """Record events of Remotes, in the order their callbacks run (see `labels_as_written`)."""

    def __init__(self) -> None:
        self.timeline: list[tuple[str, typing.Any]] = []
        self._waiters: list[tuple[typing.Callable[[], bool], asyncio.Future]] = []

    def watch(self, remote: salobj.Remote, *names: str, prefix: str = "") -> None:
        """Set a callback on ``evt_<name>`` of a remote for each name."""
        for name in names:
            topic = getattr(remote, f"evt_{name}")
            topic.callback = self._make_callback(prefix + name)

    def _make_callback(self, label: str) -> typing.Callable[[typing.Any], typing.Awaitable[None]]:
        async def callback(data: typing.Any) -> None:
            self.add(label, data)

        return callback

    def add(self, label: str, data: typing.Any = None) -> None:
        """Append an entry and wake waiters whose condition now holds."""
        self.timeline.append((label, data))
        for condition, future in list(self._waiters):
            if not future.done() and condition():
                future.set_result(None)

    def labels(self, *names: str) -> list[str]:
        """Labels in order, optionally only those in ``names``."""
        return [label for label, _ in self.timeline if not names or label in names]

    def labels_as_written(self, *names: str) -> list[str]:
        """Labels in the order their messages were written (``private_sndStamp``).

        Only the order of samples of one topic is kept on the way to a
        reader, so a test that asserts an order across topics (or between
        events and command acks) must use this, not `labels`. Every entry
        must have a message as its data.
        """
        entries = [(label, data) for label, data in self.timeline if not names or label in names]
        return [label for label, data in sorted(entries, key=lambda entry: entry[1].private_sndStamp)]

    def data(self, label: str) -> list[typing.Any]:
        """Data of every entry with that label, in order."""
        return [data for lab, data in self.timeline if lab == label]

    async def wait_for(self, condition: typing.Callable[[], bool], timeout: float = 10.0) -> None:
        """Wait until ``condition()`` is true after some entry."""
        if condition():
            return
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self._waiters.append((condition, future))
        try:
            await asyncio.wait_for(future, timeout=timeout)
        finally:
            self._waiters.remove((condition, future))

    async def wait_count(self, label: str, count: int, timeout: float = 10.0) -> None:
        """Wait until ``label`` was recorded ``count`` times."""
        await self.wait_for(lambda: len(self.data(label)) >= count, timeout=timeout)

    async def wait_counts(self, counts: typing.Mapping[str, int], timeout: float = 10.0) -> None:
        """Wait until each label was recorded at least its count of times.

        Only the order of samples of one topic is kept on the way to a
        reader, so the last sample of one topic can arrive before the last
        of another written earlier: a test that asserts an order across
        topics waits for every sample it asserts on.
        """
        await self.wait_for(
            lambda: all(len(self.data(label)) >= count for label, count in counts.items()),
            timeout=timeout,
        )


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()
