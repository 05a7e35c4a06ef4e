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

"""Tests of bias.summary."""

import os

import yaml
from lsst.ts.calibscripts.calib.butler_ops import CertificationResult, CertifiedBias
from lsst.ts.calibscripts.calib.stages import Stage
from lsst.ts.calibscripts.calib.summary import JobRecord, Outcome, RunSummary, report_file_name
from lsst.ts.calibscripts.calib.verification import judge_verify_stats

IDS = [2026112500001 + i for i in range(5)]


def make_summary() -> RunSummary:
    summary = RunSummary(
        salindex=3,
        group_id="2026-11-25T12:00:00.000",
        repo="repo",
        detectors=[0, 4],
        calib_collection="LSSTComCam/calib/daily",
        started="2026-11-25T12:00:00.000",
    )
    summary.mark_done(Stage.PREFLIGHT)
    summary.exposures_taken = IDS
    summary.exposures_combined = IDS
    summary.exposures_verify = IDS
    summary.mark_done(Stage.TAKE_BIASES)
    summary.mark_done(Stage.TAKE_BIASES)
    return summary


def test_failure_text_says_what_was_done() -> None:
    summary = make_summary()
    summary.mark_done(Stage.WAIT_INGEST)
    summary.add_job(JobRecord(name="cp_bias", job_id="abc", exit_code=0, output_collection="u/ocps/abc"))
    summary.add_job(JobRecord(name="verify_bias", job_id="def", exit_code=1, error="pipetask failed"))
    summary.finish(Outcome.FAILED, "verifyBias job def failed", Stage.VERIFY_BIAS)
    done = summary.what_was_done()
    assert "5 bias(es) taken (2026112500001..2026112500005)" in done
    assert "the 5 exposure(s) used ingested" in done
    assert "cp_bias job abc completed -> u/ocps/abc" in done
    assert "verify_bias job def failed (exit_code 1): pipetask failed" in done
    assert done.endswith("nothing certified")
    text = summary.to_text()
    assert text.startswith("MakeComCamBias summary: FAILED — verifyBias job def failed")
    assert "failed at: verify_bias" in text
    assert summary.stages_completed == ["preflight", "take_biases", "wait_ingest"]


def test_failure_text_counts_every_frame_and_says_what_was_ingested() -> None:
    """Taken counts the discarded frame too; ingested names only the frames waited for."""
    summary = make_summary()
    summary.exposures_discarded = IDS[:1]
    summary.exposures_combined = IDS[1:4]
    summary.exposures_verify = IDS[4:]
    summary.mark_done(Stage.WAIT_INGEST)
    done = summary.what_was_done()
    assert "5 bias(es) taken (2026112500001..2026112500005), 1 of them discarded" in done
    assert "the 4 exposure(s) used ingested (discarded frames not awaited)" in done
    assert "all ingested" not in done


def test_report_files_are_full_paths_listed_in_the_yaml(tmp_path: os.PathLike, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    summary = make_summary()
    planned = summary.plan_report("reports")
    assert os.path.isabs(planned) and not os.path.exists(planned)
    picture = os.path.join(os.path.dirname(planned), "picture.png")
    summary.report_files.append(picture)
    path = summary.write("reports")
    assert path == planned
    assert summary.report_files == [path, picture]
    with open(path) as stream:
        assert yaml.safe_load(stream)["report_files"] == [path, picture]
    assert f"report files: {path}, {picture}" in summary.to_text()


def test_report_file_not_listed_when_it_cannot_be_written(tmp_path: os.PathLike) -> None:
    blocker = os.path.join(tmp_path, "file")
    with open(blocker, "w"):
        pass
    summary = make_summary()
    try:
        summary.write(os.path.join(blocker, "reports"))
    except OSError:
        pass
    else:
        raise AssertionError("writing under a file must fail")
    assert summary.report_files == []


def test_nothing_taken() -> None:
    summary = RunSummary()
    summary.finish(Outcome.FAILED, "CCOODS is DISABLED", Stage.PREFLIGHT)
    assert summary.what_was_done() == "already done: no bias taken; nothing certified"


def test_done_report_round_trips_through_yaml(tmp_path: os.PathLike) -> None:
    summary = make_summary()
    for stage in (Stage.WAIT_INGEST, Stage.CP_BIAS, Stage.VERIFY_BIAS):
        summary.mark_done(stage)
    summary.add_job(JobRecord(name="cp_bias", job_id="abc", exit_code=0, output_collection="u/ocps/abc"))
    stats = {i: {"SUCCESS": True} for i in IDS}
    stats[IDS[2]] = {"SUCCESS": False, "FAILURES": ["R22_S11 C10 NOISE"]}
    stats["SUCCESS"] = False
    summary.set_verdict(judge_verify_stats(stats, n_detectors=2))
    summary.set_certification(
        CertificationResult(
            calib_collection="LSSTComCam/calib/daily",
            source_run="u/ocps/abc/run",
            dataset_type="bias",
            begin="2026-11-25T00:00:00.000",
            end="+inf",
            certified=[CertifiedBias(4, "id4", "u/ocps/abc/run")],
            already_certified=[CertifiedBias(0, "id0", "u/ocps/abc/run")],
            superseded=[],
            collection_created=True,
        )
    )
    summary.mark_done(Stage.CERTIFY)
    summary.finish(Outcome.DONE, finished="2026-11-25T12:10:00.000")
    old_umask = os.umask(0o022)
    try:
        path = summary.write(os.path.join(tmp_path, "reports"))
    finally:
        os.umask(old_umask)
    # Readable by other operators, not private like a temporary file.
    assert os.stat(path).st_mode & 0o777 == 0o644
    assert os.path.basename(path) == "MakeComCamBias_20261125T120000_3.yaml"
    assert summary.report_path == path
    with open(path) as stream:
        loaded = yaml.safe_load(stream)
    assert loaded["outcome"] == "done"
    assert loaded["exposures_taken"] == IDS
    assert loaded["certified_detectors"] == [0, 4]
    assert loaded["verdict"]["outcome"] == "passed_with_failures"
    assert loaded["verdict"]["failures_per_amp"] == {"R22_S11 C10": {"NOISE": 1}}
    assert loaded["jobs"][0]["job_id"] == "abc"
    assert loaded["stages_completed"][-1] == "certify"
    assert [f for f in os.listdir(os.path.dirname(path)) if f.startswith(".report-")] == []
    text = summary.to_text()
    assert "Verification passed with failures" in text
    assert "Certified bias for detector(s) [0, 4] from u/ocps/abc/run" in text
    assert "certified detector(s) [0, 4] in LSSTComCam/calib/daily" in summary.what_was_done()


def test_add_job_replaces_by_name() -> None:
    summary = RunSummary()
    summary.add_job(JobRecord(name="cp_bias", job_id="a"))
    summary.add_job(JobRecord(name="cp_bias", job_id="b", exit_code=0))
    assert [j.job_id for j in summary.jobs] == ["b"]
    assert summary.job("cp_bias").succeeded  # type: ignore[union-attr]
    assert summary.job("verify_bias") is None
    assert JobRecord(name="x", job_id="j").describe() == "x job j unfinished"
    assert JobRecord(name="x", job_id="j", aborted=True).describe() == "x job j aborted"


def test_report_file_name() -> None:
    assert report_file_name("S", "", None) == "S_unknown.yaml"
    assert report_file_name("S", "2026-11-25T12:00:00.123", 5) == "S_20261125T120000_5.yaml"
