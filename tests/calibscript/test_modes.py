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

import asyncio

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
    assert _inputs(flat.request.config)[:2] == [
        f"u/ocps/{bias.request.job_id}",
        f"u/ocps/{dark.request.job_id}",
    ]
    # Nothing comes from the certified calibrations when this run builds the prerequisites.
    assert CALIB not in _inputs(dark.request.config) + _inputs(flat.request.config)
    result = run.script.result
    assert result is not None and result.succeeded
    assert [r.state for r in result.types] == [TypeState.SUCCEEDED] * 3
    assert run.observatory.camera.images[-1].physical_filter == "g_01"


@pytest.mark.parametrize(
    "mode, pipelines",
    [
        ("BIAS", ["cpBias.yaml"]),
        ("DARK", ["cpDark.yaml"]),
        ("FLAT", ["cpFlat.yaml"]),
        ("BIAS_DARK", ["cpBias.yaml", "cpDark.yaml"]),
        ("DARK_FLAT", ["cpDark.yaml", "cpFlat.yaml"]),
    ],
)
async def test_each_mode_takes_and_builds_its_types(run_calibs, mode: str, pipelines: list[str]) -> None:
    config = {**BUILD, "script_mode": mode}
    if "FLAT" in mode:
        config["filter"] = "r_03"
    run = await run_calibs(config)
    assert run.state == ScriptState.DONE, run.reason
    assert run.pipelines() == pipelines
    types = mode.split("_")
    assert run.script.require_plan().calib_types == tuple(types)
    image_types = [image.image_type for image in run.observatory.camera.images]
    assert image_types == [t for t in types for _ in range(3)]
    assert run.butler is not None
    assert [dataset_type for dataset_type, _ in run.butler.certified] == [t.lower() for t in types]


async def test_flat_mode_uses_the_certified_bias_and_dark(run_calibs) -> None:
    run = await run_calibs({**BUILD, "script_mode": "FLAT", "filter": "r_03"})
    assert run.state == ScriptState.DONE, run.reason
    assert _inputs(run.job("cpFlat").request.config) == [CALIB, "LSSTComCam/calib"]


async def test_dark_flat_mode_builds_the_flat_on_the_new_dark_and_the_certified_bias(run_calibs) -> None:
    run = await run_calibs({**BUILD, "script_mode": "DARK_FLAT", "filter": "r_03"})
    assert run.state == ScriptState.DONE, run.reason
    dark = run.job("cpDark")
    assert _inputs(dark.request.config) == [CALIB, "LSSTComCam/calib"]
    assert _inputs(run.job("cpFlat").request.config) == [
        f"u/ocps/{dark.request.job_id}",
        CALIB,
        "LSSTComCam/calib",
    ]


@pytest.mark.slow
async def test_verify_frames_against_the_certified_calibrations(run_calibs) -> None:
    config = {**SMALL, "script_mode": "BIAS_DARK_FLAT", "filter": "r_03", "generate_calibrations": False}
    config["input_collections_verify_dark"] = "LSSTComCam/calib/certified"
    run = await run_calibs(config)
    assert run.state == ScriptState.DONE, run.reason
    # No build job: each verification job runs on the new frames against the certified calibrations.
    assert run.pipelines() == ["verifyBias.yaml", "verifyDark.yaml", "verifyFlat.yaml"]
    assert _inputs(run.job("verifyDark").request.config) == ["LSSTComCam/calib/certified"]
    assert _inputs(run.job("verifyBias").request.config) == ["LSSTComCam/calib"]
    assert run.butler is not None and run.butler.certified == []
    for name in ("BIAS", "DARK", "FLAT"):
        summary = run.script.type_summary(name)
        assert summary.verdict is not None and summary.verdict["passed"] is True
        assert summary.certification is None
    # Every frame but the discarded one is verified.
    dark_ids = run.script.result["DARK"].exposure_ids
    assert run.job("verifyDark").request.data_query.endswith(
        f"exposure IN ({', '.join(map(str, dark_ids[1:]))})"
    )


async def test_verify_frames_failure_is_reported(run_calibs) -> None:
    config = {**SMALL, "script_mode": "BIAS_DARK", "generate_calibrations": False}
    run = await run_calibs(config, failing={"dark"})
    assert run.state == ScriptState.FAILED
    assert run.reason.splitlines()[0].endswith("DARK failed; kept: BIAS; not built: nothing"), run.reason
    assert "the new darks failed verification against the certified dark in LSSTComCam/calib" in run.reason
    assert run.script.result["BIAS"].state is TypeState.SUCCEEDED


async def test_take_only_takes_and_ingests_and_runs_nothing(run_calibs) -> None:
    config = {**SMALL, "script_mode": "BIAS_DARK_FLAT", "filter": "z_03", "take_only": True}
    run = await run_calibs(config)
    assert run.state == ScriptState.DONE, run.reason
    assert run.executes == []
    result = run.script.result
    assert result is not None
    assert [r.state for r in result.types] == [TypeState.TAKEN] * 3
    assert [len(r.exposure_ids) for r in result.types] == [3, 3, 3]
    for name in ("BIAS", "DARK", "FLAT"):
        summary = run.script.type_summary(name)
        assert "wait_ingest" in summary.stages_completed
        assert summary.reason.startswith("3 ")


async def test_dark_is_taken_while_the_bias_job_runs(run_calibs) -> None:
    """Overlap, from the recorded order: every dark is read out before cpBias's job_result is written."""
    gate = None

    def hold_results(observatory) -> None:
        nonlocal gate
        gate = asyncio.Event()
        observatory.ocps.job_result_gate = gate

    async def during(run) -> None:
        camera = run.observatory.camera
        await run_calibs.wait_for(
            lambda: sum(i.image_type == "DARK" for i in camera.images) == 3
            and run.script.result is not None
            and run.script.result["DARK"].state is not TypeState.TAKING,
            what="the darks",
        )
        bias_job = run.job("cpBias")
        # Every dark is read out, and cpBias (submitted) has written no job_result yet.
        assert bias_job.results == []
        assert run.script.result["BIAS"].state is TypeState.PROCESSING
        assert gate is not None
        gate.set()

    run = await run_calibs({**BUILD, "script_mode": "BIAS_DARK"}, before_run=hold_results, during=during)
    assert run.state == ScriptState.DONE, run.reason
    order = [(p.calib_type, p.state) for p in run.script.progress]
    assert order.index(("DARK", TypeState.TAKING)) < order.index(("BIAS", TypeState.SUCCEEDED))


async def test_missing_certified_bias_is_refused_before_any_frame(run_calibs) -> None:
    """DARK_FLAT builds on the certified bias: a detector without one fails the preflight, nothing taken."""
    config = {**BUILD, "script_mode": "DARK_FLAT", "filter": "r_03", "detectors": [0, 1, 2]}
    run = await run_calibs(config, existing={CALIB: {"bias": {0, 2}, "dark": {0, 1, 2}}})
    assert run.state == ScriptState.FAILED
    assert run.reason.startswith(
        f"Error in run: preflight failed: no bias for detector(s) [1] in repo {run.repo}: "
        f"this run builds its darks on the certified bias of its inputs ['{CALIB}', 'LSSTComCam/calib']. "
        f"Certify a bias in {CALIB} first, run script_mode BIAS_DARK_FLAT (which builds it first), "
        "or set calib_collection or input_collections_dark to collections that hold it; no frame was taken"
    ), run.reason
    assert run.butler is not None
    assert run.butler.searched == [(CALIB, "bias"), ("LSSTComCam/calib", "bias")]
    assert run.observatory.camera.images == [] and run.executes == []
    for name in ("DARK", "FLAT"):
        summary = run.script.type_summary(name)
        assert summary.failed_stage == "preflight"


async def test_flat_mode_without_the_collection_is_refused_before_any_frame(run_calibs) -> None:
    run = await run_calibs({**BUILD, "script_mode": "FLAT", "filter": "r_03"}, absent=[CALIB])
    assert run.state == ScriptState.FAILED
    assert (
        f"preflight failed: collection '{CALIB}' does not exist in repo {run.repo}: "
        "this run builds its flats on the certified bias and dark of its inputs "
        f"['{CALIB}', 'LSSTComCam/calib']. Certify a bias and a dark in {CALIB} first, "
        "run script_mode BIAS_DARK_FLAT (which builds them first)"
    ) in run.reason
    assert run.observatory.camera.images == [] and run.executes == []


async def test_certified_bias_found_in_an_input_collection_is_enough(run_calibs) -> None:
    """A bias in input_collections_dark, not in calib_collection, is found by the build job as well: DONE."""
    config = {**BUILD, "script_mode": "DARK", "input_collections_dark": "u/me/biases"}
    run = await run_calibs(config, existing={"u/me/biases": {"bias": set(range(9))}})
    assert run.state == ScriptState.DONE, run.reason
    assert run.butler is not None and run.butler.searched == [(CALIB, "bias"), ("u/me/biases", "bias")]
    assert _inputs(run.job("cpDark").request.config) == [CALIB, "u/me/biases"]
    # The verification job reads its own inputs, where there is no bias: refused before any frame.
    run = await run_calibs({**config, "do_verify": True}, existing={"u/me/biases": {"bias": set(range(9))}})
    assert run.state == ScriptState.FAILED
    assert (
        "this run verifies its new darks with the certified bias of its inputs "
        f"['{CALIB}', 'LSSTComCam/calib']"
    ) in run.reason
    assert "set calib_collection or input_collections_verify_dark to collections that hold it" in run.reason
    assert run.observatory.camera.images == []


async def test_verifying_flats_without_a_flat_of_the_filter_is_refused_before_any_frame(run_calibs) -> None:
    """generate_calibrations false: the flats are verified against the certified flat of their filter."""
    every = set(range(9))
    existing = {"LSSTComCam/calib": {"bias": every, "dark": every, "flat:r_03": every, "flat:g_01": {0}}}
    config = {**SMALL, "script_mode": "FLAT", "filter": "g_01", "detectors": [0, 4]}
    run = await run_calibs(config, existing=existing)
    assert run.state == ScriptState.FAILED
    assert (
        f"preflight failed: no flat in g_01 for detector(s) [4] in repo {run.repo}: "
        "this run verifies its new flats against the certified bias, dark and flat of its inputs "
        "['LSSTComCam/calib']. Certify a bias, a dark and a flat in a CALIBRATION collection of "
        "input_collections_verify_flat first, or set input_collections_verify_flat to collections that hold "
        "them; no frame was taken"
    ) in run.reason
    assert run.butler is not None and ("LSSTComCam/calib", "flat:g_01") in run.butler.searched
    assert run.observatory.camera.images == [] and run.executes == []
    # With the flat of g_01 for both detectors, the same run verifies its flats.
    existing["LSSTComCam/calib"]["flat:g_01"] = every
    run = await run_calibs(config, existing=existing)
    assert run.state == ScriptState.DONE, run.reason


async def test_runs_that_build_every_prerequisite_do_not_look_for_certified_ones(run_calibs) -> None:
    run = await run_calibs({**BUILD, "script_mode": "BIAS_DARK"}, absent=[CALIB])
    assert run.state == ScriptState.DONE, run.reason
    assert run.butler is not None and run.butler.searched == []
