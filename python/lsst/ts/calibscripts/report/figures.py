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

"""The three pictures of the run report, drawn with matplotlib (Agg).

matplotlib is imported inside the functions, never at module import, and
only its object-oriented API with the Agg canvas is used: no pyplot, no
global backend switch, nothing that needs a display.

Each function returns a `Picture`: the PNG it wrote, its size in pixels
and the arrays it was drawn from, so a test can check the numbers behind
the picture as well as the file.
"""

from __future__ import annotations

__all__ = [
    "MOSAIC_SIZE",
    "NOISE_SIZE",
    "NOISE_TOLERANCE",
    "Picture",
    "VERIFICATION_SIZE",
    "plot_focal_plane_mosaic",
    "plot_noise_vs_nominal",
    "plot_verification_map",
]

import dataclasses
import os
import pathlib
import typing

import numpy as np

from .fits_reader import MasterBiasImage, bin_image
from .layout import AMP_NAMES, DETECTOR_NAMES, focal_plane_position
from .verification import AmpVerification

#: Picture sizes in pixels (width, height); drawn at 100 dpi.
MOSAIC_SIZE = (1000, 1000)
VERIFICATION_SIZE = (1600, 1100)
NOISE_SIZE = (1400, 800)
_DPI = 100

#: cp_verify's NOISE test: (NOISE - RN) / RN <= 0.05.
NOISE_TOLERANCE = 0.05


@dataclasses.dataclass
class Picture:
    """A picture written to disk and the numbers it shows.

    Attributes
    ----------
    path : `pathlib.Path`
        The PNG file.
    size : `tuple` [`int`, `int`]
        Width and height in pixels.
    data : `dict` [`str`, `typing.Any`]
        The arrays and values drawn.
    """

    path: pathlib.Path
    size: tuple[int, int]
    data: dict[str, typing.Any]


def _new_figure(size: tuple[int, int]) -> typing.Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(size[0] / _DPI, size[1] / _DPI), dpi=_DPI)
    FigureCanvasAgg(figure)
    return figure


def _save(figure: typing.Any, path: str | os.PathLike, size: tuple[int, int]) -> pathlib.Path:
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=_DPI, format="png")
    return path


def plot_focal_plane_mosaic(
    masters: typing.Mapping[int, MasterBiasImage],
    path: str | os.PathLike,
    *,
    title: str = "",
    max_bin_size: int = 200,
    label: str = "master bias",
) -> Picture:
    """Draw each detector's master calibration where it sits on the ComCam focal plane.

    Parameters
    ----------
    masters : `dict` [`int`, `MasterBiasImage`]
        Master (bias, dark or flat) by detector id (0..8); absent detectors
        are drawn empty.
    path : path-like
        PNG file to write.
    title : `str`, optional
        Figure title.
    max_bin_size : `int`, optional
        Each image is binned to at most this many pixels across.
    label : `str`, optional
        What the images are (``master dark``): the colour bar's label.

    Returns
    -------
    picture : `Picture`
        ``data`` has ``binned`` (detector id -> binned image), ``median``
        and ``stdev`` (detector id -> value over unhidden pixels), ``vmin``,
        ``vmax`` (the common colour scale) and ``positions`` (detector id ->
        (row, column) in the 3x3 grid, row 0 at the top).
    """
    figure = _new_figure(MOSAIC_SIZE)
    grid = figure.add_gridspec(3, 4, width_ratios=[1, 1, 1, 0.06], wspace=0.08, hspace=0.18)
    binned: dict[int, np.ndarray] = {}
    medians: dict[int, float] = {}
    stdevs: dict[int, float] = {}
    for det, master in masters.items():
        shown = master.display_image()
        binned[det], _ = bin_image(shown, max_bin_size)
        finite = shown[np.isfinite(shown)]
        medians[det] = float(np.median(finite)) if finite.size else float("nan")
        stdevs[det] = float(np.std(finite)) if finite.size else float("nan")
    finite_bins = [b[np.isfinite(b)] for b in binned.values() if np.isfinite(b).any()]
    if finite_bins:
        everything = np.concatenate(finite_bins)
        vmin, vmax = (float(v) for v in np.percentile(everything, [1.0, 99.0]))
        if vmin == vmax:
            vmin, vmax = vmin - 1.0, vmax + 1.0
    else:
        vmin, vmax = -1.0, 1.0
    units = ""
    for master in masters.values():
        units = str(master.header.get("BUNIT", "")).strip()
        break
    positions = {}
    image_artist = None
    for det, name in enumerate(DETECTOR_NAMES):
        row, col = focal_plane_position(det)
        positions[det] = (row, col)
        axes = figure.add_subplot(grid[row, col])
        axes.set_xticks([])
        axes.set_yticks([])
        if det in binned:
            image_artist = axes.imshow(
                binned[det], origin="lower", cmap="viridis", vmin=vmin, vmax=vmax, interpolation="nearest"
            )
            axes.set_title(f"{name} ({det})", fontsize=10)
            axes.set_xlabel(f"median {medians[det]:.2f}  std {stdevs[det]:.2f}", fontsize=8)
        else:
            axes.set_facecolor("0.85")
            axes.set_title(f"{name} ({det})", fontsize=10, color="0.4")
            axes.text(0.5, 0.5, f"no {label}", ha="center", va="center", transform=axes.transAxes)
    if image_artist is not None:
        colorbar_axes = figure.add_subplot(grid[:, 3])
        colorbar = figure.colorbar(image_artist, cax=colorbar_axes)
        colorbar.set_label(f"{label} [{units or 'e-'}]")
    figure.suptitle(title or f"LSSTComCam {label} (R22, focal-plane layout)", fontsize=12)
    saved = _save(figure, path, MOSAIC_SIZE)
    data = dict(binned=binned, median=medians, stdev=stdevs, vmin=vmin, vmax=vmax, positions=positions)
    return Picture(path=saved, size=MOSAIC_SIZE, data=data)


def _status_colors(verification: AmpVerification, test: str) -> np.ndarray:
    """Return an RGB array: green pass, red fail everywhere, orange some, grey none."""
    measured = verification.n_measured
    failed = verification.n_failed[test]
    colors = np.empty(measured.shape + (3,))
    colors[...] = (0.85, 0.85, 0.85)
    colors[(measured > 0) & (failed == 0)] = (0.55, 0.82, 0.55)
    colors[(failed > 0) & (failed < measured)] = (0.98, 0.72, 0.35)
    colors[(measured > 0) & (failed >= measured)] = (0.93, 0.42, 0.42)
    return colors


def plot_verification_map(
    verification: AmpVerification, path: str | os.PathLike, *, title: str = ""
) -> Picture:
    """Draw a pass/fail map of every amplifier for each cp_verify test.

    One panel per test of ``verification.tests`` (bias and dark: MEAN,
    NOISE, CR_NOISE; flat: NOISE); rows are detectors R22_S00
    .. R22_S22, columns amplifiers C10..C17, C07..C00. A cell is green if
    the test passed in every exposure, red if it failed in every exposure,
    orange if it failed in some, grey without data; it is annotated with
    the median measured value (e-).

    Returns
    -------
    picture : `Picture`
        ``data`` has ``values`` (test -> 9x16 medians), ``n_failed`` (test ->
        9x16 counts), ``n_measured`` and ``annotations`` (test -> 9x16
        strings as drawn).
    """
    figure = _new_figure(VERIFICATION_SIZE)
    tests = verification.tests
    axes_list = figure.subplots(len(tests), 1, squeeze=False)[:, 0]
    annotations: dict[str, list[list[str]]] = {}
    for axes, test in zip(axes_list, tests):
        axes.imshow(_status_colors(verification, test), aspect="auto", interpolation="nearest")
        values = verification.values.get(test, np.full(verification.n_measured.shape, np.nan))
        labels = []
        for det in range(values.shape[0]):
            row = []
            for amp_index in range(values.shape[1]):
                value = values[det, amp_index]
                text = "" if not np.isfinite(value) else f"{value:.2f}"
                row.append(text)
                if text:
                    axes.text(amp_index, det, text, ha="center", va="center", fontsize=7)
            labels.append(row)
        annotations[test] = labels
        n_failed = int((verification.n_failed[test] > 0).sum())
        axes.set_title(
            f"{test}: {n_failed} of {int((verification.n_measured > 0).sum())} amps failed", fontsize=10
        )
        axes.set_xticks(range(len(AMP_NAMES)))
        axes.set_xticklabels(AMP_NAMES, fontsize=8)
        axes.set_yticks(range(len(DETECTOR_NAMES)))
        axes.set_yticklabels(DETECTOR_NAMES, fontsize=8)
        axes.set_xticks(np.arange(-0.5, len(AMP_NAMES)), minor=True)
        axes.set_yticks(np.arange(-0.5, len(DETECTOR_NAMES)), minor=True)
        axes.grid(which="minor", color="white", linewidth=1)
        axes.tick_params(which="minor", length=0)
    exposures = verification.exposures
    subtitle = f"{len(exposures)} exposures" if exposures else "no verification data"
    figure.suptitle(f"{title or 'cp_verify bias tests per amplifier'} ({subtitle})", fontsize=12)
    figure.subplots_adjust(left=0.08, right=0.99, top=0.93, bottom=0.04, hspace=0.35)
    saved = _save(figure, path, VERIFICATION_SIZE)
    data = dict(
        values={test: verification.values.get(test) for test in tests},
        n_failed={test: verification.n_failed[test] for test in tests},
        n_measured=verification.n_measured,
        annotations=annotations,
    )
    return Picture(path=saved, size=VERIFICATION_SIZE, data=data)


def plot_noise_vs_nominal(
    verification: AmpVerification,
    nominal_read_noise: typing.Mapping[str, typing.Mapping[str, float]],
    path: str | os.PathLike,
    *,
    title: str = "",
) -> Picture:
    """Draw each amplifier's measured NOISE against its nominal read noise.

    Parameters
    ----------
    verification : `AmpVerification`
        The measured NOISE (median over exposures).
    nominal_read_noise : `dict` [`str`, `dict` [`str`, `float`]]
        Nominal read noise (e-) by detector name and amplifier; missing
        entries are drawn without a nominal value.
    path : path-like
        PNG file to write.

    Returns
    -------
    picture : `Picture`
        ``data`` has ``measured`` and ``nominal`` (144 values, detector-major
        in `AMP_NAMES` order; NaN where unknown), ``excess`` ((measured -
        nominal) / nominal) and ``over_limit`` (amps whose excess exceeds
        `NOISE_TOLERANCE`, as ``"R22_S11 C10"``).
    """
    measured = verification.values["NOISE"].reshape(-1)
    nominal = np.full(measured.shape, np.nan)
    labels = []
    for det, name in enumerate(DETECTOR_NAMES):
        per_amp = nominal_read_noise.get(name, {})
        for amp_index, amp in enumerate(AMP_NAMES):
            labels.append(f"{name} {amp}")
            if amp in per_amp:
                nominal[det * len(AMP_NAMES) + amp_index] = float(per_amp[amp])
    with np.errstate(invalid="ignore", divide="ignore"):
        excess = (measured - nominal) / nominal
    over = np.isfinite(excess) & (excess > NOISE_TOLERANCE)
    x = np.arange(measured.size)

    figure = _new_figure(NOISE_SIZE)
    top, bottom = figure.subplots(2, 1, sharex=True, gridspec_kw=dict(height_ratios=[2, 1]))
    top.plot(x, nominal, "_", color="black", markersize=9, label="nominal read noise")
    top.plot(x, nominal * (1 + NOISE_TOLERANCE), "_", color="0.6", markersize=9, label="nominal + 5% (limit)")
    ok = np.isfinite(measured) & ~over
    top.plot(x[ok], measured[ok], "o", color="tab:blue", markersize=4, label="NOISE (passes)")
    top.plot(x[over], measured[over], "o", color="tab:red", markersize=5, label="NOISE (> limit)")
    top.set_ylabel("read noise [e-]")
    top.legend(fontsize=8, loc="upper right", ncols=4)
    bottom.axhline(NOISE_TOLERANCE * 100, color="tab:red", linewidth=1, linestyle="--")
    bottom.axhline(0, color="black", linewidth=0.8)
    bottom.plot(x[np.isfinite(excess)], 100 * excess[np.isfinite(excess)], ".", color="tab:blue")
    bottom.plot(x[over], 100 * excess[over], "o", color="tab:red", markersize=5)
    bottom.set_ylabel("excess [%]")
    for axes in (top, bottom):
        for boundary in range(len(AMP_NAMES), measured.size, len(AMP_NAMES)):
            axes.axvline(boundary - 0.5, color="0.8", linewidth=0.8)
    bottom.set_xticks([det * len(AMP_NAMES) + len(AMP_NAMES) / 2 - 0.5 for det in range(len(DETECTOR_NAMES))])
    bottom.set_xticklabels(DETECTOR_NAMES, fontsize=8)
    bottom.set_xlim(-1, measured.size)
    if not np.isfinite(nominal).any():
        top.text(
            0.5, 0.9, "nominal read noise unknown", transform=top.transAxes, ha="center", color="tab:red"
        )
    figure.suptitle(title or "Per-amplifier NOISE (5-sigma clipped) versus nominal read noise", fontsize=12)
    figure.subplots_adjust(left=0.06, right=0.99, top=0.93, bottom=0.07, hspace=0.08)
    saved = _save(figure, path, NOISE_SIZE)
    data = dict(
        measured=measured,
        nominal=nominal,
        excess=excess,
        over_limit=[labels[i] for i in np.nonzero(over)[0]],
    )
    return Picture(path=saved, size=NOISE_SIZE, data=data)
