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

"""cp_verify bias statistics, pass/fail rules and merges, in numpy.

Statistics per amplifier of the residual image (verification frame after
ISR and master-bias subtraction, electrons; NaN = masked pixel):

``MEAN``
    unclipped mean of the unmasked pixels.
``NOISE``
    afw ``STDEVCLIP``: 5 sigma, 3 passes, median/IQR first pass, each pass
    re-clipping the full sample.
``CR_NOISE``
    unclipped standard deviation (ddof=1) after cosmic-ray repair (pixels
    above median + max(6 NOISE, 150 e-) that are local maxima, grown into
    their bright neighbours, then by one pixel, replaced by the median of the
    unflagged 5x5 neighbourhood). More than 1,000,000 flagged pixels on a
    detector sets ``FORCE_FAILURE`` on all its amplifiers.
``AMP_CORNER``
    mean of a 200 x 200 box at the amplifier's readout corner.
``READ_NOISE_ADU`` (``METADATA``)
    the ISR metadata ``LSST ISR OVERSCAN RESIDUAL SERIAL STDEV <amp>``.

Rules (all verdicts are Python `bool`; ``RN`` is the nominal read noise in
e-, ``gain`` the ISR gain):

* ``MEAN``: ``abs(MEAN) < NOISE``
* ``NOISE``: ``(NOISE - RN) / RN <= 0.05`` (one-sided)
* ``CR_NOISE``: ``abs(NOISE - CR_NOISE) / CR_NOISE <= 0.05``
* ``PROCESSING``: present (False) only when ``FORCE_FAILURE`` is set
* ``SUCCESS``: all of the above (computed before the next key)
* ``READ_NOISE_CONSISTENT``: added only when ``gain * READ_NOISE_ADU`` is
  truthy; False if ``(gain * READ_NOISE_ADU - RN) / RN > 0.05`` or
  non-finite. Informational: not part of ``SUCCESS``.

Output shapes (``StructuredDataDict``)
--------------------------------------
``verifyBiasDetStats`` (instrument, exposure, detector)::

    {"AMP": {"C10": {"MEAN": float, "NOISE": float, "CR_NOISE": float,
                     "AMP_CORNER": float}, ...},
     "METADATA": {"READ_NOISE_ADU": {"C10": float, ...}},
     "CATALOG": {},
     "DET": {},
     "ISR": {"MJD": float, "CALIBDIST": {"C10": {"0": float, "5": float, ...}, ...}},
     "VERIFY": {"AMP": {"C10": {"MEAN": bool, "NOISE": bool, "CR_NOISE": bool,
                                "SUCCESS": bool, "READ_NOISE_CONSISTENT": bool}, ...}},
     "SUCCESS": bool}

``verifyBiasExpStats`` (instrument, exposure), one key per detector name::

    {"R22_S00": {"SUCCESS": True},
     "R22_S11": {"SUCCESS": False, "FAILURES": ["C10 NOISE", "C17 CR_NOISE"]},
     ...,
     "SUCCESS": bool}

``verifyBiasStats`` (instrument), one key per integer exposure id::

    {2026112500001: {"SUCCESS": True},
     2026112500002: {"SUCCESS": False, "FAILURES": ["R22_S11 C10 NOISE", ...]},
     ...,
     "SUCCESS": bool}

``verifyBiasDetResults`` (ArrowAstropy, one row per amplifier), and its
vertical stacks ``verifyBiasExpResults`` / ``verifyBiasResults``: columns
``instrument, exposure, detector, mjd, amplifier``, ``BIAS_MEAN``,
``BIAS_NOISE``, ``BIAS_CR_NOISE``, ``BIAS_AMP_CORNER``, ``BIAS_VERIFY_MEAN``,
``BIAS_VERIFY_NOISE``, ``BIAS_VERIFY_CR_NOISE``, ``BIAS_VERIFY_SUCCESS``,
``BIAS_VERIFY_READ_NOISE_CONSISTENT``, ``BIAS_READ_NOISE_ADU`` and
``BIAS_BIAS_DIST_<level>_PCT`` (level as float, e.g. ``50.0``).

A failing amplifier lists every test that is False (``READ_NOISE_CONSISTENT``
and ``PROCESSING`` included), never ``SUCCESS`` itself.
"""

from __future__ import annotations

__all__ = [
    "CR_MAX_PIXELS",
    "CR_MIN_DN",
    "CR_MIN_SIGMA",
    "amp_corner_mean",
    "bias_detector_stats",
    "detector_results_table",
    "find_cosmic_rays",
    "grow_mask",
    "stack_results",
    "merge_exposure",
    "merge_run",
    "repair_cosmic_rays",
    "verify_amp",
]

import typing
import warnings

if typing.TYPE_CHECKING:
    import astropy.table

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .isr import amp_layout, clipped_mean_std, layout_amp_names

CR_MIN_SIGMA = 6.0
CR_MIN_DN = 150.0
CR_MAX_PIXELS = 1_000_000
CR_GROW_ITERATIONS = 6
NOISE_SIGMA = 5.0
NOISE_ITER = 3
AMP_CORNER_BOX = 200
NOISE_TOLERANCE = 0.05


def _dilate(mask: np.ndarray) -> np.ndarray:
    """3x3 binary dilation."""
    padded = np.pad(mask, 1, constant_values=False)
    out = np.zeros_like(mask)
    ny, nx = mask.shape
    for dy in range(3):
        for dx in range(3):
            out |= padded[dy : dy + ny, dx : dx + nx]
    return out


def find_cosmic_rays(image: np.ndarray, sigma: float) -> np.ndarray:
    """Cosmic-ray pixels of an image (the detection step of `repair_cosmic_rays`).

    Pixels above median + max(6 ``sigma``, 150 e-) that are local maxima,
    grown into their bright neighbours (above median + max(2 ``sigma``,
    50 e-)), then by one pixel.

    Parameters
    ----------
    image : `numpy.ndarray`
        Amplifier or detector image (NaN = masked), not modified.
    sigma : `float`
        Pixel noise (the clipped standard deviation).

    Returns
    -------
    mask : `numpy.ndarray`
        Boolean mask of the cosmic-ray pixels (never a masked pixel).
    """
    work = np.asarray(image, dtype=np.float64)
    finite = np.isfinite(work)
    if not finite.any():
        return np.zeros(work.shape, dtype=bool)
    background = float(np.median(work[finite]))
    noise = sigma if np.isfinite(sigma) else 0.0
    threshold = background + max(CR_MIN_SIGMA * noise, CR_MIN_DN)
    filled = np.where(finite, work, -np.inf)
    candidates = filled > threshold
    if not candidates.any():
        return np.zeros(work.shape, dtype=bool)
    windows = sliding_window_view(np.pad(filled, 1, constant_values=-np.inf), (3, 3))
    local_max = filled >= windows.max(axis=(2, 3))
    flagged = candidates & local_max
    bright = filled > background + max(2.0 * noise, CR_MIN_DN / 3.0)
    for _ in range(CR_GROW_ITERATIONS):
        grown = _dilate(flagged) & bright
        if (grown == flagged).all():
            break
        flagged = grown
    return _dilate(flagged) & finite


def grow_mask(mask: np.ndarray, radius: int) -> np.ndarray:
    """Grow a boolean mask by ``radius`` pixels (repeated 3x3 dilation)."""
    out = np.asarray(mask, dtype=bool)
    for _ in range(max(0, radius)):
        out = _dilate(out)
    return out


def repair_cosmic_rays(image: np.ndarray, sigma: float) -> tuple[np.ndarray, int]:
    """Find and interpolate over cosmic rays (simplified ``RepairTask``).

    Parameters
    ----------
    image : `numpy.ndarray`
        Amplifier image (NaN = masked), not modified.
    sigma : `float`
        Pixel noise (the clipped standard deviation).

    Returns
    -------
    repaired : `numpy.ndarray`
        Copy with cosmic-ray pixels (`find_cosmic_rays`) replaced by the
        median of the unflagged 5x5 neighbourhood.
    n_flagged : `int`
        Number of replaced pixels.
    """
    work = np.array(image, dtype=np.float64)
    flagged = find_cosmic_rays(work, sigma)
    n_flagged = int(flagged.sum())
    if n_flagged == 0:
        return work, 0
    finite = np.isfinite(work)
    background = float(np.median(work[finite]))
    donors = np.pad(np.where(flagged | ~finite, np.nan, work), 2, constant_values=np.nan)
    patches = sliding_window_view(donors, (5, 5))[flagged]
    with np.errstate(all="ignore"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            values = np.nanmedian(patches.reshape(len(patches), -1), axis=1)
    values[~np.isfinite(values)] = background
    work[flagged] = values
    return work, n_flagged


def amp_corner_mean(amp_image: np.ndarray, name: str, box: int = AMP_CORNER_BOX) -> float:
    """Mean of a box at the amplifier's readout corner (assembled orientation).

    Parameters
    ----------
    amp_image : `numpy.ndarray`
        The amplifier's box of the assembled residual image.
    name : `str`
        Amplifier name (gives the flips).
    box : `int`
        Box side; limited to the amplifier size.

    Returns
    -------
    mean : `float`
        NaN-ignoring mean of the box.
    """
    lay = amp_layout(name, amp_image.shape)
    ny, nx = amp_image.shape
    by, bx = min(box, ny), min(box, nx)
    rows = slice(ny - by, ny) if lay.flip_y else slice(0, by)
    cols = slice(nx - bx, nx) if lay.flip_x else slice(0, bx)
    region = amp_image[rows, cols]
    good = region[np.isfinite(region)]
    return float(good.mean()) if good.size else float("nan")


def verify_amp(
    stats: typing.Mapping[str, float], read_noise: float, gain: float, read_noise_adu: float
) -> dict:
    """Apply the cp_verify bias rules to one amplifier.

    Parameters
    ----------
    stats : `~collections.abc.Mapping`
        ``MEAN``, ``NOISE``, ``CR_NOISE`` (and ``FORCE_FAILURE`` if forced).
    read_noise : `float`
        Nominal read noise (e-).
    gain : `float`
        Gain (e-/ADU).
    read_noise_adu : `float`
        Serial overscan residual stdev (ADU).

    Returns
    -------
    verify : `dict` [`str`, `bool`]
        Verdicts, ``SUCCESS`` included. A ratio with a zero denominator
        (``CR_NOISE`` or ``read_noise`` 0) is infinite or NaN and its test is
        False, as in cp_verify.
    """
    # numpy scalars, as cp_verify's statistics are: a zero divisor (e.g. a frame
    # verified against itself has CR_NOISE 0) gives inf or NaN, so the test
    # fails instead of raising ZeroDivisionError.
    mean, noise, cr_noise = (np.float64(stats[key]) for key in ("MEAN", "NOISE", "CR_NOISE"))
    nominal = np.float64(read_noise)
    verdict: dict[str, bool] = {}
    with np.errstate(all="ignore"):
        verdict["MEAN"] = bool(abs(mean) < noise)
        verdict["NOISE"] = bool((noise - nominal) / nominal <= NOISE_TOLERANCE)
        verdict["CR_NOISE"] = bool(abs(noise - cr_noise) / cr_noise <= NOISE_TOLERANCE)
    if "FORCE_FAILURE" in stats:
        verdict["PROCESSING"] = False
    verdict["SUCCESS"] = bool(all(verdict.values()))
    overscan_noise = np.float64(gain) * np.float64(read_noise_adu)
    if overscan_noise:
        with np.errstate(all="ignore"):
            ratio = (overscan_noise - nominal) / nominal
        verdict["READ_NOISE_CONSISTENT"] = bool(np.isfinite(ratio) and not ratio > NOISE_TOLERANCE)
    return verdict


def bias_detector_stats(
    residual: np.ndarray,
    read_noise: typing.Mapping[str, float],
    gains: typing.Mapping[str, float],
    read_noise_adu: typing.Mapping[str, float],
    isr: dict | None = None,
) -> dict:
    """Build ``verifyBiasDetStats`` for one (exposure, detector).

    Parameters
    ----------
    residual : `numpy.ndarray`
        Assembled residual image (e-), NaN = masked.
    read_noise : `~collections.abc.Mapping` [`str`, `float`]
        Nominal read noise per amp (e-).
    gains : `~collections.abc.Mapping` [`str`, `float`]
        Gain per amp (e-/ADU).
    read_noise_adu : `~collections.abc.Mapping` [`str`, `float`]
        ``READ_NOISE_ADU`` per amp.
    isr : `dict`, optional
        The ``ISR`` block (ISR statistics).

    Returns
    -------
    stats : `dict`
        The detector statistics dictionary (see module docstring).
    """
    names = layout_amp_names(read_noise)
    ny, nx = residual.shape[0] // (len(names) // 8), residual.shape[1] // 8
    amp_stats: dict[str, dict] = {}
    total_cr = 0
    for name in names:
        lay = amp_layout(name, (ny, nx))
        data = residual[lay.rows, lay.cols]
        good = data[np.isfinite(data)]
        mean = float(good.mean()) if good.size else float("nan")
        _, noise, _ = clipped_mean_std(good, NOISE_SIGMA, NOISE_ITER)
        repaired, n_cr = repair_cosmic_rays(data, noise)
        total_cr += n_cr
        rgood = repaired[np.isfinite(repaired)]
        cr_noise = float(rgood.std(ddof=1)) if rgood.size > 1 else float("nan")
        amp_stats[name] = {
            "MEAN": mean,
            "NOISE": float(noise),
            "CR_NOISE": cr_noise,
            "AMP_CORNER": amp_corner_mean(data, name),
        }
    if total_cr > CR_MAX_PIXELS:
        for stats in amp_stats.values():
            stats["CR_NOISE"] = float("nan")
            stats["FORCE_FAILURE"] = True
    verify = {
        name: verify_amp(
            amp_stats[name], float(read_noise[name]), float(gains[name]), float(read_noise_adu[name])
        )
        for name in names
    }
    return {
        "AMP": amp_stats,
        "METADATA": {"READ_NOISE_ADU": {name: float(read_noise_adu[name]) for name in names}},
        "CATALOG": {},
        "DET": {},
        "ISR": dict(isr) if isr else {},
        "VERIFY": {"AMP": verify},
        "SUCCESS": bool(all(v["SUCCESS"] for v in verify.values())),
    }


def _failures(stats: typing.Mapping) -> list[str]:
    """``"<amp> <TEST>"`` for each False test of each failing amplifier."""
    failures: list[str] = []
    for name, verdict in stats.get("VERIFY", {}).get("AMP", {}).items():
        if verdict.get("SUCCESS") is False:
            failures.extend(
                f"{name} {test}" for test, ok in verdict.items() if test != "SUCCESS" and ok is False
            )
    for test, ok in stats.get("VERIFY", {}).items():
        if test != "AMP" and ok is False:
            failures.append(test)
    return failures


def merge_exposure(detector_stats: typing.Mapping[str, typing.Mapping]) -> dict:
    """Merge ``verifyBiasDetStats`` of one exposure into ``verifyBiasExpStats``.

    Parameters
    ----------
    detector_stats : `~collections.abc.Mapping` [`str`, `~collections.abc.Mapping`]
        Detector statistics by detector name (``R22_S00``...), in output order.

    Returns
    -------
    stats : `dict`
        ``{<detector name>: {"SUCCESS": bool[, "FAILURES": [...]]}, ..., "SUCCESS": bool}``.
    """
    out: dict = {}
    success = True
    for det_name, stats in detector_stats.items():
        merged: dict = {"SUCCESS": bool(stats["SUCCESS"])}
        if stats["SUCCESS"] is not True:
            success = False
            merged["FAILURES"] = _failures(stats)
        out[det_name] = merged
    out["SUCCESS"] = success
    return out


def merge_run(exposure_stats: typing.Mapping[int, typing.Mapping]) -> dict:
    """Merge ``verifyBiasExpStats`` of a run into ``verifyBiasStats``.

    Parameters
    ----------
    exposure_stats : `~collections.abc.Mapping` [`int`, `~collections.abc.Mapping`]
        Exposure statistics by exposure id, in output order.

    Returns
    -------
    stats : `dict`
        ``{<exposure id>: {"SUCCESS": bool[, "FAILURES": ["<det> <amp> <TEST>", ...]]}, ...,
        "SUCCESS": bool}``.
    """
    out: dict = {}
    success = True
    for exposure, stats in exposure_stats.items():
        merged: dict = {"SUCCESS": bool(stats["SUCCESS"])}
        if stats["SUCCESS"] is not True:
            success = False
            failures: list[str] = []
            for det_name, det in stats.items():
                if det_name == "SUCCESS" or not isinstance(det, typing.Mapping):
                    continue
                failures.extend(f"{det_name} {failure}" for failure in det.get("FAILURES", []))
            merged["FAILURES"] = failures
        out[int(exposure)] = merged
    out["SUCCESS"] = success
    return out


DIST_LEVELS = (0, 5, 16, 50, 84, 95, 100)


def detector_results_table(
    stats: typing.Mapping, instrument: str, exposure: int, detector: int, mjd: float, stage: str = "BIAS"
) -> "astropy.table.Table":
    """``verifyBiasDetResults``: one row per amplifier of ``verifyBiasDetStats``.

    Parameters
    ----------
    stats : `~collections.abc.Mapping`
        The detector statistics (`bias_detector_stats`).
    instrument : `str`
        Instrument name.
    exposure, detector : `int`
        Data ID values.
    mjd : `float`
        MJD of the exposure (NaN if unknown).
    stage : `str`
        Column prefix: ``BIAS`` (``DARK`` for verifyDark, whose statistics
        and rules are the bias ones).

    Returns
    -------
    table : `astropy.table.Table`
        The results table. ``BIAS_VERIFY_READ_NOISE_CONSISTENT`` is True for
        an amplifier without the test (no overscan noise measured).
    """
    from astropy.table import Table

    calibdist = stats.get("ISR", {}).get("CALIBDIST", {})
    rows = []
    for name in layout_amp_names(stats["AMP"]):
        amp = stats["AMP"][name]
        verdict = stats["VERIFY"]["AMP"][name]
        row = {
            "instrument": instrument,
            "exposure": int(exposure),
            "detector": int(detector),
            "mjd": float(mjd),
            "amplifier": name,
            f"{stage}_MEAN": float(amp["MEAN"]),
            f"{stage}_NOISE": float(amp["NOISE"]),
            f"{stage}_CR_NOISE": float(amp["CR_NOISE"]),
            f"{stage}_AMP_CORNER": float(amp["AMP_CORNER"]),
            f"{stage}_VERIFY_MEAN": bool(verdict["MEAN"]),
            f"{stage}_VERIFY_NOISE": bool(verdict["NOISE"]),
            f"{stage}_VERIFY_CR_NOISE": bool(verdict["CR_NOISE"]),
            f"{stage}_VERIFY_SUCCESS": bool(verdict["SUCCESS"]),
            f"{stage}_VERIFY_READ_NOISE_CONSISTENT": bool(verdict.get("READ_NOISE_CONSISTENT", True)),
            f"{stage}_READ_NOISE_ADU": float(stats["METADATA"]["READ_NOISE_ADU"][name]),
        }
        for level in DIST_LEVELS:
            value = calibdist.get(name, {}).get(f"{level:g}", float("nan"))
            row[f"{stage}_{stage}_DIST_{float(level)}_PCT"] = float(value)
        rows.append(row)
    return Table(rows=rows)


def stack_results(tables: typing.Sequence["astropy.table.Table"]) -> "astropy.table.Table":
    """Stack results tables (exposure and run merges).

    Parameters
    ----------
    tables : `~collections.abc.Sequence` [`astropy.table.Table`]
        Tables to stack, in output order.

    Returns
    -------
    table : `astropy.table.Table`
        Their vertical stack.
    """
    from astropy.table import vstack

    return vstack(list(tables), join_type="exact")
