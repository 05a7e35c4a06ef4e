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

"""Tests of the LSSTComCam camera model."""

import numpy as np
import pytest
from lsst.ts.calibscripts.sim.data import camera_model as cm

# (gain min, gain max, read noise min, read noise max, read noise median) per slot,
# from the LSSTComCam camera description summary.
SUMMARY = {
    "S00": (1.294, 1.434, 6.9, 11.2, 9.8),
    "S01": (1.338, 1.416, 5.0, 7.0, 5.9),
    "S02": (1.325, 1.407, 6.8, 8.1, 7.5),
    "S10": (1.306, 1.394, 7.7, 10.0, 8.9),
    "S11": (1.300, 1.437, 5.8, 8.0, 6.8),
    "S12": (1.324, 1.440, 6.2, 11.0, 8.1),
    "S20": (1.372, 1.450, 5.8, 10.1, 8.0),
    "S21": (1.173, 1.389, 6.2, 9.8, 7.8),
    "S22": (1.337, 1.427, 7.7, 11.0, 9.8),
}


def test_detectors_and_names() -> None:
    models = cm.detector_models()
    assert [d.id for d in models] == list(range(9))
    assert [d.name for d in models] == [
        "R22_S00",
        "R22_S01",
        "R22_S02",
        "R22_S10",
        "R22_S11",
        "R22_S12",
        "R22_S20",
        "R22_S21",
        "R22_S22",
    ]
    assert models[0].serial == "ITL-3800C-229"
    assert models[8].serial == "ITL-3800C-206"
    assert all(d.vendor == "ITL" and d.ccd_type == "3800C" for d in models)
    assert cm.detector_id("R22_S12") == 5
    assert cm.detector_id("S21") == 7
    for bad in ("R21_S12", "R22_S33", "S1"):
        with pytest.raises(ValueError):
            cm.detector_id(bad)
    with pytest.raises(ValueError):
        cm.detector_name(9)


def test_amplifier_order_and_table() -> None:
    det = cm.detector_model(0)
    assert [a.name for a in det.amplifiers] == [f"C1{i}" for i in range(8)] + [
        f"C0{i}" for i in range(7, -1, -1)
    ]
    assert [a.hdu for a in det.amplifiers] == list(range(1, 17))
    assert det.amp("C10").segment_name == "Segment10"
    assert det.amp("C00").hdu == 16
    gains = np.array([a.gain for d in cm.detector_models() for a in d.amplifiers])
    noises = np.array([a.read_noise for d in cm.detector_models() for a in d.amplifiers])
    assert gains.size == noises.size == 144
    assert gains.min() == pytest.approx(1.1728)
    assert gains.max() == pytest.approx(1.4497)
    assert np.median(gains) == pytest.approx(1.381, abs=1e-3)
    assert np.median(noises) == pytest.approx(7.9)
    assert noises.mean() == pytest.approx(8.09, abs=0.01)
    for d in cm.detector_models():
        g = list(d.gains.values())
        rn = list(d.read_noises.values())
        gmin, gmax, rmin, rmax, rmed = SUMMARY[d.slot]
        assert min(g) == pytest.approx(gmin, abs=1e-3)
        assert max(g) == pytest.approx(gmax, abs=1e-3)
        assert (min(rn), max(rn)) == (rmin, rmax)
        assert np.median(rn) == pytest.approx(rmed, abs=0.06)


def test_full_geometry_is_itl() -> None:
    g = cm.amp_geometry("full")
    assert g.raw_shape == (2048, 576)
    assert (g.ccd_width, g.ccd_height) == (4072, 4000)
    assert g.datasec == "[4:512,1:2000]"
    assert g.detsize == "[1:4072,1:4000]"
    assert g.detsec("C10") == "[509:1,1:2000]"
    assert g.detsec("C17") == "[4072:3564,1:2000]"
    assert g.detsec("C00") == "[509:1,4000:2001]"
    assert g.detsec("C07") == "[4072:3564,4000:2001]"
    raw = np.zeros(g.raw_shape)
    assert raw[g.data_slice].shape == (2000, 509)
    assert raw[g.prescan_slice].shape == (2000, 3)
    assert raw[g.serial_overscan_slice].shape == (2000, 64)
    assert raw[g.serial_overscan_full_slice].shape == (2048, 64)
    assert raw[g.parallel_overscan_slice].shape == (48, 509)


def test_reduced_geometry_keeps_structure() -> None:
    full = cm.amp_geometry(cm.GeometryScale.FULL)
    small = cm.amp_geometry()
    assert small == cm.amp_geometry("reduced")
    assert small.data_width * small.data_height < full.data_width * full.data_height / 50
    assert (small.prescan, small.serial_overscan, small.parallel_overscan) == (3, 64, 48)
    # Amp data regions tile the CCD exactly once.
    tiles = np.zeros((small.ccd_height, small.ccd_width), dtype=int)
    for amp in cm.AMP_NAMES:
        x, y = small.detsec(amp)[1:-1].split(",")
        xs = sorted(int(v) for v in x.split(":"))
        ys = sorted(int(v) for v in y.split(":"))
        tiles[ys[0] - 1 : ys[1], xs[0] - 1 : xs[1]] += 1
    assert (tiles == 1).all()


@pytest.mark.parametrize("scale", ["full", "reduced"])
def test_vendor_amp_geometry(scale: str) -> None:
    """ComCam's geometry is the ITL layout; e2v amps have their own prescan and overscans."""
    from lsst.ts.calibscripts.cameras import COMCAM, LATISS, LSSTCAM
    from lsst.ts.calibscripts.sim.data.camera_model import amp_geometry, detector_amp_geometry

    assert detector_amp_geometry(COMCAM, 4, scale) == amp_geometry(scale)
    assert detector_amp_geometry(LSSTCAM, 0, scale) == amp_geometry(scale)  # R01: ITL
    assert detector_amp_geometry(LATISS, 0, scale) == amp_geometry(scale)
    e2v = detector_amp_geometry(LSSTCAM, 94, scale)  # R22_S11: e2v
    assert (e2v.prescan, e2v.serial_overscan, e2v.parallel_overscan) == (10, 54, 46)
    if scale == "full":
        assert (e2v.ccd_width, e2v.ccd_height) == (4096, 4004)
        assert e2v.raw_shape == (2048, 576) and e2v.datasec == "[11:522,1:2002]"
    else:
        assert (e2v.data_width, e2v.data_height) == (52, 200)
    with pytest.raises(ValueError, match="not a LSSTCam detector"):
        detector_amp_geometry(LSSTCAM, 205, scale)
