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


def _synthetic_sources(n_frames: int, shape: tuple[int, int], seed: int = 5):
    """Frames made on request, row block by row block: no frame is ever held whole."""
    rng = np.random.default_rng(seed)
    pattern = rng.normal(1000.0, 3.0, shape).astype(np.float32)
    offsets = rng.normal(0.0, 4.0, n_frames).astype(np.float32)

    def source(i: int):
        def read(r0: int, r1: int) -> np.ndarray:
            rows = pattern[r0:r1] + offsets[i]
            if i % 7 == 0:
                rows[:, i % shape[1]] = 5000.0  # a cosmic-ray column
            return rows

        return read

    return [source(i) for i in range(n_frames)]


def test_bounded_blocks_give_the_same_result_bit_for_bit() -> None:
    rng = np.random.default_rng(13)
    frames = [rng.normal(0.0, 5.0, (45, 64)).astype(np.float32) for _ in range(11)]
    frames[2][3, 4] = 900.0
    for f in frames:
        f[7, 9] = np.nan  # no good input: BAD, filled with the median
    frames[4][20, :] = np.nan
    unbounded = combine.combine_frames(_sources(frames), (45, 64), max_block_bytes=None)
    assert unbounded.block_shape == (45, 64)
    # 11 frames x 10 + 88 bytes: 2,000 bytes hold 10 pixels of each, so column strips of one row.
    strips = combine.combine_frames(_sources(frames), (45, 64), max_block_bytes=2_000)
    assert strips.block_shape == (1, 10)
    rows = combine.combine_frames(_sources(frames), (45, 64), max_block_bytes=(11 * 10 + 88) * 64 * 6)
    assert rows.block_shape == (6, 64)
    for result in (strips, rows):
        np.testing.assert_array_equal(result.image, unbounded.image)
        np.testing.assert_array_equal(result.bad, unbounded.bad)
    assert unbounded.bad.sum() == 1 and unbounded.bad[7, 9]


@pytest.mark.parametrize("shape", [(40, 512), (3, 4072)])
def test_working_set_does_not_grow_with_the_number_of_frames(shape, monkeypatch) -> None:
    """Count the pixels stacked per block (what meanclip_stack is given) at 8, 80 and 800 frames."""
    budget = 2**20
    stacked: dict[int, int] = {}
    real_stack = combine.meanclip_stack

    def counting_stack(cube, *args, **kwargs):
        n = cube.shape[0]
        stacked[n] = max(stacked.get(n, 0), cube.size)
        return real_stack(cube, *args, **kwargs)

    def working_bytes(n: int) -> int:
        return (
            stacked[n] * combine.WORKING_BYTES_PER_INPUT_PIXEL
            + stacked[n] // n * combine.WORKING_BYTES_PER_OUTPUT_PIXEL
        )

    monkeypatch.setattr(combine, "meanclip_stack", counting_stack)
    for n_frames in (8, 80, 800):
        result = combine.combine_frames(_synthetic_sources(n_frames, shape), shape, max_block_bytes=budget)
        assert result.image.shape == shape
    peak_bytes = {n: working_bytes(n) for n in stacked}
    assert all(b <= budget for b in peak_bytes.values()), peak_bytes
    # The bound is used, not just respected: at least half of it, at every N.
    assert all(b >= budget // 2 for b in peak_bytes.values()), peak_bytes
    # The old fixed 200-row chunks grow with N (the same count, unbounded).
    stacked.clear()
    combine.combine_frames(_synthetic_sources(80, shape), shape, max_block_bytes=None)
    assert working_bytes(80) > budget
    assert stacked[80] == 80 * min(200, shape[0]) * shape[1]


def test_plan_blocks() -> None:
    width = 4072
    for n_frames in (20, 200, 2000):
        rows, cols = combine.plan_blocks(n_frames, (4000, width), 200, combine.DEFAULT_MAX_BLOCK_BYTES)
        working = rows * cols * (
            n_frames * combine.WORKING_BYTES_PER_INPUT_PIXEL + combine.WORKING_BYTES_PER_OUTPUT_PIXEL
        )
        assert combine.DEFAULT_MAX_BLOCK_BYTES // 2 <= working <= combine.DEFAULT_MAX_BLOCK_BYTES
    # 64 MiB / (20 x 10 + 88) bytes = 233,016 pixels: 57 full rows; 2000 frames: part of a row.
    assert combine.plan_blocks(20, (4000, width), 200, combine.DEFAULT_MAX_BLOCK_BYTES) == (57, width)
    assert combine.plan_blocks(2000, (4000, width), 200, combine.DEFAULT_MAX_BLOCK_BYTES) == (1, 3340)
    assert combine.plan_blocks(3, (10, 5), 200, None) == (10, 5)
