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

"""MakeComCamCalibrations faults: a failed type, stops during processing, bad configuration, filter."""

from __future__ import annotations

import asyncio
import dataclasses
from unittest import mock

import pytest
from lsst.ts.calibscripts.calib.sequence import TypeState
from lsst.ts.calibscripts.cameras import COMCAM
from lsst.ts.calibscripts.maintel import MakeComCamCalibrations
from lsst.ts.calibscripts.sal import ScriptState
from lsst.ts.calibscripts.sim import ObservatoryOptions
from lsst.ts.calibscripts.sim.faults import CameraFaults, OcpsFaults

from .conftest import SMALL

BUILD = {**SMALL, "generate_calibrations": True, "do_verify": False}
ALL = {**BUILD, "script_mode": "BIAS_DARK_FLAT", "filter": "r_03"}


async def test_failed_dark_job_keeps_the_bias_and_skips_the_flat(run_calibs) -> None:
    options = ObservatoryOptions(ocps=OcpsFaults(job_outcomes={"cpDark": "fail"}))
    run = await run_calibs(ALL, options)
    assert run.state == ScriptState.FAILED
    headline = run.reason.splitlines()[0]
    assert headline.endswith("DARK failed; kept: BIAS; not built: FLAT"), run.reason
    result = run.script.result
    assert result is not None
    assert result["BIAS"].state is TypeState.SUCCEEDED and result["BIAS"].certified
    assert result["DARK"].state is TypeState.FAILED
    assert "cp_dark failed" in result["DARK"].reason
    assert result["FLAT"].state is TypeState.SKIPPED
    assert "DARK FAILED" in result["FLAT"].reason
    # The bias stays certified; no flat job ran.
    assert run.butler is not None
    assert [dataset_type for dataset_type, _ in run.butler.certified] == ["bias"]
    assert "cpFlat.yaml" not in run.pipelines()
    assert "FLAT: SKIPPED" in run.reason and "BIAS: SUCCEEDED, certified" in run.reason


@pytest.mark.parametrize("calib_type", ["BIAS", "DARK", "FLAT"])
async def test_stop_during_processing_aborts_the_types_job(run_calibs, calib_type: str) -> None:
    pipeline = f"cp{calib_type.capitalize()}"
    options = ObservatoryOptions(ocps=OcpsFaults(job_outcomes={pipeline: "hang"}))

    async def during(run) -> None:
        # The hanging job exists and the script knows its id: it is being processed.
        await run_calibs.wait_for(
            lambda: any(
                pipeline in job.request.pipeline and job.request.job_id in run.script.jobs.active_jobs
                for job in run.jobs.values()
            ),
            what=f"the {pipeline} job",
        )
        await run_calibs.stop(run.script)

    run = await run_calibs(ALL, options, during=during)
    assert run.state == ScriptState.STOPPED, run.reason
    job = run.job(pipeline)
    assert job.phase == "aborted"
    result = run.script.result
    assert result is not None and result.stopped
    assert result[calib_type].state is TypeState.CANCELLED
    assert result[calib_type].reason == "stopped while processing"
    summary = run.script.type_summary(calib_type)
    assert summary.outcome.value == "stopped"
    record = summary.job(f"cp_{calib_type.lower()}")
    assert record is not None and record.aborted
    # No job is left running.
    assert all(j.phase in ("completed", "aborted", "error") for j in run.jobs.values())


async def test_stop_checkpoint_of_a_type_stops_the_run(run_calibs) -> None:
    run = await run_calibs({**BUILD, "script_mode": "BIAS_DARK"}, stop_checkpoint="dark:cp_dark")
    assert run.state == ScriptState.STOPPED, run.reason
    assert "cpDark.yaml" not in run.pipelines()
    result = run.script.result
    assert result is not None and result.stopped
    assert result["BIAS"].state is TypeState.SUCCEEDED


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"exp_times_dark": [5, 5]}, "exp_times_dark: [5, 5] has 2 value(s) for 3 frames"),
        ({"exp_times_flat": [5, 5, 5, 5]}, "exp_times_flat: [5, 5, 5, 5] has 4 value(s) for 3 frames"),
        ({"exp_times_flat": [5, 0.05, 5]}, "exp_times_flat: 0.05 s is shorter than 0.1 s"),
    ],
)
async def test_bad_exposure_time_list_is_refused_at_configure(run_calibs, bad: dict, message: str) -> None:
    script = await run_calibs.configure_only({**ALL, **bad})
    try:
        assert script.state.state == ScriptState.CONFIGURE_FAILED
        assert message in script.state.reason, script.state.reason
        assert script.plan is None
    finally:
        await script.close()


async def test_exposure_times_given_are_the_frames_taken(run_calibs) -> None:
    run = await run_calibs({**ALL, "exp_times_dark": [1, 2, 3], "exp_times_flat": [0.5, 4, 6]})
    assert run.state == ScriptState.DONE, run.reason
    times = {
        t: [i.exp_time for i in run.observatory.camera.images if i.image_type == t] for t in ("DARK", "FLAT")
    }
    assert times == {"DARK": [1.0, 2.0, 3.0], "FLAT": [0.5, 4.0, 6.0]}


async def test_filter_set_failure_names_the_filter_and_the_csc(run_calibs) -> None:
    options = ObservatoryOptions(camera=CameraFaults(fail_set_filter="filter wheel jammed"))
    run = await run_calibs({**ALL, "filter": "g_01"}, options)
    assert run.state == ScriptState.FAILED
    assert "filter g_01 could not be set through CCCamera" in run.reason, run.reason
    assert "filter wheel jammed" in run.reason
    # Set just before the flats: no flat was taken, the bias and dark keep their outcome.
    assert run.reason.splitlines()[0].endswith("FLAT failed; kept: BIAS, DARK; not built: nothing")
    assert [i.image_type for i in run.observatory.camera.images] == ["BIAS"] * 3 + ["DARK"] * 3
    assert "cpFlat.yaml" not in run.pipelines()
    assert run.butler is not None
    assert [dataset_type for dataset_type, _ in run.butler.certified] == ["bias", "dark"]


async def test_filter_change_that_never_ends_fails_the_flats_only(run_calibs) -> None:
    # The filter changer is stuck: no ack, no endSetFilter. The script's own limit (twice the
    # camera's filter change timeout, shortened here) ends the wait.
    camera = dataclasses.replace(COMCAM, filter_change_timeout=0.05)
    options = ObservatoryOptions(camera=CameraFaults(never_end_set_filter=True))
    with mock.patch.object(MakeComCamCalibrations, "camera", camera):
        run = await run_calibs({**ALL, "filter": "i_06"}, options)
    assert run.state == ScriptState.FAILED
    assert run.reason.splitlines()[0].endswith(
        "FLAT failed; kept: BIAS, DARK; not built: nothing"
    ), run.reason
    assert "filter i_06 not set within 0.1 s through CCCamera; check CCCamera" in run.reason, run.reason
    result = run.script.result
    assert result is not None
    assert result["FLAT"].state is TypeState.FAILED
    assert "FilterNotSet" in result["FLAT"].reason
    assert result["BIAS"].state is TypeState.SUCCEEDED and result["BIAS"].certified
    assert result["DARK"].state is TypeState.SUCCEEDED and result["DARK"].certified
    # No flat taken, no flat job; the bias and dark stay certified.
    assert [i.image_type for i in run.observatory.camera.images] == ["BIAS"] * 3 + ["DARK"] * 3
    assert "cpFlat.yaml" not in run.pipelines()
    assert run.butler is not None
    assert [dataset_type for dataset_type, _ in run.butler.certified] == ["bias", "dark"]
    flat_summary = run.script.type_summary("FLAT")
    assert flat_summary.outcome.value == "failed"
    assert "filter i_06 not set" in flat_summary.reason


async def test_filter_is_set_once_and_checked(run_calibs) -> None:
    run = await run_calibs({**ALL, "filter": "u_02"})
    assert run.state == ScriptState.DONE, run.reason
    flats = [i for i in run.observatory.camera.images if i.image_type == "FLAT"]
    assert [i.physical_filter for i in flats] == ["u_02"] * 3


async def test_failed_flat_take_keeps_the_bias_and_dark(run_calibs) -> None:
    # The first flat is the run's 7th frame (3 biases and 3 darks before it).
    options = ObservatoryOptions(camera=CameraFaults(shutter_fails_on_frame=7))
    run = await run_calibs(ALL, options)
    assert run.state == ScriptState.FAILED
    assert run.reason.splitlines()[0].endswith(
        "FLAT failed; kept: BIAS, DARK; not built: nothing"
    ), run.reason
    result = run.script.result
    assert result is not None
    assert result["FLAT"].state is TypeState.FAILED and result["FLAT"].stage is not None
    assert "FLAT take raised FrameNotTaken: flat 1 of 3 failed" in result["FLAT"].reason
    assert "CCCamera is in FAULT" in result["FLAT"].reason
    assert run.butler is not None
    assert [dataset_type for dataset_type, _ in run.butler.certified] == ["bias", "dark"]
    assert "cpFlat.yaml" not in run.pipelines()


async def test_a_stop_while_a_failed_types_job_is_aborted_waits_for_the_abort_to_be_recorded(
    run_calibs,
) -> None:
    # cpBias hangs past job_timeout (real time, kept short; the only job of the run,
    # so no other job can be slow enough to meet it): the type fails and its job is
    # aborted. The stop arrives while that abort is in progress (held by the
    # test, not by timing); the abort must still end and be recorded in the summary.
    options = ObservatoryOptions(ocps=OcpsFaults(job_outcomes={"cpBias": "hang"}))
    entered = asyncio.Event()
    release = asyncio.Event()

    async def during(run) -> None:
        procedure = run.script.procedures["BIAS"]
        original = procedure.abort_jobs

        async def held_abort(names=None) -> None:
            entered.set()
            await release.wait()
            await original(names=names)

        procedure.abort_jobs = held_abort
        await asyncio.wait_for(entered.wait(), 60)
        stopping = asyncio.create_task(run_calibs.stop(run.script))
        await asyncio.sleep(0)
        release.set()
        await stopping

    run = await run_calibs({**BUILD, "script_mode": "BIAS", "job_timeout": 0.5}, options, during=during)
    assert run.state == ScriptState.STOPPED, run.reason
    assert run.job("cpBias").phase == "aborted"
    summary = run.script.type_summary("BIAS")
    assert summary.outcome.value == "failed"
    assert "did not end within 0.5 s" in summary.reason
    record = summary.job("cp_bias")
    assert record is not None and record.aborted and record.outcome == "aborted", record
