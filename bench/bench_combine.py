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

"""Benchmark: MEANCLIP combine against ccdproc's sigma-clipped average, and its memory.

Both combiners get the same N frames (float32, one full-size amplifier by
default: 2000 x 509 pixels, 20 frames, with a pedestal, a fixed pattern, read
noise and a few cosmic rays). Printed side by side, measured in one run:

* ``ccdproc (afw passes)``: ccdproc's `~ccdproc.Combiner` doing the afw
  MEANCLIP algorithm through its ``sigma_clipping`` hook: pass 0 around the
  median with 0.7413 x IQR, passes 1-2 around the previous pass's clipped
  mean with its clipped std (ddof=1), each pass re-clipping the full sample,
  then ``average_combine``. Same algorithm, so the results must agree to
  float rounding: the agreement printed is the maximum relative difference.
* ``ccdproc (median/MAD, 1 pass)``: ccdproc's usual sigma-clipped average
  (``ccdproc.combine(method="average", sigma_clip=True)`` with a median
  centre and MAD std); a different algorithm, so the agreement is given as
  the rms difference in units of the master's noise.

Fair timing: every library is imported and every combiner is called once
on a small input (warm-up) before anything is timed; each time is the
median of ``--repeat`` calls, with no memory tracing running. Peak memory
is measured apart, with `tracemalloc` (numpy allocations are traced), in
one more call of each.

Then the memory of our combine as the number of frames grows: full-width
LSSTComCam rows (4072 columns, ``--memory-rows`` of them) made on request
block by block (so no input is held whole), at 20 and 200 frames, with the
bounded blocks (`combine.DEFAULT_MAX_BLOCK_BYTES`) and with fixed 200-row
chunks (the previous behaviour, whose memory grows with N).

Usage::

    python bench/bench_combine.py [--frames 20] [--rows 2000] [--cols 509] [--repeat 5]
"""

import argparse
import statistics
import time
import tracemalloc
import typing

import astropy.units as u
import numpy as np
from astropy.stats import mad_std
from lsst.ts.calibscripts.sim.cp import combine as cp_combine
from lsst.ts.calibscripts.sim.cp.isr import IQ_TO_STDEV

try:
    from ccdproc import CCDData, Combiner, combine
except ImportError as e:  # pragma: no cover - only without the bench extra
    raise SystemExit(
        f"bench_combine.py compares with ccdproc, which is not installed ({e}): make bench-env"
    ) from e

FULL_WIDTH = 4072


def make_frames(n: int, rows: int, cols: int, seed: int = 1) -> list[np.ndarray]:
    """N bias-like frames: pedestal + fixed pattern + read noise + cosmic rays."""
    rng = np.random.default_rng(seed)
    pattern = 20000.0 + rng.normal(0.0, 2.0, (rows, cols))
    frames = []
    for _ in range(n):
        frame = (pattern + rng.normal(0.0, 6.0, (rows, cols))).astype(np.float32)
        for _ in range(5):
            y, x = rng.integers(0, rows - 3), rng.integers(0, cols)
            frame[y : y + 3, x] += rng.uniform(200.0, 3000.0)
        frames.append(frame)
    return frames


def ours(frames: list[np.ndarray]) -> np.ndarray:
    sources = [(lambda r0, r1, f=f: f[r0:r1]) for f in frames]
    return cp_combine.combine_frames(sources, frames[0].shape, clip=3.0, n_iter=3, chunk_rows=200).image


def ccdproc_afw(frames: list[np.ndarray], clip: float = 3.0, n_iter: int = 3) -> np.ndarray:
    combiner = Combiner([CCDData(f, unit=u.adu) for f in frames])
    original = combiner.data_arr.mask.copy()
    previous = original.copy()

    def median(data, axis=None):
        return np.median(data, axis=axis)

    def iqr_std(data, axis=None):
        q25, q75 = np.percentile(data, [25.0, 75.0], axis=axis)
        return IQ_TO_STDEV * (q75 - q25)

    def clipped_mean(data, axis=None):
        return np.ma.MaskedArray(data, mask=previous).mean(axis=axis).filled(np.nan)

    def clipped_std(data, axis=None):
        return np.ma.MaskedArray(data, mask=previous).std(axis=axis, ddof=1).filled(np.nan)

    for i in range(n_iter):
        combiner.data_arr.mask = original.copy()  # each pass re-clips the full sample
        if i == 0:
            combiner.sigma_clipping(low_thresh=clip, high_thresh=clip, func=median, dev_func=iqr_std)
        else:
            combiner.sigma_clipping(
                low_thresh=clip, high_thresh=clip, func=clipped_mean, dev_func=clipped_std
            )
        previous = combiner.data_arr.mask.copy()
    return np.asarray(combiner.average_combine().data)


def ccdproc_default(frames: list[np.ndarray]) -> np.ndarray:
    return np.asarray(
        combine(
            [CCDData(f, unit=u.adu) for f in frames],
            method="average",
            sigma_clip=True,
            sigma_clip_low_thresh=3.0,
            sigma_clip_high_thresh=3.0,
            sigma_clip_func=np.ma.median,
            sigma_clip_dev_func=mad_std,
        ).data
    )


def median_time(func: typing.Callable, frames: list[np.ndarray], repeat: int) -> tuple[np.ndarray, float]:
    """Result and median wall time of ``repeat`` calls (no tracing running)."""
    times = []
    result = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = func(frames)
        times.append(time.perf_counter() - t0)
    return result, statistics.median(times)


def peak_bytes(func: typing.Callable, *args: typing.Any) -> int:
    """tracemalloc peak of one call, above what was allocated before it."""
    tracemalloc.start()
    base, _ = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    func(*args)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak - base


def synthetic_sources(n_frames: int, shape: tuple[int, int]) -> list[cp_combine.FrameSource]:
    """Frames made block by block on request, as spilled frames are read back."""
    rng = np.random.default_rng(2)
    pattern = (20000.0 + rng.normal(0.0, 6.0, shape)).astype(np.float32)

    def source(i: int) -> cp_combine.FrameSource:
        return lambda r0, r1: pattern[r0:r1] + np.float32(i % 5)

    return [source(i) for i in range(n_frames)]


def memory_table(rows: int) -> None:
    shape = (rows, FULL_WIDTH)
    out_mib = shape[0] * shape[1] * 5 / 2**20  # the float32 master and its BAD mask
    print(
        f"\nour combine's peak memory (tracemalloc), {rows} x {FULL_WIDTH} frames made block by block; "
        f"the output itself is {out_mib:.0f} MiB:"
    )
    print(f"{'frames':>6s} {'bounded blocks MiB':>19s} {'block':>11s} {'fixed 200-row chunks MiB':>25s}")
    for n_frames in (20, 200):
        bounded = peak_bytes(cp_combine.combine_frames, synthetic_sources(n_frames, shape), shape)
        block = cp_combine.plan_blocks(n_frames, shape, 200, cp_combine.DEFAULT_MAX_BLOCK_BYTES)
        fixed = peak_bytes(
            lambda: cp_combine.combine_frames(synthetic_sources(n_frames, shape), shape, max_block_bytes=None)
        )
        print(
            f"{n_frames:6d} {bounded / 2**20:19.0f} {f'{block[0]} x {block[1]}':>11s} {fixed / 2**20:25.0f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--cols", type=int, default=509)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--memory-rows", type=int, default=200, help="rows of the memory table's frames")
    args = parser.parse_args()
    frames = make_frames(args.frames, args.rows, args.cols)
    combiners = {
        "ours (MEANCLIP, bounded blocks)": ours,
        "ccdproc (afw passes)": ccdproc_afw,
        "ccdproc (median/MAD, 1 pass)": ccdproc_default,
    }
    small = [f[:50] for f in frames[:5]]
    for func in combiners.values():
        func(small)  # warm-up: first-call costs (lazy imports, caches) are not timed
    results = {}
    times = {}
    peaks = {}
    for name, func in combiners.items():
        results[name], times[name] = median_time(func, frames, args.repeat)
    for name, func in combiners.items():
        peaks[name] = peak_bytes(func, frames)
    mine = results["ours (MEANCLIP, bounded blocks)"]
    afw = results["ccdproc (afw passes)"]
    default = results["ccdproc (median/MAD, 1 pass)"]
    t_mine = times["ours (MEANCLIP, bounded blocks)"]
    noise = float(np.std(mine - np.median(mine)))
    rel = np.abs(mine.astype(np.float64) - afw) / np.abs(afw)
    input_mb = sum(f.nbytes for f in frames) / 2**20
    print(
        f"{args.frames} frames of {args.rows} x {args.cols} float32 ({input_mb:.0f} MiB of input); "
        f"median of {args.repeat} timed calls each, after a warm-up"
    )
    print(f"{'combiner':34s} {'time s':>8s} {'ours faster by':>15s} {'peak MiB':>9s}  agreement with ours")
    agreement = {
        "ours (MEANCLIP, bounded blocks)": "",
        "ccdproc (afw passes)": f"max relative difference {rel.max():.2e} (median {np.median(rel):.1e})",
        "ccdproc (median/MAD, 1 pass)": f"rms difference {np.std(mine - default) / noise:.3f} x master noise "
        "(different algorithm)",
    }
    for name in combiners:
        ratio = "" if name.startswith("ours") else f"{times[name] / t_mine:14.1f}x"
        print(f"{name:34s} {times[name]:8.2f} {ratio:>15s} {peaks[name] / 2**20:9.0f}  {agreement[name]}")
    speedup = times["ccdproc (afw passes)"] / t_mine
    print(
        f"targets: >= 5x faster -> {'met' if speedup >= 5 else 'NOT met'}; "
        f"same result within 1e-5 relative -> {'met' if rel.max() <= 1e-5 else 'NOT met'}"
    )
    memory_table(args.memory_rows)


if __name__ == "__main__":
    main()
