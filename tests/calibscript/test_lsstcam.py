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

"""MakeLSSTCamCalibrations: detectors, the dome check before flats, a full run (the shared harness)."""

from __future__ import annotations

import os
import subprocess
import sys
import unittest

import pytest
import yaml
from lsst.ts.calibscripts.calib.config import parse_detectors
from lsst.ts.calibscripts.calib.plan import make_plan, schema_defaults
from lsst.ts.calibscripts.calib.sequence import TypeState
from lsst.ts.calibscripts.cameras import COMCAM, LSSTCAM, DetectorKind
from lsst.ts.calibscripts.data import get_scripts_dir
from lsst.ts.calibscripts.maintel import MakeLSSTCamCalibrations
from lsst.ts.calibscripts.sal import ScriptState, State
from lsst.ts.calibscripts.sim import ObservatoryOptions
from lsst.ts.calibscripts.sim.data import repo as sim_repo
from lsst.ts.calibscripts.testing import BaseScriptTestCase

from .conftest import SMALL

LSSTCAM_CALIB = "LSSTCam/calib/test"
SUBSET = ("R01_S00", "R22_S11", "R00_SG0", "R00W_SW0")
"""ITL and e2v science sensors, a guider and a wavefront sensor (8 amplifiers)."""
SUBSET_IDS = (0, 94, 189, 191)

BUILD = {
    **SMALL,
    "detectors": list(SUBSET),
    "generate_calibrations": True,
    "do_verify": False,
    "calib_collection": LSSTCAM_CALIB,
}
ALL = {**BUILD, "script_mode": "BIAS_DARK_FLAT", "filter": LSSTCAM.default_filter}
EXECUTABLE = get_scripts_dir() / "maintel" / "make_lsstcam_calibrations.py"


class TestMakeLSSTCamCalibrationsConfigure(BaseScriptTestCase, unittest.IsolatedAsyncioTestCase):
    async def basic_make_script(self, index: int) -> list:
        self.script = MakeLSSTCamCalibrations(index=index)
        return [self.script]

    async def test_configure_defaults_and_metadata(self) -> None:
        async with self.make_script():
            await self.configure_script(
                script_mode="BIAS_DARK_FLAT",
                filter="r_57",
                generate_calibrations=True,
                calib_collection="LSSTCam/calib/daily",
            )
            plan = self.script.plan
            assert plan is not None and plan.detectors == LSSTCAM.default_detectors
            assert plan.type_plan("BIAS").pipeline == "${CP_PIPE_DIR}/pipelines/LSSTCam/cpBias.yaml"
            assert plan.repo == "/repo/LSSTCam"
            metadata = self.script.evt_metadata.data
            assert metadata.instrument == "LSSTCam"
            assert metadata.nimages == 65
            assert self.script.ocps.salinfo.index == 3
            assert self.script.dome_checked == ("MTDomeTrajectory", "MTDome")

    async def test_executable(self) -> None:
        await self.check_executable(EXECUTABLE)
        assert oct(os.stat(EXECUTABLE).st_mode & 0o777) == "0o755"


def test_schema_option_prints_the_lsstcam_schema() -> None:
    env = dict(os.environ, CALIBSCRIPTS_SAL="sim")
    result = subprocess.run(
        [sys.executable, str(EXECUTABLE), "1", "--schema"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    schema = yaml.safe_load(result.stdout)
    assert schema == MakeLSSTCamCalibrations.get_schema()
    assert schema["properties"]["filter"]["anyOf"][0]["enum"] == list(LSSTCAM.filters)
    assert "n_bias" in schema["properties"] and "ignore" in schema["properties"]


def test_detector_names_stand_for_ids_on_every_camera() -> None:
    assert parse_detectors("R22_S11") == (4,)
    assert parse_detectors(["R22_S11", "R22_S00"], camera=COMCAM) == (0, 4)
    assert parse_detectors("(90..92, R00_SG0, R44W_SW1)", camera=LSSTCAM) == (90, 91, 92, 189, 204)


def test_the_subset_spans_vendors_guider_and_wavefront() -> None:
    infos = [LSSTCAM.detector(LSSTCAM.detector_id(name)) for name in SUBSET]
    assert [info.id for info in infos] == list(SUBSET_IDS)
    assert {info.vendor for info in infos} == {"ITL", "E2V"}
    assert {info.kind for info in infos} == set(DetectorKind)
    assert LSSTCAM.detector(191).amp_layout.n_amps == 8


def test_default_detectors_are_exactly_the_189_science_sensors() -> None:
    plan = make_plan(
        {"script_mode": "BIAS", "calib_collection": LSSTCAM_CALIB},
        MakeLSSTCamCalibrations.schema_name,
        LSSTCAM,
    )
    assert plan.detectors == tuple(range(189)) == LSSTCAM.default_detectors
    assert {LSSTCAM.detector(d).kind for d in plan.detectors} == {DetectorKind.SCIENCE}
    # The default lives in the schema and agrees with the camera profile.
    assert schema_defaults(MakeLSSTCamCalibrations.schema_name)["detectors"] == "(0..188)"


async def test_detectors_by_name_and_id(run_lsstcam) -> None:
    script = await run_lsstcam.configure_only(
        {
            "script_mode": "BIAS",
            "detectors": ["R22_S11", 0, "R00W_SW0", 204],
            "calib_collection": LSSTCAM_CALIB,
        }
    )
    assert script.state.state == ScriptState.CONFIGURED, script.state.reason
    assert script.plan is not None and script.plan.detectors == (0, 94, 191, 204)


@pytest.mark.parametrize(
    "detectors, message",
    [
        ([205], "detectors: detector id(s) [205] outside 0..204, the LSSTCam detectors"),
        ("(180..205)", "detector id(s) [205] outside 0..204"),
        (["R99_S11"], "detectors: 'R99_S11' is not a detector name of LSSTCam; valid: 0..204"),
        ("R22_S11, R22_SW0", "'R22_SW0' is not a detector name of LSSTCam"),
        (["R22_S11", 94], "detectors: detector id(s) [94] repeated"),
        ([1.5], "1.5"),
    ],
)
async def test_bad_detectors_are_refused_at_configure(run_lsstcam, detectors, message: str) -> None:
    script = await run_lsstcam.configure_only(
        {"script_mode": "BIAS", "detectors": detectors, "calib_collection": LSSTCAM_CALIB}
    )
    assert script.state.state == ScriptState.CONFIGURE_FAILED
    assert message in script.state.reason
    if "outside" in message or "name" in message:
        # The operator is told the valid range of each kind.
        assert "science 0..188" in script.state.reason and "R00W_SW0" not in message


async def test_bias_dark_flat_on_itl_e2v_guider_and_wavefront(run_lsstcam) -> None:
    run = await run_lsstcam(ALL)
    assert run.state == ScriptState.DONE, run.reason
    assert run.observatory.ocps.salinfo.index == 3
    assert run.pipelines() == ["cpBias.yaml", "cpDark.yaml", "cpFlat.yaml"]
    for record in run.executes:
        assert "pipelines/LSSTCam/" in record.request.pipeline
        assert "detector IN (0, 94, 189, 191)" in record.request.data_query
    assert run.butler is not None
    assert [dataset_type for dataset_type, _ in run.butler.certified] == ["bias", "dark", "flat"]
    result = run.script.result
    assert result is not None and [r.state for r in result.types] == [TypeState.SUCCEEDED] * 3
    # The guider and wavefront sensors were read out: the camera was told every detector asked for.
    images = run.observatory.camera.images
    assert len(images) == 9
    assert all(image.detectors == SUBSET_IDS for image in images)
    assert {image.image_type for image in images} == {"BIAS", "DARK", "FLAT"}


async def test_science_detectors_leave_the_readout_to_the_camera(run_lsstcam) -> None:
    run = await run_lsstcam({**BUILD, "script_mode": "BIAS", "detectors": [0, 94]})
    assert run.state == ScriptState.DONE, run.reason
    # Blank sensors: the camera reads out its 189 science sensors; the script waits for its two.
    assert all(image.detectors == LSSTCAM.default_detectors for image in run.observatory.camera.images)


@pytest.mark.parametrize(
    "component, state, needed",
    [("MTDome", State.STANDBY, "DISABLED or ENABLED"), ("MTDomeTrajectory", State.DISABLED, "ENABLED")],
)
async def test_dome_not_ready_refuses_the_flats_and_keeps_bias_and_dark(
    run_lsstcam, caplog, component: str, state: State, needed: str
) -> None:
    options = ObservatoryOptions(instrument="LSSTCam", initial_states={component: state})
    run = await run_lsstcam(ALL, options)
    # Warned at the start, before the biases.
    assert "The flats will be refused unless this changes before them" in caplog.text
    assert run.state == ScriptState.FAILED
    assert run.reason.splitlines()[0].endswith(
        "FLAT failed; kept: BIAS, DARK; not built: nothing"
    ), run.reason
    result = run.script.result
    assert result is not None
    assert result["BIAS"].state is TypeState.SUCCEEDED and result["BIAS"].certified
    assert result["DARK"].state is TypeState.SUCCEEDED and result["DARK"].certified
    assert result["FLAT"].state is TypeState.FAILED
    reason = result["FLAT"].reason
    assert f"{component} is {state.name}; it must be {needed}" in reason, reason
    assert "flats refused before the first flat frame" in reason and "ignore" in reason
    assert reason.endswith("script_mode FLAT; the biases and darks of this run are kept"), reason
    # Not one flat frame was taken, and no flat job ran.
    assert [image.image_type for image in run.observatory.camera.images].count("FLAT") == 0
    assert "cpFlat.yaml" not in run.pipelines()
    summary = run.script.type_summary("FLAT")
    assert summary.exposures_taken == []
    assert summary.failed_stage == "take_flats"


async def test_dome_fault_during_the_darks_refuses_the_flats(run_lsstcam) -> None:
    async def during(run) -> None:
        await run_lsstcam.wait_for(
            lambda: any(image.image_type == "DARK" for image in run.observatory.camera.images),
            what="the first dark",
        )
        await run.observatory.mtdome.fault(code=1, report="simulated drive fault")

    run = await run_lsstcam(ALL, during=during)
    assert run.state == ScriptState.FAILED
    result = run.script.result
    assert result is not None and result["FLAT"].state is TypeState.FAILED
    assert "MTDome is FAULT; it must be DISABLED or ENABLED" in result["FLAT"].reason
    assert result["BIAS"].certified and result["DARK"].certified
    assert "FLAT" not in {image.image_type for image in run.observatory.camera.images}


@pytest.mark.parametrize("ignore", [["MTDome"], ["mtdome", "mtm1m3"]])
async def test_ignore_skips_a_dome_component(run_lsstcam, ignore: list[str]) -> None:
    options = ObservatoryOptions(instrument="LSSTCam", initial_states={"MTDome": State.STANDBY})
    run = await run_lsstcam({**ALL, "ignore": ignore}, options)
    assert run.state == ScriptState.DONE, run.reason
    assert isinstance(run.script, MakeLSSTCamCalibrations)
    assert run.script.dome_checked == ("MTDomeTrajectory",)


async def test_flats_alone_are_refused_with_nothing_kept(run_lsstcam) -> None:
    options = ObservatoryOptions(instrument="LSSTCam", initial_states={"MTDome": State.STANDBY})
    run = await run_lsstcam({**BUILD, "script_mode": "FLAT", "filter": LSSTCAM.default_filter}, options)
    assert run.state == ScriptState.FAILED
    result = run.script.result
    assert result is not None and result["FLAT"].state is TypeState.FAILED
    assert result["FLAT"].reason.endswith("take the flats with script_mode FLAT"), result["FLAT"].reason
    assert run.observatory.camera.images == []


async def test_dome_state_does_not_matter_without_flats(run_lsstcam) -> None:
    options = ObservatoryOptions(instrument="LSSTCam", initial_states={"MTDomeTrajectory": State.STANDBY})
    run = await run_lsstcam({**BUILD, "script_mode": "BIAS_DARK"}, options)
    assert run.state == ScriptState.DONE, run.reason


async def test_a_filter_not_in_the_beam_is_refused_before_any_frame(run_lsstcam) -> None:
    assert LSSTCAM.default_filter != "g_6"
    run = await run_lsstcam({**ALL, "filter": "g_6"})
    assert run.state == ScriptState.FAILED
    assert "filter g_6 could not be set through MTCamera" in run.reason
    assert "Cannot change the LSSTCam filter" in run.reason
    assert run.observatory.camera.images == []


@pytest.mark.slow
async def test_bias_dark_flat_with_the_stand_in_pipelines(run_lsstcam) -> None:
    """The real data plane and in-process jobs on ITL, e2v, guider and wavefront raws (about a minute)."""
    config = {**ALL, "do_verify": True, "n_processes": 1}
    run = await run_lsstcam(config, runner="inprocess")
    assert run.state == ScriptState.DONE, run.reason
    result = run.script.result
    assert result is not None
    assert [r.state for r in result.types] == [TypeState.SUCCEEDED] * 3, result.describe()
    assert run.repo is not None

    flat_verify = run.job("verifyFlat").request.job_id
    butler = sim_repo.open_butler(run.repo, writeable=False)
    try:
        for dataset_type in ("bias", "dark", "flat"):
            refs = butler.query_datasets(dataset_type, collections=LSSTCAM_CALIB, find_first=False)
            assert sorted(int(ref.dataId["detector"]) for ref in refs) == list(SUBSET_IDS), dataset_type
        # The flat statistics of each detector cover its own amplifiers: 8 on the wavefront sensor.
        for ref in butler.query_datasets("verifyFlatDetStats", collections=f"u/ocps/{flat_verify}"):
            info = LSSTCAM.detector(int(ref.dataId["detector"]))
            assert len(butler.get(ref)["AMP"]) == info.amp_layout.n_amps, info.name
    finally:
        butler.close()
