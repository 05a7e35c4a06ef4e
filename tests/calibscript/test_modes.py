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

"""MakeComCamCalibrations: each script_mode takes and processes its types (scripted jobs)."""

from __future__ import annotations

import pytest
from lsst.ts.calibscripts.calib.sequence import TypeState
from lsst.ts.calibscripts.sal import ScriptState

from .conftest import CALIB, SMALL

BUILD = {**SMALL, "generate_calibrations": True, "do_verify": False}


def _inputs(config: str) -> list[str]:
    words = config.split()
    return words[words.index("-i") + 1].split(",")


async def test_bias_dark_flat_builds_on_this_runs_jobs(run_calibs) -> None:
    run = await run_calibs({**BUILD, "script_mode": "BIAS_DARK_FLAT", "filter": "g_01"})
    assert run.state == ScriptState.DONE, run.reason
    assert run.pipelines() == ["cpBias.yaml", "cpDark.yaml", "cpFlat.yaml"]
    bias, dark, flat = (run.job(p) for p in ("cpBias", "cpDark", "cpFlat"))
    assert run.butler is not None
    assert run.butler.certified == [
        ("bias", f"u/ocps/{bias.request.job_id}/run"),
        ("dark", f"u/ocps/{dark.request.job_id}/run"),
        ("flat", f"u/ocps/{flat.request.job_id}/run"),
    ]
    assert _inputs(dark.request.config)[0] == f"u/ocps/{bias.request.job_id}"
    assert _inputs(flat.request.config)[:2] == [f"u/ocps/{bias.request.job_id}", f"u/ocps/{dark.request.job_id}"]
    # Nothing comes from the certified calibrations when this run builds the prerequisites.
    assert CALIB not in _inputs(dark.request.config) + _inputs(flat.request.config)
    result = run.script.result
    assert result is not None and result.succeeded
    assert [r.state for r in result.types] == [TypeState.SUCCEEDED] * 3
    assert run.observatory.camera.images[-1].physical_filter == "g_01"
