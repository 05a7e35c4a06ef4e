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

"""ScriptedRunner and CCHeaderService faults."""

from __future__ import annotations

import asyncio

import pytest
from lsst.ts.calibscripts.sal import ComCam, salobj
from lsst.ts.calibscripts.sim import HeaderServiceFaults, ObservatoryOptions, SimulatedObservatory
from lsst.ts.calibscripts.sim.interfaces import JobPhase, JobRequest, JobRunner
from lsst.ts.calibscripts.sim.runners.scripted import ScriptedRunner


def request(pipeline: str = "cpBias.yaml", job_id: str = "a" * 32) -> JobRequest:
    return JobRequest(job_id=job_id, run_id="1", pipeline=pipeline, version="", config="", data_query="")


async def test_scripted_runner_outcomes() -> None:
    runner = ScriptedRunner(outcomes=["fail", "succeed"], default="fail", duration=1.0, time_scale=0.001)
    assert isinstance(runner, JobRunner)
    first = await runner.run(request())
    assert first.phase is JobPhase.ERROR and "failed" in first.error_message
    assert (await runner.run(request())).phase is JobPhase.COMPLETED
    assert (await runner.run(request())).phase is JobPhase.ERROR  # default
    assert len(runner.requests) == 3


async def test_scripted_runner_by_pipeline_and_hang() -> None:
    runner = ScriptedRunner(outcomes={"verifyBias": "hang"}, time_scale=0.001)
    assert (await runner.run(request("cpBias.yaml"))).phase is JobPhase.COMPLETED
    task = asyncio.create_task(runner.run(request("verifyBias.yaml")))
    done, _ = await asyncio.wait([task], timeout=0.1)
    assert not done
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_header_service_missing_header() -> None:
    options = ObservatoryOptions(time_scale=0.001, header_service=HeaderServiceFaults(missing={2}))
    async with SimulatedObservatory(options) as observatory, salobj.Domain() as domain:
        async with salobj.Remote(domain, "CCHeaderService") as header, ComCam(domain=domain) as comcam:
            header.evt_largeFileObjectAvailable.flush()
            await comcam.take_bias(3)
            names = [image.obs_id for image in observatory.images]
            seen = [await header.evt_largeFileObjectAvailable.next(flush=False, timeout=5) for _ in range(2)]
            assert [event.id for event in seen] == [names[0], names[2]]
            with pytest.raises(asyncio.TimeoutError):
                await header.evt_largeFileObjectAvailable.next(flush=False, timeout=0.1)
