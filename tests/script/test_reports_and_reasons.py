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

"""MakeComCamBias: what the reason, the summary and the report tell the operator."""

import os

import yaml
from lsst.ts.calibscripts.calib import butler_ops, ocps
from lsst.ts.calibscripts.sal import ScriptState
from lsst.ts.calibscripts.sim import ObservatoryOptions, OodsFaults

NO_JOBS_CHECKED = {"n_bias": 2, "detectors": [0, 1], "do_verify": False, "do_certify": False}


def output_is_in_repo(*args: object, **kwargs: object) -> None:
    """Stand-in for the repository check of the bias job's output (no repository here)."""


def repo_opens(*args: object, **kwargs: object) -> None:
    """Stand-in for the preflight check that repo opens as a butler repository (no repository here)."""


async def test_unexpected_error_reason_names_stage_type_and_message(run_bias, monkeypatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise KeyError("no such key")

    monkeypatch.setattr(butler_ops, "read_verify_stats", broken)
    monkeypatch.setattr(ocps, "check_output_in_repo", output_is_in_repo)
    monkeypatch.setattr(butler_ops, "check_repo", repo_opens)
    run = await run_bias({"n_bias": 2, "n_verify_bias": 1, "detectors": [0]}, use_repo=False)
    assert run.state == ScriptState.FAILED
    first_line = run.reason.splitlines()[0]
    assert first_line == "Error in run: judge failed: unexpected KeyError: 'no such key'", run.reason
    assert "Traceback" not in run.reason
    assert "already done: 4 bias(es) taken" in run.reason
    assert run.script.summary.failed_stage == "judge"


async def test_verification_failure_without_certify_does_not_suggest_certifying(
    run_bias, monkeypatch
) -> None:
    def failing_stats(repo: str, collections: list[str]) -> dict:
        verify = run_bias_script[0].summary.exposures_verify
        stats: dict = {e: {"SUCCESS": False, "FAILURES": ["R22_S00 C00 NOISE"] * 20} for e in verify}
        stats["SUCCESS"] = False
        return stats

    run_bias_script: list = []

    async def keep(run) -> None:
        run_bias_script.append(run.script)

    monkeypatch.setattr(butler_ops, "read_verify_stats", failing_stats)
    monkeypatch.setattr(ocps, "check_output_in_repo", output_is_in_repo)
    monkeypatch.setattr(butler_ops, "check_repo", repo_opens)
    run = await run_bias(
        {"n_bias": 2, "n_verify_bias": 1, "detectors": [0], "do_certify": False},
        use_repo=False,
        during=keep,
    )
    assert run.state == ScriptState.FAILED
    assert "judge failed: the master bias failed verification" in run.reason
    assert "not certified, as configured (do_certify: false)" in run.reason
    assert "certify_on_verification_failure" not in run.reason


async def test_discarded_frame_ingest_failure_is_a_summary_warning(run_bias) -> None:
    """The discarded frame is not waited for; its failed ingestion is reported, not fatal."""
    options = ObservatoryOptions(oods=OodsFaults(status_codes={(1, 0): 1}))
    run = await run_bias(NO_JOBS_CHECKED, options, use_repo=False)
    assert run.state == ScriptState.DONE, run.reason
    discarded = run.observatory.images[0]
    problems = run.report()["ingest_problems"]
    assert len(problems) == 1, problems
    assert problems[0].startswith("discarded frame (not used) failed ingestion: ")
    assert discarded.obs_id in problems[0] and "R22_S00" in problems[0]
    assert f"ingest: {problems[0]}" in run.script.summary.to_text()


async def test_report_in_home_folder_and_every_path_is_given(run_bias, monkeypatch, tmp_path) -> None:
    """report_dir "~/calib_reports" (the default) is the user's, not the working directory."""
    home, workdir = tmp_path / "home", tmp_path / "workdir"
    workdir.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(workdir)
    run = await run_bias({**NO_JOBS_CHECKED, "report_dir": "~/calib_reports"}, use_repo=False)
    assert run.state == ScriptState.DONE, run.reason
    assert os.listdir(workdir) == []
    folder = home / "calib_reports"
    summary = run.script.summary
    assert summary.report_path is not None
    assert os.path.dirname(summary.report_path) == str(folder)
    assert run.reason.endswith(f"; report: {summary.report_path}")
    assert summary.report_files[0] == summary.report_path
    assert sorted(os.listdir(folder)) == sorted(os.path.basename(p) for p in summary.report_files)
    with open(summary.report_path) as stream:
        assert yaml.safe_load(stream)["report_files"] == summary.report_files


async def test_failure_reason_ends_with_the_report_path(run_bias, monkeypatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise butler_ops.VerifyStatsNotFound("no verifyBiasStats")

    monkeypatch.setattr(butler_ops, "read_verify_stats", broken)
    monkeypatch.setattr(ocps, "check_output_in_repo", output_is_in_repo)
    monkeypatch.setattr(butler_ops, "check_repo", repo_opens)
    run = await run_bias({"n_bias": 2, "n_verify_bias": 1, "detectors": [0]}, use_repo=False)
    assert run.state == ScriptState.FAILED
    summary = run.script.summary
    assert run.reason.splitlines()[-1] == f"Report: {summary.report_path}"
    assert os.path.exists(summary.report_path)
