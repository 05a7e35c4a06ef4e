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

"""Benchmark: MEANCLIP combine against ccdproc's sigma-clipped average.

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

Peak memory is the `tracemalloc` peak of each call (numpy allocations are
traced). Usage::

    python bench/bench_combine.py [--frames 20] [--rows 2000] [--cols 509]
"""

import argparse
import time
import tracemalloc

import numpy as np
from lsst.ts.calibscripts.sim.cp.combine import combine_frames
from lsst.ts.calibscripts.sim.cp.isr import IQ_TO_STDEV


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
    return combine_frames(sources, frames[0].shape, clip=3.0, n_iter=3, chunk_rows=200).image


def ccdproc_afw(frames: list[np.ndarray], clip: float = 3.0, n_iter: int = 3) -> np.ndarray:
    import astropy.units as u
    from ccdproc import CCDData, Combiner

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
    import astropy.units as u
    from astropy.stats import mad_std
    from ccdproc import CCDData, combine

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


def measure(func, frames):
    tracemalloc.start()
    t0 = time.perf_counter()
    result = func(frames)
    elapsed = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return result, elapsed, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--cols", type=int, default=509)
    args = parser.parse_args()
    frames = make_frames(args.frames, args.rows, args.cols)
    input_mb = sum(f.nbytes for f in frames) / 2**20
    print(f"{args.frames} frames of {args.rows} x {args.cols} float32 ({input_mb:.0f} MiB of input)")
    mine, t_mine, m_mine = measure(ours, frames)
    afw, t_afw, m_afw = measure(ccdproc_afw, frames)
    default, t_def, m_def = measure(ccdproc_default, frames)
    noise = float(np.std(mine - np.median(mine)))
    rel = np.abs(mine.astype(np.float64) - afw) / np.abs(afw)
    print(f"{'combiner':34s} {'time s':>8s} {'ours faster by':>15s} {'peak MiB':>9s}  agreement with ours")
    print(f"{'ours (MEANCLIP, 200-row chunks)':34s} {t_mine:8.2f} {'':>15s} {m_mine / 2**20:9.0f}")
    print(
        f"{'ccdproc (afw passes)':34s} {t_afw:8.2f} {t_afw / t_mine:14.1f}x {m_afw / 2**20:9.0f}  "
        f"max relative difference {rel.max():.2e} (median {np.median(rel):.1e})"
    )
    print(
        f"{'ccdproc (median/MAD, 1 pass)':34s} {t_def:8.2f} {t_def / t_mine:14.1f}x {m_def / 2**20:9.0f}  "
        f"rms difference {np.std(mine - default) / noise:.3f} x master noise (different algorithm)"
    )
    print(
        f"targets: >= 5x faster -> {'met' if t_afw / t_mine >= 5 else 'NOT met'}; "
        f"same result within 1e-5 relative -> {'met' if rel.max() <= 1e-5 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
