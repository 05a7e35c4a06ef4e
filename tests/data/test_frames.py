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

"""Tests of the simulated raw frames."""

import dataclasses
import io
from unittest import mock

import astropy.time
import numpy as np
import pytest
from astropy.io import fits
from lsst.ts.calibscripts.sim.data import camera_model as cm
from lsst.ts.calibscripts.sim.data import frames
from lsst.ts.calibscripts.sim.data.options import DataOptions

GEOM = cm.amp_geometry("reduced")
DATA = GEOM.data_slice
SOVER = GEOM.serial_overscan_slice
POVER = GEOM.parallel_overscan_slice


def image(seq: int = 1, **kwargs) -> frames.ImageInfo:
    return frames.make_image_info(20261125, seq, group_id="2026-11-25T22:00:00.000", **kwargs)


def corrected(raw: np.ndarray) -> np.ndarray:
    """Serial (per-row median, skipping 3+3 columns) then parallel overscan correction."""
    a = raw.astype(np.float64)
    a -= np.median(a[:, SOVER[1].start + 3 : SOVER[1].stop - 3], axis=1)[:, np.newaxis]
    par = np.median(a[POVER][3:-3], axis=0)
    return a[DATA] - par[np.newaxis, :]


def test_image_info_naming() -> None:
    info = image(12)
    assert info.obs_id == "CC_O_20261125_000012"
    assert info.exposure_id == 2026112500012
    assert info.date_begin.scale == "tai"
    assert info.detectors == tuple(range(9))
    with pytest.raises(ValueError):
        frames.make_image_info(20261125, 100000)


def test_layout_and_headers() -> None:
    info = image(3, exp_time=0.0)
    hdul = frames.make_raw(info, 4)
    assert len(hdul) == 17
    ph = hdul[0].header
    assert ph["OBSID"] == "CC_O_20261125_000003"
    assert ph["DAYOBS"] == "20261125"
    assert ph["SEQNUM"] == 3
    assert ph["GROUPID"] == "2026-11-25T22:00:00.000"
    assert ph["IMGTYPE"] == "BIAS"
    assert ph["EXPTIME"] == 0.0
    assert ph["TIMESYS"] == "TAI"
    assert abs((astropy.time.Time(ph["DATE-BEG"], scale="tai") - info.date_begin).sec) < 1e-3
    assert abs((astropy.time.Time(ph["DATE-END"], scale="tai") - info.date_end).sec) < 1e-3
    assert (ph["RAFTBAY"], ph["CCDSLOT"], ph["DETECTOR"]) == ("R22", "S11", 4)
    assert ph["LSST_NUM"] == "ITL-3800C-283"
    assert (ph["CCD_MANU"], ph["CCD_TYPE"]) == ("ITL", "3800C")
    assert ph["INSTRUME"] == "ComCam"
    assert ph["BUNIT"] == "adu"
    assert ph["DETSIZE"] == GEOM.detsize
    names = [h.name for h in hdul[1:]]
    assert names == [f"Segment1{i}" for i in range(8)] + [f"Segment0{i}" for i in range(7, -1, -1)]
    for hdu, amp in zip(hdul[1:], cm.AMP_NAMES):
        assert hdu.header["EXTNAME"] == f"Segment{amp[1:]}"
        assert hdu.data.dtype.kind == "i" and hdu.data.dtype.itemsize == 4
        assert hdu.header["BITPIX"] == 32
        assert hdu.data.shape == GEOM.raw_shape
        assert hdu.header["DATASEC"] == "[4:54,1:200]"
        assert hdu.header["DETSEC"] == GEOM.detsec(amp)
        assert hdu.header["BIASSEC"] == "[55:118,1:200]"


def test_full_size_layout() -> None:
    hdul = frames.make_raw(image(1), 0, DataOptions(geometry="full"))
    assert hdul[0].header["DETSIZE"] == "[1:4072,1:4000]"
    assert hdul[1].data.shape == (2048, 576)
    assert hdul[1].header["DATASEC"] == "[4:512,1:2000]"
    assert hdul[1].header["DETSEC"] == "[509:1,1:2000]"
    assert hdul[16].header["DETSEC"] == "[509:1,4000:2001]"
    # Real noise level: RN/gain in the serial overscan.
    amp = cm.detector_model(0).amp("C10")
    over = hdul[1].data[GEOM.serial_overscan_full_slice[0], 512 + 3 : 576 - 3].astype(float)
    resid = over - over.mean(axis=1)[:, np.newaxis]
    raw_rn = amp.read_noise / amp.gain * frames.isr_noise_compensation(GEOM, amp.read_noise / amp.gain)
    assert resid.std() == pytest.approx(raw_rn * np.sqrt(1 - 1 / 58), rel=0.02)


def test_reproducible_and_distinct() -> None:
    a = frames.make_raw(image(1), 2)
    b = frames.make_raw(image(1), 2)
    c = frames.make_raw(image(2), 2)
    d = frames.make_raw(image(1), 2, DataOptions(seed=7))
    e = frames.make_raw(image(1), 3)
    for i in range(1, 17):
        np.testing.assert_array_equal(a[i].data, b[i].data)
    assert not np.array_equal(a[1].data, c[1].data)
    assert not np.array_equal(a[1].data, d[1].data)
    assert not np.array_equal(a[1].data, e[1].data)


def test_pixels_do_not_depend_on_the_date() -> None:
    """The k-th frame of a day has the same pixels on every day (exposure ids contain the date)."""
    today = frames.make_raw(image(3), 4)
    other_day = frames.make_raw(frames.make_image_info(20270314, 3, group_id="2027-03-14T22:00:00.000"), 4)
    assert today[0].header["DAYOBS"] != other_day[0].header["DAYOBS"]
    for i in range(1, 17):
        np.testing.assert_array_equal(today[i].data, other_day[i].data)


def test_pedestal_and_per_amp_offsets() -> None:
    hdul = frames.make_raw(image(1), 0)
    levels = np.array([np.median(h.data[SOVER]) for h in hdul[1:]])
    assert np.all(np.abs(levels - frames.PEDESTAL_ADU) < frames.AMP_OFFSET_RANGE_ADU + 30)
    assert levels.std() > 20  # amps differ
    # The same per-amp offsets in another exposure (up to the small drift).
    levels2 = np.array([np.median(h.data[SOVER]) for h in frames.make_raw(image(2), 0)[1:]])
    assert np.abs(levels2 - levels).max() < 10


@pytest.mark.parametrize("detector", [1, 8])
def test_read_noise_per_amp(detector: int) -> None:
    hdul = frames.make_raw(image(1), detector, DataOptions(cosmic_rays=False))
    cols = slice(SOVER[1].start + 3, SOVER[1].stop - 3)
    for hdu, amp in zip(hdul[1:], cm.detector_model(detector).amplifiers):
        over = hdu.data[:, cols].astype(float)
        resid = over - over.mean(axis=1)[:, np.newaxis]
        rn_adu = amp.read_noise / amp.gain
        expected = rn_adu * frames.isr_noise_compensation(GEOM, rn_adu) * np.sqrt(1 - 1 / 58)
        # Integer rounding adds 1/12 ADU^2.
        measured = np.sqrt(resid.var() - 1 / 12 * (1 - 1 / 58))
        assert measured == pytest.approx(expected, rel=0.03), amp.name


def test_read_noise_fault_only_on_chosen_detector() -> None:
    opts = DataOptions(read_noise_factors={4: 1.5}, cosmic_rays=False)
    cols = slice(SOVER[1].start + 3, SOVER[1].stop - 3)

    def noise(det: int, options: DataOptions) -> float:
        hdu = frames.make_raw(image(1), det, options)[5]
        over = hdu.data[:, cols].astype(float)
        return float((over - over.mean(axis=1)[:, np.newaxis]).std())

    assert noise(4, opts) / noise(4, DataOptions(cosmic_rays=False)) == pytest.approx(1.5, rel=0.05)
    assert noise(3, opts) == noise(3, DataOptions(cosmic_rays=False))
    assert frames.make_raw(image(1), 4, opts)[0].header["SIM RN FACTOR"] == 1.5
    with pytest.raises(ValueError):
        DataOptions(read_noise_factors={9: 1.1})


def test_mean_offset_fault_on_data_only() -> None:
    opts = DataOptions(mean_offsets={"CC_O_20261125_000002": 25.0, 3: -40.0})
    for seq, offset in ((1, 0.0), (2, 25.0), (3, -40.0)):
        faulty = frames.make_raw(image(seq), 0, opts)
        clean = frames.make_raw(image(seq), 0)
        for i in (1, 16):
            diff = faulty[i].data.astype(float) - clean[i].data
            assert np.abs(diff[DATA] - offset).max() <= 1
            assert diff[DATA].mean() == pytest.approx(offset, abs=0.01)
            assert np.all(diff[SOVER] == 0)
            assert np.all(diff[POVER] == 0)
        assert faulty[0].header["SIM DATA OFFSET"] == offset


def test_common_mode_shared_by_data_and_overscan() -> None:
    # Read noise at a tenth of nominal, so the 1 ADU common mode dominates the row means and
    # the comparisons below do not depend on how the noise of one seed happens to fall.
    options = DataOptions(cosmic_rays=False, read_noise_factors={0: 0.1})
    a = frames.make_raw(image(1), 0, options)
    b = frames.make_raw(image(2), 0, options)
    rows = slice(0, GEOM.data_height)
    for i in (1, 9):
        diff = a[i].data.astype(float) - b[i].data
        data_rows = diff[rows, DATA[1]].mean(axis=1)
        over_rows = diff[rows, SOVER[1]].mean(axis=1)
        assert np.corrcoef(data_rows, over_rows)[0, 1] > 0.5
        # Overscan correction removes it: corrected row means are much quieter.
        corr = corrected(a[i].data) - corrected(b[i].data)
        assert corr.mean(axis=1).std() < 0.5 * data_rows.std()


def test_fixed_pattern_and_hot_columns_repeat() -> None:
    opts = DataOptions(cosmic_rays=False)
    det = next(d for d in range(9) if frames.hot_columns(d, GEOM, opts.seed))
    hot = frames.hot_columns(det, GEOM, opts.seed)[0]
    index = cm.AMP_NAMES.index(hot.amp)
    gain = cm.detector_model(det).amp(hot.amp).gain
    stack = np.array([corrected(frames.make_raw(image(s), det, opts)[index + 1].data) for s in range(1, 9)])
    mean = stack.mean(axis=0)
    pattern = frames.fixed_pattern(det, hot.amp, GEOM, opts.seed) / gain
    pattern = pattern - pattern.mean(
        axis=0
    )  # parallel overscan correction removes column means of ramps only
    good = np.ones(GEOM.data_width, bool)
    good[[h.column for h in frames.hot_columns(det, GEOM, opts.seed) if h.amp == hot.amp]] = False
    r = np.corrcoef(mean[:, good].ravel(), pattern[:, good].ravel())[0, 1]
    assert r > 0.4
    excess = stack[:, :, hot.column].mean() - np.median(stack[:, :, good])
    assert excess == pytest.approx(hot.level / gain, abs=2.0)
    # Same defects on every call; a different seed moves them.
    assert frames.hot_columns(det, GEOM, opts.seed) == frames.hot_columns(det, GEOM, opts.seed)
    assert any(frames.hot_columns(d, GEOM, 1) != frames.hot_columns(d, GEOM, 2) for d in range(9))


def test_cosmic_rays_and_storm() -> None:
    full = DataOptions(cosmic_ray_rate=200.0)
    quiet = DataOptions(cosmic_rays=False)
    storm = DataOptions(cosmic_ray_storm={2: 1000.0})
    a = frames.make_raw(image(1), 0, full)
    b = frames.make_raw(image(1), 0, quiet)
    assert b[0].header["SIM CR TRACKS"] == 0
    assert a[0].header["SIM CR TRACKS"] > 10
    hits = sum(int(np.sum((ha.data - hb.data)[DATA] > 100)) for ha, hb in zip(a[1:], b[1:]))
    assert hits >= a[0].header["SIM CR TRACKS"]
    # Cosmic rays never touch the overscans.
    for ha, hb in zip(a[1:], b[1:]):
        assert np.array_equal(ha.data[SOVER], hb.data[SOVER])
    calm = frames.make_raw(image(1), 0, storm)[0].header["SIM CR TRACKS"]
    stormy = frames.make_raw(image(2), 0, storm)[0].header["SIM CR TRACKS"]
    assert calm < 10
    assert stormy > 150  # about 330 expected


def test_write_raw_is_readable(tmp_path) -> None:
    info = image(5)
    path = frames.write_raw(info, 6, tmp_path)
    assert path == str(tmp_path / "CC_O_20261125_000005_R22_S20.fits")
    assert [p.name for p in tmp_path.iterdir()] == ["CC_O_20261125_000005_R22_S20.fits"]
    with fits.open(path) as hdul:
        assert hdul[0].header["CCDSLOT"] == "S20"
        np.testing.assert_array_equal(hdul[9].data, frames.make_raw(info, 6)[9].data)
    files = frames.write_bias_frames(tmp_path / "many", 2, (0, 1), first_seq_num=7)
    assert [(f.image.seq_num, f.detector) for f in files] == [(7, 0), (7, 1), (8, 0), (8, 1)]


def fits_bytes(hdulist: fits.HDUList) -> bytes:
    stream = io.BytesIO()
    hdulist.writeto(stream)
    return stream.getvalue()


# Every DataOptions field, with a value that changes the pixels of some frame, or
# None for the fields that only say where and how raws are stored (and ``instrument``,
# the camera the fault ids are checked against: the image's instrument is in the key).
OPTION_VARIANTS: dict[str, object] = {
    "instrument": None,
    "repo": None,
    "staging_dir": None,
    "transfer": None,
    "ingest_failures": None,
    "seed": 2,
    "cosmic_rays": False,
    "cosmic_ray_rate": 20.0,
    "read_noise_factors": {2: 1.5},
    "mean_offsets": {3: 10.0},
    "cosmic_ray_storm": {3: 300.0},
    "cosmic_ray_rate_per_second": 50.0,
    "dark_current_factors": {2: 50.0},
    "flat_nonuniformity": {3: 0.3},
    "flat_amp_response": {(2, "C10"): 0.5},
}
# Options the variant is applied on top of (default: DataOptions()).
OPTION_BASES: dict[str, dict[str, object]] = {"cosmic_rays": {"cosmic_ray_rate": 2000.0}}


def test_every_option_is_in_the_cache_key_test() -> None:
    # A new knob must be added to OPTION_VARIANTS (and, if it changes pixels,
    # to frames._pixel_key), or cached frames would ignore it.
    names = {field.name for field in dataclasses.fields(DataOptions)}
    assert names - {"geometry"} == set(OPTION_VARIANTS)


def _images() -> list:
    """A bias, a dark and a flat of exposure 3."""
    return [
        image(3),
        image(3, image_type="DARK", exp_time=30.0),
        image(3, image_type="FLAT", exp_time=5.0),
    ]


@pytest.mark.parametrize("base_fields", [{}, *OPTION_BASES.values()], ids=["default", *OPTION_BASES])
def test_raw_bytes_is_make_raw_written_out_even_from_the_cache(base_fields: dict[str, object]) -> None:
    # The first frames warm the segment cache; the same frames on another day
    # and in another group are served from it and must still be exactly what
    # make_raw writes (for each set of options a knob is varied on).
    frames._segment_cache.clear()
    base = DataOptions(**base_fields)
    images = _images()
    for info in images:
        assert frames.raw_bytes(info, 2, base) == fits_bytes(frames.make_raw(info, 2, base))
    later = [
        frames.make_image_info(20261201, 3, group_id="other", image_type=i.image_type, exp_time=i.exp_time)
        for i in images
    ]
    with mock.patch.object(frames, "make_raw", side_effect=AssertionError("not from the cache")):
        cached = [frames.raw_bytes(info, 2, base) for info in later]
    assert cached == [fits_bytes(frames.make_raw(info, 2, base)) for info in later]


@pytest.mark.parametrize("option", [name for name, value in OPTION_VARIANTS.items() if value is not None])
def test_changed_knob_is_not_served_from_the_cache(option: str) -> None:
    # With the cache warm with the frames of the base options, the same frames
    # with one fault knob changed must be what make_raw writes with the knob,
    # and differ from the base frames.
    frames._segment_cache.clear()
    base = DataOptions(**OPTION_BASES.get(option, {}))
    images = _images()
    warm = [frames.raw_bytes(info, 2, base) for info in images]
    knob = dataclasses.replace(base, **{option: OPTION_VARIANTS[option]})
    changed = False
    for info, base_bytes in zip(images, warm):
        expected = fits_bytes(frames.make_raw(info, 2, knob))
        assert frames.raw_bytes(info, 2, knob) == expected
        changed |= expected[2880:] != base_bytes[2880:]
    assert changed, f"{option} changes no pixel of these frames"


def test_segment_cache_keeps_at_most_its_size() -> None:
    cache = frames._SegmentCache(max_bytes=100)
    cache.put(("a",), b"x" * 20, 1)
    cache.put(("b",), b"y" * 20, 2)
    assert cache.get(("a",)) == (b"x" * 20, 1)  # now used more recently than b
    cache.put(("c",), b"z" * 26, 3)  # over a quarter of the size: not kept
    assert cache.get(("c",)) is None
    for key in "def":
        cache.put((key,), b"w" * 20, 0)
    assert cache.get(("b",)) is not None  # 100 bytes: all kept
    cache.put(("g",), b"w" * 20, 0)  # 120 bytes: the least recently used goes
    assert cache.get(("a",)) is None
    assert [cache.get((key,)) is not None for key in "bdefg"] == [True] * 5


def test_isr_corrected_noise_is_nominal() -> None:
    """After the bias ISR, a pair difference has the camera-model read noise."""
    from lsst.ts.calibscripts.sim.cp import isr

    det = 4
    model = cm.detector_model(det)
    gains = {a.name: a.gain for a in model.amplifiers}
    opts = DataOptions(cosmic_rays=False)
    results = []
    for seq in (1, 2):
        info = image(seq)
        results.append(isr.isr_bias_frame(frames.make_raw(info, det, opts), gains, info.exposure_id))
    diff = isr.disassemble((results[0].image - results[1].image) / np.sqrt(2))
    ratios = [np.nanstd(diff[a.name]) / a.read_noise for a in model.amplifiers]
    assert np.mean(ratios) == pytest.approx(1.0, abs=0.01)
    # Without the compensation the ISR would add about 3.5 % of noise.
    assert frames.isr_noise_compensation(cm.amp_geometry("reduced"), 4.0) == pytest.approx(0.965, abs=0.005)
