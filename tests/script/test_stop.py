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

"""MakeComCamBias end to end: stopping in each stage ends STOPPED and aborts OCPS jobs."""

import asyncio

import pytest
from lsst.ts.calibscripts.sal import ScriptState, salobj
from lsst.ts.calibscripts.sim import CameraFaults, JobAction, ObservatoryOptions, OcpsFaults, OodsFaults

SMALL = {"n_bias": 2, "detectors": [0, 1]}


def stop_when(run_bias, condition):
    """A ``during`` coroutine: wait for ``condition(run)``, then stop the script."""

    async def during(run) -> None:
        await run_bias.wait_for(
            lambda: condition(run) or run.script.done_task.done(), what="the stage to be reached"
        )
        await run_bias.stop(run.script)

    return during


def paused(run) -> bool:
    return run.script.state.state == ScriptState.PAUSED


def assert_stopped(run, stage: str) -> dict:
    assert run.state == ScriptState.STOPPED, run.reason
    report = run.report()
    assert report["outcome"] == "stopped"
    assert report["failed_stage"] == stage
    assert stage not in report["stages_completed"]
    assert report["certified_detectors"] == []
    assert run.certifications() == []
    # Every job the script started has ended (none left running on OCPS).
    assert all(job.exit_code is not None for job in run.jobs.values())
    return report


@pytest.mark.parametrize("stage", ["preflight", "judge", "certify", "summary"])
async def test_stop_at_checkpoint(run_bias, stage) -> None:
    """Paused at a stage's checkpoint, then stopped."""
    config = {**SMALL, "do_verify": stage == "judge", "do_certify": stage != "summary"}
    run = await run_bias(
        config, runner="scripted", pause_checkpoint=stage, during=stop_when(run_bias, paused)
    )
    report = assert_stopped(run, stage)
    assert run.script.last_checkpoint == stage
    if stage == "preflight":
        assert run.observatory.images == [] and run.executes == []
    else:
        assert len(run.observatory.images) == 3
        assert report["stages_completed"][-1] != stage


async def test_stop_while_taking_biases(run_bias, monkeypatch) -> None:
    # The camera hangs on frame 3 (never acknowledges takeImages): the script is
    # waiting in take_bias when it is stopped, and waits STOP_FRAME_GRACE for that frame.
    from lsst.ts.calibscripts.calib import procedure

    monkeypatch.setattr(procedure, "STOP_FRAME_GRACE", 0.2)
    options = ObservatoryOptions(camera=CameraFaults(never_ack_on_frame=3))
    run = await run_bias(
        {**SMALL, "n_bias": 5},
        options,
        runner="scripted",
        during=stop_when(
            run_bias,
            # Stop once the script itself has both exposures (it is then waiting on frame 3);
            # the camera's own image list can run ahead of what the script has seen.
            lambda run: run.script.last_checkpoint == "take_biases"
            and len(run.script.summary.exposures_taken) >= 2,
        ),
    )
    report = assert_stopped(run, "take_biases")
    taken = [i.exposure_id for i in run.observatory.images]
    assert len(taken) == 2
    assert report["exposures_taken"] == taken
    assert run.executes == []


async def test_stop_while_waiting_for_ingest(run_bias) -> None:
    options = ObservatoryOptions(oods=OodsFaults(missing={(3, None)}))
    run = await run_bias(
        {**SMALL, "oods_timeout": 600},
        options,
        runner="scripted",
        during=stop_when(run_bias, lambda run: run.script.last_checkpoint == "wait_ingest"),
    )
    assert_stopped(run, "wait_ingest")
    assert run.executes == []
    # The imageInOODS callback was removed.
    assert run.script.comcam.rem.ccoods.evt_imageInOODS.callback is None


@pytest.mark.parametrize(
    "stage, outcomes", [("cp_bias", [JobAction.HANG]), ("verify_bias", ["succeed", "hang"])]
)
async def test_stop_during_job_aborts_it(run_bias, stage, outcomes) -> None:
    options = ObservatoryOptions(ocps=OcpsFaults(job_outcomes=outcomes))
    run = await run_bias(
        SMALL,
        options,
        runner="scripted",
        during=stop_when(
            run_bias,
            lambda run: run.script.last_checkpoint == stage and bool(run.script.jobs.active_jobs),
        ),
    )
    report = assert_stopped(run, stage)
    hung = run.executes[-1].request.job_id
    assert run.jobs[hung].exit_code == 255
    assert run.jobs[hung].phase == "aborted"
    (record,) = [job for job in report["jobs"] if job["job_id"] == hung]
    assert record["aborted"] is True
    assert run.script.jobs.active_jobs == {}


def is_stopping(run) -> bool:
    """The script's run was cancelled by the stop (cleanup follows)."""
    return run.script.state.state in (ScriptState.STOPPING, ScriptState.STOPPED)


async def test_stop_before_the_job_id_arrives_aborts_the_job(run_bias) -> None:
    """Stopped after sending execute and before the in-progress ack with the job id.

    The mock holds the ack back until the script is stopping: OCPS has already
    created the job, so cleanup waits for its id and aborts it.
    """
    options = ObservatoryOptions(ocps=OcpsFaults(job_outcomes=[JobAction.HANG]))

    async def stop_before_the_ack(run) -> None:
        mock = run.observatory.ocps
        mock.in_progress_ack_gate = asyncio.Event()
        await run_bias.wait_for(lambda: bool(mock.jobs), what="OCPS to create the cp_bias job")
        assert run.script.jobs.active_jobs == {}  # the script does not know the job id yet
        await run_bias.stop(run.script)
        await run_bias.wait_for(lambda: is_stopping(run), what="the script to stop")
        mock.in_progress_ack_gate.set()

    run = await run_bias(SMALL, options, runner="scripted", during=stop_before_the_ack)
    report = assert_stopped(run, "cp_bias")
    (job_id,) = run.jobs
    assert run.jobs[job_id].exit_code == 255 and run.jobs[job_id].phase == "aborted"
    (record,) = report["jobs"]
    assert (record["job_id"], record["aborted"], record["exit_code"]) == (job_id, True, 255)
    assert record["outcome"] == "aborted"
    assert run.script.jobs.active_jobs == {} and run.script.jobs.pending_submissions == []


async def test_job_that_ends_at_the_stop_is_recorded(run_bias) -> None:
    """The job ended as the script was stopped: its job_result still reaches the summary.

    The mock holds the job_result of the ended job back until the script is
    stopping; nothing is aborted.
    """

    async def stop_as_the_job_ends(run) -> None:
        mock = run.observatory.ocps
        mock.job_result_gate = asyncio.Event()
        await run_bias.wait_for(
            lambda: any(job.outcome is not None for job in mock.jobs.values()), what="the cp_bias job to end"
        )
        await run_bias.stop(run.script)
        await run_bias.wait_for(lambda: is_stopping(run), what="the script to stop")
        mock.job_result_gate.set()

    run = await run_bias(SMALL, runner="scripted", during=stop_as_the_job_ends)
    report = assert_stopped(run, "cp_bias")
    (job_id,) = run.jobs
    assert [code for code, _ in run.jobs[job_id].results] == [0]  # not aborted
    (record,) = report["jobs"]
    assert (record["job_id"], record["aborted"], record["exit_code"]) == (job_id, False, 0)
    # The outcome comes from the exit code; OCPS's result holds the phase at submission only.
    assert record["outcome"] == "completed" and record["error"] == ""
    assert record["submitted_phase"] == "queued"
    assert run.script.jobs.active_jobs == {}


async def test_job_timeout_fails_and_aborts(run_bias) -> None:
    options = ObservatoryOptions(ocps=OcpsFaults(job_outcomes=[JobAction.HANG]))
    run = await run_bias({**SMALL, "job_timeout": 0.5}, options, runner="scripted")
    assert run.state == ScriptState.FAILED
    (execute,) = run.executes
    job_id = execute.request.job_id
    assert "cp_bias failed" in run.reason and job_id in run.reason
    assert run.jobs[job_id].exit_code == 255
    assert run.report()["jobs"][0]["aborted"] is True


async def test_job_aborted_by_someone_else_fails_the_run(run_bias) -> None:
    """An operator aborts the script's job: the script sees exit_code 255 first and fails.

    dm_OCPS then writes a second result (exit_code 1) from the job's
    execute; the script keeps the first and does not abort the job again.
    """
    options = ObservatoryOptions(ocps=OcpsFaults(job_outcomes=[JobAction.HANG]))

    async def abort_from_outside(run) -> None:
        await run_bias.wait_for(lambda: bool(run.script.jobs.active_jobs), what="the cp_bias job")
        (job_id,) = run.script.jobs.active_jobs
        async with salobj.Domain() as domain, salobj.Remote(domain, "OCPS", 2) as ocps:
            await ocps.cmd_abort_job.set_start(job_id=job_id, timeout=10)

    run = await run_bias(SMALL, options, runner="scripted", during=abort_from_outside)
    assert run.state == ScriptState.FAILED
    (execute,) = run.executes
    job_id = execute.request.job_id
    assert f"cp_bias failed: cp_bias job {job_id} was aborted (exit_code 255)" in run.reason
    assert "bias_job_id" not in run.reason
    assert run.jobs[job_id].results[0][0] == 255
    (record,) = run.report()["jobs"]
    assert record["exit_code"] == 255 and record["outcome"] == "aborted"
    assert not record["aborted"]  # the script did not send abort_job itself
    assert run.script.jobs.active_jobs == {}
    assert run.certifications() == []


@pytest.mark.slow
async def test_stop_during_certification_reports_what_was_certified(run_bias, monkeypatch) -> None:
    """A stop cannot interrupt the butler transaction; the summary tells what it did."""
    import time

    from lsst.ts.calibscripts.calib import butler_ops

    real_certify = butler_ops.certify_biases
    started = []

    def slow_certify(*args, **kwargs):
        started.append(True)
        time.sleep(0.5)
        return real_certify(*args, **kwargs)

    monkeypatch.setattr(butler_ops, "certify_biases", slow_certify)
    run = await run_bias(
        {"n_bias": 2, "detectors": [1], "do_verify": False},
        during=stop_when(run_bias, lambda run: bool(started)),
    )
    assert run.state == ScriptState.STOPPED, run.reason
    report = run.report()
    assert report["outcome"] == "stopped" and report["failed_stage"] == "certify"
    assert [c.detector for c in run.certifications()] == [1]
    assert report["certified_detectors"] == [1]


async def test_stop_during_a_frame_records_the_frame(run_bias) -> None:
    """Stopped as the camera starts frame 2: the camera takes it anyway, and the summary lists it.

    The stop is sent when frame 2's ``startIntegration`` reaches another
    client, before ``take_bias`` has returned that frame's exposure id.
    """
    from lsst.ts.calibscripts.sim.triggers import TopicCounter

    async def stop_at_second_frame(run) -> None:
        async with (
            salobj.Domain() as domain,
            TopicCounter(domain, "CCCamera", 0, "startIntegration") as counter,
        ):
            await counter.wait_for(2)
            await run_bias.stop(run.script)

    run = await run_bias(
        {**SMALL, "n_bias": 3, "do_verify": False}, runner="scripted", during=stop_at_second_frame
    )
    report = assert_stopped(run, "take_biases")
    taken = [image.exposure_id for image in run.observatory.images]
    # The counter starts listening during the run: if it missed frame 1's startIntegration
    # (it counts no history), the stop comes as frame 3 starts. Either way a frame is in
    # progress at the stop, the camera takes it, and the summary lists every frame taken.
    assert len(taken) in (2, 3), taken
    assert report["exposures_taken"] == taken
    assert run.executes == []


async def test_stop_during_a_frame_that_does_not_end_names_its_image(run_bias, monkeypatch) -> None:
    """Frame 2's startIntegration is lost and the script is stopped while waiting for it.

    The camera took the image, but the script never learns its exposure id:
    the summary's reason names the image from the camera's other events.
    """
    from lsst.ts.calibscripts.calib import procedure

    monkeypatch.setattr(procedure, "STOP_FRAME_GRACE", 0.2)
    options = ObservatoryOptions(camera=CameraFaults(drop_start_integration_frames={2}))
    run = await run_bias(
        {**SMALL, "n_bias": 3, "do_verify": False, "frame_timeout": 30},
        options,
        runner="scripted",
        during=stop_when(run_bias, lambda run: len(run.observatory.images) >= 2),
    )
    report = assert_stopped(run, "take_biases")
    first, second = run.observatory.images
    assert report["exposures_taken"] == [first.exposure_id]
    assert "bias 2 of 4 was in progress and did not end" in report["reason"], report["reason"]
    assert second.obs_id in report["reason"]
