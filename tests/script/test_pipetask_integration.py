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

"""MakeComCamBias end to end with OCPS jobs run by a real ``pipetask`` process."""

import os

import pytest
from lsst.ts.calibscripts.sal import ScriptState


@pytest.mark.integration
async def test_whole_procedure_with_pipetask(run_bias) -> None:
    run = await run_bias({"n_bias": 3, "detectors": [0, 8]}, runner="pipetask", pictures=True)
    assert run.state == ScriptState.DONE, run.reason
    bias, verify = run.executes
    for execute in (bias, verify):
        job = run.jobs[execute.request.job_id]
        assert job.exit_code == 0 and job.phase == "completed"
        assert job.outcome.log_path and os.path.exists(job.outcome.log_path)
    certs = run.certifications()
    assert sorted(c.detector for c in certs) == [0, 8]
    assert {c.run for c in certs} == {f"u/ocps/{bias.request.job_id}/run"}
    # The end-to-end run draws the three report pictures from the butler.
    pictures = [path for path in run.script.summary.report_files if path.endswith(".png")]
    assert len(pictures) == 3 and all(os.path.getsize(path) > 0 for path in pictures)
    report = run.report()
    # Three frames cannot clip every cosmic ray out of the master: an amp may fail CR_NOISE
    # where a ray falls, so the verdict must pass with no failed exposure (not necessarily cleanly).
    assert report["verdict"]["passed"] and report["verdict"]["failed_exposures"] == []
    assert report["verdict"]["outcome"] in ("passed", "passed_with_failures")
    assert report["outcome"] == "done"
