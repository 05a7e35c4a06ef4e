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

"""Integration tests of the pipetask OCPS job runner (real ``pipetask`` subprocesses)."""

import asyncio

import numpy as np
import pytest
from astropy.io import fits
from lsst.ts.calibscripts.sim.interfaces import JobPhase
from lsst.ts.calibscripts.sim.runners.inprocess import InProcessRunner
from lsst.ts.calibscripts.sim.runners.pipetask import PipetaskRunner

from .conftest import make_request

pytestmark = pytest.mark.integration

CP_BIAS = "${CP_PIPE_DIR}/pipelines/LSSTComCam/cpBias.yaml"
VERIFY_BIAS = "${CP_VERIFY_DIR}/pipelines/LSSTComCam/verifyBias.yaml"
QUERY = (
    "instrument='LSSTComCam' AND detector IN (0, 1) "
    "AND exposure IN (2026112500001, 2026112500002, 2026112500003)"
)


async def _bias_and_verify(runner, repo: str) -> tuple[str, str]:
    calib = make_request(repo, CP_BIAS, QUERY, "-j 8 -i LSSTComCam/calib --register-dataset-types ")
    outcome = await runner.run(calib)
    assert outcome.phase is JobPhase.COMPLETED, outcome.error_message
    check = make_request(
        repo, VERIFY_BIAS, QUERY, f"-j 8 -i u/ocps/{calib.job_id},LSSTComCam/calib --register-dataset-types"
    )
    outcome = await runner.run(check)
    assert outcome.phase is JobPhase.COMPLETED, outcome.error_message
    return calib.job_id, check.job_id


def _run_contents(butler, job_id: str) -> set[tuple[str, tuple]]:
    refs = butler.registry.queryDatasets(..., collections=f"u/ocps/{job_id}/run")
    return {(ref.datasetType.name, tuple(sorted(ref.dataId.required.items()))) for ref in refs}


def _chain(butler, job_id: str, other: str) -> list[str]:
    chain = butler.registry.getCollectionChain(f"u/ocps/{job_id}")
    return [c.replace(job_id, "<job>").replace(other, "<calib>") for c in chain]


@pytest.mark.slow
async def test_pipetask_and_inprocess_make_the_same_datasets(small_repo, tmp_path) -> None:
    from lsst.daf.butler import Butler

    pipetask_jobs = await _bias_and_verify(PipetaskRunner(small_repo, str(tmp_path / "pt")), small_repo)
    inprocess_jobs = await _bias_and_verify(InProcessRunner(small_repo, str(tmp_path / "ip")), small_repo)
    butler = Butler.from_config(small_repo)
    try:
        for pt_job, ip_job, product in zip(pipetask_jobs, inprocess_jobs, ("bias", "verifyBiasStats")):
            pt_contents = _run_contents(butler, pt_job)
            assert pt_contents == _run_contents(butler, ip_job)
            assert product in {name for name, _ in pt_contents}
        assert _chain(butler, pipetask_jobs[1], pipetask_jobs[0]) == _chain(
            butler, inprocess_jobs[1], inprocess_jobs[0]
        )
        stats = [
            butler.get("verifyBiasStats", instrument="LSSTComCam", collections=f"u/ocps/{job}")
            for job in (pipetask_jobs[1], inprocess_jobs[1])
        ]
        assert stats[0] == stats[1] and stats[0]["SUCCESS"] is True
        for detector in (0, 1):
            pixels = []
            for job in (pipetask_jobs[0], inprocess_jobs[0]):
                uri = butler.getURI(
                    "bias", instrument="LSSTComCam", detector=detector, collections=f"u/ocps/{job}"
                )
                with fits.open(uri.ospath) as hdul:
                    pixels.append(np.array(hdul["IMAGE"].data))
            np.testing.assert_array_equal(pixels[0], pixels[1])
    finally:
        butler.close()


@pytest.mark.slow  # each case a pipetask process
@pytest.mark.parametrize(
    "query, text",
    [
        (
            QUERY.replace("2026112500003)", "2026112500003,)"),
            "lsst.daf.butler._exceptions.InvalidQueryError: Failed to parse expression",
        ),
        (
            "instrument='LSSTComCam' AND detector IN (0) AND exposure IN (2026112599999)",
            "Error: QuantumGraph was empty; ERROR logs above should provide details.",
        ),
    ],
)
async def test_error_text_in_outcome(small_repo, tmp_path, query, text) -> None:
    runner = PipetaskRunner(small_repo, str(tmp_path / "logs"))
    request = make_request(small_repo, CP_BIAS, query)
    outcome = await runner.run(request)
    assert outcome.phase is JobPhase.ERROR
    assert text in outcome.error_message
    with open(outcome.log_path) as f:
        assert text in f.read()
    # The in-process runner gives the same outcome for the same request.
    same = await InProcessRunner(small_repo, str(tmp_path / "ip")).run(request)
    assert same.phase is JobPhase.ERROR and text in same.error_message


@pytest.mark.slow  # a pipetask process
async def test_cancel_kills_pipetask(small_repo, tmp_path) -> None:
    psutil = pytest.importorskip("psutil")
    runner = PipetaskRunner(small_repo, str(tmp_path / "logs"), terminate_timeout=2.0)
    task = asyncio.create_task(runner.run(make_request(small_repo, CP_BIAS, QUERY)))
    me = psutil.Process()
    for _ in range(500):
        if me.children(recursive=True):
            break
        await asyncio.sleep(0.01)
    children = me.children(recursive=True)
    assert children, "pipetask did not start"
    await asyncio.sleep(0.3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    gone, alive = psutil.wait_procs(children, timeout=5)
    assert alive == []
