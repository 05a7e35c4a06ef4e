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

"""Tests of the bias ISR emulation."""

import numpy as np
import pytest
from astropy.io import fits
from lsst.ts.calibscripts.sim.cp import isr
from lsst.ts.calibscripts.sim.cp.synthetic import make_raw
from lsst.ts.calibscripts.sim.data.camera_model import AMP_NAMES, amp_geometry, detector_model


def test_parse_fits_section() -> None:
    rows, cols = isr.parse_fits_section("[4:512,1:2000]")
    assert (rows, cols) == (slice(0, 2000), slice(3, 512))
    rows, cols = isr.parse_fits_section("[509:1,4000:2001]")
    assert (rows, cols) == (slice(2000, 4000), slice(0, 509))
    with pytest.raises(ValueError):
        isr.parse_fits_section("4:512,1:2000")


@pytest.mark.parametrize("scale", ["full", "reduced"])
def test_geometry_from_header(scale: str) -> None:
    geom = amp_geometry(scale)
    header = fits.Header({"DATASEC": geom.datasec, "BIASSEC": geom.biassec})
    found = isr.amp_geometry_from_header(header, geom.raw_shape)
    assert found.data_shape == (geom.data_height, geom.data_width)
    assert found.serial_cols == slice(geom.prescan + geom.data_width, geom.raw_width)
    assert found.parallel_rows == slice(geom.data_height, geom.raw_height)
    # Without BIASSEC the serial overscan is everything right of the data.
    del header["BIASSEC"]
    assert isr.amp_geometry_from_header(header, geom.raw_shape).serial_cols == found.serial_cols


def _one_amp(rng: np.random.Generator, noise: float = 0.0):
    geom = amp_geometry("reduced")
    header = fits.Header({"DATASEC": geom.datasec, "BIASSEC": geom.biassec})
    g = isr.amp_geometry_from_header(header, geom.raw_shape)
    nrows, ncols = geom.raw_shape
    row_offsets = rng.normal(0.0, 30.0, nrows)
    col_offsets_e = rng.normal(0.0, 20.0, ncols)
    return g, geom, row_offsets, col_offsets_e


def test_overscans_remove_row_and_column_structure() -> None:
    rng = np.random.default_rng(3)
    g, geom, row_offsets, col_offsets_e = _one_amp(rng)
    gain = 1.4
    nrows, ncols = geom.raw_shape
    # Column structure (e-) lives in data and parallel overscan columns, not
    # in the serial overscan; row structure (ADU) is in every column.
    electrons = np.zeros((nrows, ncols)) + col_offsets_e[None, :]
    electrons[:, g.serial_cols] = 0.0
    raw = 20000.0 + row_offsets[:, None] + electrons / gain
    trimmed, rn_adu = isr.isr_amp(raw, g, gain)
    assert trimmed.dtype == np.float32
    assert trimmed.shape == g.data_shape
    np.testing.assert_allclose(trimmed, 0.0, atol=1e-3)
    assert rn_adu == pytest.approx(0.0, abs=1e-9)


def test_gain_applied_and_read_noise_adu() -> None:
    rng = np.random.default_rng(4)
    g, geom, _, _ = _one_amp(rng)
    gain, rn = 1.3, 8.0
    raw = 20000.0 + rng.normal(0.0, rn / gain, geom.raw_shape)
    raw[g.data_rows, g.data_cols] += 50.0 / gain  # 50 e- signal in the data only
    trimmed, rn_adu = isr.isr_amp(raw, g, gain)
    # Parallel overscan removes the column level (it has no signal), so the
    # 50 e- survive; the units are electrons.
    assert float(np.mean(trimmed)) == pytest.approx(50.0, abs=0.5)
    assert rn_adu * gain == pytest.approx(rn, rel=0.03)


def test_serial_overscan_rejects_hot_pixel() -> None:
    rng = np.random.default_rng(5)
    g, geom, _, _ = _one_amp(rng)
    raw = 1000.0 + rng.normal(0.0, 2.0, geom.raw_shape)
    clean, _ = isr.serial_overscan_correct(raw.copy(), g)
    hot = raw.copy()
    hot[10, g.serial_cols.start + 10] += 5000.0
    corrected, _ = isr.serial_overscan_correct(hot, g)
    # The hot pixel does not change the row's correction.
    assert corrected[10, g.data_cols].mean() == pytest.approx(clean[10, g.data_cols].mean(), abs=0.3)


def test_parallel_overscan_one_sided_rejection() -> None:
    rng = np.random.default_rng(6)
    g, geom, _, _ = _one_amp(rng)
    amp = rng.normal(0.0, 1.0, geom.raw_shape)
    amp[g.parallel_rows.start + 5 : g.parallel_rows.start + 20, g.data_cols] += 5000.0
    corrected = isr.parallel_overscan_correct(amp.copy(), g)
    # 15 of the 42 used rows are bright: a plain per-column median would take
    # the 78th percentile of the good rows (-0.77 sigma in the data); the
    # one-sided rejection keeps the columns at their true level.
    assert abs(corrected[g.data_rows, g.data_cols].mean()) < 0.15


def test_layout_matches_detsec() -> None:
    geom = amp_geometry("reduced")
    for name in AMP_NAMES:
        assert isr.layout_from_detsec(geom.detsec(name)) == isr.amp_layout(
            name, (geom.data_height, geom.data_width)
        )


def test_assemble_disassemble_round_trip() -> None:
    amps = {name: np.full((4, 3), i, dtype=np.float32) for i, name in enumerate(AMP_NAMES)}
    amps["C10"][0, 0] = -1.0  # readout corner of C10
    image = isr.assemble(amps)
    assert image.shape == (8, 24)
    views = isr.disassemble(image)
    for i, name in enumerate(AMP_NAMES):
        if name != "C10":
            assert np.all(views[name] == i)
    # C10: bottom row, x index 0, flipped in x only: raw (0, 0) lands at
    # assembled row 0, column 2.
    assert image[0, 2] == -1.0
    # C00 is in the top half.
    assert np.all(image[4:8, 0:3] == AMP_NAMES.index("C00"))
    with pytest.raises(ValueError):
        isr.assemble({"C10": amps["C10"]})


def test_isr_bias_frame_and_dither() -> None:
    geom = amp_geometry("reduced")
    model = detector_model(4)
    raw = make_raw(4, 2026112500001, geom)
    first = isr.isr_bias_frame(raw, model.gains, 2026112500001)
    again = isr.isr_bias_frame(raw, model.gains, 2026112500001)
    other = isr.isr_bias_frame(raw, model.gains, 2026112500002)
    plain = isr.isr_bias_frame(raw, model.gains, dither=False)
    assert first.image.shape == (geom.ccd_height, geom.ccd_width)
    np.testing.assert_array_equal(first.image, again.image)
    assert not np.array_equal(first.image, other.image)
    # The dither adds U(-0.5, 0.5) ADU per pixel (0.29 ADU rms, about 0.4 e-)
    # and moves the per-row medians a little; it does not bias the frame.
    diff = first.image - plain.image
    assert 0.3 < float(np.std(diff)) < 1.0
    assert abs(float(np.mean(diff))) < 0.05
    for name in AMP_NAMES:
        assert first.read_noise_adu[name] * model.gains[name] == pytest.approx(
            model.read_noises[name], rel=0.08
        )
    with pytest.raises(ValueError, match="dither"):
        isr.isr_bias_frame(raw, model.gains)


def test_isr_rejects_inconsistent_detsec() -> None:
    geom = amp_geometry("reduced")
    raw = make_raw(0, 1, geom)
    raw[1].header["DETSEC"] = raw[2].header["DETSEC"]
    with pytest.raises(ValueError, match="DETSEC"):
        isr.isr_bias_frame(raw, detector_model(0).gains, dither=False)


def test_clipped_mean_std_rejects_outliers() -> None:
    rng = np.random.default_rng(8)
    x = rng.normal(10.0, 2.0, 100_000)
    x[:100] = 1e4
    mean, std, n = isr.clipped_mean_std(x, 3.0, 3)
    assert mean == pytest.approx(10.0, abs=0.05)
    assert std == pytest.approx(2.0 * 0.9866, rel=0.02)  # 3-sigma clipping of a Gaussian
    assert n < x.size - 100
    assert np.isnan(isr.clipped_mean_std(np.array([np.nan]), 3.0, 3)[0])
