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
    "mosaic_size",
    "noise_size",
    "plot_focal_plane_mosaic",
    "plot_noise_vs_nominal",
    "plot_verification_map",
    "verification_size",
]

import dataclasses
import os
import pathlib
import typing

import numpy as np

from ..cameras import COMCAM, CameraProfile
from .fits_reader import MasterBiasImage, bin_image
from .layout import AMP_NAMES, mosaic_grid
from .verification import AmpVerification

#: Picture sizes in pixels (width, height) of up to nine detectors (a 3x3
#: mosaic); drawn at 100 dpi. More detectors make larger pictures
#: (`mosaic_size`, `verification_size`, `noise_size`).
MOSAIC_SIZE = (1000, 1000)
VERIFICATION_SIZE = (1600, 1100)
NOISE_SIZE = (1400, 800)
_DPI = 100
_BASE_DETECTORS = 9
_LARGEST = 16000
_PNG_COMPRESS_LEVEL = 1
"""zlib compression level of the PNG pictures (fast; lossless at any level)."""


def mosaic_size(grid: tuple[int, int]) -> tuple[int, int]:
    """Mosaic size in pixels of a (rows, columns) grid: `MOSAIC_SIZE` up to 3x3, 300 px per cell beyond."""
    rows, columns = grid
    if rows <= 3 and columns <= 3:
        return MOSAIC_SIZE
    return (min(_LARGEST, 100 + 300 * columns), min(_LARGEST, 100 + 300 * rows))


def verification_size(n_detectors: int, n_tests: int) -> tuple[int, int]:
    """Verification map size in pixels: `VERIFICATION_SIZE` up to 9 detectors, 25 px per row beyond."""
    extra = max(0, n_detectors - _BASE_DETECTORS) * max(1, n_tests) * 25
    return VERIFICATION_SIZE[0], min(_LARGEST, VERIFICATION_SIZE[1] + extra)


def noise_size(n_detectors: int) -> tuple[int, int]:
    """Noise plot size in pixels: `NOISE_SIZE` up to 9 detectors, 140 px per detector beyond."""
    extra = max(0, n_detectors - _BASE_DETECTORS) * 140
    return min(_LARGEST, NOISE_SIZE[0] + extra), NOISE_SIZE[1]


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
    # zlib level 1: about a third less time per picture than the default 6,
    # for files about 15 % larger (the pictures are drawn at the end of a run).
    figure.savefig(path, dpi=_DPI, format="png", pil_kwargs={"compress_level": _PNG_COMPRESS_LEVEL})
    return path


def plot_focal_plane_mosaic(
    masters: typing.Mapping[int, MasterBiasImage],
    path: str | os.PathLike,
    *,
    title: str = "",
    max_bin_size: int = 200,
    label: str = "master bias",
    camera: CameraProfile = COMCAM,
    detectors: typing.Sequence[int] = (),
) -> Picture:
    """Draw each detector's master calibration in a grid of the run's detectors.

    The grid is `~.layout.mosaic_grid`: the science sensors of one raft
    (LSSTComCam) where they sit on the focal plane, any other set of
    detectors (an LSSTCam subset) as a compact grid in id order.

    Parameters
    ----------
    masters : `dict` [`int`, `MasterBiasImage`]
        Master (bias, dark or flat) by detector id; the run's detectors
        without a master are drawn empty.
    path : path-like
        PNG file to write.
    title : `str`, optional
        Figure title.
    max_bin_size : `int`, optional
        Each image is binned to at most this many pixels across.
    label : `str`, optional
        What the images are (``master dark``): the colour bar's label.
    camera : `~lsst.ts.calibscripts.cameras.CameraProfile`, optional
        The camera (default LSSTComCam): detector names and layout.
    detectors : sequence of `int`, optional
        The run's detectors, drawn with those of ``masters`` (all of a
        camera of up to nine detectors are drawn anyway).

    Returns
    -------
    picture : `Picture`
        ``data`` has ``binned`` (detector id -> binned image), ``median``
        and ``stdev`` (detector id -> value over unhidden pixels), ``vmin``,
        ``vmax`` (the common colour scale), ``positions`` (detector id ->
        (row, column) in the grid, row 0 at the top), ``grid`` ((rows,
        columns)) and ``titles`` (detector id -> panel title, the camera's
        detector name and id).
    """
    (n_rows, n_columns), grid_positions = mosaic_grid(camera, [*detectors, *masters])
    size = mosaic_size((n_rows, n_columns))
    figure = _new_figure(size)
    grid = figure.add_gridspec(
        n_rows, n_columns + 1, width_ratios=[1] * n_columns + [0.06], wspace=0.08, hspace=0.18
    )
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
    titles = {}
    image_artist = None
    for det, (row, col) in grid_positions.items():
        positions[det] = (row, col)
        titles[det] = f"{camera.detector_name(det)} ({det})"
        axes = figure.add_subplot(grid[row, col])
        axes.set_xticks([])
        axes.set_yticks([])
        if det in binned:
            image_artist = axes.imshow(
                binned[det], origin="lower", cmap="viridis", vmin=vmin, vmax=vmax, interpolation="nearest"
            )
            axes.set_title(titles[det], fontsize=10)
            axes.set_xlabel(f"median {medians[det]:.2f}  std {stdevs[det]:.2f}", fontsize=8)
        else:
            axes.set_facecolor("0.85")
            axes.set_title(titles[det], fontsize=10, color="0.4")
            axes.text(0.5, 0.5, f"no {label}", ha="center", va="center", transform=axes.transAxes)
    if image_artist is not None:
        colorbar_axes = figure.add_subplot(grid[:, n_columns])
        colorbar = figure.colorbar(image_artist, cax=colorbar_axes)
        colorbar.set_label(f"{label} [{units or 'e-'}]")
    rafts = sorted({camera.raft_sensor(det)[0] for det in grid_positions})
    arrangement = (
        "focal-plane layout" if (n_rows, n_columns) == (3, 3) and len(rafts) == 1 else "by detector id"
    )
    figure.suptitle(title or f"{camera.instrument} {label} ({', '.join(rafts)}, {arrangement})", fontsize=12)
    saved = _save(figure, path, size)
    data = dict(
        binned=binned,
        median=medians,
        stdev=stdevs,
        vmin=vmin,
        vmax=vmax,
        positions=positions,
        grid=(n_rows, n_columns),
        titles=titles,
    )
    return Picture(path=saved, size=size, data=data)


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
    NOISE, CR_NOISE; flat: NOISE); rows are the run's detectors with their
    camera names (``verification.detector_names``: R22_S00 .. R22_S22 on
    LSSTComCam), columns amplifiers C10..C17, C07..C00 (a wavefront half
    CCD has C10..C17 only; its other cells are blank and labelled ``-``).
    A cell is green if the test passed in every exposure, red if it failed
    in every exposure, orange if it failed in some, grey without data; it
    is annotated with the median measured value (e-).

    Returns
    -------
    picture : `Picture`
        ``data`` has ``values`` (test -> detectors x amps medians),
        ``n_failed`` (test -> counts), ``n_measured``, ``annotations``
        (test -> rows of strings as drawn), ``detector_labels`` (the row
        labels), ``amp_labels`` (the column labels) and ``row_amps`` (each
        row's own amplifiers).
    """
    size = verification_size(len(verification.detectors), len(verification.tests))
    figure = _new_figure(size)
    tests = verification.tests
    axes_list = figure.subplots(len(tests), 1, squeeze=False)[:, 0]
    annotations: dict[str, list[list[str]]] = {}
    amp_labels = AMP_NAMES[: verification.n_measured.shape[1]]
    for axes, test in zip(axes_list, tests):
        axes.imshow(_status_colors(verification, test), aspect="auto", interpolation="nearest")
        values = verification.values.get(test, np.full(verification.n_measured.shape, np.nan))
        labels = []
        for det in range(values.shape[0]):
            row = []
            n_amps = len(verification.amp_names[det])
            for amp_index in range(values.shape[1]):
                value = values[det, amp_index]
                if amp_index >= n_amps:
                    text = "-"
                else:
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
        axes.set_xticks(range(len(amp_labels)))
        axes.set_xticklabels(amp_labels, fontsize=8)
        axes.set_yticks(range(len(verification.detector_names)))
        axes.set_yticklabels(verification.detector_names, fontsize=8)
        # White lines between the cells: two line collections (minor ticks with a grid would
        # make a tick object, with its own labels, per line).
        n_rows, n_columns = len(verification.detector_names), len(amp_labels)
        axes.vlines(np.arange(0.5, n_columns - 1), -0.5, n_rows - 0.5, colors="white", linewidth=1)
        axes.hlines(np.arange(0.5, n_rows - 1), -0.5, n_columns - 0.5, colors="white", linewidth=1)
    exposures = verification.exposures
    subtitle = f"{len(exposures)} exposures" if exposures else "no verification data"
    figure.suptitle(f"{title or 'cp_verify bias tests per amplifier'} ({subtitle})", fontsize=12)
    figure.subplots_adjust(left=0.08, right=0.99, top=0.93, bottom=0.04, hspace=0.35)
    saved = _save(figure, path, size)
    data = dict(
        values={test: verification.values.get(test) for test in tests},
        n_failed={test: verification.n_failed[test] for test in tests},
        n_measured=verification.n_measured,
        annotations=annotations,
        detector_labels=tuple(verification.detector_names),
        amp_labels=tuple(amp_labels),
        row_amps=tuple(verification.amp_names),
    )
    return Picture(path=saved, size=size, data=data)


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
        ``data`` has ``measured`` and ``nominal`` (one value per amplifier
        of each detector, detector-major in `AMP_NAMES` order: 144 on
        LSSTComCam; NaN where unknown), ``excess`` ((measured - nominal) /
        nominal), ``over_limit`` (amps whose excess exceeds
        `NOISE_TOLERANCE`, as ``"R22_S11 C10"``), ``labels`` (``"<detector
        name> <amp>"`` of every value) and ``detector_labels`` (the
        detector names along the x axis).
    """
    noise = verification.values["NOISE"]
    names = verification.detector_names
    measured_parts = []
    nominal_values: list[float] = []
    labels: list[str] = []
    starts = []
    for row, name in enumerate(names):
        per_amp = nominal_read_noise.get(name, {})
        amps = verification.amp_names[row]
        starts.append(len(labels))
        measured_parts.append(noise[row, : len(amps)])
        for amp in amps:
            labels.append(f"{name} {amp}")
            nominal_values.append(float(per_amp[amp]) if amp in per_amp else float("nan"))
    measured = np.concatenate(measured_parts) if measured_parts else np.zeros(0)
    nominal = np.asarray(nominal_values, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        excess = (measured - nominal) / nominal
    over = np.isfinite(excess) & (excess > NOISE_TOLERANCE)
    x = np.arange(measured.size)

    size = noise_size(len(names))
    figure = _new_figure(size)
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
    ends = [*starts[1:], measured.size]
    for axes in (top, bottom):
        for boundary in starts[1:]:
            axes.axvline(boundary - 0.5, color="0.8", linewidth=0.8)
    bottom.set_xticks([(start + end) / 2 - 0.5 for start, end in zip(starts, ends)])
    bottom.set_xticklabels(names, fontsize=8)
    bottom.set_xlim(-1, measured.size)
    if not np.isfinite(nominal).any():
        top.text(
            0.5, 0.9, "nominal read noise unknown", transform=top.transAxes, ha="center", color="tab:red"
        )
    figure.suptitle(title or "Per-amplifier NOISE (5-sigma clipped) versus nominal read noise", fontsize=12)
    figure.subplots_adjust(left=0.06, right=0.99, top=0.93, bottom=0.07, hspace=0.08)
    saved = _save(figure, path, size)
    data = dict(
        measured=measured,
        nominal=nominal,
        excess=excess,
        over_limit=[labels[i] for i in np.nonzero(over)[0]],
        labels=labels,
        detector_labels=tuple(names),
    )
    return Picture(path=saved, size=size, data=data)
