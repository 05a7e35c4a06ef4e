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

"""Tests of the MEANCLIP combination."""

import numpy as np
import pytest
from lsst.ts.calibscripts.sim.cp import combine
from lsst.ts.calibscripts.sim.cp.isr import clipped_mean_std


def _sources(frames):
    return [(lambda r0, r1, f=f: f[r0:r1]) for f in frames]


def test_stack_matches_per_pixel_reference() -> None:
    rng = np.random.default_rng(11)
    cube = rng.normal(0.0, 8.0, (20, 30, 40)).astype(np.float32)
    cube[3, 5, 7] = 500.0
    cube[0:4, 10, 10] = -300.0
    cube[5, 2, 2] = np.nan
    mean, n = combine.meanclip_stack(cube)
    for j in range(cube.shape[1]):
        for k in range(cube.shape[2]):
            ref_mean, _, ref_n = clipped_mean_std(cube[:, j, k], 3.0, 3)
            assert mean[j, k] == pytest.approx(ref_mean, rel=1e-5, abs=1e-5)
            assert n[j, k] == ref_n
    assert n[5, 7] < 20 and n[2, 2] <= 19


def test_each_pass_reclips_full_sample() -> None:
    # Pass 0 (median 0, IQR 1.5: half-width 3.336) rejects 3.4; pass 1
    # (mean 0, std 1.155: half-width 3.464) takes it back, as afw does.
    # A survivors-only clip would return 0.
    values = np.array([-2, -1, -1, 0, 0, 0, 0, 1, 1, 2, 3.4], dtype=np.float32)
    mean, n = combine.meanclip_stack(values[:, None, None])
    assert n[0, 0] == 11
    assert mean[0, 0] == pytest.approx(values.mean(), rel=1e-6)
    one_pass, n1 = combine.meanclip_stack(values[:, None, None], n_iter=1)
    assert n1[0, 0] == 10 and one_pass[0, 0] == pytest.approx(0.0, abs=1e-7)


def test_chunking_does_not_change_result() -> None:
    rng = np.random.default_rng(12)
    frames = [rng.normal(0.0, 5.0, (53, 17)).astype(np.float32) for _ in range(7)]
    whole = combine.combine_frames(_sources(frames), (53, 17), chunk_rows=200)
    chunked = combine.combine_frames(_sources(frames), (53, 17), chunk_rows=7)
    np.testing.assert_array_equal(whole.image, chunked.image)


def test_no_good_pixels_become_bad_and_median() -> None:
    frames = [np.arange(12, dtype=np.float32).reshape(3, 4) for _ in range(3)]
    for f in frames:
        f[1, 1] = np.nan
    result = combine.combine_frames(_sources(frames), (3, 4))
    assert result.bad.sum() == 1 and result.bad[1, 1]
    good = np.delete(np.arange(12, dtype=np.float32), 5)
    assert result.image[1, 1] == pytest.approx(np.median(good))
    with pytest.raises(ValueError):
        combine.combine_frames([], (3, 4))


def test_spill_frame_reads_rows(tmp_path) -> None:
    image = np.arange(60, dtype=np.float32).reshape(6, 10)
    read = combine.spill_frame(image, tmp_path / "f.f32")
    np.testing.assert_array_equal(read(2, 5), image[2:5])
    np.testing.assert_array_equal(read(0, 6), image)


def test_master_noise_close_to_rn_over_sqrt_n() -> None:
    rng = np.random.default_rng(13)
    rn, n_frames = 8.0, 20
    pattern = rng.normal(0.0, 2.0, (400, 509)).astype(np.float32)
    frames = [pattern + rng.normal(0.0, rn, pattern.shape).astype(np.float32) for _ in range(n_frames)]
    master = combine.combine_frames(_sources(frames), pattern.shape).image
    ratio = float(np.std(master - pattern)) / (rn / np.sqrt(n_frames))
    # 3-sigma clipping of 20 samples costs about 3.5 % in noise.
    assert 1.01 < ratio < 1.045
    # A cosmic ray in one frame does not reach the master.
    frames[4][100, 100] += 3000.0
    master_cr = combine.combine_frames(_sources(frames), pattern.shape).image
    assert abs(master_cr[100, 100] - master[100, 100]) < 1.0
