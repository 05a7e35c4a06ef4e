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

"""MakeComCamBias end to end: resuming a failed run, and a long run that loses no event."""

import ast
import re

import pytest
from lsst.ts.calibscripts.sal import ScriptState, State
from lsst.ts.calibscripts.sim import JobAction, ObservatoryOptions, OcpsFaults, OodsFaults


def resume_config(reason: str) -> dict:
    """Read the "To resume: ..." line of a FAILED reason as configuration."""
    match = re.search(r"To resume: (exposure_ids: \[[0-9, ]+\])(?:, bias_job_id: (\w+))?", reason)
    assert match is not None, reason
    config = {"exposure_ids": ast.literal_eval(match.group(1).split(": ", 1)[1])}
    if match.group(2):
        config["bias_job_id"] = match.group(2)
    return config


@pytest.mark.slow  # a whole run (test_resume_from_bias_job resumes in the fast tier)
async def test_resume_from_exposure_ids(run_bias) -> None:
    config = {"n_bias": 3, "detectors": [2]}
    failed = await run_bias(config, ObservatoryOptions(ocps=OcpsFaults(reject_execute=True)))
    assert failed.state == ScriptState.FAILED
    taken = [image.exposure_id for image in failed.observatory.images]
    resume = resume_config(failed.reason)
    assert resume == {"exposure_ids": taken[1:]}
    # Resuming needs no camera: it may be disabled meanwhile.
    run = await run_bias(
        {**config, **resume}, ObservatoryOptions(initial_states={"CCCamera": State.DISABLED})
    )
    assert run.state == ScriptState.DONE, run.reason
    assert run.observatory.images == []  # nothing taken again
    bias, verify = run.executes
    exposures = "(" + ", ".join(str(e) for e in taken[1:]) + ")"
    assert bias.data_query.endswith(f"exposure IN {exposures}")
    assert verify.data_query.endswith(f"exposure IN {exposures}")
    assert [c.detector for c in run.certifications()] == [2]
    report = run.report()
    assert report["exposures_taken"] == [] and report["exposures_combined"] == taken[1:]
    assert report["stages_completed"] == [
        "preflight",
        "cp_bias",
        "verify_bias",
        "judge",
        "certify",
        "summary",
    ]


@pytest.mark.slow
async def test_resume_from_bias_job(run_bias) -> None:
    config = {"n_bias": 3, "detectors": [6]}
    options = ObservatoryOptions(ocps=OcpsFaults(job_outcomes=[JobAction.RUN, JobAction.FAIL]))
    failed = await run_bias(config, options)
    assert failed.state == ScriptState.FAILED
    assert "verify_bias failed" in failed.reason
    bias_job = failed.executes[0].request.job_id
    resume = resume_config(failed.reason)
    assert resume["bias_job_id"] == bias_job
    run = await run_bias({**config, **resume})
    assert run.state == ScriptState.DONE, run.reason
    assert run.observatory.images == []
    (verify,) = run.executes  # no second cpBias
    assert verify.pipeline.endswith("verifyBias.yaml")
    assert verify.config.startswith(f"-j 1 -i u/ocps/{bias_job},")
    (cert,) = run.certifications()
    assert cert.detector == 6 and cert.run == f"u/ocps/{bias_job}/run"


async def test_sixty_biases_nine_detectors_no_event_lost(run_bias) -> None:
    """61 frames x 9 detectors: 540 expected imageInOODS events (+ other images'), none lost."""
    options = ObservatoryOptions(oods=OodsFaults(unrelated_images=1))
    run = await run_bias(
        {"n_bias": 60, "do_verify": False, "do_certify": False}, options, use_repo=False, runner="scripted"
    )
    assert run.state == ScriptState.DONE, run.reason
    images = [i.exposure_id for i in run.observatory.images]
    assert len(images) == 61
    report = run.script.ingest_report
    assert report.exposure_ids == images[1:]
    assert report.detectors == list(range(9))
    assert report.n_events == 540
    assert report.n_other_events >= 61 * 9  # the interleaved images of "other scripts"
    (execute,) = run.executes
    assert execute.data_query == (
        "instrument='LSSTComCam' AND detector IN (0, 1, 2, 3, 4, 5, 6, 7, 8) AND exposure IN ("
        + ", ".join(str(e) for e in images[1:])
        + ")"
    )
    assert f"bias in u/ocps/{execute.request.job_id} (not certified, as configured)" in run.reason
