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

"""The report pictures of LSSTCam (ITL, e2v and wavefront detectors) and LATISS.

Small synthetic masters and statistics; the tests check the numbers and
labels handed to matplotlib (`Picture.data`) and the returned report, not
pixels.
"""

import pathlib
import typing

import numpy as np
import pytest
from astropy.io import fits
from lsst.daf.butler import Butler, DatasetRef, FileDataset
from lsst.ts.calibscripts import report
from lsst.ts.calibscripts.cameras import COMCAM, LATISS, LSSTCAM, CameraProfile
from lsst.ts.calibscripts.report import AMP_NAMES
from lsst.ts.calibscripts.sim.data.formatter import FORMATTER_NAME
from lsst.ts.calibscripts.sim.data.repo import add_camera
from PIL import Image

#: One ITL science CCD, one e2v science CCD and one ITL wavefront half CCD.
LSSTCAM_RUN = (0, 94, 191)
LSSTCAM_NAMES = ("R01_S00", "R22_S11", "R00W_SW0")
EXPOSURES = (2026112500001, 2026112500002)
SHAPE = (24, 20)
#: (detector, amp) whose NOISE is 50 % above nominal.
NOISY = {(94, "C00"), (191, "C13")}


def nominal_noise(det: int, amp_index: int) -> float:
    return 5.0 + 0.01 * det + 0.1 * amp_index


def det_stats(camera: CameraProfile, det: int, exposure: int) -> dict:
    """A verifyBiasDetStats dict for the detector's own amplifiers."""
    amp_stats, verify = {}, {}
    for amp_index, amp in enumerate(report.amp_names(det, camera)):
        nominal = nominal_noise(det, amp_index)
        noise = nominal * (1.5 if (det, amp) in NOISY else 1.01) + 0.001 * (exposure % 10)
        ok = (noise - nominal) / nominal <= 0.05
        amp_stats[amp] = dict(MEAN=0.1 * amp_index, NOISE=noise, CR_NOISE=noise)
        verify[amp] = dict(MEAN=True, NOISE=bool(ok), CR_NOISE=True, SUCCESS=bool(ok))
    return dict(AMP=amp_stats, VERIFY=dict(AMP=verify))


def all_stats(camera: CameraProfile, detectors: typing.Sequence[int]) -> list:
    return [(exposure, det, det_stats(camera, det, exposure)) for exposure in EXPOSURES for det in detectors]


def master_file(path: pathlib.Path, camera: CameraProfile, det: int) -> pathlib.Path:
    """A simulated-style master bias: primary + IMAGE with the nominal read noise keys."""
    pixels = (np.random.default_rng(det).normal(0.0, 1.0, SHAPE) + 0.1 * det).astype(np.float32)
    header = fits.Header()
    header["BUNIT"] = "electron"
    for amp_index, amp in enumerate(report.amp_names(det, camera)):
        header[f"HIERARCH LSST ISR READNOISE {amp}"] = nominal_noise(det, amp_index)
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(pixels, header=header, name="IMAGE")]).writeto(path)
    return path


def masters_in_repo(
    repo: str, tmp_path: pathlib.Path, camera: CameraProfile, detectors: typing.Sequence[int]
) -> str:
    """Register ``camera`` in ``repo`` and ingest one master bias per detector; return the run."""
    add_camera(repo, camera)
    butler = Butler.from_config(repo, writeable=True)
    run = f"u/ocps/{camera.instrument.lower()}/run"
    butler.registry.registerRun(run)
    bias_type = butler.get_dataset_type("bias")
    datasets = []
    for det in detectors:
        path = master_file(tmp_path / f"bias_{camera.instrument}_{det}.fits", camera, det)
        ref = DatasetRef(bias_type, dict(instrument=camera.instrument, detector=det), run=run)
        datasets.append(FileDataset(path=str(path), refs=[ref], formatter=FORMATTER_NAME))
    butler.ingest(*datasets, transfer="copy")
    butler.close()
    return run


def png_size(path: pathlib.Path) -> tuple[int, int]:
    with Image.open(path) as image:
        return image.size


def test_amp_names_per_detector() -> None:
    """ITL and e2v CCDs have 16 amplifiers, a wavefront half CCD C10..C17, LATISS 16."""
    assert report.amp_names(0, LSSTCAM) == AMP_NAMES
    assert report.amp_names(94, LSSTCAM) == AMP_NAMES
    assert report.amp_names(191, LSSTCAM) == tuple(f"C1{i}" for i in range(8))
    assert report.amp_names(0, LATISS) == AMP_NAMES
    assert report.amp_names(4) == AMP_NAMES
    with pytest.raises(ValueError, match="LSSTCam"):
        report.amp_names(205, LSSTCAM)


def test_layout_names_come_from_the_camera() -> None:
    assert report.detector_name(94, LSSTCAM) == "R22_S11"
    assert report.detector_name(0, LATISS) == "RXX_S00"
    assert report.detector_id("R00W_SW0", LSSTCAM) == 191
    assert report.detector_id("S00", LATISS) == 0
    with pytest.raises(ValueError, match="not a LSSTCam detector"):
        report.detector_id("S11", LSSTCAM)  # many rafts: the raft is needed
    # LSSTCam shows the run's detectors; small cameras are always shown whole.
    assert report.run_detectors(LSSTCAM, [191, 0, 94, 500]) == LSSTCAM_RUN
    assert report.run_detectors(COMCAM, [4]) == tuple(range(9))
    assert report.run_detectors(LATISS) == (0,)


def test_mosaic_grid() -> None:
    # ComCam: the focal-plane 3x3 as before.
    grid, positions = report.mosaic_grid(COMCAM)
    assert grid == (3, 3) and positions[0] == (2, 0) and positions[8] == (0, 2)
    # An LSSTCam subset over several rafts: a compact grid in id order.
    grid, positions = report.mosaic_grid(LSSTCAM, LSSTCAM_RUN)
    assert grid == (2, 2)
    assert positions == {0: (0, 0), 94: (0, 1), 191: (1, 0)}
    # Sensors of one LSSTCam raft: where they sit in the raft.
    r22 = [LSSTCAM.detector_from_raft_sensor("R22", s) for s in ("S00", "S11", "S22")]
    grid, positions = report.mosaic_grid(LSSTCAM, r22)
    assert grid == (3, 3) and list(positions.values()) == [(2, 0), (1, 1), (0, 2)]
    # LATISS: one panel.
    assert report.mosaic_grid(LATISS) == ((1, 1), {0: (0, 0)})
    # 189 science sensors: a 14 x 14 grid, each detector once.
    grid, positions = report.mosaic_grid(LSSTCAM, LSSTCAM.default_detectors)
    assert grid == (14, 14) and len(set(positions.values())) == len(LSSTCAM.default_detectors)


def test_collect_amp_verification_lsstcam() -> None:
    """Rows are the run's detectors with their names; each row has its own amplifiers."""
    stats = all_stats(LSSTCAM, LSSTCAM_RUN)
    # A wavefront sensor has no C07: a stray entry is not an amplifier of it.
    stats[2][2]["AMP"]["C07"] = dict(MEAN=0.0, NOISE=99.0, CR_NOISE=99.0)
    verification = report.collect_amp_verification(stats, camera=LSSTCAM)
    assert verification.detectors == LSSTCAM_RUN
    assert verification.detector_names == LSSTCAM_NAMES
    assert verification.amp_names[2] == AMP_NAMES[:8]
    assert verification.n_measured.shape == (3, 16)
    assert list(verification.n_measured.sum(axis=1)) == [32, 32, 16]
    assert np.isnan(verification.values["NOISE"][2, 8:]).all()
    assert verification.detectors_measured == list(LSSTCAM_RUN)
    assert verification.failures() == ["R22_S11 C00 NOISE (2/2)", "R00W_SW0 C13 NOISE (2/2)"]
    # The run's detectors without statistics still get a (grey) row.
    verification = report.collect_amp_verification(stats, camera=LSSTCAM, detectors=[*LSSTCAM_RUN, 192])
    assert verification.detector_names == (*LSSTCAM_NAMES, "R00W_SW1")
    assert verification.detectors_measured == list(LSSTCAM_RUN)


@pytest.mark.slow
def test_lsstcam_pictures_use_the_camera_names(tmp_path: pathlib.Path) -> None:
    masters = {
        det: report.read_master_bias(master_file(tmp_path / f"m{det}.fits", LSSTCAM, det))
        for det in LSSTCAM_RUN
    }
    mosaic = report.plot_focal_plane_mosaic(masters, tmp_path / "m.png", camera=LSSTCAM)
    assert mosaic.data["titles"] == {det: f"{name} ({det})" for det, name in zip(LSSTCAM_RUN, LSSTCAM_NAMES)}
    assert mosaic.data["grid"] == (2, 2)
    assert png_size(mosaic.path) == report.MOSAIC_SIZE

    verification = report.collect_amp_verification(all_stats(LSSTCAM, LSSTCAM_RUN), camera=LSSTCAM)
    vmap = report.plot_verification_map(verification, tmp_path / "v.png")
    assert vmap.data["detector_labels"] == LSSTCAM_NAMES
    assert vmap.data["amp_labels"] == AMP_NAMES
    assert vmap.data["row_amps"][2] == AMP_NAMES[:8]
    noise_row = vmap.data["annotations"]["NOISE"][2]
    assert all(noise_row[:8]) and noise_row[8:] == ["-"] * 8  # the half CCD's missing amps
    assert vmap.data["n_failed"]["NOISE"][2, AMP_NAMES.index("C13")] == 2
    assert png_size(vmap.path) == report.VERIFICATION_SIZE

    nominal = {
        name: {amp: nominal_noise(det, i) for i, amp in enumerate(report.amp_names(det, LSSTCAM))}
        for det, name in zip(LSSTCAM_RUN, LSSTCAM_NAMES)
    }
    noise = report.plot_noise_vs_nominal(verification, nominal, tmp_path / "n.png")
    assert noise.data["detector_labels"] == LSSTCAM_NAMES
    assert noise.data["measured"].shape == (16 + 16 + 8,)
    assert noise.data["labels"][32] == "R00W_SW0 C10" and noise.data["labels"][-1] == "R00W_SW0 C17"
    assert np.isfinite(noise.data["nominal"]).all()
    assert noise.data["nominal"][32 + 3] == pytest.approx(nominal_noise(191, 3))
    assert noise.data["over_limit"] == ["R22_S11 C00", "R00W_SW0 C13"]
    assert png_size(noise.path) == report.NOISE_SIZE


@pytest.mark.slow
def test_write_report_lsstcam_bias(fresh_repo: str, tmp_path: pathlib.Path) -> None:
    """LSSTCam biases of ITL, e2v and wavefront detectors: all three pictures, no problem."""
    run = masters_in_repo(fresh_repo, tmp_path, LSSTCAM, LSSTCAM_RUN)
    result = report.write_report(
        tmp_path / "out",
        {"instrument": "LSSTCam"},
        fresh_repo,
        bias_collections=run,
        det_stats=all_stats(LSSTCAM, LSSTCAM_RUN),
        instrument=LSSTCAM.instrument,
        detectors=list(LSSTCAM_RUN),
        calib_type="bias",
    )
    assert result.problems == []
    assert set(result.pictures) == {"mosaic", "verification", "noise"}
    assert all(path.is_file() for path in result.pictures.values())
    assert set(result.medians) == set(LSSTCAM_RUN)
    assert result.failures == ["R22_S11 C00 NOISE (2/2)", "R00W_SW0 C13 NOISE (2/2)"]


@pytest.mark.slow
@pytest.mark.parametrize("calib_type", ["dark", "flat"])
def test_write_report_lsstcam_dark_flat_names(tmp_path: pathlib.Path, calib_type: str) -> None:
    """Dark and flat maps of LSSTCam name LSSTCam's detectors, not ComCam's."""
    stats = all_stats(LSSTCAM, LSSTCAM_RUN)
    result = report.write_report(
        tmp_path, {}, det_stats=stats, instrument=LSSTCAM.instrument, calib_type=calib_type
    )
    assert "verification" in result.pictures
    assert result.failures[0].startswith("R22_S11 C00 NOISE")
    assert result.failures[-1].startswith("R00W_SW0 C13 NOISE")


@pytest.mark.slow
def test_write_report_latiss(fresh_repo: str, tmp_path: pathlib.Path) -> None:
    """LATISS: one detector, RXX_S00, in every picture."""
    run = masters_in_repo(fresh_repo, tmp_path, LATISS, [0])
    result = report.write_report(
        tmp_path / "out",
        {},
        fresh_repo,
        bias_collections=run,
        det_stats=all_stats(LATISS, [0]),
        instrument=LATISS.instrument,
        calib_type="bias",
    )
    assert result.problems == []
    assert set(result.pictures) == {"mosaic", "verification", "noise"}
    assert list(result.medians) == [0]

    master = report.read_master_bias(master_file(tmp_path / "latiss.fits", LATISS, 0))
    mosaic = report.plot_focal_plane_mosaic({0: master}, tmp_path / "m.png", camera=LATISS)
    assert mosaic.data["titles"] == {0: "RXX_S00 (0)"} and mosaic.data["grid"] == (1, 1)
    verification = report.collect_amp_verification(all_stats(LATISS, [0]), camera=LATISS)
    assert verification.detector_names == ("RXX_S00",)
    noise = report.plot_noise_vs_nominal(
        verification, {"RXX_S00": report.header_read_noise(master.header)}, tmp_path / "n.png"
    )
    assert noise.data["detector_labels"] == ("RXX_S00",)
    assert noise.data["measured"].shape == (16,) and np.isfinite(noise.data["nominal"]).all()


def test_write_report_unknown_instrument(tmp_path: pathlib.Path) -> None:
    """An unknown instrument draws nothing and says why; the summary is still written."""
    result = report.write_report(tmp_path, {"n": 1}, det_stats=all_stats(COMCAM, [0]), instrument="NoSuchCam")
    assert result.pictures == {}
    assert any("Unknown camera 'NoSuchCam'" in p for p in result.problems)
    assert result.summary_path.is_file()
