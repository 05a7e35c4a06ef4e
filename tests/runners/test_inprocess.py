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

"""Tests of the in-process OCPS job runner."""

import asyncio
import os

import pytest
from astropy.io import fits
from lsst.ts.calibscripts.sim.interfaces import JobPhase, JobRunner
from lsst.ts.calibscripts.sim.runners.inprocess import InProcessRunner

from .conftest import make_request

CP_BIAS = "${CP_PIPE_DIR}/pipelines/LSSTComCam/cpBias.yaml"
VERIFY_BIAS = "${CP_VERIFY_DIR}/pipelines/LSSTComCam/verifyBias.yaml"
QUERY = (
    "instrument='LSSTComCam' AND detector IN (0, 1) "
    "AND exposure IN (2026112500001, 2026112500002, 2026112500003)"
)


def _collections_of(repo: str, job_id: str) -> list[str]:
    from lsst.daf.butler import Butler

    butler = Butler.from_config(repo)
    try:
        return list(butler.collections.query(f"u/ocps/{job_id}*"))
    finally:
        butler.close()


@pytest.mark.slow
async def test_cp_bias_then_verify(small_repo, tmp_path) -> None:
    from lsst.daf.butler import Butler

    runner = InProcessRunner(small_repo, str(tmp_path / "logs"))
    assert isinstance(runner, JobRunner)
    calib = make_request(small_repo, CP_BIAS, QUERY, "-j 8 -i LSSTComCam/calib --register-dataset-types ")
    outcome = await runner.run(calib)
    assert outcome.phase is JobPhase.COMPLETED, outcome.error_message
    assert outcome.error_message == ""
    # The job's log is ocps.log in its output directory, as on the OCPS back end.
    assert outcome.log_path == str(tmp_path / "logs" / calib.job_id / "out" / "ocps.log")
    assert os.path.isfile(outcome.log_path)
    bias_files = [r for r in outcome.results if r["id"].startswith("bias_")]
    assert len(bias_files) == 2 and all(r["uri"].startswith("file://") for r in bias_files)

    check = make_request(
        small_repo,
        VERIFY_BIAS,
        QUERY,
        f"-j 8 -i u/ocps/{calib.job_id},LSSTComCam/calib --register-dataset-types",
    )
    outcome = await runner.run(check)
    assert outcome.phase is JobPhase.COMPLETED, outcome.error_message

    butler = Butler.from_config(small_repo, collections=[f"u/ocps/{check.job_id}", f"u/ocps/{calib.job_id}"])
    try:
        assert butler.registry.getCollectionChain(f"u/ocps/{calib.job_id}") == (
            f"u/ocps/{calib.job_id}/run",
            "LSSTComCam/raw/all",
            "LSSTComCam/calib/unbounded",
        )
        assert butler.registry.getCollectionChain(f"u/ocps/{check.job_id}") == (
            f"u/ocps/{check.job_id}/run",
            "LSSTComCam/raw/all",
            f"u/ocps/{calib.job_id}/run",
            "LSSTComCam/calib/unbounded",
        )
        stats = butler.get("verifyBiasStats", instrument="LSSTComCam")
        assert stats == {
            2026112500001: {"SUCCESS": True},
            2026112500002: {"SUCCESS": True},
            2026112500003: {"SUCCESS": True},
            "SUCCESS": True,
        }
        table = butler.get("verifyBiasResults", instrument="LSSTComCam")
        assert len(table) == 3 * 2 * 16
        assert set(table["exposure"]) == {2026112500001, 2026112500002, 2026112500003}
        assert bool(table["BIAS_VERIFY_SUCCESS"].all())
        exp_stats = butler.get("verifyBiasExpStats", instrument="LSSTComCam", exposure=2026112500002)
        assert exp_stats == {"R22_S00": {"SUCCESS": True}, "R22_S01": {"SUCCESS": True}, "SUCCESS": True}
        # One reader for real and simulated masters: pixels in HDU 1 "IMAGE".
        uri = butler.getURI("bias", instrument="LSSTComCam", detector=1, collections=f"u/ocps/{calib.job_id}")
        with fits.open(uri.ospath) as hdul:
            assert hdul[1].name == "IMAGE" and hdul[1].data.shape == (400, 408)
            assert hdul[0].header["OBSTYPE"] == "bias"
    finally:
        butler.close()


@pytest.mark.slow
@pytest.mark.parametrize(
    "query, config, texts",
    [
        (
            QUERY.replace("2026112500003)", "2026112500003,)"),
            "--register-dataset-types",
            ["lsst.daf.butler._exceptions.InvalidQueryError: Failed to parse expression"],
        ),
        (
            "instrument='LSSTComCam' AND detector IN (0) AND exposure IN (2026112599999)",
            "--register-dataset-types",
            [
                "Initial data ID query returned no rows, so QuantumGraph will be empty.",
                "Error: QuantumGraph was empty; ERROR logs above should provide details.",
            ],
        ),
        (QUERY, "--register-dataset-types --frobnicate", ["Error: No such option: --frobnicate"]),
        (
            QUERY,
            "-i LSSTComCam/nowhere",
            ["MissingCollectionError: No collection with name 'LSSTComCam/nowhere'"],
        ),
    ],
)
async def test_errors_leave_no_collections(small_repo, tmp_path, query, config, texts) -> None:
    runner = InProcessRunner(small_repo, str(tmp_path / "logs"))
    request = make_request(small_repo, CP_BIAS, query, config)
    outcome = await runner.run(request)
    assert outcome.phase is JobPhase.ERROR
    for text in texts:
        assert text in outcome.error_message
    assert outcome.results == []
    assert _collections_of(small_repo, request.job_id) == []


async def test_undefined_pipeline_variable(small_repo, tmp_path) -> None:
    runner = InProcessRunner(small_repo, str(tmp_path / "logs"), env={})
    outcome = await runner.run(make_request(small_repo, CP_BIAS, QUERY))
    assert outcome.phase is JobPhase.ERROR
    assert "CP_PIPE_DIR" in outcome.error_message


@pytest.mark.slow
async def test_cancel_stops_between_quanta(small_repo, tmp_path) -> None:
    from lsst.daf.butler import Butler

    runner = InProcessRunner(small_repo, str(tmp_path / "logs"))
    request = make_request(small_repo, CP_BIAS, QUERY)
    task = asyncio.create_task(runner.run(request))
    log_path = tmp_path / "logs" / request.job_id / "out" / "ocps.log"
    for _ in range(3000):
        if log_path.exists() and "QuantumGraph contains" in log_path.read_text():
            break
        await asyncio.sleep(0.005)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    butler = Butler.from_config(small_repo)
    try:
        run = f"u/ocps/{request.job_id}/run"
        biases = list(butler.registry.queryDatasets("bias", collections=run))
        isr_exps = list(butler.registry.queryDatasets("cpBiasIsrExp", collections=run))
        # Not every quantum ran; the outputs of those that did are in the repository.
        assert 0 < len(biases) + len(isr_exps) < 8
    finally:
        butler.close()
    assert "cancelled between quanta" in log_path.read_text()
    # The repository is still usable.
    outcome = await runner.run(make_request(small_repo, CP_BIAS, QUERY))
    assert outcome.phase is JobPhase.COMPLETED, outcome.error_message


@pytest.mark.slow
async def test_failed_quantum_leaves_the_outputs_of_those_before(small_repo, tmp_path, monkeypatch) -> None:
    """As after ``pipetask run``: a job ends in error, with what ran before the failure in its RUN."""
    from lsst.daf.butler import Butler
    from lsst.ts.calibscripts.sim.cp import tasks

    def fail(self, *args, **kwargs):
        raise RuntimeError("combine broke")

    monkeypatch.setattr(tasks.CpBiasCombineTask, "run", fail)
    request = make_request(small_repo, CP_BIAS, QUERY)
    outcome = await InProcessRunner(small_repo, str(tmp_path / "logs")).run(request)
    assert outcome.phase is JobPhase.ERROR
    assert "combine broke" in outcome.error_message
    butler = Butler.from_config(small_repo)
    try:
        run = f"u/ocps/{request.job_id}/run"
        isr_exps = list(butler.registry.queryDatasets("cpBiasIsrExp", collections=run))
        assert 3 <= len(isr_exps) <= 6  # at least one detector's 3 exposures, before its combine
        assert all(butler.getURI(ref).exists() for ref in isr_exps)
        assert list(butler.registry.queryDatasets("bias", collections=run)) == []
        assert butler.get("cpBiasIsrExp", isr_exps[0].dataId, collections=run) is not None
    finally:
        butler.close()


async def test_default_log_folder_and_missing_repository(small_repo) -> None:
    runner = InProcessRunner()
    outcome = await runner.run(
        make_request(small_repo, CP_BIAS, "instrument='LSSTComCam' AND exposure IN (1,)")
    )
    assert outcome.phase is JobPhase.ERROR
    # The job's ocps.log, in its output directory under <repo>_ocps_logs.
    request_dir = os.path.dirname(os.path.dirname(outcome.log_path))
    assert os.path.basename(outcome.log_path) == "ocps.log"
    assert os.path.dirname(request_dir) == os.path.normpath(small_repo) + "_ocps_logs"
    outcome = await runner.run(make_request("", CP_BIAS, QUERY))
    assert outcome.phase is JobPhase.ERROR
    assert "No butler repository" in outcome.error_message


@pytest.mark.slow
async def test_config_overrides_reach_the_tasks(small_repo, tmp_path) -> None:
    from lsst.daf.butler import Butler

    runner = InProcessRunner(small_repo, str(tmp_path / "logs"))
    query = "instrument='LSSTComCam' AND detector IN (0) AND exposure IN (2026112500001, 2026112500002)"
    request = make_request(
        small_repo,
        CP_BIAS,
        query,
        "-c cpBiasIsr:doDither=False -c cpBiasCombine:nIter=5 --register-dataset-types",
    )
    outcome = await runner.run(request)
    assert outcome.phase is JobPhase.COMPLETED, outcome.error_message
    butler = Butler.from_config(small_repo, collections=f"u/ocps/{request.job_id}")
    try:
        assert butler.get("cpBiasIsr_config").doDither is False
        assert butler.get("cpBiasCombine_config").nIter == 5
    finally:
        butler.close()
    bad = await runner.run(make_request(small_repo, CP_BIAS, query, "-c cpBiasIsr:noSuchField=1"))
    assert bad.phase is JobPhase.ERROR
    assert "has no attribute noSuchField" in bad.error_message


def test_package_versions_found_once_per_set_of_imported_packages(monkeypatch) -> None:
    import sys
    import types

    from lsst.ts.calibscripts.sim.runners import inprocess
    from lsst.utils.packages import Packages

    calls = []
    monkeypatch.setattr(Packages, "fromSystem", classmethod(lambda cls: calls.append(1) or object()))
    monkeypatch.setattr(inprocess, "_packages_cache", {})
    first = inprocess._system_packages()
    assert inprocess._system_packages() is first and len(calls) == 1
    # A package imported since: found again.
    monkeypatch.setitem(sys.modules, "calibscripts_test_new_package", types.ModuleType("x"))
    assert inprocess._system_packages() is not first and len(calls) == 2
