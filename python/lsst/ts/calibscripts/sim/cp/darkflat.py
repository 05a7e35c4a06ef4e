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

"""cp_pipe dark/flat and cp_verify flat algorithms, in numpy.

cpDark (``cpDark.py``, ``CalibCombineTask`` with ``exposureScaling: DarkTime``)
    `dark_cosmic_ray_mask`: the cosmic rays of a bias-subtracted dark (the
    detection of `~.verify.find_cosmic_rays`), grown by ``crGrow`` = 2
    pixels. The combination divides each input by its dark time and
    MEANCLIPs them (3 sigma, 3 passes) with the cosmic-ray pixels excluded.

cpFlat (``cpFlatMeasure.py``, ``cpFlatNormalize``, ``CalibCombineByFilterTask``)
    `measure_flat`: per (exposure, detector) afw-style MEANCLIP / STDEVCLIP /
    NPOINT at 3 sigma x 3 passes over the detector and each amp.
    `normalize_flat_scales`: the exposure (E) / detector (G) decomposition of
    the detector levels B[exp, det] ≈ E[exp] G[det] in log space, 10
    iterations, weights = the pixel counts; G is scaled to a count-weighted
    mean of 1. The combination divides each input by E[exp] only, so the
    master keeps the relative detector and amp response, with a focal-plane
    mean near 1.

cp_verify flat (``verifyFlat.py``, ``mergeResults.py``)
    Per amp of the flat-fielded frame: ``MEAN`` (unclipped) and ``NOISE``
    (STDEVCLIP 5 sigma x 3); test ``NOISE <= sqrt(MEAN)`` (DMTN-101 "10.X").
    Per detector: ``MEAN`` = mean of the amp MEANs, ``SCATTER`` = their
    standard deviation (ddof=1, afw STDEV); test ``SCATTER / MEAN <= 0.05``
    ("10.Y"). Per exposure: ``SCATTER`` = ``np.std`` of the detector MEANs
    (ddof=0), in e⁻, as cp_verify computes it; test "10.Z".

Deviations from cp_verify (each a config switch of the verify tasks)
--------------------------------------------------------------------
Exposure ``SCATTER`` test, relative by default (``scatterRelative``).
    cp_verify compares the absolute ``SCATTER`` (e⁻) with 0.05, so
    detector means of a 15 ke⁻ flat must agree to 0.05 e⁻ (3 ppm). Shot
    noise alone moves a detector mean by about sqrt(MEAN / n_pixels) e⁻:
    0.03 e⁻ on a full-size CCD (a coin toss at 9 detectors) and 0.3 e⁻ on
    the reduced test geometry (always fails). The test would then say
    nothing about the flat. The stand-in keeps ``SCATTER`` in e⁻ exactly as
    cp_verify computes it, and by default tests ``SCATTER / MEAN <= 0.05``
    (MEAN = mean of the detector MEANs), the relative reading that the
    detector test 10.Y uses. ``scatterRelative: false`` restores the
    absolute comparison.
Run-level failures list detector and amp failures (``listDetectorFailures``).
    cp_verify's run merge lists, for an exposure that has exposure-level
    verdicts, only those (``SCATTER``), and drops the detector and amp
    failures, so a failure count could never block a flat. The stand-in
    lists them too, as ``"<detector> <amp> NOISE"`` and ``"<detector>
    SCATTER"`` (the bias shape), so a judge counts flat failures as it
    counts bias and dark ones. ``listDetectorFailures: false`` restores
    cp_verify's list.
"""

from __future__ import annotations

__all__ = [
    "FLAT_SCATTER_LIMIT",
    "dark_cosmic_ray_mask",
    "flat_detector_stats",
    "flat_results_table",
    "measure_flat",
    "merge_flat_exposure",
    "merge_flat_run",
    "normalize_flat_scales",
]

import typing

import numpy as np

from .isr import AMP_NAMES, clipped_mean_std, disassemble, layout_amp_names
from .verify import NOISE_ITER, NOISE_SIGMA, find_cosmic_rays, grow_mask

if typing.TYPE_CHECKING:
    import astropy.table

FLAT_SCATTER_LIMIT = 0.05
"""Limit of the detector (and exposure) ``SCATTER`` tests."""


def dark_cosmic_ray_mask(image: np.ndarray, grow: int = 2) -> np.ndarray:
    """Cosmic-ray mask of a processed dark (``cpDark``), grown by ``grow`` pixels.

    Parameters
    ----------
    image : `numpy.ndarray`
        Assembled, bias-subtracted dark (e⁻), NaN = masked.
    grow : `int`
        ``crGrow``: pixels added around each detection.

    Returns
    -------
    mask : `numpy.ndarray`
        Boolean CR mask.
    """
    good = image[np.isfinite(image)]
    _, sigma, _ = clipped_mean_std(good, NOISE_SIGMA, NOISE_ITER)
    return grow_mask(find_cosmic_rays(image, sigma), grow) & np.isfinite(image)


def _amp_views(image: np.ndarray, amp_names: typing.Sequence[str] = AMP_NAMES) -> dict[str, np.ndarray]:
    """Each amplifier's box, in raw HDU order: 16 amps, or 8 (``C10`` .. ``C17``) of a half CCD."""
    return disassemble(image, amp_names)


def measure_flat(
    image: np.ndarray, clip: float = 3.0, n_iter: int = 3, amp_names: typing.Sequence[str] = AMP_NAMES
) -> dict:
    """``cpFlatMeasure`` statistics of one processed flat.

    Parameters
    ----------
    image : `numpy.ndarray`
        Assembled flat (e⁻), NaN = masked (BAD).
    clip, n_iter : `float`, `int`
        Clipping of MEANCLIP / STDEVCLIP.
    amp_names : sequence of `str`, optional
        The amplifiers of the image's layout (`~.isr.amp_names_in` of its
        header): all 16 (default) or the 8 of a wavefront half CCD.

    Returns
    -------
    stats : `dict`
        ``DETECTOR_MEDIAN`` (the clipped mean, named as cp_pipe names it),
        ``DETECTOR_SIGMA``, ``DETECTOR_N`` and per amp ``i`` (HDU order)
        ``AMP_NAME_i``, ``AMP_MEDIAN_i``, ``AMP_SIGMA_i``, ``AMP_N_i``.
    """
    mean, sigma, n = clipped_mean_std(image, clip, n_iter)
    stats: dict[str, typing.Any] = {"DETECTOR_MEDIAN": mean, "DETECTOR_SIGMA": sigma, "DETECTOR_N": n}
    for i, (name, view) in enumerate(_amp_views(image, amp_names).items()):
        amp_mean, amp_sigma, amp_n = clipped_mean_std(view, clip, n_iter)
        stats[f"AMP_NAME_{i}"] = name
        stats[f"AMP_MEDIAN_{i}"] = amp_mean
        stats[f"AMP_SIGMA_{i}"] = amp_sigma
        stats[f"AMP_N_{i}"] = amp_n
    return stats


def _weighted_mean(values: np.ndarray, weights: np.ndarray, axis: int) -> np.ndarray:
    """NaN-ignoring weighted mean; an all-NaN slice gets the mean of the others."""
    w = np.where(np.isfinite(values), weights, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.nansum(np.where(w > 0, values, 0.0) * w, axis=axis) / w.sum(axis=axis)
    missing = ~np.isfinite(mean)
    if missing.any() and not missing.all():
        mean[missing] = mean[~missing].mean()
    return mean


def normalize_flat_scales(
    levels: np.ndarray, counts: np.ndarray, n_iter: int = 10
) -> tuple[np.ndarray, np.ndarray]:
    """Split detector levels into exposure and detector scales (``cpFlatNormalize``).

    Parameters
    ----------
    levels : `numpy.ndarray`
        B[exposure, detector]: clipped mean of each processed flat (e⁻);
        NaN or <= 0 where missing.
    counts : `numpy.ndarray`
        Pixels used for each level (the weights).
    n_iter : `int`
        Iterations.

    Returns
    -------
    exposure_scales : `numpy.ndarray`
        E[exposure] (e⁻), the focal-plane level of each exposure.
    detector_scales : `numpy.ndarray`
        G[detector], relative response, count-weighted mean 1.
    """
    b = np.asarray(levels, dtype=np.float64)
    w = np.asarray(counts, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        log_b = np.where(b > 0, np.log(b), np.nan)
    w = np.where(np.isfinite(log_b), w, 0.0)
    log_g = np.zeros(b.shape[1])
    log_e = _weighted_mean(log_b - log_g[np.newaxis, :], w, axis=1)
    det_weights = w.sum(axis=0)
    for _ in range(n_iter):
        log_g = _weighted_mean(log_b - log_e[:, np.newaxis], w, axis=0)
        log_e = _weighted_mean(log_b - log_g[np.newaxis, :], w, axis=1)
        g = np.exp(log_g)
        g /= np.sum(g * det_weights) / np.sum(det_weights)
        log_g = np.log(g)
    log_e = _weighted_mean(log_b - log_g[np.newaxis, :], w, axis=1)
    return np.exp(log_e), np.exp(log_g)


def flat_detector_stats(
    residual: np.ndarray, isr: dict | None = None, amp_names: typing.Sequence[str] = AMP_NAMES
) -> dict:
    """``verifyFlatDetStats`` of one flat-fielded frame.

    Parameters
    ----------
    residual : `numpy.ndarray`
        Assembled flat-fielded image (e⁻), NaN = masked.
    isr : `dict`, optional
        The ``ISR`` block.
    amp_names : sequence of `str`, optional
        The amplifiers of the image's layout: all 16 (default) or the 8 of
        a wavefront half CCD.

    Returns
    -------
    stats : `dict`
        ``{"AMP": {amp: {"MEAN", "NOISE"}}, "DET": {"MEAN", "SCATTER"},
        "METADATA": {}, "CATALOG": {}, "ISR": {...},
        "VERIFY": {"AMP": {amp: {"NOISE": bool, "SUCCESS": bool}},
        "DET": {"SCATTER": bool, "SUCCESS": bool}}, "SUCCESS": bool}``.
    """
    amp_stats: dict[str, dict[str, float]] = {}
    amp_verify: dict[str, dict[str, bool]] = {}
    for name, view in _amp_views(residual, amp_names).items():
        good = view[np.isfinite(view)]
        mean = float(good.mean()) if good.size else float("nan")
        _, noise, _ = clipped_mean_std(good, NOISE_SIGMA, NOISE_ITER)
        amp_stats[name] = {"MEAN": mean, "NOISE": float(noise)}
        with np.errstate(invalid="ignore"):
            ok = bool(np.float64(noise) <= np.sqrt(np.float64(mean)))
        amp_verify[name] = {"NOISE": ok, "SUCCESS": ok}
    means = np.array([s["MEAN"] for s in amp_stats.values()])
    det_mean = float(means.mean())
    det_scatter = float(means.std(ddof=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        scatter_ok = bool(np.float64(det_scatter) / np.float64(det_mean) <= FLAT_SCATTER_LIMIT)
    det_verify = {"SCATTER": scatter_ok, "SUCCESS": scatter_ok}
    success = scatter_ok and all(v["SUCCESS"] for v in amp_verify.values())
    return {
        "AMP": amp_stats,
        "DET": {"MEAN": det_mean, "SCATTER": det_scatter},
        "METADATA": {},
        "CATALOG": {},
        "ISR": dict(isr) if isr else {},
        "VERIFY": {"AMP": amp_verify, "DET": det_verify},
        "SUCCESS": bool(success),
    }


def _flat_detector_failures(stats: typing.Mapping) -> list[str]:
    """Detector-level test names, then ``"<amp> <TEST>"`` (cp_verify's order)."""
    verify = stats.get("VERIFY", {})
    failures = [t for t, ok in verify.get("DET", {}).items() if t != "SUCCESS" and ok is False]
    for name, verdict in verify.get("AMP", {}).items():
        if verdict.get("SUCCESS") is False:
            failures.extend(f"{name} {t}" for t, ok in verdict.items() if t != "SUCCESS" and ok is False)
    return failures


def merge_flat_exposure(detector_stats: typing.Mapping[str, typing.Mapping], relative: bool = True) -> dict:
    """Merge the ``verifyFlatDetStats`` of one exposure into ``verifyFlatExpStats``.

    Parameters
    ----------
    detector_stats : `~collections.abc.Mapping` [`str`, `~collections.abc.Mapping`]
        Detector statistics by detector name, in output order.
    relative : `bool`
        Test ``SCATTER / MEAN <= 0.05`` (default) instead of cp_verify's
        absolute ``SCATTER <= 0.05`` (see the module docstring).

    Returns
    -------
    stats : `dict`
        ``{<detector>: {"SUCCESS": bool[, "FAILURES": [...]]}, ...,
        "EXP": {"MEAN": e⁻, "SCATTER": e⁻}, "VERIFY": {"EXP": {"SCATTER": bool}},
        "SUCCESS": bool}``.
    """
    out: dict = {}
    success = True
    means = []
    for det_name, stats in detector_stats.items():
        merged: dict = {"SUCCESS": bool(stats["SUCCESS"])}
        if stats["SUCCESS"] is not True:
            success = False
            merged["FAILURES"] = _flat_detector_failures(stats)
        out[det_name] = merged
        means.append(float(stats["DET"]["MEAN"]))
    scatter = float(np.std(means))
    mean = float(np.mean(means))
    measure = scatter / mean if relative else scatter
    exp_ok = bool(np.float64(measure) <= FLAT_SCATTER_LIMIT)
    out["EXP"] = {"MEAN": mean, "SCATTER": scatter}
    out["VERIFY"] = {"EXP": {"SCATTER": exp_ok}}
    out["SUCCESS"] = bool(success and exp_ok)
    return out


def merge_flat_run(
    exposure_stats: typing.Mapping[int, typing.Mapping], list_detector_failures: bool = True
) -> dict:
    """Merge the ``verifyFlatExpStats`` of one filter into ``verifyFlatStats``.

    Parameters
    ----------
    exposure_stats : `~collections.abc.Mapping` [`int`, `~collections.abc.Mapping`]
        Exposure statistics by exposure id, in output order.
    list_detector_failures : `bool`
        Also list detector and amp failures (``"<det> <amp> NOISE"``,
        ``"<det> SCATTER"``) after the exposure-level ones; cp_verify lists
        only the exposure-level ones (see the module docstring).

    Returns
    -------
    stats : `dict`
        ``{<exposure id>: {"SUCCESS": bool[, "FAILURES": [...]]}, ..., "SUCCESS": bool}``.
    """
    out: dict = {}
    success = True
    for exposure, stats in exposure_stats.items():
        merged: dict = {"SUCCESS": bool(stats["SUCCESS"])}
        if stats["SUCCESS"] is not True:
            success = False
            exp_verify = stats.get("VERIFY", {}).get("EXP", {})
            failures = [t for t, ok in exp_verify.items() if t != "SUCCESS" and ok is False]
            if list_detector_failures:
                for det_name, det in stats.items():
                    if det_name in ("SUCCESS", "EXP", "VERIFY") or not isinstance(det, typing.Mapping):
                        continue
                    failures.extend(f"{det_name} {failure}" for failure in det.get("FAILURES", []))
            merged["FAILURES"] = failures
        out[int(exposure)] = merged
    out["SUCCESS"] = success
    return out


def flat_results_table(
    stats: typing.Mapping, instrument: str, exposure: int, detector: int, physical_filter: str, mjd: float
) -> "astropy.table.Table":
    """``verifyFlatDetResults``: one row per amplifier of ``verifyFlatDetStats``.

    Columns ``instrument, exposure, detector, physical_filter, mjd,
    amplifier, FLAT_MEAN, FLAT_NOISE, FLAT_VERIFY_NOISE,
    FLAT_VERIFY_SUCCESS``, and the detector values ``FLAT_DET_MEAN``,
    ``FLAT_DET_SCATTER``, ``FLAT_DET_VERIFY_SCATTER`` repeated on every row
    (cp_verify adds them as one extra row instead).
    """
    from astropy.table import Table

    rows = []
    det = stats["DET"]
    det_verify = stats["VERIFY"]["DET"]
    for name in layout_amp_names(stats["AMP"]):
        amp = stats["AMP"][name]
        verdict = stats["VERIFY"]["AMP"][name]
        rows.append(
            {
                "instrument": instrument,
                "exposure": int(exposure),
                "detector": int(detector),
                "physical_filter": physical_filter,
                "mjd": float(mjd),
                "amplifier": name,
                "FLAT_MEAN": float(amp["MEAN"]),
                "FLAT_NOISE": float(amp["NOISE"]),
                "FLAT_VERIFY_NOISE": bool(verdict["NOISE"]),
                "FLAT_VERIFY_SUCCESS": bool(verdict["SUCCESS"]),
                "FLAT_DET_MEAN": float(det["MEAN"]),
                "FLAT_DET_SCATTER": float(det["SCATTER"]),
                "FLAT_DET_VERIFY_SCATTER": bool(det_verify["SCATTER"]),
            }
        )
    return Table(rows=rows)
