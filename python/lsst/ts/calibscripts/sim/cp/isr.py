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

"""Bias ISR emulation: what ``IsrTaskLSST`` does to a bias frame, in numpy.

The raw is an `astropy.io.fits.HDUList` laid out like an LSSTComCam raw: a
primary header, then one image extension per amplifier named ``SegmentXY``
(HDU order C10..C17, C07..C00), each with a ``DATASEC`` keyword. The
geometry (data region, serial and parallel overscans) is read from
``DATASEC`` (and ``BIASSEC`` when present), so the full-size 576 x 2048 amps
and the reduced test geometry go through the same code.

Per amplifier, in the order of ``IsrTaskLSST``:

1. integer to float64 and symmetric dither, U[-0.5, 0.5), seeded by
   ``exposure_id & 0xFFFFFFFF``;
2. serial overscan, ADU: per-row median of the serial overscan columns
   (3 leading and 3 trailing columns skipped), pixels beyond
   3 x 0.7413 x IQR of their row masked first, fully masked rows filled from
   the median of 5 neighbouring rows each side; the row value is subtracted
   from the whole row (data, parallel and serial overscan). The 3-sigma
   clipped standard deviation of the corrected overscan is the
   ``LSST ISR OVERSCAN RESIDUAL SERIAL STDEV <amp>`` metadata (ADU);
3. gains applied: units become electrons;
4. parallel overscan: per-column median of the parallel overscan rows
   (3 leading and 3 trailing rows skipped) after one-sided rejection of
   pixels above median + 100, subtracted from each column;
5. trim to the data region and assemble into the detector image with the
   amplifier flips of the ITL camera geometry.

Any amplifier layout of the camera profiles goes through: a full CCD (16
amps, ITL or e2v, whose prescan and overscan widths come from the header)
or a wavefront half CCD (8 amps ``C10`` .. ``C17``, one row); the raw's
``DETSIZE`` says how many rows of amplifiers it has.
"""

from __future__ import annotations

__all__ = [
    "AMP_NAMES",
    "IQ_TO_STDEV",
    "AmpGeometry",
    "AmpLayout",
    "IsrResult",
    "amp_geometry_from_header",
    "amp_layout",
    "layout_amp_names",
    "amp_names_in",
    "layout_from_detsec",
    "assemble",
    "clipped_mean_std",
    "disassemble",
    "isr_amp",
    "isr_bias_frame",
    "parallel_overscan_correct",
    "parse_fits_section",
    "serial_overscan_correct",
]

import dataclasses
import re
import typing

import numpy as np

from ..data.camera_model import AMP_NAMES

if typing.TYPE_CHECKING:
    import astropy.io.fits

# Interquartile range to standard deviation for a Gaussian (afw IQ_TO_STDEV).
IQ_TO_STDEV = 0.741301109252802

_SECTION_RE = re.compile(r"^\s*\[\s*(\d+)\s*:\s*(\d+)\s*,\s*(\d+)\s*:\s*(\d+)\s*\]\s*$")


def parse_fits_section(section: str) -> tuple[slice, slice]:
    """Parse a FITS section string into numpy (row, column) slices.

    Parameters
    ----------
    section : `str`
        ``[x1:x2,y1:y2]``, 1-based and inclusive (FITS convention); reversed
        ranges (``[509:1,...]``) are accepted and normalised.

    Returns
    -------
    rows, cols : `slice`
        Zero-based, end-exclusive slices.
    """
    match = _SECTION_RE.match(section)
    if match is None:
        raise ValueError(f"Not a FITS section: {section!r}")
    x1, x2, y1, y2 = (int(v) for v in match.groups())
    xa, xb = sorted((x1, x2))
    ya, yb = sorted((y1, y2))
    return slice(ya - 1, yb), slice(xa - 1, xb)


@dataclasses.dataclass(frozen=True)
class AmpGeometry:
    """Raw amplifier geometry (zero-based, end-exclusive).

    Attributes
    ----------
    nrows, ncols : `int`
        Raw amplifier shape.
    data_rows, data_cols : `slice`
        Imaging (data) region.
    serial_cols : `slice`
        Serial overscan columns (right of the data region).
    parallel_rows : `slice`
        Parallel overscan rows (above the data region).
    """

    nrows: int
    ncols: int
    data_rows: slice
    data_cols: slice
    serial_cols: slice
    parallel_rows: slice

    @property
    def data_shape(self) -> tuple[int, int]:
        """Shape (rows, columns) of the trimmed amplifier."""
        return (self.data_rows.stop - self.data_rows.start, self.data_cols.stop - self.data_cols.start)


def amp_geometry_from_header(header: "astropy.io.fits.Header", shape: tuple[int, int]) -> AmpGeometry:
    """Derive an amplifier's geometry from its raw header and pixel shape.

    Parameters
    ----------
    header : `astropy.io.fits.Header`
        Header of the amplifier extension; must have ``DATASEC``. ``BIASSEC``
        (serial overscan) is used when present.
    shape : `tuple` [`int`, `int`]
        (rows, columns) of the raw amplifier.

    Returns
    -------
    geometry : `AmpGeometry`
        The regions.
    """
    nrows, ncols = shape
    if "DATASEC" not in header:
        raise ValueError("Raw amplifier header has no DATASEC")
    data_rows, data_cols = parse_fits_section(header["DATASEC"])
    if "BIASSEC" in header:
        _, serial_cols = parse_fits_section(header["BIASSEC"])
    else:
        serial_cols = slice(data_cols.stop, ncols)
    parallel_rows = slice(data_rows.stop, nrows)
    if serial_cols.stop - serial_cols.start < 1:
        raise ValueError(f"Raw amplifier has no serial overscan (DATASEC={header['DATASEC']}, shape={shape})")
    if parallel_rows.stop - parallel_rows.start < 1:
        raise ValueError(
            f"Raw amplifier has no parallel overscan (DATASEC={header['DATASEC']}, shape={shape})"
        )
    return AmpGeometry(nrows, ncols, data_rows, data_cols, serial_cols, parallel_rows)


def _skip(n: int, wanted: int) -> int:
    """Leading/trailing skip that leaves at least one pixel of ``n``."""
    return max(0, min(wanted, (n - 1) // 2))


def clipped_mean_std(values: np.ndarray, nsigma: float, niter: int) -> tuple[float, float, int]:
    """afw-style iterative sigma clipping of a flat sample (MEANCLIP/STDEVCLIP).

    Pass 0 clips around the median with half-width
    ``nsigma * IQ_TO_STDEV * IQR``; every later pass clips the *full* sample
    around the previous pass's clipped mean with half-width
    ``nsigma * clipped std`` (ddof=1). The iteration count is fixed.

    Parameters
    ----------
    values : `numpy.ndarray`
        Sample; NaNs are ignored.
    nsigma : `float`
        Clipping half-width in sigma.
    niter : `int`
        Number of passes (>= 1).

    Returns
    -------
    mean, std, n : `float`, `float`, `int`
        Clipped mean, clipped standard deviation (ddof=1) and the number of
        pixels kept by the last pass. NaN and 0 when nothing is left.
    """
    x = np.asarray(values, dtype=np.float64).ravel()
    x = x[np.isfinite(x)]
    if x.size == 0:
        return float("nan"), float("nan"), 0
    q25, q50, q75 = np.percentile(x, [25.0, 50.0, 75.0])
    center = q50
    hwidth = nsigma * IQ_TO_STDEV * (q75 - q25)
    mean, std, n = float("nan"), float("nan"), 0
    for _ in range(max(1, niter)):
        kept = x[np.abs(x - center) <= hwidth]
        n = kept.size
        if n == 0:
            return float("nan"), float("nan"), 0
        mean = float(kept.mean())
        std = float(kept.std(ddof=1)) if n > 1 else 0.0
        center = mean
        hwidth = nsigma * std
    return mean, std, n


def _row_medians_masked(values: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Median of each row over unmasked pixels; rows with none are flagged."""
    work = np.where(mask, np.inf, values)
    work.sort(axis=1)
    nvalid = (~mask).sum(axis=1)
    rows = np.arange(values.shape[0])
    lo = np.clip((nvalid - 1) // 2, 0, values.shape[1] - 1)
    hi = np.clip(nvalid // 2, 0, values.shape[1] - 1)
    med = 0.5 * (work[rows, lo] + work[rows, hi])
    bad = nvalid == 0
    med[bad] = np.nan
    return med, bad


def serial_overscan_correct(
    amp: np.ndarray, geom: AmpGeometry, skip: int = 3, nsigma: float = 3.0
) -> tuple[np.ndarray, float]:
    """Subtract the per-row serial overscan median (``MEDIAN_PER_ROW``).

    Parameters
    ----------
    amp : `numpy.ndarray`
        Raw amplifier, float64, modified in place.
    geom : `AmpGeometry`
        Amplifier geometry.
    skip : `int`
        Leading and trailing overscan columns to skip.
    nsigma : `float`
        Outlier rejection in units of 0.7413 x IQR of each row.

    Returns
    -------
    amp : `numpy.ndarray`
        The corrected amplifier (same object).
    residual_stdev : `float`
        3-sigma clipped standard deviation of the corrected serial overscan
        (ADU); the ``READ_NOISE_ADU`` statistic.
    """
    ncols = geom.serial_cols.stop - geom.serial_cols.start
    lead = _skip(ncols, skip)
    cols = slice(geom.serial_cols.start + lead, geom.serial_cols.stop - lead)
    overscan = amp[:, cols]
    q25, q50, q75 = np.percentile(overscan, [25.0, 50.0, 75.0], axis=1)
    limit = nsigma * IQ_TO_STDEV * (q75 - q25)
    mask = np.abs(overscan - q50[:, None]) > limit[:, None]
    row_value, bad = _row_medians_masked(overscan, mask)
    if bad.any():
        good_value = row_value.copy()
        for row in np.flatnonzero(bad):
            neighbours = good_value[max(0, row - 5) : row + 6]
            neighbours = neighbours[np.isfinite(neighbours)]
            row_value[row] = np.median(neighbours) if neighbours.size else np.nanmedian(good_value)
    amp -= row_value[:, None]
    _, residual_stdev, _ = clipped_mean_std(amp[:, cols], 3.0, 3)
    return amp, residual_stdev


def parallel_overscan_correct(
    amp: np.ndarray, geom: AmpGeometry, skip: int = 3, max_deviation: float = 100.0
) -> np.ndarray:
    """Subtract the per-column parallel overscan median.

    Parameters
    ----------
    amp : `numpy.ndarray`
        Serial-corrected amplifier in electrons, modified in place.
    geom : `AmpGeometry`
        Amplifier geometry.
    skip : `int`
        Leading and trailing overscan rows to skip.
    max_deviation : `float`
        One-sided rejection: pixels above the column median + this are
        ignored.

    Returns
    -------
    amp : `numpy.ndarray`
        The corrected amplifier (same object).
    """
    nrows = geom.parallel_rows.stop - geom.parallel_rows.start
    lead = _skip(nrows, skip)
    rows = slice(geom.parallel_rows.start + lead, geom.parallel_rows.stop - lead)
    overscan = amp[rows, geom.data_cols]
    first = np.median(overscan, axis=0)
    mask = overscan > first[None, :] + max_deviation
    col_value, bad = _row_medians_masked(overscan.T, mask.T)
    col_value[bad] = first[bad]
    amp[:, geom.data_cols] -= col_value[None, :]
    return amp


def isr_amp(
    raw: np.ndarray,
    geom: AmpGeometry,
    gain: float,
    rng: np.random.Generator | None = None,
    skip: int = 3,
) -> tuple[np.ndarray, float]:
    """Run the bias ISR on one raw amplifier.

    Parameters
    ----------
    raw : `numpy.ndarray`
        Raw amplifier pixels (ADU, any numeric dtype).
    geom : `AmpGeometry`
        Its geometry.
    gain : `float`
        Gain (e-/ADU).
    rng : `numpy.random.Generator`, optional
        Dither generator; no dither if `None`.
    skip : `int`
        Leading/trailing overscan pixels skipped in both directions.

    Returns
    -------
    trimmed : `numpy.ndarray`
        Trimmed data region in electrons, float32, raw orientation.
    read_noise_adu : `float`
        Serial overscan residual clipped stdev (ADU).
    """
    amp = np.asarray(raw, dtype=np.float64).copy()
    if rng is not None:
        amp += rng.uniform(-0.5, 0.5, size=amp.shape)
    amp, read_noise_adu = serial_overscan_correct(amp, geom, skip=skip)
    amp *= gain
    amp = parallel_overscan_correct(amp, geom, skip=skip)
    return amp[geom.data_rows, geom.data_cols].astype(np.float32), read_noise_adu


@dataclasses.dataclass(frozen=True)
class AmpLayout:
    """Where a trimmed amplifier goes in the assembled detector image.

    Attributes
    ----------
    rows, cols : `slice`
        Box in the assembled image.
    flip_x, flip_y : `bool`
        Raw-to-assembled flips (the readout corner is at the far x edge when
        ``flip_x`` and at the far y edge when ``flip_y``).
    """

    rows: slice
    cols: slice
    flip_x: bool
    flip_y: bool


def amp_layout(name: str, amp_shape: tuple[int, int]) -> AmpLayout:
    """Layout of an amplifier in the assembled ITL detector image.

    The raw ``DETSEC`` convention of LSSTComCam files: both rows are flipped
    in x; the C1x row is the bottom half (x index 0..7, not flipped in y)
    and the C0x row the top half (x index 0..7, flipped in y), e.g.
    ``Segment10`` ``[509:1,1:2000]`` and ``Segment00`` ``[509:1,4000:2001]``.

    Parameters
    ----------
    name : `str`
        Amplifier name ``CXY``.
    amp_shape : `tuple` [`int`, `int`]
        Trimmed amplifier shape (rows, columns).

    Returns
    -------
    layout : `AmpLayout`
        Box and flips.
    """
    if name not in AMP_NAMES:
        raise ValueError(f"Unknown amplifier {name!r}")
    ny, nx = amp_shape
    top = name[1] == "0"
    ix = int(name[2])
    iy = 1 if top else 0
    return AmpLayout(
        rows=slice(iy * ny, (iy + 1) * ny),
        cols=slice(ix * nx, (ix + 1) * nx),
        flip_x=True,
        flip_y=top,
    )


def layout_amp_names(names: typing.Iterable[str]) -> tuple[str, ...]:
    """The amplifier names of the layout ``names`` make up, in raw HDU order.

    All 16 (`AMP_NAMES`) or the 8 ``C10`` .. ``C17`` of a half CCD.

    Raises
    ------
    ValueError
        Another set of names.
    """
    found = set(names)
    for layout in (AMP_NAMES, AMP_NAMES[:8]):
        if found == set(layout):
            return layout
    raise ValueError(f"Amplifiers {sorted(found)} are neither a full CCD (16) nor a half CCD (C10..C17)")


def amp_names_in(header: typing.Mapping[str, typing.Any] | typing.Any) -> tuple[str, ...]:
    """The amplifier names of an ISR-processed image, from its ``LSST ISR GAIN <amp>`` cards."""
    prefix = "LSST ISR GAIN "
    return layout_amp_names(key[len(prefix) :] for key in header.keys() if key.startswith(prefix))


def layout_from_detsec(detsec: str) -> AmpLayout:
    """Layout of an amplifier from its raw ``DETSEC`` keyword.

    Parameters
    ----------
    detsec : `str`
        ``[x1:x2,y1:y2]``; a reversed range means a flip on that axis.

    Returns
    -------
    layout : `AmpLayout`
        Box and flips.
    """
    match = _SECTION_RE.match(detsec)
    if match is None:
        raise ValueError(f"Not a FITS section: {detsec!r}")
    x1, x2, y1, y2 = (int(v) for v in match.groups())
    rows, cols = parse_fits_section(detsec)
    return AmpLayout(rows=rows, cols=cols, flip_x=x1 > x2, flip_y=y1 > y2)


def assemble(amps: typing.Mapping[str, np.ndarray]) -> np.ndarray:
    """Assemble 16 (or a half CCD's 8) trimmed amplifiers (raw orientation) into a detector image.

    Parameters
    ----------
    amps : `~collections.abc.Mapping` [`str`, `numpy.ndarray`]
        Trimmed amplifiers by name, all the same shape.

    Returns
    -------
    image : `numpy.ndarray`
        (2 ny, 8 nx) float32 image; (ny, 8 nx) for a half CCD.
    """
    shapes = {a.shape for a in amps.values()}
    if len(shapes) != 1:
        raise ValueError("assemble needs amplifiers of one shape")
    n_rows = len(layout_amp_names(amps)) // 8
    ny, nx = shapes.pop()
    image = np.empty((n_rows * ny, 8 * nx), dtype=np.float32)
    for name, data in amps.items():
        lay = amp_layout(name, (ny, nx))
        block = data[::-1, :] if lay.flip_y else data
        block = block[:, ::-1] if lay.flip_x else block
        image[lay.rows, lay.cols] = block
    return image


def disassemble(image: np.ndarray, names: typing.Sequence[str] = AMP_NAMES) -> dict[str, np.ndarray]:
    """Views of each amplifier's box in an assembled image (assembled orientation).

    Parameters
    ----------
    image : `numpy.ndarray`
        Assembled (2 ny, 8 nx) image, or (ny, 8 nx) for a half CCD.
    names : sequence of `str`, optional
        The amplifiers of the image's layout (`amp_names_in`); default 16.

    Returns
    -------
    amps : `dict` [`str`, `numpy.ndarray`]
        Views by amplifier name.
    """
    names = layout_amp_names(names)
    n_rows = len(names) // 8
    ny, nx = image.shape[0] // n_rows, image.shape[1] // 8
    if image.shape != (n_rows * ny, 8 * nx):
        raise ValueError(f"Image shape {image.shape} is not {n_rows} x 8 amplifiers")
    out = {}
    for name in names:
        lay = amp_layout(name, (ny, nx))
        out[name] = image[lay.rows, lay.cols]
    return out


@dataclasses.dataclass
class IsrResult:
    """Output of `isr_bias_frame`.

    Attributes
    ----------
    image : `numpy.ndarray`
        Assembled, trimmed image in electrons (float32).
    read_noise_adu : `dict` [`str`, `float`]
        Serial overscan residual clipped stdev per amplifier (ADU).
    gains : `dict` [`str`, `float`]
        Gains applied (e-/ADU).
    """

    image: np.ndarray
    read_noise_adu: dict[str, float]
    gains: dict[str, float]


def isr_bias_frame(
    raw: "astropy.io.fits.HDUList",
    gains: typing.Mapping[str, float],
    exposure_id: int | None = None,
    dither: bool = True,
    skip: int = 3,
) -> IsrResult:
    """Run the bias ISR on a whole raw detector.

    Parameters
    ----------
    raw : `astropy.io.fits.HDUList`
        Raw frame (primary + ``SegmentXY`` extensions).
    gains : `~collections.abc.Mapping` [`str`, `float`]
        Gain per amplifier name (e-/ADU).
    exposure_id : `int`, optional
        Seeds the dither (``exposure_id & 0xFFFFFFFF``); required if
        ``dither``.
    dither : `bool`
        Add the symmetric integer dither.
    skip : `int`
        Overscan pixels skipped at each end.

    Returns
    -------
    result : `IsrResult`
        Assembled image and per-amp metadata.
    """
    rng = None
    if dither:
        if exposure_id is None:
            raise ValueError("dither needs the exposure id")
        rng = np.random.default_rng(int(exposure_id) & 0xFFFFFFFF)
    trimmed: dict[str, np.ndarray] = {}
    rn_adu: dict[str, float] = {}
    used_gains: dict[str, float] = {}
    amp_rows = 2
    for hdu in raw[1:]:
        extname = str(hdu.header.get("EXTNAME", ""))
        if not extname.upper().startswith("SEGMENT") or hdu.data is None:
            continue
        name = "C" + extname[len("SEGMENT") :]
        geom = amp_geometry_from_header(hdu.header, hdu.data.shape)
        if "DETSIZE" in hdu.header:
            detsize_rows, _ = parse_fits_section(hdu.header["DETSIZE"])
            amp_rows = max(1, (detsize_rows.stop - detsize_rows.start) // geom.data_shape[0])
        gain = float(gains[name])
        trimmed[name], rn_adu[name] = isr_amp(hdu.data, geom, gain, rng=rng, skip=skip)
        if "DETSEC" in hdu.header:
            found = layout_from_detsec(hdu.header["DETSEC"])
            if found != amp_layout(name, geom.data_shape):
                raise ValueError(
                    f"{extname}: DETSEC {hdu.header['DETSEC']} does not match the ITL amplifier layout"
                )
        used_gains[name] = gain
    missing = set(AMP_NAMES if amp_rows >= 2 else AMP_NAMES[:8]) - set(trimmed)
    if missing:
        raise ValueError(f"Raw frame lacks amplifiers {sorted(missing)}")
    return IsrResult(image=assemble(trimmed), read_noise_adu=rn_adu, gains=used_gains)
