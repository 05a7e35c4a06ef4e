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

"""Fixtures for the simulated-SAL tests: isolated topic namespaces and a small CSC."""

import asyncio
import typing

import pytest
from lsst.ts.calibscripts.simsal import salobj


@pytest.fixture(autouse=True)
def isolated_topics(monkeypatch: pytest.MonkeyPatch) -> None:
    """Give each test its own LSST_TOPIC_SUBNAME, so no history leaks between tests."""
    monkeypatch.setenv("LSST_TOPIC_SUBNAME", "placeholder")
    salobj.set_test_topic_subname(randomize=True)


class MiniCsc(salobj.BaseCsc):
    """A CSC of the Test component that records what it is asked to do."""

    version = "1.2.3"

    def __init__(self, index: int, **kwargs: typing.Any) -> None:
        self.scalars_received: list[typing.Any] = []
        self.in_progress_timeout = 0.0
        self.wait_seen = asyncio.Event()
        super().__init__("Test", index=index, **kwargs)

    async def do_setScalars(self, data: typing.Any) -> None:
        self.assert_enabled("setScalars")
        self.scalars_received.append(data)
        await self.evt_scalars.set_write(int0=data.int0, string0=data.string0)

    async def do_setArrays(self, data: typing.Any) -> None:
        self.assert_enabled("setArrays")
        await self.evt_arrays.set_write(int0=data.int0)

    async def do_fault(self, data: typing.Any) -> None:
        await self.fault(code=47, report="Asked to fault")

    async def do_wait(self, data: typing.Any) -> None:
        """Ack in progress with ``in_progress_timeout`` (if > 0), then sleep ``duration``."""
        self.wait_seen.set()
        if self.in_progress_timeout > 0:
            await self.cmd_wait.ack_in_progress(data, timeout=self.in_progress_timeout, result="started")
        await asyncio.sleep(data.duration)


@pytest.fixture
def mini_csc_class() -> type[MiniCsc]:
    return MiniCsc
