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

"""Bias → dark → flat through the OCPS job runners, on a real butler repository.

One repository with 2 detectors × (3 biases, 2 darks of 30 s, 2 flats of
5 s in r_03), reduced geometry: the fewest frames that exercise every
quantum (the physics is tested on more frames in ``tests/cp``). The darks and flats find their bias (and
dark) in the earlier jobs' ``u/ocps/<job>`` collections, as upstream passes
them with ``-i``. The chain runs once with the in-process runner; the
integration test runs it again with the real ``pipetask``.
"""

import asyncio
import os

import astropy.time
import numpy as np
import pytest
from lsst.ts.calibscripts.sim.data import dataplane, frames, repo
from lsst.ts.calibscripts.sim.data.options import DataOptions
from lsst.ts.calibscripts.sim.interfaces import JobPhase
from lsst.ts.calibscripts.sim.runners.inprocess import InProcessRunner
from lsst.ts.calibscripts.sim.runners.pipetask import PipetaskRunner

from .conftest import make_request

# The chain through the runners is slow (the algorithms are tested fast in tests/cp); one worker
# runs this whole module, so its module fixture (the in-process chain) is built once.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("darkflat_chain")]

DETECTORS = (3, 4)
KINDS = {"BIAS": (3, 0.0), "DARK": (2, 30.0), "FLAT": (2, 5.0)}
PIPELINES = {
    "cpBias": "${CP_PIPE_DIR}/pipelines/LSSTComCam/cpBias.yaml",
    "cpDark": "${CP_PIPE_DIR}/pipelines/LSSTComCam/cpDark.yaml",
    "cpFlat": "${CP_PIPE_DIR}/pipelines/LSSTComCam/cpFlat.yaml",
    "verifyDark": "${CP_VERIFY_DIR}/pipelines/LSSTComCam/verifyDark.yaml",
    "verifyFlat": "${CP_VERIFY_DIR}/pipelines/LSSTComCam/verifyFlat.yaml",
}


@pytest.fixture(scope="session")
def chain_repo(tmp_path_factory) -> tuple[str, dict[str, list[int]]]:
    """Repository with the raws of the chain; returns it and the exposure ids per type."""
    path = repo.create_or_open_repo(tmp_path_factory.mktemp("darkflat") / "repo")
    images, ids = [], {}
    seq = 1
    for kind, (n, exp_time) in KINDS.items():
        ids[kind] = []
        for _ in range(n):
            images.append(
                frames.make_image_info(20261125, seq, detectors=DETECTORS, image_type=kind, exp_time=exp_time)
            )
            ids[kind].append(images[-1].exposure_id)
            seq += 1
    staging = os.path.join(os.path.dirname(path), "staging")
    dataplane.ingest_raws(path, frames.write_frames(staging, images, DataOptions()))
    return path, ids


def _query(exposures: list[int]) -> str:
    return (
        f"instrument='LSSTComCam' AND detector IN ({', '.join(map(str, DETECTORS))}) "
        f"AND exposure IN ({', '.join(map(str, exposures))})"
    )


async def _run_chain(runner, path: str, ids: dict[str, list[int]]) -> dict[str, str]:
    """cpBias → cpDark → verifyDark → cpFlat → verifyFlat; returns the job ids."""
    jobs: dict[str, str] = {}
    steps = (
        ("cpBias", "BIAS", []),
        ("cpDark", "DARK", ["cpBias"]),
        ("verifyDark", "DARK", ["cpDark", "cpBias"]),
        ("cpFlat", "FLAT", ["cpDark", "cpBias"]),
        ("verifyFlat", "FLAT", ["cpFlat", "cpDark", "cpBias"]),
    )
    for name, kind, inputs in steps:
        collections = ",".join([f"u/ocps/{jobs[i]}" for i in inputs] + ["LSSTComCam/calib"])
        request = make_request(
            path, PIPELINES[name], _query(ids[kind]), f"-j 8 -i {collections} --register-dataset-types"
        )
        outcome = await runner.run(request)
        assert outcome.phase is JobPhase.COMPLETED, f"{name}: {outcome.error_message}"
        jobs[name] = request.job_id
    return jobs


@pytest.fixture(scope="session")
def inprocess_jobs(chain_repo, tmp_path_factory) -> dict[str, str]:
    path, ids = chain_repo
    runner = InProcessRunner(path, str(tmp_path_factory.mktemp("ip_logs")))
    return asyncio.run(_run_chain(runner, path, ids))


def _products(path: str, jobs: dict[str, str]) -> dict:
    butler = repo.open_butler(path, writeable=False)
    try:
        out = {
            "verifyDarkStats": butler.get(
                "verifyDarkStats", instrument="LSSTComCam", collections=f"u/ocps/{jobs['verifyDark']}"
            ),
            "verifyFlatStats": butler.get(
                "verifyFlatStats",
                instrument="LSSTComCam",
                physical_filter="r_03",
                collections=f"u/ocps/{jobs['verifyFlat']}",
            ),
        }
        for det in DETECTORS:
            out[("dark", det)] = np.array(
                butler.get(
                    "dark", instrument="LSSTComCam", detector=det, collections=f"u/ocps/{jobs['cpDark']}"
                )["IMAGE"].data
            )
            out[("flat", det)] = np.array(
                butler.get(
                    "flat",
                    instrument="LSSTComCam",
                    detector=det,
                    physical_filter="r_03",
                    collections=f"u/ocps/{jobs['cpFlat']}",
                )["IMAGE"].data
            )
        flat_refs = butler.query_datasets("flat", collections=f"u/ocps/{jobs['cpFlat']}/run")
        out["flat_filters"] = sorted({ref.dataId["physical_filter"] for ref in flat_refs})
        return out
    finally:
        butler.close()


def test_chain_in_process_makes_verified_masters(chain_repo, inprocess_jobs) -> None:
    path, ids = chain_repo
    products = _products(path, inprocess_jobs)
    assert products["flat_filters"] == ["r_03"]
    for name, kind in (("verifyDarkStats", "DARK"), ("verifyFlatStats", "FLAT")):
        stats = products[name]
        assert stats["SUCCESS"] is True, stats
        assert sorted(k for k in stats if k != "SUCCESS") == ids[kind]
    for det in DETECTORS:
        assert 0.0 < np.median(products[("dark", det)]) < 0.05  # e-/s
        assert np.mean(products[("flat", det)]) == pytest.approx(1.0, abs=0.01)


def test_certify_chain_masters(chain_repo, inprocess_jobs) -> None:
    path, _ = chain_repo
    begin = astropy.time.Time("2026-11-26T00:00:00", scale="tai")
    end = astropy.time.Time("2027-11-26T00:00:00", scale="tai")
    collection = "LSSTComCam/calib/test_darkflat"
    for job, dataset_type in (("cpBias", "bias"), ("cpDark", "dark"), ("cpFlat", "flat")):
        refs = repo.certify_calibs(
            path, f"u/ocps/{inprocess_jobs[job]}/run", collection, dataset_type, begin, end
        )
        assert len(refs) == len(DETECTORS)
    when = astropy.time.Time("2027-01-01T00:00:00", scale="tai")
    for det in DETECTORS:
        flat = repo.find_certified_calib(
            path, "flat", det, when, physical_filter="r_03", collection=collection
        )
        assert flat is not None and flat.run == f"u/ocps/{inprocess_jobs['cpFlat']}/run"


@pytest.mark.integration
async def test_chain_with_pipetask_matches_in_process(chain_repo, inprocess_jobs, tmp_path) -> None:
    path, ids = chain_repo
    jobs = await _run_chain(PipetaskRunner(path, str(tmp_path / "pt_logs")), path, ids)
    pipetask, inprocess = _products(path, jobs), _products(path, inprocess_jobs)
    assert pipetask["verifyDarkStats"] == inprocess["verifyDarkStats"]
    assert pipetask["verifyFlatStats"] == inprocess["verifyFlatStats"]
    for det in DETECTORS:
        np.testing.assert_array_equal(pipetask[("dark", det)], inprocess[("dark", det)])
        np.testing.assert_array_equal(pipetask[("flat", det)], inprocess[("flat", det)])
