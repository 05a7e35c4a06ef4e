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

"""MakeLATISSCalibrations on the LATISS observatory: runs, spectrograph faults and configuration.

The calibscript harness (`CalibRunner`) with ``script_class=MakeLATISSCalibrations``:
the observatory is built for LATISS (ATCamera, ATSpectrograph,
ATHeaderService, ATOODS, OCPS:1), scripted jobs unless the test asks for the
in-process runner.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import types
import typing
import unittest

import pytest
import yaml
from lsst.ts.calibscripts import cameras
from lsst.ts.calibscripts.auxtel import MakeLATISSCalibrations, check_grating
from lsst.ts.calibscripts.calib import butler_ops
from lsst.ts.calibscripts.calib.config import ConfigError
from lsst.ts.calibscripts.calib.sequence import TypeState
from lsst.ts.calibscripts.cameras import LATISS
from lsst.ts.calibscripts.data import get_scripts_dir
from lsst.ts.calibscripts.maintel import MakeComCamCalibrations
from lsst.ts.calibscripts.sal import ScriptState, camera_group
from lsst.ts.calibscripts.schemas import load_schema
from lsst.ts.calibscripts.sim import ObservatoryOptions
from lsst.ts.calibscripts.sim.faults import CameraFaults
from lsst.ts.calibscripts.testing import BaseScriptTestCase

from .conftest import SMALL as COMMON_SMALL
from .conftest import CalibRunner

CALIB = "LATISS/calib/test"
EXECUTABLE = get_scripts_dir() / "auxtel" / "make_latiss_calibrations.py"

SMALL = {name: value for name, value in COMMON_SMALL.items() if name != "detectors"}
"""Few frames per type (LATISS has one detector; there is no detectors option)."""

ALL = {
    **SMALL,
    "script_mode": "BIAS_DARK_FLAT",
    "generate_calibrations": True,
    "filter": "SDSSg_65mm",
    "grating": "holo4_003",
}


@pytest.fixture
def run_latiss(tmp_path, template_repo) -> CalibRunner:
    return CalibRunner(
        str(tmp_path), template_repo, script_class=MakeLATISSCalibrations, calib_collection=CALIB
    )


def _images(run, image_type: str) -> list:
    return [i for i in run.observatory.camera.images if i.image_type == image_type]


async def test_bias_dark_flat_done_and_certified(run_latiss) -> None:
    run = await run_latiss(ALL)
    assert run.state == ScriptState.DONE, run.reason
    result = run.script.result
    assert result is not None
    assert [(r.calib_type, r.state) for r in result.types] == [
        ("BIAS", TypeState.SUCCEEDED),
        ("DARK", TypeState.SUCCEEDED),
        ("FLAT", TypeState.SUCCEEDED),
    ]
    assert all(r.certified for r in result.types)
    assert run.butler is not None
    assert [dataset_type for dataset_type, _ in run.butler.certified] == ["bias", "dark", "flat"]
    # The jobs ran on OCPS:1 with LATISS's pipelines, on detector 0 only.
    assert run.observatory.ocps.salinfo.index == 1
    assert [r.request.pipeline for r in run.executes if r.request][:3] == [
        "${CP_PIPE_DIR}/pipelines/LATISS/cpBias.yaml",
        "${CP_VERIFY_DIR}/pipelines/LATISS/verifyBias.yaml",
        "${CP_PIPE_DIR}/pipelines/LATISS/cpDark.yaml",
    ]
    for record in run.executes:
        assert "instrument='LATISS' AND detector IN (0)" in record.request.data_query
    # Every frame is an AT_O_ image of RXX_S00; the flats went through the filter and grating asked for.
    images = run.observatory.camera.images
    assert len(images) == 9 and all(i.obs_id.startswith("AT_O_") and i.detectors == (0,) for i in images)
    assert [i.physical_filter for i in _images(run, "FLAT")] == ["SDSSg_65mm~holo4_003"] * 3
    assert run.observatory.spectrograph is not None
    assert (run.observatory.spectrograph.current_filter, run.observatory.spectrograph.current_grating) == (
        "SDSSg_65mm",
        "holo4_003",
    )
    assert run.script.summaries["FLAT"].detectors == [0]


async def test_spectrograph_moves_only_before_the_flats(run_latiss) -> None:
    # Biases and darks are taken with whatever is in the beam: no change before them.
    run = await run_latiss(ALL)
    assert run.state == ScriptState.DONE, run.reason
    assert {i.physical_filter for i in _images(run, "BIAS") + _images(run, "DARK")} == {"SDSSr_65mm~empty"}
    run = await run_latiss({**SMALL, "script_mode": "BIAS_DARK", "generate_calibrations": True})
    assert run.state == ScriptState.DONE, run.reason
    assert run.observatory.spectrograph is not None
    assert run.observatory.spectrograph.current_filter == "SDSSr_65mm"


async def test_filter_change_failure_keeps_the_bias_and_dark(run_latiss) -> None:
    options = ObservatoryOptions(camera=CameraFaults(fail_set_filter="filter wheel jammed"))
    run = await run_latiss(ALL, options)
    assert run.state == ScriptState.FAILED
    assert run.reason.splitlines()[0].endswith(
        "FLAT failed; kept: BIAS, DARK; not built: nothing"
    ), run.reason
    result = run.script.result
    assert result is not None
    reason = result["FLAT"].reason
    assert "filter SDSSg_65mm and grating holo4_003 could not be set through ATSpectrograph" in reason
    assert "filter wheel jammed" in reason
    assert "ATSpectrograph reports filter SDSSr_65mm and grating empty_1 in the beam" in reason
    assert "no flat was taken" in reason
    assert _images(run, "FLAT") == []
    assert run.butler is not None
    assert [dataset_type for dataset_type, _ in run.butler.certified] == ["bias", "dark"]
    assert not any("cpFlat" in r.request.pipeline for r in run.executes if r.request)


async def test_grating_change_failure_names_the_grating(run_latiss) -> None:
    options = ObservatoryOptions(camera=CameraFaults(fail_set_grating="disperser stuck between slots"))
    run = await run_latiss(ALL, options)
    assert run.state == ScriptState.FAILED
    result = run.script.result
    assert result is not None
    assert result["BIAS"].certified and result["DARK"].certified
    reason = result["FLAT"].reason
    assert "could not be set through ATSpectrograph" in reason and "disperser stuck between slots" in reason
    # The grating stayed; the reason says what is in the beam (the filter is still moving then).
    assert "and grating empty_1 in the beam" in reason
    assert _images(run, "FLAT") == []


@pytest.mark.slow
async def test_filter_change_that_never_ends_fails_the_flats(run_latiss, monkeypatch) -> None:
    # A short change time limit, so the test does not wait the real 60 s; long enough that the
    # wheel's "not in position" event (written when the change starts, delivered after up to
    # the bus's delay) is in on a loaded machine when the limit is reached.
    quick = dataclasses.replace(LATISS, filter_change_timeout=0.5)
    monkeypatch.setattr(MakeLATISSCalibrations, "camera", quick)
    options = ObservatoryOptions(camera=CameraFaults(never_end_set_filter=True))
    run = await run_latiss(ALL, options)
    assert run.state == ScriptState.FAILED
    result = run.script.result
    assert result is not None
    assert result["BIAS"].state is TypeState.SUCCEEDED and result["DARK"].state is TypeState.SUCCEEDED
    reason = result["FLAT"].reason
    assert (
        "filter SDSSg_65mm and grating holo4_003 not in the beam within 1 s through ATSpectrograph" in reason
    )
    assert "the filter wheel reports not in position" in reason
    assert "check ATSpectrograph" in reason
    assert _images(run, "FLAT") == []


async def test_filter_not_on_the_wheel_fails_before_any_frame(run_latiss, monkeypatch) -> None:
    # The schema knows SDSSg_65mm, but this spectrograph's filter wheel does not hold it.
    wheel = tuple(fb for fb in LATISS.filter_bands if fb[0] != "SDSSg_65mm") + (("cyl_lens", "white"),)
    monkeypatch.setitem(cameras.PROFILES, "LATISS", dataclasses.replace(LATISS, filter_bands=wheel))
    run = await run_latiss(ALL)
    assert run.state == ScriptState.FAILED
    assert "ATSpectrograph has no filter 'SDSSg_65mm' (the filter wheel holds empty_1" in run.reason
    assert "cyl_lens" in run.reason and "no frame was taken" in run.reason
    assert run.observatory.camera.images == [] and run.executes == []


async def _configure_failure(runner: CalibRunner, config: dict) -> str:
    script = await runner.configure_only(config)
    try:
        assert script.state.state == ScriptState.CONFIGURE_FAILED
        assert script.plan is None
        return script.state.reason
    finally:
        await script.close()


@pytest.mark.parametrize(
    "config, message",
    [
        (
            {"script_mode": "BIAS_DARK_FLAT", "filter": "SDSSr_65mm"},
            "grating: not given, but script_mode BIAS_DARK_FLAT takes flats; give one of empty_1, "
            "blue300lpmm_qn1, pinhole_1_1000, holo4_003",
        ),
        (
            {"script_mode": "FLAT", "grating": "empty_1"},
            "filter: not given, but script_mode FLAT takes flats; give one of empty_1, SDSSg_65mm",
        ),
        ({"script_mode": "BIAS", "grating": "empty_1"}, "grating: 'empty_1' given, but script_mode BIAS"),
        ({"script_mode": "BIAS_DARK", "filter": "SDSSr_65mm"}, "filter: 'SDSSr_65mm' given, but script_mode"),
        # No detectors option: LATISS has one detector.
        ({"script_mode": "BIAS", "detectors": [0]}, "detectors: unknown option"),
    ],
)
async def test_filter_and_grating_go_with_the_flats(run_latiss, config: dict, message: str) -> None:
    assert message in await _configure_failure(run_latiss, config)


@pytest.mark.parametrize(
    "option, value, names",
    [
        ("filter", "SDSSz_65mm", "['empty_1', 'SDSSg_65mm', 'SDSSr_65mm', 'SDSSi_65mm']"),
        ("grating", "ronchi170lpmm", "['empty_1', 'blue300lpmm_qn1', 'pinhole_1_1000', 'holo4_003']"),
        ("grating", 2, "['empty_1', 'blue300lpmm_qn1', 'pinhole_1_1000', 'holo4_003']"),
    ],
)
async def test_unknown_filter_or_grating_is_refused_with_the_names(
    run_latiss, option: str, value: typing.Any, names: str
) -> None:
    config = {"script_mode": "FLAT", "filter": "SDSSr_65mm", "grating": "empty_1", option: value}
    reason = await _configure_failure(run_latiss, config)
    assert f"{option}: {value!r} is not valid" in reason and names in reason, reason


def test_check_grating_lists_the_gratings() -> None:
    with pytest.raises(
        ConfigError, match="grating: 'ronchi90lpmm' is not a LATISS grating; give one of empty_1"
    ):
        check_grating({"script_mode": "FLAT", "grating": "ronchi90lpmm"})
    assert check_grating(types.SimpleNamespace(script_mode="DARK_FLAT", grating="holo4_003")) == "holo4_003"
    assert check_grating({"script_mode": "DARK", "grating": None}) is None


def test_schema_names_are_the_spectrograph_wheels() -> None:
    # The schema's names (what configure accepts) are those of the LATISS profile (what the mock holds).
    schema = load_schema(MakeLATISSCalibrations.schema_name)
    names = {
        option: next(a["enum"] for a in schema["properties"][option]["anyOf"] if "enum" in a)
        for option in ("filter", "grating")
    }
    assert names == {"filter": list(LATISS.filters), "grating": list(LATISS.gratings)}
    assert "detectors" not in schema["properties"]
    assert all("LATISS" in schema["properties"][f"pipeline_{t}"]["default"] for t in ("bias", "dark", "flat"))


class TestMakeLATISSCalibrationsConfigure(BaseScriptTestCase, unittest.IsolatedAsyncioTestCase):
    async def basic_make_script(self, index: int) -> list:
        self.script = MakeLATISSCalibrations(index=index)
        return [self.script]

    async def test_configure_plan_and_metadata(self) -> None:
        async with self.make_script():
            await self.configure_script(
                script_mode="BIAS_DARK_FLAT",
                filter="SDSSr_65mm",
                grating="empty_1",
                generate_calibrations=True,
                calib_collection="LATISS/calib/daily",
            )
            plan = self.script.plan
            assert plan is not None
            assert plan.detectors == (0,)
            assert plan.calib_types == ("BIAS", "DARK", "FLAT")
            assert self.script.grating == "empty_1"
            assert "physical filter SDSSr_65mm~empty" in self.script.plan_text()
            metadata = self.script.evt_metadata.data
            assert metadata.instrument == "LATISS"
            assert metadata.nimages == 65
            assert metadata.filters == "SDSSr_65mm~empty"

    async def test_executable(self) -> None:
        await self.check_executable(EXECUTABLE)
        assert oct(os.stat(EXECUTABLE).st_mode & 0o777) == "0o755"


def test_schema_option_prints_the_latiss_schema() -> None:
    env = dict(os.environ, CALIBSCRIPTS_SAL="sim")
    result = subprocess.run(
        [sys.executable, str(EXECUTABLE), "1", "--schema"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert yaml.safe_load(result.stdout) == MakeLATISSCalibrations.get_schema()


@pytest.mark.integration
@pytest.mark.slow
async def test_bias_dark_flat_with_the_stand_in_pipelines(run_latiss) -> None:
    """One in-process run: LATISS raws, real butler, certified bias, dark and flat of RXX_S00."""
    config = {
        **ALL,
        "certify_calib_begin_date": "2026-01-01",
        "certify_calib_end_date": "2027-01-01",
    }
    run = await run_latiss(config, runner="inprocess")
    assert run.state == ScriptState.DONE, run.reason
    assert run.repo is not None
    runs = {
        name: f"u/ocps/{run.job(p).request.job_id}/run"
        for name, p in (("bias", "cpBias"), ("dark", "cpDark"), ("flat", "cpFlat"))
    }
    for dataset_type in ("bias", "dark", "flat"):
        certified = butler_ops.list_certifications(run.repo, CALIB, dataset_type)
        assert [(c.data_id["instrument"], c.detector, c.run) for c in certified] == [
            ("LATISS", 0, runs[dataset_type])
        ], dataset_type
    (flat,) = butler_ops.list_certifications(run.repo, CALIB, "flat")
    assert flat.data_id["physical_filter"] == "SDSSg_65mm~holo4_003"


@pytest.mark.parametrize("script_class", [MakeComCamCalibrations, MakeLATISSCalibrations])
async def test_unknown_option_is_named(tmp_path, template_repo, script_class) -> None:
    # Named from the script's own schema (it used to be checked against MakeComCamBias's options,
    # naming a valid calibrations option such as config_options_dark instead).
    runner = CalibRunner(str(tmp_path), template_repo, script_class=script_class)
    reason = await _configure_failure(runner, {"script_mode": "BIAS", "n_biases": 3})
    assert "n_biases: unknown option" in reason, reason


async def test_spectrograph_reporting_another_grating_fails_the_flats(run_latiss, monkeypatch) -> None:
    # The changes are acknowledged, but ATSpectrograph then reports another grating in the beam.
    from lsst.ts.calibscripts.auxtel import make_latiss_calibrations

    # The report is read again for this long before it counts: the stale-report tests cover it.
    monkeypatch.setattr(make_latiss_calibrations, "POSITION_REPORT_GRACE", 0.1)
    group_class = camera_group("LATISS")

    async def get_setup(self) -> tuple[str, str, float]:
        return "SDSSg_65mm", "empty_1", 0.0

    monkeypatch.setattr(group_class, "get_setup", get_setup)
    run = await run_latiss(ALL)
    assert run.state == ScriptState.FAILED
    result = run.script.result
    assert result is not None
    assert result["BIAS"].certified and result["DARK"].certified
    assert (
        "ATSpectrograph reports filter 'SDSSg_65mm' and grating 'empty_1' in the beam after setting "
        "filter SDSSg_65mm and grating holo4_003; no flat was taken" in result["FLAT"].reason
    )
    assert _images(run, "FLAT") == []


async def test_stop_checkpoint_before_the_spectrograph_moves(run_latiss) -> None:
    run = await run_latiss(ALL, stop_checkpoint="flat:set_filter")
    assert run.state == ScriptState.STOPPED, run.reason
    assert _images(run, "FLAT") == []
    assert run.observatory.spectrograph is not None
    assert run.observatory.spectrograph.current_filter == "SDSSr_65mm"
    assert run.observatory.spectrograph.current_grating == "empty_1"


def _stale_reports(run, n_stale: int | None) -> list[tuple]:
    """Make the group report the old filter and grating for its first ``n_stale`` reads (all if None).

    The reported positions are events, the end of the change an ack: the middleware
    may deliver them in either order, so the first reads after the change may be old.
    """
    group = run.script.group
    real = group.get_setup
    reads: list[tuple] = []

    async def get_setup(*args, **kwargs):
        reads.append(args)
        if n_stale is None or len(reads) <= n_stale:
            return ("SDSSr_65mm", "empty_1", 0.0)
        return await real(*args, **kwargs)

    group.get_setup = get_setup
    return reads


async def test_positions_reported_after_the_change_ended_are_waited_for(run_latiss) -> None:
    reads: list[list[tuple]] = []

    async def during(run) -> None:
        reads.append(_stale_reports(run, 3))

    run = await run_latiss(ALL, during=during)
    assert run.state == ScriptState.DONE, run.reason
    assert len(reads[0]) >= 4  # three old reports read, then the new one
    assert {i.physical_filter for i in _images(run, "FLAT")} == {"SDSSg_65mm~holo4_003"}


async def test_positions_that_stay_old_fail_the_flats(run_latiss, monkeypatch) -> None:
    from lsst.ts.calibscripts.auxtel import make_latiss_calibrations

    monkeypatch.setattr(make_latiss_calibrations, "POSITION_REPORT_GRACE", 0.1)

    async def during(run) -> None:
        _stale_reports(run, None)

    run = await run_latiss(ALL, during=during)
    assert run.state == ScriptState.FAILED
    assert run.reason.splitlines()[0].endswith(
        "FLAT failed; kept: BIAS, DARK; not built: nothing"
    ), run.reason
    assert "ATSpectrograph reports filter 'SDSSr_65mm' and grating 'empty_1' in the beam" in run.reason
    assert _images(run, "FLAT") == []


async def test_verified_flats_are_checked_against_the_flat_of_filter_and_grating(run_latiss) -> None:
    """LATISS's flats are certified per FILTER~GRATING: the preflight looks for that physical filter."""
    config = {**SMALL, "script_mode": "FLAT", "filter": "SDSSr_65mm", "grating": "empty_1"}
    held = {"bias": {0}, "dark": {0}, "flat:SDSSr_65mm~holo4_003": {0}}
    run = await run_latiss(config, existing={"LATISS/calib": held})
    assert run.state == ScriptState.FAILED
    assert "no flat in SDSSr_65mm~empty for detector(s) [0]" in run.reason
    assert run.observatory.camera.images == []
    held["flat:SDSSr_65mm~empty"] = {0}
    run = await run_latiss(config, existing={"LATISS/calib": held})
    assert run.state == ScriptState.DONE, run.reason
    assert run.butler is not None and ("LATISS/calib", "flat:SDSSr_65mm~empty") in run.butler.searched
