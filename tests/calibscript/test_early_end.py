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

"""MakeComCamCalibrations ending before a type starts: preflight, set_filter and early stops.

Every type's summary is finished with the reason and written, whatever
stage the run ended in; an operator gets FAILED or STOPPED with a reason,
never a traceback.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import re
import typing

import pytest
import yaml
from lsst.ts.calibscripts.calib import procedure as procedure_module
from lsst.ts.calibscripts.cameras import COMCAM
from lsst.ts.calibscripts.maintel import MakeComCamCalibrations
from lsst.ts.calibscripts.sal import ScriptState, State
from lsst.ts.calibscripts.sim import ObservatoryOptions
from lsst.ts.calibscripts.sim.faults import CameraFaults

from .conftest import SMALL

ALL = {**SMALL, "generate_calibrations": True, "do_verify": False, "script_mode": "BIAS_DARK_FLAT"}
TYPES = ("BIAS", "DARK", "FLAT")


def reports(run: typing.Any) -> dict[str, dict[str, typing.Any]]:
    """The YAML summaries written, by calibration type (``calib_type`` upper case)."""
    found: dict[str, dict[str, typing.Any]] = {}
    names = os.listdir(run.report_dir) if os.path.isdir(run.report_dir) else []
    for name in sorted(n for n in names if n.endswith(".yaml")):
        with open(os.path.join(run.report_dir, name)) as stream:
            data = yaml.safe_load(stream)
        found[str(data["calib_type"]).upper()] = data
    return found


def assert_no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    logged = [r for r in caplog.records if r.exc_info is not None]
    assert logged == [], [r.getMessage() for r in logged]


def assert_nothing_done(run: typing.Any) -> None:
    assert run.observatory.camera.images == []
    assert run.executes == []


@pytest.mark.parametrize("csc", ["CCCamera", "CCOODS", "OCPS"])
async def test_csc_not_enabled_fails_preflight_with_every_summary_written(
    run_calibs, caplog: pytest.LogCaptureFixture, csc: str
) -> None:
    caplog.set_level(logging.INFO)
    run = await run_calibs(
        {**ALL, "filter": "g_01"}, ObservatoryOptions(initial_states={csc: State.DISABLED})
    )
    assert run.state == ScriptState.FAILED, run.reason
    name = "OCPS:2" if csc == "OCPS" else csc
    headline = run.reason.splitlines()[0].removeprefix("Error in run: ")
    assert re.match(rf"preflight failed: .*{name}: DISABLED", headline), run.reason
    for calib_type in TYPES:
        assert f"{calib_type}: already done: no {calib_type.lower()} taken" in run.reason, run.reason
    assert_no_traceback(caplog)
    assert_nothing_done(run)
    written = reports(run)
    assert sorted(written) == list(TYPES)
    for calib_type, data in written.items():
        assert data["outcome"] == "failed"
        assert data["reason"] == headline
        assert data["failed_stage"] == "preflight"
        assert run.script.type_summary(calib_type).report_path in run.reason


@pytest.mark.parametrize(
    "faults, message",
    [
        (
            CameraFaults(fail_set_filter="filter wheel jammed"),
            "filter g_01 could not be set through CCCamera",
        ),
        (CameraFaults(never_end_set_filter=True), "filter g_01 not set within"),
    ],
)
async def test_filter_not_set_fails_the_flats_with_every_summary_written(
    run_calibs, caplog: pytest.LogCaptureFixture, faults: CameraFaults, message: str, monkeypatch
) -> None:
    # The filter is set just before the first flat: a stuck changer (given up on
    # after twice the camera's change time) fails the flats only.
    monkeypatch.setattr(
        MakeComCamCalibrations, "camera", dataclasses.replace(COMCAM, filter_change_timeout=0.1)
    )
    run = await run_calibs({**ALL, "filter": "g_01"}, ObservatoryOptions(camera=faults))
    assert run.state == ScriptState.FAILED, run.reason
    assert run.reason.removeprefix("Error in run: ").startswith("FLAT failed; kept: BIAS, DARK"), run.reason
    assert_no_traceback(caplog)
    assert not [image for image in run.observatory.camera.images if image.image_type == "FLAT"]
    written = reports(run)
    assert sorted(written) == list(TYPES)
    assert written["BIAS"]["outcome"] == written["DARK"]["outcome"] == "done"
    assert written["FLAT"]["outcome"] == "failed"
    assert (
        written["FLAT"]["reason"].startswith("set_filter failed: ") and message in written["FLAT"]["reason"]
    )
    assert written["FLAT"]["exposures_taken"] == []


async def test_stop_checkpoint_before_the_types_writes_every_summary(
    run_calibs, caplog: pytest.LogCaptureFixture
) -> None:
    run = await run_calibs({**ALL, "filter": "g_01"}, stop_checkpoint="preflight")
    assert run.state == ScriptState.STOPPED, run.reason
    assert_no_traceback(caplog)
    assert_nothing_done(run)
    written = reports(run)
    assert sorted(written) == list(TYPES)
    for calib_type, data in written.items():
        assert data["outcome"] == "stopped"
        assert data["reason"] == f"stopped in stage preflight before {calib_type} started"
        assert data["failed_stage"] == "preflight"


async def test_stop_while_the_filter_is_set_writes_every_summary(run_calibs) -> None:
    async def during(run) -> None:
        # The filter change never ends: once the camera is changing the filter (its own
        # state, not the script's last checkpoint, which concurrent types move on), stop.
        await run_calibs.wait_for(
            lambda: run.observatory.camera.changing_filter is not None, what="the filter change"
        )
        await run_calibs.stop(run.script)

    options = ObservatoryOptions(camera=CameraFaults(never_end_set_filter=True))
    run = await run_calibs({**ALL, "filter": "g_01"}, options, during=during)
    assert run.state == ScriptState.STOPPED, run.reason
    assert not [image for image in run.observatory.camera.images if image.image_type == "FLAT"]
    written = reports(run)
    assert sorted(written) == list(TYPES)
    assert written["FLAT"]["outcome"] == "stopped"
    assert written["FLAT"]["exposures_taken"] == []
    assert {data["outcome"] for data in written.values()} <= {"stopped", "done"}


async def test_stop_while_the_first_type_is_taken_writes_the_later_types_summaries(
    run_calibs, monkeypatch
) -> None:
    # The frame in progress never ends: the stop waits STOP_FRAME_GRACE for it (shortened).
    monkeypatch.setattr(procedure_module, "STOP_FRAME_GRACE", 0.2)

    async def during(run) -> None:
        await run_calibs.wait_for(lambda: len(run.observatory.camera.images) >= 1, what="the first bias")
        await run_calibs.stop(run.script)

    # The camera stops answering from the second frame on: the bias take hangs until the stop.
    options = ObservatoryOptions(camera=CameraFaults(never_ack_on_frame=2))
    run = await run_calibs({**ALL, "filter": "r_03", "frame_timeout": 60.0}, options, during=during)
    assert run.state == ScriptState.STOPPED, run.reason
    written = reports(run)
    assert sorted(written) == list(TYPES)
    assert written["BIAS"]["outcome"] == "stopped"
    assert written["BIAS"]["failed_stage"] == "take_biases"
    for calib_type in ("DARK", "FLAT"):
        assert written[calib_type]["outcome"] == "stopped"
        assert written[calib_type]["reason"] == f"stopped before {calib_type} started"
        assert written[calib_type]["exposures_taken"] == []
    # Every exposure taken is in a summary.
    taken = [i.exposure_id for i in run.observatory.camera.images]
    assert taken and set(taken) <= set(written["BIAS"]["exposures_taken"])


async def test_stop_during_preflight_writes_every_summary(run_calibs, monkeypatch) -> None:
    from lsst.ts.calibscripts.calib import ocps

    checking = asyncio.Event()

    async def never_answers(*args: typing.Any, **kwargs: typing.Any) -> None:
        # OCPS:2's configuration is being checked when the stop comes.
        checking.set()
        await asyncio.Event().wait()

    monkeypatch.setattr(ocps, "check_ocps_configuration", never_answers)

    async def during(run) -> None:
        await asyncio.wait_for(checking.wait(), 60)
        await run_calibs.stop(run.script)

    run = await run_calibs({**ALL, "filter": "g_01"}, during=during)
    assert run.state == ScriptState.STOPPED, run.reason
    assert_nothing_done(run)
    written = reports(run)
    assert sorted(written) == list(TYPES)
    assert {data["reason"] for data in written.values()} == {
        f"stopped in stage preflight before {t} started" for t in TYPES
    }


async def test_unexpected_error_in_preflight_is_named_and_every_summary_written(
    run_calibs, caplog: pytest.LogCaptureFixture, monkeypatch
) -> None:
    from lsst.ts.calibscripts.calib import butler_ops

    def broken(repo: str) -> None:
        raise ValueError("registry schema 9 not supported")

    monkeypatch.setattr(butler_ops, "check_repo", broken)
    run = await run_calibs({**ALL, "filter": "g_01"})
    assert run.state == ScriptState.FAILED, run.reason
    headline = run.reason.splitlines()[0].removeprefix("Error in run: ")
    assert headline == "preflight failed: unexpected ValueError: registry schema 9 not supported"
    # The traceback of an unexpected error is logged once, by the script, for the developers.
    logged = [r for r in caplog.records if r.exc_info is not None]
    assert [r.getMessage() for r in logged] == ["Unexpected error in stage preflight"]
    written = reports(run)
    assert {t: d["reason"] for t, d in written.items()} == {t: headline for t in TYPES}


async def test_a_report_cut_short_by_a_stop_is_written_at_cleanup(run_calibs, monkeypatch) -> None:
    from lsst.ts.calibscripts.calib.procedure import CalibProcedure
    from lsst.ts.calibscripts.calib.summary import Outcome

    drawing = asyncio.Event()
    draw = CalibProcedure.draw_report_pictures

    async def slow_pictures(self: CalibProcedure) -> None:
        # The bias is certified and DONE; its report is being drawn when the stop comes.
        if self.summary.outcome is Outcome.DONE:
            drawing.set()
            await asyncio.Event().wait()
        await draw(self)

    monkeypatch.setattr(CalibProcedure, "draw_report_pictures", slow_pictures)

    async def during(run) -> None:
        await asyncio.wait_for(drawing.wait(), 60)
        await run_calibs.stop(run.script)

    run = await run_calibs({**ALL, "script_mode": "BIAS"}, during=during)
    assert run.state == ScriptState.STOPPED, run.reason
    written = reports(run)
    assert list(written) == ["BIAS"]
    assert written["BIAS"]["outcome"] == "done"
    assert written["BIAS"]["certified_detectors"] == [3, 4]
    taken = [i.exposure_id for i in run.observatory.camera.images]
    assert taken and written["BIAS"]["exposures_taken"] == taken


async def test_stop_between_execute_and_its_job_id_aborts_and_records_the_job(run_calibs) -> None:
    """OCPS created the cp_bias job; its id comes once the stop has reached the script's run."""
    gate = asyncio.Event()

    def hold_job_ids(observatory) -> None:
        observatory.ocps.in_progress_ack_gate = gate

    async def during(run) -> None:
        await run_calibs.wait_for(lambda: len(run.jobs) >= 1, what="the cp_bias job")
        await run_calibs.stop(run.script)
        # The run is being cancelled; it waits for the job id to abort the job.
        await run_calibs.wait_for(lambda: run.script._run_task.cancelling() > 0, what="the stop")
        run.observatory.ocps.in_progress_ack_gate = None
        gate.set()

    run = await run_calibs({**ALL, "script_mode": "BIAS"}, before_run=hold_job_ids, during=during)
    assert run.state == ScriptState.STOPPED, run.reason
    job = run.job("cpBias")
    assert job.phase == "aborted"
    written = reports(run)
    assert written["BIAS"]["outcome"] == "stopped"
    [record] = written["BIAS"]["jobs"]
    assert record["job_id"] == job.request.job_id and record["aborted"]
