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

"""The script test harness itself: what a scripted-job run costs."""

from lsst.daf.butler import Butler
from lsst.ts.calibscripts.sal import ScriptState
from lsst.ts.calibscripts.sim.interfaces import NullDataPlane


async def test_scripted_run_writes_no_raws(run_bias) -> None:
    """Scripted jobs read nothing: the camera writes no raws, the repository stays for the checks."""
    run = await run_bias({"n_bias": 1, "detectors": [0], "do_verify": False}, runner="scripted")
    assert run.state == ScriptState.FAILED  # nothing to certify: the scripted job made no bias
    assert "certify" in run.reason
    assert isinstance(run.observatory.data_plane, NullDataPlane)
    assert len(run.observatory.images) == 2
    butler = Butler.from_config(run.repo)
    try:
        assert butler.query_datasets("raw", collections="LSSTComCam/raw/all", explain=False) == []
    finally:
        butler.close()
