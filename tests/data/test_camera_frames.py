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


"""LSSTCam and LATISS frames in the simulated data plane: raws, ingest, bias jobs."""

import io
import uuid

import pytest
from lsst.ts.calibscripts.cameras import LATISS, LSSTCAM, CameraProfile, DetectorKind
from lsst.ts.calibscripts.sim.data import frames, repo
from lsst.ts.calibscripts.sim.data.camera_model import camera_detector_model
from lsst.ts.calibscripts.sim.data.dataplane import seed_bias_repo
from lsst.ts.calibscripts.sim.data.options import DataOptions
from lsst.ts.calibscripts.sim.interfaces import JobPhase, JobRequest
from lsst.ts.calibscripts.sim.runners.inprocess import InProcessRunner

# ITL science (R01_S00), e2v science (R22_S11), a corner raft's guider and wavefront sensor.
LSSTCAM_SUBSET = tuple(LSSTCAM.detector_id(name) for name in ("R01_S00", "R22_S11", "R00_SG0", "R00W_SW0"))
OPTIONS = DataOptions(cosmic_rays=False)


def test_lsstcam_subset_spans_vendors_and_a_corner_raft() -> None:
    infos = [LSSTCAM.detector(d) for d in LSSTCAM_SUBSET]
    assert {i.vendor for i in infos} == {"ITL", "E2V"}
    assert {i.kind for i in infos} == set(DetectorKind)


@pytest.mark.parametrize("camera, detector", [(LSSTCAM, d) for d in LSSTCAM_SUBSET] + [(LATISS, 0)])
def test_raw_follows_the_profile_layout(camera: CameraProfile, detector: int) -> None:
    image = frames.make_image_info(20261125, 3, detectors=(detector,), camera=camera)
    info = camera.detector(detector)
    layout = info.amp_layout.reduced()
    raw = frames.make_raw(image, detector, OPTIONS)
    header = raw[0].header
    assert image.obs_id == camera.obs_id(20261125, 3)
    assert header["CAMCODE"] == camera.camera_code
    assert (
        header["DETNAME"] == info.name and header["RAFTBAY"] == info.raft and header["CCDSLOT"] == info.sensor
    )
    assert header["CCD_MANU"] == info.vendor
    segments = raw[1:]
    assert len(segments) == layout.n_amps
    names = [hdu.header["EXTNAME"] for hdu in segments]
    expected = [f"Segment{row}{col}" for row in (1, 0)[: layout.amp_rows] for col in range(8)]
    assert sorted(names) == sorted(expected)
    width = layout.prescan + layout.data_width + layout.serial_overscan
    for hdu in segments:
        assert hdu.data.shape == (layout.data_height + layout.parallel_overscan, width)
        assert hdu.header["DATASEC"].startswith(f"[{layout.prescan + 1}:")
        assert (
            hdu.header["DETSIZE"] == f"[1:{8 * layout.data_width},1:{layout.amp_rows * layout.data_height}]"
        )
    assert frames.raw_filename(image, detector) == f"{image.obs_id}_{info.name}.fits"


@pytest.mark.parametrize("camera, detector", [(LSSTCAM, d) for d in LSSTCAM_SUBSET] + [(LATISS, 0)])
def test_raw_bytes_are_the_raw_astropy_writes(camera: CameraProfile, detector: int) -> None:
    # raw_bytes writes the segments from their arrays after a header made once per
    # geometry and amp: the same file astropy writes from make_raw, for every layout.
    image = frames.make_image_info(20261125, 4, detectors=(detector,), camera=camera)
    written = io.BytesIO()
    frames.make_raw(image, detector, OPTIONS).writeto(written)
    assert frames.raw_bytes(image, detector, OPTIONS) == written.getvalue()


def test_detector_models_are_per_camera_and_stable() -> None:
    wavefront = camera_detector_model(LSSTCAM, LSSTCAM.detector_id("R00W_SW0"))
    assert [a.name for a in wavefront.amplifiers] == [f"C1{i}" for i in range(8)]
    e2v = camera_detector_model(LSSTCAM, LSSTCAM.detector_id("R22_S11"))
    assert len(e2v.amplifiers) == 16 and e2v.vendor == "E2V" and e2v.name == "R22_S11"
    camera_detector_model.cache_clear()
    assert camera_detector_model(LSSTCAM, LSSTCAM.detector_id("R22_S11")) == e2v


@pytest.mark.parametrize("camera, detectors", [(LSSTCAM, LSSTCAM_SUBSET), (LATISS, (0,))])
def test_raws_ingest_and_round_trip(
    fresh_repo: str, camera: CameraProfile, detectors: tuple[int, ...]
) -> None:
    images = seed_bias_repo(fresh_repo, 1, detectors, OPTIONS, camera=camera)
    assert [image.instrument for image in images] == [camera.instrument]
    butler = repo.open_butler(fresh_repo, writeable=False)
    try:
        raw_run, _, _ = repo.camera_collections(camera)
        refs = sorted(
            butler.query_datasets("raw", collections=raw_run, instrument=camera.instrument),
            key=lambda ref: ref.dataId["detector"],
        )
        assert [ref.dataId["detector"] for ref in refs] == sorted(detectors)
        for ref in refs:
            info = camera.detector(int(ref.dataId["detector"]))
            raw = butler.get(ref)
            assert raw[0].header["DETNAME"] == info.name
            assert raw[0].header["OBSID"] == images[0].obs_id
            assert len(raw) - 1 == info.amp_layout.n_amps
            record = butler.registry.expandDataId(ref.dataId).records["detector"]
            assert record.full_name == info.name
    finally:
        butler.close()


def _request(repo_path: str, pipeline: str, config: str, detectors: tuple[int, ...]) -> JobRequest:
    ids = ", ".join(str(d) for d in detectors)
    return JobRequest(
        job_id=uuid.uuid4().hex,
        run_id="1",
        pipeline=pipeline,
        version="",
        config=config,
        data_query=f"instrument='LSSTCam' AND detector IN ({ids})",
        butler_repo=repo_path,
        default_input="LSSTCam/raw/all",
    )


@pytest.mark.slow  # two in-process jobs on LSSTCam detectors
async def test_lsstcam_bias_job_makes_a_master_per_detector(fresh_repo: str, tmp_path, monkeypatch) -> None:
    import asyncio

    from lsst.ts.calibscripts.sim.cp import pipeline_env

    # The LSSTCam pipelines import LSSTComCam's through $CP_PIPE_DIR, as the observatory sets it.
    for key, value in pipeline_env().items():
        monkeypatch.setenv(key, value)
    await asyncio.to_thread(seed_bias_repo, fresh_repo, 3, LSSTCAM_SUBSET, OPTIONS, camera=LSSTCAM)
    runner = InProcessRunner(fresh_repo, str(tmp_path / "logs"))
    build = _request(
        fresh_repo,
        "${CP_PIPE_DIR}/pipelines/LSSTCam/cpBias.yaml",
        "-i LSSTCam/calib --register-dataset-types",
        LSSTCAM_SUBSET,
    )
    outcome = await runner.run(build)
    assert outcome.phase is JobPhase.COMPLETED, outcome.error_message
    check = _request(
        fresh_repo,
        "${CP_VERIFY_DIR}/pipelines/LSSTCam/verifyBias.yaml",
        f"-i u/ocps/{build.job_id},LSSTCam/calib --register-dataset-types",
        LSSTCAM_SUBSET,
    )
    outcome = await runner.run(check)
    assert outcome.phase is JobPhase.COMPLETED, outcome.error_message
    butler = repo.open_butler(fresh_repo, writeable=False)
    try:
        masters = {
            int(ref.dataId["detector"]): butler.get(ref)
            for ref in butler.query_datasets("bias", collections=f"u/ocps/{build.job_id}")
        }
        assert sorted(masters) == sorted(LSSTCAM_SUBSET)
        for detector, master in masters.items():
            layout = LSSTCAM.detector(detector).amp_layout.reduced()
            assert master["IMAGE"].data.shape == (layout.amp_rows * layout.data_height, 8 * layout.data_width)
        # verifyBias measured every amplifier of every detector, named as LSSTCam names them.
        for ref in butler.query_datasets("verifyBiasDetStats", collections=f"u/ocps/{check.job_id}"):
            info = LSSTCAM.detector(int(ref.dataId["detector"]))
            amps = butler.get(ref)["AMP"]
            assert len(amps) == info.amp_layout.n_amps
        stats = butler.get("verifyBiasStats", instrument="LSSTCam", collections=f"u/ocps/{check.job_id}")
        assert stats["SUCCESS"] is True
    finally:
        butler.close()
