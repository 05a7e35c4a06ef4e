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

"""MakeComCamBias end to end: the runs that succeed."""

import pytest
from lsst.ts.calibscripts.calib.verification import VerdictOutcome
from lsst.ts.calibscripts.sal import ScriptState


# Detectors as a list run end to end in every other DONE run here and in test_resume/test_faults;
# this test's first case gives them as a string, the second as a list.
@pytest.mark.slow
@pytest.mark.parametrize("n_bias, detectors, n_verify", [(3, "(0,2)", 0), (20, [7], 0)])
async def test_happy_path(run_bias, n_bias, detectors, n_verify) -> None:
    run = await run_bias({"n_bias": n_bias, "detectors": detectors, "n_verify_bias": n_verify})
    assert run.state == ScriptState.DONE, run.reason
    dets = [0, 2] if detectors == "(0,2)" else detectors
    # Frames: one discarded, n_bias combined, n_verify verification; all tagged with the group id.
    images = run.observatory.images
    assert len(images) == 1 + n_bias + n_verify
    assert {image.group_id for image in images} == {run_bias.GROUP_ID}
    taken = [image.exposure_id for image in images]
    combined = taken[1 : 1 + n_bias]
    verified = taken[1 + n_bias :] or combined
    # OCPS requests: cpBias then verifyBias, explicit data queries.
    assert [e.pipeline for e in run.executes] == [
        "${CP_PIPE_DIR}/pipelines/LSSTComCam/cpBias.yaml",
        "${CP_VERIFY_DIR}/pipelines/LSSTComCam/verifyBias.yaml",
    ]
    det_text = "(" + ", ".join(str(d) for d in dets) + ")"
    exp_text = "(" + ", ".join(str(e) for e in combined) + ")"
    query = "instrument='LSSTComCam' AND detector IN {} AND exposure IN {}"
    assert run.executes[0].data_query == query.format(det_text, exp_text)
    verify_text = "(" + ", ".join(str(e) for e in verified) + ")"
    assert run.executes[1].data_query == query.format(det_text, verify_text)
    bias_job = run.executes[0].request.job_id
    assert run.executes[0].config == "-j 1 -i LSSTComCam/calib --register-dataset-types"
    assert run.executes[1].config == f"-j 1 -i u/ocps/{bias_job},LSSTComCam/calib --register-dataset-types"
    assert all(job.exit_code == 0 for job in run.jobs.values())
    # Butler: certified from the bias job's RUN over the biases' day_obs.
    day = str(combined[0])[:8]
    begin = f"{day[:4]}-{day[4:6]}-{day[6:]}T12:00:00"
    certs = run.certifications()
    assert sorted(c.detector for c in certs) == sorted(dets)
    assert {c.run for c in certs} == {f"u/ocps/{bias_job}/run"}
    assert all(c.begin.startswith(begin) for c in certs)
    # Reason and report.
    assert "certified bias" in run.reason and run_bias.CALIB in run.reason
    report = run.report()
    assert report["outcome"] == "done"
    assert report["exposures_taken"] == taken
    assert report["exposures_discarded"] == taken[:1]
    assert report["exposures_combined"] == combined
    assert report["exposures_verify"] == verified
    assert report["certified_detectors"] == sorted(dets)
    # Frames depend on (seed, seq_num, detector) only, so this verdict is the same on any date.
    # Three frames cannot clip a cosmic ray out of the master, so an amp may fail CR_NOISE
    # where a ray falls: the verdict must pass with no failed exposure; with 20 frames, cleanly.
    assert report["verdict"]["passed"] and report["verdict"]["failed_exposures"] == []
    if n_bias >= 20:
        assert report["verdict"]["outcome"] == VerdictOutcome.PASSED.value
    assert [job["job_id"] for job in report["jobs"]] == [e.request.job_id for e in run.executes]
    assert report["stages_completed"] == [
        "preflight",
        "take_biases",
        "wait_ingest",
        "cp_bias",
        "verify_bias",
        "judge",
        "certify",
        "summary",
    ]


@pytest.mark.slow
async def test_single_bias_without_verification(run_bias) -> None:
    """One bias (a single frame fails DMTN-101 noise tests), all nine detectors, certified."""
    run = await run_bias(
        {"n_bias": 1, "do_verify": False, "reason": "SITCOM-123", "program": "BLOCK-T42", "note": "test"}
    )
    assert run.state == ScriptState.DONE, run.reason
    images = run.observatory.images
    assert len(images) == 2
    for image in images:
        assert image.image_type == "BIAS" and image.exp_time == 0
        assert image.key_value_map["reason"] == "SITCOM-123"
        assert image.key_value_map["program"] == "BLOCK-T42"
        assert image.group_id == run_bias.GROUP_ID
    (execute,) = run.executes
    assert execute.data_query == (
        "instrument='LSSTComCam' AND detector IN (0, 1, 2, 3, 4, 5, 6, 7, 8) "
        f"AND exposure IN ({images[1].exposure_id})"
    )
    certs = run.certifications()
    assert sorted(c.detector for c in certs) == list(range(9))
    assert {c.run for c in certs} == {f"u/ocps/{execute.request.job_id}/run"}
    report = run.report()
    assert report["verdict"] is None
    assert "verify_bias" not in report["stages_completed"]
    assert report["stages_completed"][-2:] == ["certify", "summary"]


@pytest.mark.slow  # a whole run; the validity range is also tested on the butler (tests/calib)
async def test_given_validity_range(run_bias) -> None:
    run = await run_bias(
        {
            "n_bias": 2,
            "detectors": [3],
            "certify_calib_begin_date": "2026-01-01",
            "certify_calib_end_date": "2026-06-30T12:00",
        }
    )
    assert run.state == ScriptState.DONE, run.reason
    (cert,) = run.certifications()
    assert cert.detector == 3
    assert cert.begin.startswith("2026-01-01T00:00:00")
    assert cert.end.startswith("2026-06-30T12:00:00")


@pytest.mark.slow
async def test_independent_verification_frames(run_bias) -> None:
    """n_verify_bias frames are taken last, not combined, and are what verifyBias runs on."""
    run = await run_bias(
        {"n_bias": 3, "n_verify_bias": 2, "detectors": [5], "certify_on_verification_failure": True}
    )
    assert run.state == ScriptState.DONE, run.reason
    taken = [image.exposure_id for image in run.observatory.images]
    assert len(taken) == 6
    bias, verify = run.executes
    assert bias.data_query.endswith(f"exposure IN ({taken[1]}, {taken[2]}, {taken[3]})")
    assert verify.data_query.endswith(f"exposure IN ({taken[4]}, {taken[5]})")
    report = run.report()
    assert report["exposures_verify"] == taken[4:]
    # A master of 3 frames adds sqrt(1 + 1/3) - 1 = +15 % noise to an independent
    # frame: every amp fails NOISE (5 % tolerance) in both verification frames.
    assert report["verdict"]["outcome"] == "failed"
    assert report["verdict"]["failed_exposures"] == taken[4:]
    assert report["verdict"]["failures_per_test"]["NOISE"] == 2 * 16
    # Certified anyway, as asked; the reason gives the verdict.
    assert [c.detector for c in run.certifications()] == [5]
    assert "verification failed" in run.reason


@pytest.mark.slow
async def test_independent_verification_frame_passes_with_20_biases(run_bias) -> None:
    """A master of 20 frames adds only sqrt(1 + 1/20) - 1 = +2.5 % noise: an independent frame passes."""
    run = await run_bias({"n_bias": 20, "n_verify_bias": 1, "detectors": [2, 6]})
    assert run.state == ScriptState.DONE, run.reason
    taken = [image.exposure_id for image in run.observatory.images]
    assert len(taken) == 22
    bias, verify = run.executes
    assert verify.data_query.endswith(f"exposure IN ({taken[-1]})")
    assert f"{taken[-1]}" not in bias.data_query
    report = run.report()
    assert report["exposures_verify"] == [taken[-1]]
    # Per amp the residual noise is about +2.3 % +- 1 % of nominal: a stray amp may
    # exceed 5 % on some day's frames (the noise is seeded by exposure id), which
    # gives "passed with failures", but never the 2 x 8 failures that fail a frame.
    verdict = report["verdict"]
    assert verdict["passed"] is True, report["verdict_text"]
    assert verdict["outcome"] in ("passed", "passed_with_failures")
    assert verdict["failed_exposures"] == []
    assert verdict["failures_per_test"].get("NOISE", 0) < 16
    assert [c.detector for c in run.certifications()] == [2, 6]
    assert f"verification {verdict['outcome']}" in run.reason
