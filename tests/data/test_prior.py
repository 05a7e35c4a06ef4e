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

"""The prior calibrations of a simulated repository: made once, from frames of a past night."""

import asyncio

import astropy.time
import pytest
from lsst.ts.calibscripts.cameras import COMCAM, LATISS
from lsst.ts.calibscripts.sim.cp import pipeline_env
from lsst.ts.calibscripts.sim.data import dataplane, frames, prior, repo
from lsst.ts.calibscripts.sim.data.options import DataOptions
from lsst.ts.calibscripts.sim.interfaces import JobOutcome, JobPhase
from lsst.ts.calibscripts.sim.runners.inprocess import InProcessRunner

# Runs the stand-in cpBias, cpDark and cpFlat in process (about 10 s of CPU in all).
pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def pipeline_folders(monkeypatch) -> None:
    """``CP_PIPE_DIR`` in the environment, as the simulated observatory sets it: a pipeline's
    imports (LATISS's) are expanded from ``os.environ``."""
    for key, value in pipeline_env().items():
        monkeypatch.setenv(key, value)


WHEN = [astropy.time.Time(t, scale="tai") for t in ("2026-12-01T03:00:00", "2099-06-01T00:00:00")]


def _certified(path: str, dataset_type: str, detector: int, physical_filter: str | None = None) -> list:
    """The run of the calibration found through ``LSSTComCam/calib`` at each time of `WHEN`."""
    refs = [
        repo.find_certified_calib(path, dataset_type, detector, t, physical_filter=physical_filter)
        for t in WHEN
    ]
    return [None if ref is None else ref.run for ref in refs]


def _prior_exposures(path: str) -> list[int]:
    butler = repo.open_butler(path, writeable=False)
    try:
        records = butler.registry.queryDimensionRecords(
            "exposure", instrument="LSSTComCam", where=f"exposure.day_obs = {prior.PRIOR_DAY_OBS}"
        )
        return sorted(int(record.seq_num) for record in records)
    finally:
        butler.close()


def test_seeding_makes_what_is_missing_and_certifies_it_for_all_times(tmp_path) -> None:
    path = str(tmp_path / "repo")
    logs = str(tmp_path / "logs")
    first = asyncio.run(
        prior.seed_prior_calibrations(
            path, COMCAM, physical_filters=["g_01"], detectors=[0], log_dir=logs, n_frames=2
        )
    )
    assert first.collection == "LSSTComCam/calib/unbounded"
    assert list(first.made) == ["bias", "dark", "flat:g_01"] and first.present == ()
    assert first.detectors == {"bias": [0], "dark": [0], "flat:g_01": [0]}
    assert _certified(path, "bias", 0) == [first.made["bias"]] * 2
    assert _certified(path, "dark", 0) == [first.made["dark"]] * 2
    assert _certified(path, "flat", 0, "g_01") == [first.made["flat:g_01"]] * 2
    assert _certified(path, "flat", 0, "r_03") == [None, None]
    assert _certified(path, "bias", 1) == [None, None]
    # Numbered far from a run's frames, whose noise would otherwise be the same.
    assert _prior_exposures(path) == list(range(90001, 90007))

    # Only the raws' and the jobs' per-exposure products are gone; the masters stay.
    butler = repo.open_butler(path, writeable=False)
    try:
        for key, run in first.made.items():
            names = {ref.datasetType.name for ref in butler.registry.queryDatasets(..., collections=run)}
            assert names == {key.partition(":")[0]}
        assert not list(butler.registry.queryDatasets("raw", collections="LSSTComCam/raw/all"))
    finally:
        butler.close()

    # Again with one more detector and filter: only what lacks is made; the numbering goes on.
    second = asyncio.run(
        prior.seed_prior_calibrations(
            path, COMCAM, physical_filters=["g_01", "r_03"], detectors=[0, 1], log_dir=logs, n_frames=2
        )
    )
    assert second.detectors == {"bias": [1], "dark": [1], "flat:g_01": [1], "flat:r_03": [0, 1]}
    assert second.present == ()
    assert "bias (detector(s) [1])" in second.describe()
    assert _certified(path, "bias", 0) == [first.made["bias"]] * 2
    assert _certified(path, "bias", 1) == [second.made["bias"]] * 2
    for detector in (0, 1):
        assert _certified(path, "flat", detector, "r_03") == [second.made["flat:r_03"]] * 2
    assert _prior_exposures(path) == list(range(90001, 90015))

    third = asyncio.run(
        prior.seed_prior_calibrations(
            path, COMCAM, physical_filters=["r_03"], detectors=[0, 1], log_dir=logs, n_frames=2
        )
    )
    assert third.made == {} and third.present == ("bias", "dark", "flat:r_03")
    assert "made none" in third.describe()


def _raws(path: str, instrument: str = "LSSTComCam") -> list:
    butler = repo.open_butler(path, writeable=False)
    try:
        return list(butler.registry.queryDatasets("raw", collections=f"{instrument}/raw/all"))
    finally:
        butler.close()


@pytest.fixture
def failing_jobs(monkeypatch) -> list:
    """Every in-process job fails at once; returns the list of their requests."""
    requests = []

    async def failing_run(self, request):
        requests.append(request)
        return JobOutcome(phase=JobPhase.ERROR, error_message="cpBias crashed", log_path="/x/ocps.log")

    monkeypatch.setattr(InProcessRunner, "run", failing_run)
    return requests


def test_a_failed_job_is_named_nothing_is_certified_and_its_frames_are_removed(
    tmp_path, failing_jobs
) -> None:
    requests = failing_jobs
    path = str(tmp_path / "repo")
    with pytest.raises(
        prior.PriorCalibrationError, match=r"The prior bias of LSSTComCam could not be made: job \w+ failed "
    ):
        asyncio.run(prior.seed_prior_calibrations(path, COMCAM, detectors=[0], n_frames=2))
    assert len(requests) == 1 and requests[0].default_input == "LSSTComCam/raw/all"
    assert _certified(path, "bias", 0) == [None, None]
    assert _raws(path) == []


def test_frames_left_by_an_interrupted_seeding_are_removed(tmp_path, failing_jobs) -> None:
    requests = failing_jobs
    path = repo.create_or_open_repo(tmp_path / "repo")
    images = [frames.make_image_info(prior.PRIOR_DAY_OBS, 90001, detectors=(0,))]
    dataplane.ingest_raws(path, frames.write_frames(tmp_path / "staging", images, DataOptions()))
    assert len(_raws(path)) == 1
    with pytest.raises(prior.PriorCalibrationError):
        asyncio.run(prior.seed_prior_calibrations(path, COMCAM, detectors=[0], n_frames=2))
    assert _raws(path) == []
    # The numbering went on after the frame that was there.
    assert requests[0].data_query.endswith("exposure IN (2000010190002, 2000010190003)")


def test_latiss_flats_of_filter_and_grating(tmp_path) -> None:
    path = str(tmp_path / "repo")
    done = asyncio.run(
        prior.seed_prior_calibrations(path, LATISS, physical_filters=["SDSSg_65mm~empty"], n_frames=2)
    )
    assert done.collection == "LATISS/calib/unbounded"
    assert done.detectors == {"bias": [0], "dark": [0], "flat:SDSSg_65mm~empty": [0]}
    assert _raws(path, "LATISS") == []
    butler = repo.open_butler(path, writeable=False)
    try:
        flats = list(
            butler.registry.queryDatasets("flat", collections="LATISS/calib/unbounded", findFirst=False)
        )
    finally:
        butler.close()
    assert [(ref.dataId["detector"], ref.dataId["physical_filter"]) for ref in flats] == [
        (0, "SDSSg_65mm~empty")
    ]


def test_bad_arguments_are_refused_before_anything_is_written(tmp_path) -> None:
    path = tmp_path / "repo"
    with pytest.raises(ValueError, match="HSC-R"):
        asyncio.run(prior.seed_prior_calibrations(str(path), COMCAM, physical_filters=["HSC-R"]))
    with pytest.raises(ValueError):
        asyncio.run(prior.seed_prior_calibrations(str(path), COMCAM, detectors=[9]))
    with pytest.raises(ValueError, match="2 frames or more"):
        asyncio.run(prior.seed_prior_calibrations(str(path), COMCAM, n_frames=1))
    assert not path.exists()
