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

"""afw ``MEANCLIP`` stacking, as ``CalibCombineTask`` uses it for cpBias.

Per pixel, across the N input frames:

* pass 0: centre = median, half-width = ``clip`` x 0.741301109252802 x IQR
  (quartiles by linear interpolation, as afw's percentile);
* passes 1 .. ``n_iter`` - 1: centre = clipped mean of the previous pass,
  half-width = ``clip`` x clipped standard deviation (ddof=1) of the previous
  pass;
* every pass clips the *full* sample (not only the previous survivors);
  the result is the mean of the last pass's survivors.

NaN inputs are ignored (masked). Pixels with no surviving input are NaN in
`meanclip_stack`; `combine_frames` replaces them by the median of the
combined image and reports them as BAD, like ``CalibCombineTask``.

`combine_frames` stacks one block of all inputs at a time, reading each
input's block through a callable (`spill_frame` reads only those rows from
a file). A block is at most ``chunk_rows`` rows (200, the ``subregionSize``
height of cp_pipe) and is cut so that its working set (see `plan_blocks`)
fits in
``max_block_bytes`` (default `DEFAULT_MAX_BLOCK_BYTES`): fewer rows as the
number of frames grows, then column strips once one row of every frame is
too much. The memory of a combine is therefore the same for 20 or 200
frames, and every output pixel is computed from the same inputs in the
same order, so the result does not depend on the blocks.
"""

from __future__ import annotations

__all__ = [
    "DEFAULT_MAX_BLOCK_BYTES",
    "WORKING_BYTES_PER_INPUT_PIXEL",
    "WORKING_BYTES_PER_OUTPUT_PIXEL",
    "CombineResult",
    "FrameSource",
    "combine_frames",
    "meanclip_stack",
    "plan_blocks",
    "spill_frame",
]

import dataclasses
import os
import typing

import numpy as np

from .isr import IQ_TO_STDEV

# Callable returning rows [r0, r1) of one input frame.
FrameSource = typing.Callable[[int, int], np.ndarray]

#: Bytes held per stacked input pixel at the peak of a block: the float32
#: block and what `meanclip_stack` allocates per input pixel (a float32
#: copy and boolean masks; measured with tracemalloc: 6 bytes).
WORKING_BYTES_PER_INPUT_PIXEL = 10

#: Bytes held per output pixel of a block, whatever the number of inputs:
#: the float64 quantiles, centre, width, sums and mean of a pass (measured:
#: about 81 bytes).
WORKING_BYTES_PER_OUTPUT_PIXEL = 88

#: Default bound of the working set of one block (64 MiB).
DEFAULT_MAX_BLOCK_BYTES = 64 * 2**20


def _quantile_sorted(sorted_cube: np.ndarray, nvalid: np.ndarray, q: float) -> np.ndarray:
    """Linear-interpolation quantile along axis 0 of a NaN-last sorted cube."""
    pos = q * np.maximum(nvalid - 1, 0)
    lo = np.floor(pos).astype(np.intp)
    hi = np.minimum(lo + 1, np.maximum(nvalid - 1, 0))
    frac = pos - lo
    vlo = np.take_along_axis(sorted_cube, lo[None], axis=0)[0].astype(np.float64)
    vhi = np.take_along_axis(sorted_cube, hi[None], axis=0)[0].astype(np.float64)
    return vlo + frac * (vhi - vlo)


def meanclip_stack(cube: np.ndarray, clip: float = 3.0, n_iter: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel afw MEANCLIP across axis 0.

    Parameters
    ----------
    cube : `numpy.ndarray`
        (N, rows, cols) stack; float32 is used as is, other types are
        converted. NaN marks a masked input pixel.
    clip : `float`
        Clipping half-width in sigma.
    n_iter : `int`
        Number of clipping passes.

    Returns
    -------
    mean : `numpy.ndarray`
        (rows, cols) float64 clipped mean; NaN where nothing survived.
    n_kept : `numpy.ndarray`
        (rows, cols) number of inputs used by the last pass.
    """
    x = np.asarray(cube, dtype=np.float32)
    if x.ndim != 3:
        raise ValueError(f"cube must be 3-d, not {x.shape}")
    nvalid = np.isfinite(x).sum(axis=0)
    sorted_cube = np.sort(x, axis=0)  # NaN sorts last
    q25 = _quantile_sorted(sorted_cube, nvalid, 0.25)
    center = _quantile_sorted(sorted_cube, nvalid, 0.5)
    q75 = _quantile_sorted(sorted_cube, nvalid, 0.75)
    del sorted_cube
    hwidth = clip * IQ_TO_STDEV * (q75 - q25)
    del q25, q75
    mean = np.full(x.shape[1:], np.nan)
    n_kept = np.zeros(x.shape[1:], dtype=np.int64)
    keep = np.empty(x.shape, dtype=bool)
    above = np.empty(x.shape, dtype=bool)
    kept = np.empty(x.shape, dtype=np.float32)
    with np.errstate(invalid="ignore", divide="ignore"):
        for _ in range(max(1, n_iter)):
            # float pixels against double bounds, as afw compares them; NaN
            # (masked) inputs fail both comparisons.
            np.greater_equal(x, (center - hwidth)[None], out=keep)
            np.less_equal(x, (center + hwidth)[None], out=above)
            keep &= above
            n_kept = keep.sum(axis=0)
            kept.fill(0.0)
            np.copyto(kept, x, where=keep)
            total = kept.sum(axis=0, dtype=np.float64)
            squares = np.einsum("ijk,ijk->jk", kept, kept, dtype=np.float64)
            mean = total / n_kept
            var = np.maximum(squares - n_kept * mean * mean, 0.0) / (n_kept - 1)
            var[n_kept == 1] = 0.0
            center = mean
            hwidth = clip * np.sqrt(var)
    mean[n_kept == 0] = np.nan
    return mean, n_kept


@dataclasses.dataclass
class CombineResult:
    """Output of `combine_frames`.

    Attributes
    ----------
    image : `numpy.ndarray`
        Combined image, float32.
    bad : `numpy.ndarray`
        Boolean mask of pixels with no good input (filled with the median).
    block_shape : `tuple` [`int`, `int`]
        Rows and columns of the largest block stacked (each block holds
        that many pixels of every input).
    """

    image: np.ndarray
    bad: np.ndarray
    block_shape: tuple[int, int] = (0, 0)


def plan_blocks(
    n_frames: int, shape: tuple[int, int], chunk_rows: int, max_block_bytes: int | None
) -> tuple[int, int]:
    """Rows and columns of the blocks `combine_frames` stacks.

    Parameters
    ----------
    n_frames : `int`
        Number of inputs.
    shape : `tuple` [`int`, `int`]
        Frame shape (rows, columns).
    chunk_rows : `int`
        Most rows in a block.
    max_block_bytes : `int` or `None`
        Bound of a block's working set (`WORKING_BYTES_PER_INPUT_PIXEL` per
        input pixel and `WORKING_BYTES_PER_OUTPUT_PIXEL` per output pixel);
        None for no bound (blocks of ``chunk_rows`` full rows,
        whose memory grows with the number of frames).

    Returns
    -------
    block : `tuple` [`int`, `int`]
        Rows and columns per block (at least 1 each).
    """
    nrows, ncols = shape
    rows = max(1, min(chunk_rows, nrows))
    if max_block_bytes is None:
        return rows, ncols
    per_pixel = WORKING_BYTES_PER_INPUT_PIXEL * max(1, n_frames) + WORKING_BYTES_PER_OUTPUT_PIXEL
    pixels = max(1, max_block_bytes // per_pixel)
    if pixels >= ncols:
        return min(rows, pixels // ncols), ncols
    return 1, pixels


def combine_frames(
    sources: typing.Sequence[FrameSource],
    shape: tuple[int, int],
    clip: float = 3.0,
    n_iter: int = 3,
    chunk_rows: int = 200,
    max_block_bytes: int | None = DEFAULT_MAX_BLOCK_BYTES,
) -> CombineResult:
    """MEANCLIP-combine frames one block of every input at a time.

    Parameters
    ----------
    sources : `~collections.abc.Sequence` [`FrameSource`]
        One callable per input frame returning rows ``[r0, r1)``.
    shape : `tuple` [`int`, `int`]
        Frame shape (rows, columns).
    clip, n_iter : `float`, `int`
        MEANCLIP parameters.
    chunk_rows : `int`
        Most rows stacked at a time.
    max_block_bytes : `int` or `None`, optional
        Bound of the working set of one block (see `plan_blocks`); the
        result does not depend on it.

    Returns
    -------
    result : `CombineResult`
        Combined image and BAD mask.
    """
    if not sources:
        raise ValueError("Nothing to combine: no input frames")
    nrows, ncols = shape
    block_rows, block_cols = plan_blocks(len(sources), shape, chunk_rows, max_block_bytes)
    out = np.empty(shape, dtype=np.float32)
    bad = np.empty(shape, dtype=bool)
    cube = np.empty((len(sources), block_rows, block_cols), dtype=np.float32)
    for r0 in range(0, nrows, block_rows):
        r1 = min(nrows, r0 + block_rows)
        for c0 in range(0, ncols, block_cols):
            c1 = min(ncols, c0 + block_cols)
            view = cube[:, : r1 - r0, : c1 - c0]
            for i, source in enumerate(sources):
                rows = source(r0, r1)
                view[i] = rows if block_cols == ncols else rows[:, c0:c1]
                del rows
            mean, n = meanclip_stack(view, clip=clip, n_iter=n_iter)
            out[r0:r1, c0:c1] = mean
            bad[r0:r1, c0:c1] = n == 0
            del mean, n
    if bad.any():
        fill = np.nanmedian(out) if not bad.all() else 0.0
        out[bad] = fill
    return CombineResult(image=out, bad=bad, block_shape=(block_rows, block_cols))


def spill_frame(image: np.ndarray, path: str | os.PathLike) -> FrameSource:
    """Write a frame to a raw float32 file and return a row reader for it.

    The reader uses plain file reads (no memory map), so only the requested
    rows are ever resident.

    Parameters
    ----------
    image : `numpy.ndarray`
        2-d frame.
    path : `str` or `os.PathLike`
        File to write (overwritten).

    Returns
    -------
    source : `FrameSource`
        Reader of rows ``[r0, r1)``.
    """
    data = np.ascontiguousarray(image, dtype=np.float32)
    data.tofile(path)
    ncols = data.shape[1]
    itemsize = data.itemsize

    def read(r0: int, r1: int) -> np.ndarray:
        return np.fromfile(
            path, dtype=np.float32, count=(r1 - r0) * ncols, offset=r0 * ncols * itemsize
        ).reshape(r1 - r0, ncols)

    return read
