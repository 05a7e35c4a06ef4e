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

"""MakeComCamBias end to end: what goes wrong at the summit, and how the script ends."""

import os
import pathlib
import re

import pytest
from lsst.ts.calibscripts.calib import ocps
from lsst.ts.calibscripts.sal import ScriptState, State
from lsst.ts.calibscripts.sim import CameraFaults, JobAction, ObservatoryOptions, OcpsFaults, OodsFaults

SMALL = {"n_bias": 2, "detectors": [0, 1], "do_verify": False}


def assert_nothing_certified(run) -> None:
    assert run.certifications() == []
    assert run.report()["certified_detectors"] == []


@pytest.mark.parametrize("csc", ["CCCamera", "CCHeaderService", "CCOODS", "OCPS"])
async def test_csc_not_enabled(run_bias, csc) -> None:
    options = ObservatoryOptions(initial_states={csc: State.DISABLED})
    run = await run_bias(SMALL, options, runner="scripted")
    assert run.state == ScriptState.FAILED
    name = "OCPS:2" if csc == "OCPS" else csc
    assert re.search(rf"preflight failed: .*{name}: DISABLED", run.reason), run.reason
    assert "no bias taken" in run.reason
    assert run.observatory.images == []
    assert run.executes == []
    assert_nothing_certified(run)
    assert run.report()["failed_stage"] == "preflight"


async def test_ocps_refuses_another_instruments_configuration(run_bias) -> None:
    """OCPS:2 started with LATISS.yaml refuses it and stays in STANDBY: preflight says so."""
    options = ObservatoryOptions(ocps=OcpsFaults(configuration_override="LATISS.yaml"))
    run = await run_bias(SMALL, options, runner="scripted")
    assert run.state == ScriptState.FAILED
    assert "preflight failed" in run.reason and "OCPS:2: STANDBY (must be ENABLED)" in run.reason
    assert run.observatory.images == [] and run.executes == []
    assert_nothing_certified(run)


async def test_ocps_running_with_another_instruments_configuration(run_bias) -> None:
    """An OCPS:2 that applied LATISS.yaml (no instance check) is refused before any exposure."""
    options = ObservatoryOptions(ocps=OcpsFaults(configuration_override="LATISS.yaml", check_instance=False))
    run = await run_bias(SMALL, options, runner="scripted")
    assert run.state == ScriptState.FAILED
    assert (
        "preflight failed: OCPS:2 applied configuration '_init.yaml,_summit.yaml,LATISS.yaml', "
        "named after LATISS, not LSSTComCam" in run.reason
    )
    assert run.observatory.images == [] and run.executes == []
    assert_nothing_certified(run)


@pytest.mark.parametrize("override", ["", "LSSTComCam.yaml"])
async def test_ocps_configured_from_its_site_file_or_own_override(run_bias, override, caplog) -> None:
    """OCPS:2 ENABLED with ``_init.yaml,_summit.yaml`` (no file named LSSTComCam) is accepted."""
    caplog.set_level("INFO")
    options = ObservatoryOptions(ocps=OcpsFaults(configuration_override=override))
    run = await run_bias({**SMALL, "do_certify": False}, options, runner="scripted")
    assert run.state == ScriptState.DONE, run.reason
    files = "_init.yaml,_summit.yaml" + (f",{override}" if override else "")
    assert f"OCPS:2 configurationApplied: configurations={files!r}" in caplog.text
    assert "schemaVersion='v3'" in caplog.text


async def test_repo_is_not_the_ocps_butler(run_bias, tmp_path) -> None:
    """OCPS ran cpBias on its own butler: the script fails at once, naming both repositories."""
    import shutil

    other = str(tmp_path / "other_repo")
    shutil.copytree(run_bias.template_repo, other, symlinks=True)
    run = await run_bias({**SMALL, "repo": other}, runner="scripted")
    assert run.state == ScriptState.FAILED
    (execute,) = run.executes  # no verification job was started
    job_id = execute.request.job_id
    ocps_butler = run.observatory.ocps.settings.butler
    assert ocps_butler == run.repo and ocps_butler != other
    assert run.reason.startswith("Error in run: cp_bias failed: ")
    assert f"u/ocps/{job_id} is not in repo {other!r}" in run.reason
    assert f"the cp_bias job ran on its configured butler {ocps_butler!r}" in run.reason
    assert f"Set repo to {ocps_butler!r} and resume with bias_job_id {job_id}" in run.reason
    assert f"bias_job_id: {job_id}" in run.reason
    assert_nothing_certified(run)


@pytest.mark.parametrize(
    "uses_repo", [{}, {"do_certify": False, "do_verify": True}, {"do_verify": False, "do_certify": True}]
)
async def test_repo_that_is_no_butler_repository_fails_in_preflight(run_bias, tmp_path, uses_repo) -> None:
    """A run that reads or certifies in repo fails before any frame if repo does not open."""
    missing = str(tmp_path / "no_repo_here")
    run = await run_bias({**SMALL, **uses_repo, "repo": missing}, runner="scripted")
    assert run.state == ScriptState.FAILED
    assert run.reason.startswith(
        f"Error in run: preflight failed: repo {missing!r} cannot be opened as a butler repository ("
    ), run.reason
    assert "Set repo to the butler repository OCPS:2 runs its jobs on" in run.reason
    assert "unexpected" not in run.reason
    assert run.observatory.images == [] and run.executes == []
    assert run.report()["failed_stage"] == "preflight"
    assert_nothing_certified(run)


async def test_repo_is_not_opened_when_neither_verifying_nor_certifying(run_bias, tmp_path) -> None:
    missing = str(tmp_path / "no_repo_here")
    run = await run_bias({**SMALL, "do_certify": False, "repo": missing}, runner="scripted")
    assert run.state == ScriptState.DONE, run.reason
    assert not os.path.exists(missing)


async def test_take_images_fails_on_frame_3(run_bias) -> None:
    options = ObservatoryOptions(camera=CameraFaults(fail_take_images_on_frame=3))
    run = await run_bias({**SMALL, "n_bias": 4}, options, runner="scripted")
    assert run.state == ScriptState.FAILED
    taken = [image.exposure_id for image in run.observatory.images]
    assert len(taken) == 2
    assert run.reason.startswith("Error in run: take_biases failed: ")
    assert "command failed (CMD_FAILED): Failed: Simulated CCS failure" in run.reason
    assert f"2 bias(es) taken ({taken[0]}, {taken[1]})" in run.reason
    assert run.report()["exposures_taken"] == taken
    assert run.executes == []
    assert_nothing_certified(run)


def assert_failed_taking(run, n_taken: int) -> list[int]:
    """FAILED in take_biases with ``n_taken`` frames taken; nothing run, nothing certified."""
    assert run.state == ScriptState.FAILED, run.reason
    taken = [image.exposure_id for image in run.observatory.images][:n_taken]
    assert run.reason.startswith("Error in run: take_biases failed: "), run.reason
    assert f"exposure ids taken before it: {taken}" in run.reason
    report = run.report()
    assert report["exposures_taken"] == taken
    assert report["failed_stage"] == "take_biases"
    assert run.executes == []
    assert_nothing_certified(run)
    return taken


async def test_dropped_end_readout_fails_within_frame_timeout(run_bias) -> None:
    """No endReadout for frame 2: ComCam would wait forever before frame 3; the guard fails it."""
    options = ObservatoryOptions(camera=CameraFaults(drop_end_readout_frames={2}))
    run = await run_bias({**SMALL, "n_bias": 3, "frame_timeout": 0.5}, options, runner="scripted")
    taken = assert_failed_taking(run, 2)
    names = [image.obs_id for image in run.observatory.images]
    assert "bias 3 of 4 not taken within frame_timeout=0.5 s" in run.reason
    assert "probable cause: no endReadout / camera not ready; check CCCamera" in run.reason
    assert f"no endReadout for {names[1]}" in run.reason
    assert len(taken) == 2


async def test_take_images_never_acknowledged(run_bias) -> None:
    """takeImages is never acknowledged: ComCam's own AckTimeoutError ends the run."""
    options = ObservatoryOptions(camera=CameraFaults(never_ack_on_frame=2))

    async def shorten_comcam_timeouts(run) -> None:
        # As tests/observatory_control does: ComCam's takeImages timeout is
        # read_out_time + long_long_timeout.
        run.script.comcam.long_timeout = 1.0
        run.script.comcam.long_long_timeout = 0.3
        run.script.comcam.read_out_time = 0.2

    run = await run_bias(
        {**SMALL, "frame_timeout": 60}, options, runner="scripted", during=shorten_comcam_timeouts
    )
    assert_failed_taking(run, 1)
    assert "bias 2 of 3 failed: CCCamera takeImages command not acknowledged in time" in run.reason
    assert "frame_timeout" not in run.reason


async def test_take_images_never_acknowledged_caught_by_frame_timeout(run_bias) -> None:
    options = ObservatoryOptions(camera=CameraFaults(never_ack_on_frame=2))
    run = await run_bias({**SMALL, "frame_timeout": 0.5}, options, runner="scripted")
    assert_failed_taking(run, 1)
    assert "bias 2 of 3 not taken within frame_timeout=0.5 s" in run.reason


async def test_dropped_start_integration(run_bias) -> None:
    """No startIntegration for frame 2: take_bias never learns its exposure id."""
    options = ObservatoryOptions(camera=CameraFaults(drop_start_integration_frames={2}))
    run = await run_bias({**SMALL, "frame_timeout": 0.5}, options, runner="scripted")
    assert_failed_taking(run, 1)
    names = [image.obs_id for image in run.observatory.images]
    assert "bias 2 of 3 not taken within frame_timeout=0.5 s" in run.reason
    assert f"no startIntegration for {names[1]}" in run.reason


async def test_camera_fault_mid_sequence(run_bias) -> None:
    options = ObservatoryOptions(camera=CameraFaults(fault_on_frame=2, fault_code=42))
    run = await run_bias({**SMALL, "frame_timeout": 5}, options, runner="scripted")
    (taken,) = assert_failed_taking(run, 1)
    # The camera faulted after startIntegration of the next sequence number: that
    # image was never finished, so its id is not among those taken.
    assert len(run.observatory.images) == 1
    assert "bias 2 of 3 failed: CCCamera takeImages command failed (CMD_FAILED)" in run.reason
    assert (
        f"CCCamera is in FAULT (errorCode 42: Simulated camera fault while taking CC_O_{str(taken)[:8]}_"
        in (run.reason)
    )


async def test_oods_status_failure(run_bias) -> None:
    options = ObservatoryOptions(oods=OodsFaults(status_codes={(3, 1): 1}))
    run = await run_bias(SMALL, options, runner="scripted")
    assert run.state == ScriptState.FAILED
    taken = [image.exposure_id for image in run.observatory.images]
    assert "wait_ingest failed: CCOODS failed to ingest some images" in run.reason
    assert "3 of 4 (exposure, detector) pairs ingested" in run.reason
    assert "R22_S01" in run.reason and "ingest failure" in run.reason
    assert f"To resume once every raw is ingested: exposure_ids: {taken[1:]}" in run.reason
    assert run.executes == []
    assert_nothing_certified(run)


async def test_oods_missing_events(run_bias) -> None:
    options = ObservatoryOptions(oods=OodsFaults(missing={(2, 0), (3, None)}))
    run = await run_bias({**SMALL, "oods_timeout": 0.5}, options, runner="scripted")
    assert run.state == ScriptState.FAILED
    taken = [image.exposure_id for image in run.observatory.images]
    assert "wait_ingest failed" in run.reason
    assert "1 of 4 (exposure, detector) pairs ingested" in run.reason
    assert "3 missing" in run.reason
    assert f"To resume once every raw is ingested: exposure_ids: {taken[1:]}" in run.reason
    assert run.executes == []
    assert_nothing_certified(run)


async def test_unrelated_images_interleaved(run_bias) -> None:
    """imageInOODS of other scripts' images is ignored; too many in a row gives up."""
    options = ObservatoryOptions(oods=OodsFaults(unrelated_images=1, missing={(2, None)}))

    async def release_frame_2_while_waiting(run) -> None:
        # Frame 2's 9 unrelated events (its own are missing) come once the script waits
        # and frame 1 (no frame discarded) is all published: 9 in a row for other images.
        release = run.observatory.ccoods.hold(2)
        await run_bias.wait_for(
            lambda: run.script.ingest_tracker is not None
            and run.script.ingest_tracker.waiting
            and run.observatory.ccoods.images_done == 1,
            timeout=10,
            what="the ingest wait with frame 1 published",
        )
        release.set()

    run = await run_bias(
        {**SMALL, "n_discard_bias": 0, "max_counter_archiver_check": 5, "oods_timeout": 60},
        options,
        runner="scripted",
        during=release_frame_2_while_waiting,
    )
    assert run.state == ScriptState.FAILED
    assert "Gave up waiting for CCOODS after 5 consecutive imageInOODS events" in run.reason
    assert run.executes == []


async def test_execute_rejected(run_bias) -> None:
    options = ObservatoryOptions(ocps=OcpsFaults(reject_execute="the UWS back end is unreachable"))
    run = await run_bias(SMALL, options, runner="scripted")
    assert run.state == ScriptState.FAILED
    taken = [image.exposure_id for image in run.observatory.images]
    assert "cp_bias failed" in run.reason and "the UWS back end is unreachable" in run.reason
    assert f"To resume: exposure_ids: {taken[1:]}" in run.reason
    assert len(run.executes) == 1 and run.executes[0].rejected
    assert_nothing_certified(run)


async def test_bias_job_fails(run_bias) -> None:
    options = ObservatoryOptions(ocps=OcpsFaults(job_outcomes=[JobAction.FAIL]))
    run = await run_bias({**SMALL, "do_verify": True}, options, runner="scripted")
    assert run.state == ScriptState.FAILED
    (execute,) = run.executes
    job_id = execute.request.job_id
    # Job id, exit code, what the execution service said (OCPS reports its answer to the
    # submission) and where the job's log is: ocps.log in the job's output directory.
    log_path = os.path.join(run.repo + "_ocps_logs", job_id, "out", "ocps.log")
    assert (
        f"cp_bias failed: cp_bias job {job_id} failed (exit_code 1); execution service said: "
        f"no error summary (phase at submission 'queued'); log: ocps.log in the output directory "
        f"of job {job_id} on the OCPS execution service"
    ) in run.reason
    assert f"ERROR: Job {job_id} failed" in pathlib.Path(log_path).read_text()
    assert "bias_job_id" not in run.reason
    assert run.jobs[job_id].exit_code == 1 and run.jobs[job_id].phase == "error"
    (record,) = run.report()["jobs"]
    assert record["exit_code"] == 1 and "ocps.log" in record["error"]
    assert (record["outcome"], record["submitted_phase"]) == ("failed", "queued")
    assert_nothing_certified(run)


async def test_verify_job_fails(run_bias) -> None:
    options = ObservatoryOptions(ocps=OcpsFaults(job_outcomes=[JobAction.SUCCEED, JobAction.FAIL]))
    run = await run_bias({**SMALL, "do_verify": True}, options, runner="scripted")
    assert run.state == ScriptState.FAILED
    bias, verify = run.executes
    assert f"verify_bias failed: verify_bias job {verify.request.job_id} failed (exit_code 1)" in run.reason
    assert f"bias_job_id: {bias.request.job_id}" in run.reason
    assert verify.config.startswith(f"-j 1 -i u/ocps/{bias.request.job_id},LSSTComCam/calib ")
    assert_nothing_certified(run)


def noisy_detector_options() -> ObservatoryOptions:
    from lsst.ts.calibscripts.sim.data.options import DataOptions

    # Detector 0 is 60 % noisier than nominal: every amp fails NOISE in every exposure.
    return ObservatoryOptions(data=DataOptions(read_noise_factors={0: 1.6}))


@pytest.mark.slow
@pytest.mark.parametrize("certify_anyway", [False, True])
async def test_verification_fails(run_bias, certify_anyway) -> None:
    config = {"n_bias": 3, "detectors": [0], "certify_on_verification_failure": certify_anyway}
    run = await run_bias(config, noisy_detector_options())
    report = run.report()
    assert report["verdict"]["outcome"] == "failed"
    assert len(run.executes) == 2
    if certify_anyway:
        assert run.state == ScriptState.DONE, run.reason
        assert "verification failed" in run.reason
        assert [c.detector for c in run.certifications()] == [0]
    else:
        assert run.state == ScriptState.FAILED
        assert "judge failed: the master bias failed verification" in run.reason
        assert "set certify_on_verification_failure" in run.reason
        assert "NOISE" in "\n".join(str(v) for v in report.values())
        assert_nothing_certified(run)


@pytest.mark.slow  # three whole runs on one repository
async def test_certification_conflict_and_supersede(run_bias) -> None:
    first = await run_bias({"n_bias": 2, "detectors": [3], "do_verify": False})
    assert first.state == ScriptState.DONE, first.reason
    (old,) = first.certifications()
    # The same day's biases again: the validity range overlaps the first run's.
    second = await run_bias({"n_bias": 2, "detectors": [3], "do_verify": False})
    assert second.state == ScriptState.FAILED
    assert "certify failed" in second.reason
    assert old.dataset_id in second.reason and old.begin[:19] in second.reason
    new_job = second.executes[0].request.job_id
    assert f"bias_job_id: {new_job}" in second.reason
    assert [(c.dataset_id, c.begin, c.end) for c in second.certifications()] == [
        (old.dataset_id, old.begin, old.end)
    ]
    # Supersede: the overlapping range of the old bias is decertified first.
    third = await run_bias({"n_bias": 2, "detectors": [3], "do_verify": False, "supersede": True})
    assert third.state == ScriptState.DONE, third.reason
    third_job = third.executes[0].request.job_id
    current = [c for c in third.certifications() if c.run == f"u/ocps/{third_job}/run"]
    assert len(current) == 1 and current[0].begin[:19] == old.begin[:19]
    assert not [c for c in third.certifications() if c.dataset_id == old.dataset_id and c.begin == old.begin]
    assert third.report()["certification"]["superseded"]


async def test_script_talks_to_ocps_index_2_only(run_bias, monkeypatch) -> None:
    """With only OCPS:1 (LATISS's) running, the script sees no OCPS:2 and fails before exposing."""
    # The other CSCs answer at once; only the missing OCPS:2 waits the whole timeout.
    monkeypatch.setattr(ocps, "SUMMARY_STATE_TIMEOUT", 0.5)
    options = ObservatoryOptions(ocps_index=1)
    run = await run_bias(SMALL, options, runner="scripted")
    assert run.state == ScriptState.FAILED
    assert "preflight failed" in run.reason and "OCPS:2: no summaryState within 0.5 s" in run.reason
    assert run.observatory.images == [] and run.executes == []
    assert_nothing_certified(run)
