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

"""The whole control plane used the way the bias script uses it."""

from __future__ import annotations

import asyncio
import json

from lsst.ts.calibscripts.sal import ComCam, OCPSIndex, SalRetCode, salobj
from lsst.ts.calibscripts.sim import ObservatoryOptions, OodsFaults, SimulatedObservatory


async def test_take_wait_for_ingest_and_process() -> None:
    options = ObservatoryOptions(time_scale=0.001, oods=OodsFaults(unrelated_images=1))
    async with SimulatedObservatory(options) as observatory, salobj.Domain() as domain:
        async with (
            ComCam(domain=domain) as comcam,
            salobj.Remote(domain, "OCPS", OCPSIndex.LSSTComCam) as ocps,
        ):
            await comcam.assert_all_enabled("camera")
            ingested: dict[str, set[str]] = {}
            all_seen = asyncio.Event()
            expected: set[str] = set()

            async def on_ingest(data) -> None:
                ingested.setdefault(data.obsid, set()).add(data.sensor)
                if expected and all(len(ingested.get(name, ())) == 9 for name in expected):
                    all_seen.set()

            comcam.rem.ccoods.evt_imageInOODS.callback = on_ingest
            ids = await comcam.take_bias(3, group_id=comcam.next_group_id())
            expected.update(f"CC_O_{str(i)[:8]}_{int(str(i)[8:]):06d}" for i in ids)
            await on_ingest_check(all_seen, ingested, expected)
            assert len(set(ingested) - expected) == 3  # one unrelated image per bias

            query = (
                f"instrument='LSSTComCam' AND detector IN (0..8) AND exposure IN ({', '.join(map(str, ids))})"
            )
            ocps.evt_job_result.flush()
            ack = await ocps.cmd_execute.set_start(
                wait_done=False,
                timeout=10,
                pipeline="${CP_PIPE_DIR}/pipelines/LSSTComCam/cpBias.yaml",
                version="",
                config="-j 1 -i LSSTComCam/calib",
                data_query=query,
            )
            job_id = json.loads(ack.result)["job_id"]
            final = await ocps.cmd_execute.next_ackcmd(ack, timeout=10)
            assert final.ack == SalRetCode.CMD_COMPLETE
            while True:
                result = await ocps.evt_job_result.next(flush=False, timeout=5)
                if json.loads(result.result)["jobId"] == job_id:
                    break
            assert result.exit_code == 0
    assert observatory.execute_requests[0].data_query == query
    assert observatory.execute_requests[0].prereq_jobs == ""


async def on_ingest_check(event: asyncio.Event, ingested: dict, expected: set) -> None:
    if all(len(ingested.get(name, ())) == 9 for name in expected):
        return
    await asyncio.wait_for(event.wait(), timeout=10)
