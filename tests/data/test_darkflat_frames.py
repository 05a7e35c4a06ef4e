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

"""Tests of the simulated dark and flat raw frames.

A dark or flat and a bias of the same ``seq_num`` and detector share every
bias-side random draw (read noise, drift, common mode), so with cosmic rays
off their difference is exactly the photon signal divided by the gain, up
to rounding to integer ADU. The tests measure the signal that way.
"""

import numpy as np
import pytest
from lsst.ts.calibscripts.sim.data import camera_model as cm
from lsst.ts.calibscripts.sim.data import frames
from lsst.ts.calibscripts.sim.data.options import DataOptions

GEOM = cm.amp_geometry("reduced")
DATA = GEOM.data_slice
NO_CR = DataOptions(cosmic_rays=False)


def image(seq: int = 1, **kwargs) -> frames.ImageInfo:
    return frames.make_image_info(20261125, seq, group_id="2026-11-25T22:00:00.000", **kwargs)


def signal_e(info: frames.ImageInfo, detector: int, options: DataOptions = NO_CR) -> dict[str, np.ndarray]:
    """Photo-electrons per amp (data region): (frame − bias of the same seq_num) × gain."""
    frame = frames.make_raw(info, detector, options)
    bias = frames.make_raw(image(info.seq_num), detector, options)
    model = cm.detector_model(detector)
    return {
        amp.name: (frame[i + 1].data[DATA].astype(np.float64) - bias[i + 1].data[DATA]) * amp.gain
        for i, amp in enumerate(model.amplifiers)
    }


def test_headers_follow_type_time_and_filter() -> None:
    dark = frames.make_raw(image(2, image_type="DARK", exp_time=30.0), 0)[0].header
    assert (dark["IMGTYPE"], dark["EXPTIME"], dark["SHUTTIME"], dark["FILTER"]) == ("DARK", 30.0, 0.0, "r_03")
    assert dark["DARKTIME"] == pytest.approx(30.0 + cm.DARK_TIME_EXCESS)
    flat = frames.make_raw(image(3, image_type="FLAT", exp_time=5.0, physical_filter="g_01"), 0)[0].header
    assert (flat["IMGTYPE"], flat["EXPTIME"], flat["SHUTTIME"], flat["FILTER"]) == ("FLAT", 5.0, 5.0, "g_01")
    assert flat["DARKTIME"] > flat["EXPTIME"]
    bias = frames.make_raw(image(4), 0)[0].header
    assert (bias["DARKTIME"], bias["SHUTTIME"], bias["FILTER"]) == (cm.BIAS_DARK_TIME, 0.0, "r_03")
    with pytest.raises(ValueError, match="physical filter"):
        image(5, physical_filter="r_57")
    with pytest.raises(ValueError, match="exp_time"):
        image(5, exp_time=-1.0)


def test_bias_ignores_dark_and_flat_knobs() -> None:
    plain = frames.make_raw(image(3), 4)
    knobs = DataOptions(
        dark_current_factors={4: 100.0},
        flat_nonuniformity={3: 0.3},
        flat_amp_response={(4, "C10"): 0.1},
        cosmic_ray_rate_per_second=100.0,
    )
    other = frames.make_raw(image(3), 4, knobs)
    for a, b in zip(plain[1:], other[1:]):
        np.testing.assert_array_equal(a.data, b.data)


def test_dark_current_scales_with_dark_time() -> None:
    # x100 dark current: ~0.01 e-/s -> ~1 e-/s, i.e. ~30 e- per pixel in 30 s, so
    # the Poisson and rounding errors of the 163,000-pixel total are < 0.1 %.
    options = DataOptions(cosmic_rays=False, dark_current_factors={2: 100.0})
    expected_rate = sum(frames.dark_current(2, a, GEOM, options.seed).sum() for a in cm.AMP_NAMES) * 100.0
    totals = {}
    for seq, t in ((5, 30.0), (6, 60.0)):
        info = image(seq, image_type="DARK", exp_time=t)
        totals[t] = sum(s.sum() for s in signal_e(info, 2, options).values())
        assert totals[t] == pytest.approx(expected_rate * (t + cm.DARK_TIME_EXCESS), rel=0.005)
    assert totals[60.0] / totals[30.0] == pytest.approx((60 + 0.01371) / (30 + 0.01371), rel=0.005)


def test_dark_current_has_warm_pixels_and_nominal_levels() -> None:
    currents = np.concatenate(
        [frames.dark_current(d, a, GEOM, 1).ravel() for d in range(9) for a in cm.AMP_NAMES]
    )
    assert 0.002 < np.median(currents) < 0.02
    warm = currents > 0.05
    assert 0 < warm.sum() < 1e-3 * currents.size
    assert currents.max() <= frames.WARM_PIXEL_RANGE_E_S[1]


def test_more_cosmic_rays_in_long_exposures() -> None:
    options = DataOptions()
    bias_rate = frames.cosmic_ray_mean(image(1), GEOM, options)
    dark_rate = frames.cosmic_ray_mean(image(2, image_type="DARK", exp_time=30.0), GEOM, options)
    area = GEOM.data_width * GEOM.data_height / 1e6
    assert bias_rate == pytest.approx(options.cosmic_ray_rate * area)
    assert dark_rate - bias_rate == pytest.approx(options.cosmic_ray_rate_per_second * 30.01371 * area)
    storm = DataOptions(cosmic_ray_rate_per_second=2000.0)  # ~600 tracks per amp in 30 s
    tracks = frames.make_raw(image(2, image_type="DARK", exp_time=30.0), 0, storm)[0].header["SIM CR TRACKS"]
    assert tracks > 16 * 500
    assert frames.make_raw(image(1), 0, storm)[0].header["SIM CR TRACKS"] < 16 * 5


@pytest.mark.parametrize("physical_filter", ["r_03", "g_01"])
def test_flat_signal_is_flux_times_response(physical_filter: str) -> None:
    info = image(7, image_type="FLAT", exp_time=5.0, physical_filter=physical_filter)
    flux = cm.FLAT_FLUX[physical_filter] * 5.0
    for amp, electrons in signal_e(info, 4).items():
        response = frames.flat_response(4, amp, GEOM, 1)
        dark = frames.dark_current(4, amp, GEOM, 1) * (5.0 + cm.DARK_TIME_EXCESS)
        # Shot noise of the 10,200-pixel mean: sqrt(18 ke-) / 18 ke- / 100 ~ 8e-5.
        assert electrons.mean() == pytest.approx((flux * response + dark).mean(), rel=5e-4)
        # Per pixel the spread is Poisson (+ rounding): variance ~ mean.
        residual = electrons - flux * response
        assert residual.var() == pytest.approx((flux * response).mean(), rel=0.05)


def test_flat_response_is_smooth_and_small() -> None:
    responses = {(d, a): frames.flat_response(d, a, GEOM, 1).mean() for d in range(9) for a in cm.AMP_NAMES}
    values = np.array(list(responses.values()))
    # Within ~1.5 % of each other: cp_verify's NOISE <= sqrt(MEAN) needs amps
    # within ~1/N of the focal-plane mean.
    assert values.max() / values.min() < 1.02
    assert values.std() > 1e-3  # but not flat: amps and detectors differ
    centre = np.mean([responses[(4, a)] for a in cm.AMP_NAMES])
    corner = np.mean([responses[(0, a)] for a in cm.AMP_NAMES])
    assert corner < centre


def test_flat_faults() -> None:
    options = DataOptions(
        cosmic_rays=False, flat_nonuniformity={8: 0.3}, flat_amp_response={(3, "C10"): 0.25}
    )
    tilted = image(8, image_type="FLAT", exp_time=5.0)
    # S10 and S12 sit one CCD left and right of the centre, where the
    # gradient (±0.3 at the raft edges, 1.5 CCDs out) is ±0.2.
    left = np.mean([s.mean() for a, s in signal_e(tilted, 3, options).items() if a != "C10"])
    right = np.mean([s.mean() for a, s in signal_e(tilted, 5, options).items() if a != "C10"])
    assert right / left == pytest.approx(1.2 / 0.8, rel=0.01)
    normal = image(9, image_type="FLAT", exp_time=5.0)
    amps = signal_e(normal, 3, options)
    assert amps["C10"].mean() / amps["C11"].mean() == pytest.approx(0.25, rel=0.02)
    for bad in (
        {"dark_current_factors": {9: 2.0}},
        {"flat_nonuniformity": {1: 1.5}},
        {"flat_amp_response": {(0, "C99"): 0.5}},
    ):
        with pytest.raises(ValueError):
            DataOptions(**bad)
