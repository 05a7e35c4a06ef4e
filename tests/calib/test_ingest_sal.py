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

"""Tests of bias.ingest with a CCOODS controller on the simulated SAL."""

import asyncio
import contextlib
import typing

import pytest
from lsst.ts.calibscripts.calib.ingest import IngestFailed, IngestTracker
from lsst.ts.calibscripts.calib.naming import obs_id_from_exposure_id, raft_sensor
from lsst.ts.calibscripts.sal import salobj

IDS = [2026112500001 + i for i in range(60)]


@contextlib.asynccontextmanager
async def ccoods() -> typing.AsyncIterator[tuple[salobj.Controller, salobj.Remote, salobj.Remote]]:
    controller = salobj.Controller("CCOODS")
    await controller.start_task
    # A stale event from earlier: read as historical data by late Remotes.
    await write(controller, 2026112400123, 0)
    domain = salobj.Domain()
    tracked = salobj.Remote(domain, "CCOODS", include=["imageInOODS"])
    queued = salobj.Remote(domain, "CCOODS", include=["imageInOODS"])
    await asyncio.gather(tracked.start_task, queued.start_task)
    try:
        yield controller, tracked, queued
    finally:
        await tracked.close()
        await queued.close()
        await domain.close()
        await controller.close()


async def write(
    controller: salobj.Controller, exposure_id: int, detector: int, code: int = 0, text: str = "file ingested"
) -> None:
    raft, sensor = raft_sensor(detector)
    await controller.evt_imageInOODS.set_write(
        camera="LSSTComCam",
        obsid=obs_id_from_exposure_id(exposure_id),
        raft=raft,
        sensor=sensor,
        statusCode=code,
        description=text,
        force_output=True,
    )


async def test_540_events_none_lost_where_a_queue_overflows() -> None:
    async with ccoods() as (controller, tracked, queued):
        progress: list[int] = []
        tracker = IngestTracker(max_other_events=1000, progress=lambda n, total: progress.append(n))
        tracker.install(tracked.evt_imageInOODS)  # before any exposure
        queued.evt_imageInOODS.flush()
        for k, exposure_id in enumerate(IDS):
            tracker.expect([exposure_id], range(9))  # incrementally, per image
            # Another script's image, before ours so that the report counts all 60.
            await write(controller, 2026112500900 + k, k % 9)
            for detector in range(9):
                await write(controller, exposure_id, detector)
            await asyncio.sleep(0)  # images come seconds apart; the callback keeps up
        report = await tracker.wait(timeout=10)
        assert tracker.n_ingested == 540 and report.n_events == 540
        assert report.n_other_events == 60
        assert progress[-1] == 540
        # Reading the same events after the fact, as upstream did, loses all but the last 100.
        assert queued.evt_imageInOODS.nqueued == 100
        oldest = await queued.evt_imageInOODS.next(flush=False, timeout=1)
        assert oldest.obsid != obs_id_from_exposure_id(IDS[0])
        tracker.uninstall(tracked.evt_imageInOODS)
        assert tracked.evt_imageInOODS.callback is None


async def test_failure_through_sal() -> None:
    async with ccoods() as (controller, tracked, _):
        tracker = IngestTracker()
        tracker.install(tracked.evt_imageInOODS)
        tracker.expect(IDS[:2], [0, 4])
        waiter = asyncio.create_task(tracker.wait(timeout=10))
        await write(controller, IDS[0], 0)
        await write(controller, IDS[0], 4, 1, "ingest failure: file not found")
        await write(controller, IDS[1], 0)
        await write(controller, IDS[1], 4)
        with pytest.raises(IngestFailed, match="R22_S11: statusCode=1 'ingest failure: file not found'"):
            await waiter
