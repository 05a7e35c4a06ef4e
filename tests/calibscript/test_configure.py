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

"""MakeComCamCalibrations configuration: plan, metadata, executable, schema."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import unittest

import pytest
import yaml
from lsst.ts.calibscripts.calib.metadata import estimate_plan_duration
from lsst.ts.calibscripts.calib.plan import make_plan
from lsst.ts.calibscripts.data import get_scripts_dir
from lsst.ts.calibscripts.maintel import MakeComCamCalibrations
from lsst.ts.calibscripts.sal import ScriptState
from lsst.ts.calibscripts.testing import BaseScriptTestCase

EXECUTABLE = get_scripts_dir() / "maintel" / "make_comcam_calibrations.py"


class TestMakeComCamCalibrationsConfigure(BaseScriptTestCase, unittest.IsolatedAsyncioTestCase):
    async def basic_make_script(self, index: int) -> list:
        self.script = MakeComCamCalibrations(index=index)
        return [self.script]

    async def test_configure_defaults_and_metadata(self) -> None:
        async with self.make_script():
            await self.configure_script(
                script_mode="BIAS_DARK_FLAT",
                filter="r_03",
                generate_calibrations=True,
                calib_collection="LSSTComCam/calib/daily",
            )
            plan = self.script.plan
            assert plan is not None
            assert plan.calib_types == ("BIAS", "DARK", "FLAT")
            assert [t.n_frames_to_take for t in plan.types] == [21, 23, 21]
            metadata = self.script.evt_metadata.data
            assert metadata.instrument == "LSSTComCam"
            assert metadata.nimages == 65
            estimate = estimate_plan_duration(plan, 2.0, 60.0)
            assert metadata.duration == pytest.approx(estimate.total)
            assert set(self.script.procedures) == {"BIAS", "DARK", "FLAT"}

    async def test_configure_refuses_a_bad_exposure_time_list(self) -> None:
        async with self.make_script():
            with pytest.raises(Exception, match=r"exp_times_dark: \[5, 5\] has 2 value\(s\) for 23 frames"):
                await self.configure_script(
                    script_mode="DARK", exp_times_dark=[5, 5], calib_collection="LSSTComCam/calib/daily"
                )
            assert self.script.state.state == ScriptState.CONFIGURE_FAILED

    async def test_executable(self) -> None:
        await self.check_executable(EXECUTABLE)
        assert oct(os.stat(EXECUTABLE).st_mode & 0o777) == "0o755"


def test_schema_option_prints_the_calibrations_schema() -> None:
    env = dict(os.environ, CALIBSCRIPTS_SAL="sim")
    result = subprocess.run(
        [sys.executable, str(EXECUTABLE), "1", "--schema"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert yaml.safe_load(result.stdout) == MakeComCamCalibrations.get_schema()


def test_duration_estimate_overlaps_processing_with_the_next_take() -> None:
    plan = make_plan(
        {
            "script_mode": "BIAS_DARK_FLAT",
            "filter": "r_03",
            "generate_calibrations": True,
            "calib_collection": "LSSTComCam/calib/daily",
        }
    )
    estimate = estimate_plan_duration(plan, read_out_time=2.0, filter_change_time=60.0)
    bias, dark, flat = estimate.types
    assert (bias.calib_type, dark.calib_type, flat.calib_type) == ("BIAS", "DARK", "FLAT")
    # Serial takes; dark time counts (23 darks of 5..30 s).
    assert dark.start == pytest.approx(bias.start + bias.camera)
    assert dark.camera > sum(plan.type_plan("DARK").exp_times)
    # The flat waits for the dark's processing; the bias's processing overlaps the dark's take.
    assert flat.end >= dark.end
    serial = estimate.filter_change + sum(t.camera + t.processing for t in estimate.types)
    assert estimate.filter_change + bias.camera + dark.camera + flat.camera < estimate.total < serial


def test_shared_options_are_written_once_for_every_camera() -> None:
    from lsst.ts.calibscripts.schemas import load_schema, load_schema_text, merge_common

    common = yaml.safe_load(load_schema_text("make_calibrations_common.yaml"))
    own = yaml.safe_load(load_schema_text("make_comcam_calibrations.yaml"))
    assert own["x-common-properties"] == "make_calibrations_common.yaml"
    # The camera file has only camera options; the shared file names no camera.
    assert set(own["properties"]) & set(common["properties"]) == set()
    assert {"filter", "detectors", "repo", "pipeline_dark"} <= set(own["properties"])
    assert "LSSTComCam" not in yaml.safe_dump(common["properties"])
    merged = load_schema("make_comcam_calibrations.yaml")
    assert "x-common-properties" not in merged
    assert set(merged["properties"]) == set(common["properties"]) | set(own["properties"])
    assert MakeComCamCalibrations.get_schema() == merged
    # A camera's own definition of a shared option wins.
    override = {"x-common-properties": "common", "properties": {"n_bias": {"default": 5}}}
    result = merge_common(override, lambda name: {"properties": {"n_bias": {"default": 20}, "note": {}}})
    assert result == {"properties": {"n_bias": {"default": 5}, "note": {}}}


def test_type_settings_are_the_run_settings_with_the_types_own_verify_and_certify() -> None:
    from lsst.ts.calibscripts.calib.procedure import RunSettings
    from lsst.ts.calibscripts.calib.script import type_settings

    config = {"script_mode": "BIAS", "calib_collection": "LSSTComCam/calib/daily", "job_timeout": 60}
    built = make_plan({**config, "generate_calibrations": True, "n_processes": 3})
    settings = type_settings(built, built.types[0])
    assert set(RunSettings.__annotations__) <= {f.name for f in dataclasses.fields(settings)}
    assert settings.job_timeout == 60.0 and settings.n_processes == 3 and settings.do_certify
    assert settings.calib_collection == "LSSTComCam/calib/daily" and settings.detectors == built.detectors
    take_only = make_plan({**config, "take_only": True})
    assert not type_settings(take_only, take_only.types[0]).do_certify
