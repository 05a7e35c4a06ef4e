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

"""MakeComCamCalibrations resumes per type: exposure_ids_<type> and <type>_job_id."""

from __future__ import annotations

import re

import pytest
from lsst.ts.calibscripts.calib.config import ConfigError
from lsst.ts.calibscripts.calib.plan import make_plan
from lsst.ts.calibscripts.calib.sequence import TypeState
from lsst.ts.calibscripts.sal import ScriptState
from lsst.ts.calibscripts.sim import ObservatoryOptions
from lsst.ts.calibscripts.sim.faults import OcpsFaults

from .conftest import CALIB, SMALL

BUILD = {**SMALL, "generate_calibrations": True, "do_verify": False}
DARKS = [2026112500004, 2026112500005, 2026112500006]


def test_a_resumed_type_takes_no_frame() -> None:
    plan = make_plan(
        {**BUILD, "script_mode": "BIAS_DARK", "calib_collection": CALIB, "exposure_ids_dark": DARKS}
    )
    bias, dark = plan.types
    assert bias.n_frames_to_take == 3 and not bias.resumes
    assert dark.n_frames_to_take == 0 and dark.n_exposures == 3 and dark.exposure_ids == tuple(DARKS)
    assert dark.kept_exposures(DARKS) == tuple(DARKS)  # none discarded
    assert plan.n_frames_to_take == 3


@pytest.mark.parametrize(
    "options, message",
    [
        ({"dark_job_id": "abc"}, "dark_job_id: 'abc' given without exposure_ids_dark"),
        (
            {
                "exposure_ids_dark": DARKS,
                "dark_job_id": "abc",
                "generate_calibrations": False,
                "do_verify": True,
            },
            "dark_job_id: 'abc' given, but this run builds no dark",
        ),
        (
            {"exposure_ids_dark": [20261125004]},
            "exposure_ids_dark: 20261125004 is not a 13-digit exposure id",
        ),
        ({"exposure_ids_bias": [2026112500001, 2026112500001]}, "exposure_ids_bias: exposure id(s)"),
        ({"flat_job_id": "no spaces"}, "flat_job_id: 'no spaces' is not an OCPS job id"),
    ],
)
def test_resume_options_are_checked_at_configure(options: dict, message: str) -> None:
    config = {
        **BUILD,
        "script_mode": "BIAS_DARK_FLAT",
        "filter": "r_03",
        "calib_collection": CALIB,
        **options,
    }
    with pytest.raises(ConfigError) as excinfo:
        make_plan(config)
    assert message in str(excinfo.value)


async def test_resumed_darks_are_processed_not_taken(run_calibs) -> None:
    run = await run_calibs({**BUILD, "script_mode": "BIAS_DARK", "exposure_ids_dark": DARKS})
    assert run.state == ScriptState.DONE, run.reason
    assert [i.image_type for i in run.observatory.camera.images] == ["BIAS"] * 3
    dark_job = run.job("cpDark")
    assert dark_job.request.data_query.endswith(f"exposure IN ({', '.join(str(i) for i in DARKS)})")
    # Built on this run's bias, as without resuming.
    bias_job = run.job("cpBias")
    assert f"u/ocps/{bias_job.request.job_id}" in dark_job.request.config
    assert run.script.type_summary("DARK").exposures_combined == DARKS


async def test_resumed_dark_job_is_not_run_again(run_calibs) -> None:
    config = {**SMALL, "generate_calibrations": True, "script_mode": "DARK"}
    run = await run_calibs({**config, "exposure_ids_dark": DARKS, "dark_job_id": "d0e1"})
    assert run.state == ScriptState.DONE, run.reason
    assert run.observatory.camera.images == []
    assert "cpDark.yaml" not in run.pipelines()
    verify = run.job("verifyDark")
    assert "u/ocps/d0e1" in verify.request.config
    assert run.butler is not None and run.butler.certified == [("dark", "u/ocps/d0e1/run")]


async def test_failure_reason_says_how_to_resume_the_failed_type_and_that_works(run_calibs) -> None:
    options = ObservatoryOptions(ocps=OcpsFaults(job_outcomes={"cpDark": "fail"}))
    first = await run_calibs({**BUILD, "script_mode": "BIAS_DARK"}, options)
    assert first.state == ScriptState.FAILED
    match = re.search(r"To resume dark: exposure_ids_dark: \[([0-9, ]+)\]", first.reason)
    assert match is not None, first.reason
    darks = [int(i) for i in match.group(1).split(",")]
    taken = [i.exposure_id for i in first.observatory.camera.images if i.image_type == "DARK"]
    assert darks == taken[1:]  # the discarded first dark is not reused
    assert "To resume bias" not in first.reason  # the bias was certified: nothing to resume

    second = await run_calibs({**BUILD, "script_mode": "DARK", "exposure_ids_dark": darks})
    assert second.state == ScriptState.DONE, second.reason
    assert second.observatory.camera.images == []
    assert second.script.result is not None and second.script.result["DARK"].state is TypeState.SUCCEEDED
    assert second.job("cpDark").request.data_query.endswith(f"exposure IN ({', '.join(map(str, darks))})")
