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

"""Simulated LSSTComCam raw frames: biases, darks and flats.

Each (exposure, detector) raw is an `astropy.io.fits.HDUList` laid out like a
real ComCam raw: a primary header (``OBSID``, ``DAYOBS``, ``SEQNUM``,
``GROUPID``, ``IMGTYPE``, ``EXPTIME``, ``DATE-BEG``/``DATE-END`` in TAI,
``RAFTBAY``/``CCDSLOT``/``LSST_NUM``, ...) followed by 16 int32 image HDUs
``Segment10`` .. ``Segment17``, ``Segment07`` .. ``Segment00`` with
``DATASEC``/``DETSEC``/``BIASSEC``. Pixel rows are ``[data | parallel
overscan]`` and columns ``[prescan | data | serial overscan]``.

Pixel model (per amp, in e⁻ then ADU; the physical order of the reference
simulation recipe):

1. fixed 2-D bias pattern on the data region, identical in every exposure:
   Gaussian (2 e⁻), per-column offsets (1 e⁻), a warm read corner and 0–3 hot
   columns per CCD (`hot_columns`);
2. fixed linear ramps: along rows (whole raw row, removed by serial
   overscan) and along columns (data and parallel overscan, removed by
   parallel overscan);
3. read noise N(0, RN × c) on every pixel, RN from the camera model times the
   detector's fault factor. The camera model's RN is what a photon-transfer
   analysis measures on ISR-corrected images, so ``c`` (`isr_noise_compensation`,
   about 0.965) removes the noise that the ISR adds back: the per-row and
   per-column overscan medians and the digitisation and dither. A corrected
   single frame then has the nominal noise and an independent frame minus a
   20-frame master is about 2.5 % above it, as on the real camera;
4. cosmic rays on the data region (Poisson number of short tracks);
5. divide by the amp gain (e⁻/ADU);
6. pedestal 20000 ADU + fixed per-amp offset (±300 ADU) + per-exposure drift
   (±2 ADU) + per-row common mode (1 ADU, the same in data and overscans);
7. fault offset (ADU) on the data region of chosen frames; round to int32.

Darks and flats (``image_type`` ``DARK``/``FLAT``) add, between steps 4
and 5, a photon signal drawn from a Poisson distribution (its own random
stream, so a bias is bit-identical to what it was before darks and flats
existed):

* dark current, every DARK and FLAT, for the dark time (`dark_time`: the
  exposure time + `~.camera_model.DARK_TIME_EXCESS`): a per-amp level drawn
  in 0.002–0.02 e⁻/s, 2 % pixel-to-pixel variation and warm pixels
  (5 × 10⁻⁵ of the pixels, 0.1–2 e⁻/s: at most 120 e⁻ in 60 s, below the
  cosmic-ray detection floor of 150 e⁻, so cpDark does not mask them as
  cosmic rays), times the detector's ``dark_current_factors`` fault;
* flat illumination, FLAT only, for the shutter time (`shutter_time`, the
  exposure time): ``FLAT_FLUX[filter]`` × a smooth focal-plane pattern
  (1 % radial fall-off to the raft corners and a 0.3 % tilt) × a per-amp
  QE (±0.5 %) × a fixed pixel response (0.5 %) × the faults
  ``flat_nonuniformity`` (per frame) and ``flat_amp_response`` (per amp).
  The variations are kept small on purpose: cp_verify's flat test
  ``NOISE <= sqrt(MEAN)`` fails an amp whose response is below the
  focal-plane mean by more than about 1/N (N flats in the master).

Cosmic rays in darks and flats are ``cosmic_ray_rate`` +
``cosmic_ray_rate_per_second`` × dark time tracks per megapixel
(`cosmic_ray_mean`).

Every random draw is seeded: per (seed, seq_num, detector) for what
changes between exposures (cosmic rays from their own stream, so the
cosmic-ray knobs change nothing else), per (seed, detector, amp) for what
does not. The exposure's date is deliberately not part of the seed: the
k-th frame of a day has the same noise on every day, so a run's pixels,
and its verification verdict, do not depend on the calendar.

Public API
----------
`make_image_info`
    Build an `~lsst.ts.calibscripts.sim.interfaces.ImageInfo` as the mock
    camera would (for tests and seeding repositories without the camera).
`make_raw` (image, detector, options) -> `astropy.io.fits.HDUList`
`raw_bytes` (image, detector, options) -> the raw's FITS file as bytes; the
    segments of a frame made before in this process (same pixels) are
    reused from a cache, only the primary header is made again
`write_raw` (image, detector, directory, options) -> path (atomic write)
`write_bias_frames` (directory, n_exposures, detectors, options, ...) ->
    list of `RawFile`
`write_frames` (directory, images, options) -> list of `RawFile`
`raw_filename`, `hot_columns`, `fixed_pattern`, ``PEDESTAL_ADU``.
`dark_time`, `shutter_time`, `cosmic_ray_mean`
    Timing and cosmic-ray rate of an image.
`dark_current`, `amp_qe`, `illumination`, `flat_response`
    The true dark current (e⁻/s) and relative flat response of an amp's
    data region (raw orientation), for tests and reports.
"""

from __future__ import annotations

__all__ = [
    "PEDESTAL_ADU",
    "HotColumn",
    "RawFile",
    "make_image_info",
    "raw_filename",
    "hot_columns",
    "fixed_pattern",
    "make_raw",
    "raw_bytes",
    "write_raw",
    "write_bias_frames",
    "write_frames",
    "dark_time",
    "shutter_time",
    "cosmic_ray_mean",
    "dark_current",
    "amp_qe",
    "illumination",
    "flat_response",
]

import collections
import dataclasses
import functools
import io
import os
import tempfile
import threading
import typing

import astropy.time
import astropy.units as u
import numpy as np
from astropy.io import fits

from ...cameras import COMCAM, CameraProfile, profile
from ..interfaces import ImageInfo
from . import camera_model
from .camera_model import AmpGeometry
from .options import DataOptions

PEDESTAL_ADU = 20000.0
AMP_OFFSET_RANGE_ADU = 300.0
DRIFT_RANGE_ADU = 2.0
COMMON_MODE_SIGMA_ADU = 1.0
PATTERN_SIGMA_E = 2.0
COLUMN_SIGMA_E = 1.0
CORNER_GLOW_E = 5.0
ROW_RAMP_E = 20.0
COLUMN_RAMP_E = 10.0
CR_ENERGY_E = (200.0, 5000.0)
CR_LENGTH_PIX = (2, 20)
READOUT_TIME = 2.3
"""Seconds from the start of one simulated bias to the next (make_image_info)."""
DARK_CURRENT_RANGE_E_S = (0.002, 0.02)
DARK_CURRENT_PIXEL_SPREAD = 0.02
WARM_PIXEL_FRACTION = 5e-5
WARM_PIXEL_RANGE_E_S = (0.1, 2.0)
ILLUMINATION_FALLOFF = 0.01
ILLUMINATION_TILT = 0.003
QE_SPREAD = 0.005
PIXEL_RESPONSE_SIGMA = 0.005
_PHOTON_TYPES = ("DARK", "FLAT")

# Seed stream tags, so the different random streams never coincide.
_TAG_EXPOSURE = 0x45
_TAG_FIXED = 0x46
_TAG_HOT = 0x48
_TAG_COSMIC = 0x43
_TAG_DARK = 0x44
_TAG_RESPONSE = 0x52
_TAG_PHOTON = 0x50

# Above this many data pixels per amp, fixed patterns are recomputed instead
# of cached (a full-size detector's patterns would take 65 MB each).
_CACHE_MAX_PIXELS = 200_000


@dataclasses.dataclass(frozen=True)
class HotColumn:
    """A hot column of the fixed bias pattern (for a defects list).

    Attributes
    ----------
    amp : `str`
        Amplifier name.
    column : `int`
        0-based column within the amp's data region.
    level : `float`
        Excess in e⁻.
    """

    amp: str
    column: int
    level: float


@dataclasses.dataclass(frozen=True)
class RawFile:
    """A raw written to disk by `write_bias_frames`."""

    image: ImageInfo
    detector: int
    path: str


def make_image_info(
    day_obs: int,
    seq_num: int,
    *,
    detectors: typing.Iterable[int] = camera_model.DETECTOR_IDS,
    exp_time: float = 0.0,
    image_type: str = "BIAS",
    group_id: str = "",
    date_begin: astropy.time.Time | None = None,
    key_value_map: dict[str, str] | None = None,
    physical_filter: str | None = None,
    camera: CameraProfile = COMCAM,
) -> ImageInfo:
    """Build the ImageInfo of one image, named as the real camera names it.

    Parameters
    ----------
    day_obs : `int`
        YYYYMMDD.
    seq_num : `int`
        Sequence number (1-based, < 100000).
    detectors : iterable of `int`
        Detectors read out.
    exp_time : `float`
        Exposure time (s).
    image_type : `str`
        ``IMGTYPE``: ``BIAS``, ``DARK``, ``FLAT``, ...
    group_id : `str`
        Group id; empty by default.
    date_begin : `astropy.time.Time`, optional
        Start of integration; default ``day_obs`` 22:00 TAI +
        (seq_num − 1) × `READOUT_TIME`.
    key_value_map : `dict`, optional
        Parsed keyValueMap; default ``imageType``/``groupId``/``testType``.
    physical_filter : `str`, optional
        Filter in the beam (a physical filter of ``camera``); default the
        camera's (`CameraProfile.physical_filter`).
    camera : `CameraProfile`, optional
        The camera: names the image (``CC_O_...``, ``MC_O_...``) and its
        instrument. Default LSSTComCam.
    """
    if not 0 < seq_num < 100000:
        raise ValueError(f"seq_num must be in 1..99999; got {seq_num}")
    if physical_filter is None:
        physical_filter = camera.physical_filter()
    camera.physical_filter_band(physical_filter)
    if exp_time < 0:
        raise ValueError(f"exp_time must be >= 0; got {exp_time}")
    text = str(day_obs)
    if date_begin is None:
        date_begin = (
            astropy.time.Time(f"{text[:4]}-{text[4:6]}-{text[6:]}T22:00:00", scale="tai")
            + ((seq_num - 1) * READOUT_TIME) * u.s
        )
    date_begin = date_begin.tai
    date_end = date_begin + exp_time * u.s
    if key_value_map is None:
        key_value_map = {"imageType": image_type, "groupId": group_id, "testType": image_type}
    return ImageInfo(
        obs_id=camera.obs_id(day_obs, seq_num),
        exposure_id=day_obs * 100000 + seq_num,
        day_obs=day_obs,
        seq_num=seq_num,
        group_id=group_id,
        image_type=image_type,
        exp_time=float(exp_time),
        date_begin=date_begin,
        date_end=date_end,
        detectors=tuple(detectors),
        key_value_map=dict(key_value_map),
        physical_filter=physical_filter,
        instrument=camera.instrument,
    )


def raw_filename(image: ImageInfo, detector: int) -> str:
    """Return the raw file name, e.g. ``CC_O_20261125_000001_R22_S00.fits``."""
    return f"{image.obs_id}_{profile(image.instrument).detector_name(detector)}.fits"


def image_geometry(image: ImageInfo, detector: int, options: DataOptions) -> AmpGeometry:
    """Raw amplifier geometry of one detector of the image's camera, at the options' scale."""
    return camera_model.detector_amp_geometry(profile(image.instrument), detector, options.geometry)


ISR_OVERSCAN_SKIP = 3
"""Overscan pixels the bias ISR skips at each end (cpBias default)."""


def isr_noise_compensation(geometry: AmpGeometry, read_noise_adu: float) -> float:
    """Factor on the per-pixel noise so that ISR-corrected noise is nominal.

    The bias ISR subtracts a per-row median of the serial overscan and a
    per-column median of the parallel overscan; each median of ``n`` samples
    of noise ``σ`` has variance ``(π/2) σ² / n``. Rounding to integer ADU and
    the ISR's symmetric dither each add 1/12 ADU².

    Parameters
    ----------
    geometry : `AmpGeometry`
        Raw amplifier geometry (overscan widths).
    read_noise_adu : `float`
        Nominal read noise in ADU.

    Returns
    -------
    factor : `float`
        ``1 / sqrt(1 + added variance / σ²)``, slightly below 1.
    """
    n_serial = max(geometry.serial_overscan - 2 * ISR_OVERSCAN_SKIP, 1)
    n_parallel = max(geometry.parallel_overscan - 2 * ISR_OVERSCAN_SKIP, 1)
    serial = (np.pi / 2) / n_serial
    parallel = (np.pi / 2) * (1 + serial) / n_parallel
    digitisation = (2.0 / 12.0) / read_noise_adu**2
    return float(1.0 / np.sqrt(1.0 + serial + parallel + digitisation))


def _rng(*entropy: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(e) for e in entropy]))


@functools.lru_cache(maxsize=64)
def hot_columns(detector: int, geometry: AmpGeometry, seed: int) -> tuple[HotColumn, ...]:
    """Return the 0–3 hot columns of a detector (same in every exposure)."""
    rng = _rng(seed, _TAG_HOT, detector)
    n = int(rng.integers(0, 4))
    names = geometry.amp_names
    amps = rng.integers(0, len(names), size=n)
    cols = rng.integers(0, geometry.data_width, size=n)
    levels = rng.uniform(20.0, 200.0, size=n)
    return tuple(
        HotColumn(amp=names[a], column=int(c), level=float(lv)) for a, c, lv in zip(amps, cols, levels)
    )


@dataclasses.dataclass(frozen=True)
class _AmpFixed:
    """Per-amp quantities that do not change between exposures."""

    pattern: np.ndarray  # data region, e-
    offset_adu: float
    row_ramp: np.ndarray  # per raw row, e-
    column_ramp: np.ndarray  # per data column, e-


def _make_amp_fixed(detector: int, amp_index: int, geometry: AmpGeometry, seed: int) -> _AmpFixed:
    rng = _rng(seed, _TAG_FIXED, detector, amp_index)
    h, w = geometry.data_height, geometry.data_width
    pattern = rng.standard_normal((h, w), dtype=np.float32)
    pattern *= PATTERN_SIGMA_E
    pattern += (COLUMN_SIGMA_E * rng.standard_normal(w)).astype(np.float32)[np.newaxis, :]
    # Warm read corner: the output amplifier sits at the prescan side of row 0.
    # It decays over ~100 pixels (scaled with the amp); beyond 7 scale
    # lengths it is below 0.01 e-, so only that corner box is computed.
    scale = max(2.0, 100.0 * w / 509.0)
    gh, gw = min(h, int(7 * scale)), min(w, int(7 * scale))
    yy = np.arange(gh, dtype=np.float32)[:, np.newaxis]
    xx = np.arange(gw, dtype=np.float32)[np.newaxis, :]
    pattern[:gh, :gw] += CORNER_GLOW_E * np.exp(-np.hypot(yy, xx) / np.float32(scale))
    amp_name = geometry.amp_names[amp_index]
    for hot in hot_columns(detector, geometry, seed):
        if hot.amp == amp_name:
            pattern[:, hot.column] += hot.level
    offset = float(rng.uniform(-AMP_OFFSET_RANGE_ADU, AMP_OFFSET_RANGE_ADU))
    row_slope = rng.uniform(-ROW_RAMP_E, ROW_RAMP_E)
    col_slope = rng.uniform(-COLUMN_RAMP_E, COLUMN_RAMP_E)
    row_ramp = (row_slope * np.linspace(-1.0, 1.0, geometry.raw_height)).astype(np.float32)
    column_ramp = (col_slope * np.linspace(-1.0, 1.0, w)).astype(np.float32)
    for array in (pattern, row_ramp, column_ramp):
        array.setflags(write=False)
    return _AmpFixed(pattern=pattern, offset_adu=offset, row_ramp=row_ramp, column_ramp=column_ramp)


_amp_fixed_cached = functools.lru_cache(maxsize=9 * 16 * 2)(_make_amp_fixed)


def _amp_fixed(detector: int, amp_index: int, geometry: AmpGeometry, seed: int) -> _AmpFixed:
    if geometry.data_width * geometry.data_height <= _CACHE_MAX_PIXELS:
        return _amp_fixed_cached(detector, amp_index, geometry, seed)
    return _make_amp_fixed(detector, amp_index, geometry, seed)


def fixed_pattern(detector: int, amp: str, geometry: AmpGeometry, seed: int) -> np.ndarray:
    """Return the fixed 2-D bias pattern (e⁻) of one amp's data region.

    This is the structure a perfect master bias contains (before the
    row/column ramps, which overscan correction removes).
    """
    return _amp_fixed(detector, camera_model.AMP_NAMES.index(amp), geometry, seed).pattern


def dark_time(image: ImageInfo) -> float:
    """Dark time (s) of an image: ``DARKTIME`` in its header.

    A bias keeps the dark time of a real ComCam bias header (0.398 s); a
    dark or flat the exposure time + `~.camera_model.DARK_TIME_EXCESS`.
    """
    if image.image_type.upper() in _PHOTON_TYPES:
        return float(image.exp_time) + camera_model.DARK_TIME_EXCESS
    return float(image.exp_time) + camera_model.BIAS_DARK_TIME


def shutter_time(image: ImageInfo) -> float:
    """Shutter-open time (s) of an image: the exposure time of a FLAT, else 0."""
    return float(image.exp_time) if image.image_type.upper() == "FLAT" else 0.0


def cosmic_ray_mean(image: ImageInfo, geometry: AmpGeometry, options: DataOptions) -> float:
    """Mean number of cosmic-ray tracks per amp in one image.

    ``cosmic_ray_rate`` per megapixel per frame, plus for darks and flats
    ``cosmic_ray_rate_per_second`` × `dark_time`, times the frame's
    ``cosmic_ray_storm`` factor; 0 when cosmic rays are off.
    """
    if not options.cosmic_rays:
        return 0.0
    area_mpix = geometry.data_width * geometry.data_height / 1e6
    rate = options.cosmic_ray_rate
    if image.image_type.upper() in _PHOTON_TYPES:
        rate = rate + options.cosmic_ray_rate_per_second * dark_time(image)
    return rate * area_mpix * options.cosmic_ray_factor(image)


def _freeze(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array


@functools.lru_cache(maxsize=9 * 16 * 2)
def _dark_current_cached(detector: int, amp_index: int, geometry: AmpGeometry, seed: int) -> np.ndarray:
    return _make_dark_current(detector, amp_index, geometry, seed)


def _make_dark_current(detector: int, amp_index: int, geometry: AmpGeometry, seed: int) -> np.ndarray:
    rng = _rng(seed, _TAG_DARK, detector, amp_index)
    h, w = geometry.data_height, geometry.data_width
    level = rng.uniform(*DARK_CURRENT_RANGE_E_S)
    current = level * (1.0 + DARK_CURRENT_PIXEL_SPREAD * rng.standard_normal((h, w)))
    np.maximum(current, 0.0, out=current)
    n_warm = int(rng.poisson(WARM_PIXEL_FRACTION * h * w))
    rows = rng.integers(0, h, size=n_warm)
    cols = rng.integers(0, w, size=n_warm)
    current[rows, cols] = rng.uniform(*WARM_PIXEL_RANGE_E_S, size=n_warm)
    return _freeze(current)


def dark_current(detector: int, amp: str, geometry: AmpGeometry, seed: int) -> np.ndarray:
    """Nominal dark current (e⁻/s) of one amp's data region, raw orientation.

    The same in every exposure; the ``dark_current_factors`` fault is not
    applied.
    """
    index = camera_model.AMP_NAMES.index(amp)
    if geometry.data_width * geometry.data_height <= _CACHE_MAX_PIXELS:
        return _dark_current_cached(detector, index, geometry, seed)
    return _make_dark_current(detector, index, geometry, seed)


def amp_qe(detector: int, amp: str, seed: int) -> float:
    """Relative quantum efficiency of one amp (1 ± `QE_SPREAD`)."""
    rng = _rng(seed, _TAG_RESPONSE, detector, camera_model.AMP_NAMES.index(amp))
    return float(1.0 + rng.uniform(-QE_SPREAD, QE_SPREAD))


def _raft_position(camera: CameraProfile, detector: int) -> tuple[int, int]:
    """(column, row) of a detector in its 3x3 raft; a corner sensor sits at the centre."""
    if camera.instrument == camera_model.INSTRUMENT:
        return camera_model.detector_position(detector)
    sensor = camera.detector(detector).sensor
    if len(sensor) == 3 and sensor[1:].isdigit():
        return int(sensor[2]), int(sensor[1])
    return 1, 1


def _focal_plane_coords(
    detector: int, amp: str, geometry: AmpGeometry, camera: CameraProfile = COMCAM
) -> tuple[np.ndarray, np.ndarray]:
    """Focal-plane (u, v) of one amp's raw data pixels, in CCD sizes from the raft centre.

    Raw pixel (row r, column c) lands in the assembled CCD at
    x = (column index + 1) × w − 1 − c (every amp is flipped in x) and
    y = r (C1x, bottom half) or 2h − 1 − r (C0x, top half, flipped in y),
    as the raw ``DETSEC`` says.
    """
    h, w = geometry.data_height, geometry.data_width
    col_index = int(amp[2])
    rows = np.arange(h, dtype=np.float64)
    cols = np.arange(w, dtype=np.float64)
    x = (col_index + 1) * w - 1 - cols
    y = rows if amp[1] == "1" else 2 * h - 1 - rows
    ix, iy = _raft_position(camera, detector)
    u = (ix - 1) + (x + 0.5) / geometry.ccd_width - 0.5
    v = (iy - 1) + (y + 0.5) / geometry.ccd_height - 0.5
    return np.broadcast_to(u[np.newaxis, :], (h, w)), np.broadcast_to(v[:, np.newaxis], (h, w))


def illumination(
    detector: int, amp: str, geometry: AmpGeometry, gradient: float = 0.0, camera: CameraProfile = COMCAM
) -> np.ndarray:
    """Relative flat illumination over one amp's data region (raw orientation).

    1 at the raft centre, ``1 - ILLUMINATION_FALLOFF`` at its corners, a tilt
    of ``ILLUMINATION_TILT`` and an extra left-to-right ``gradient`` (the
    ``flat_nonuniformity`` fault), all smooth over the 3×3 raft.
    """
    u, v = _focal_plane_coords(detector, amp, geometry, camera)
    half = 1.5
    pattern = 1.0 - ILLUMINATION_FALLOFF * (u * u + v * v) / (2 * half * half)
    pattern = pattern + ILLUMINATION_TILT * u / half
    if gradient:
        pattern = pattern * (1.0 + gradient * u / half)
    return pattern


def _make_pixel_response(detector: int, amp_index: int, geometry: AmpGeometry, seed: int) -> np.ndarray:
    rng = _rng(seed, _TAG_RESPONSE, detector, amp_index, 1)
    shape = (geometry.data_height, geometry.data_width)
    return _freeze(1.0 + PIXEL_RESPONSE_SIGMA * rng.standard_normal(shape))


_pixel_response_cached = functools.lru_cache(maxsize=9 * 16 * 2)(_make_pixel_response)


def flat_response(
    detector: int, amp: str, geometry: AmpGeometry, seed: int, camera: CameraProfile = COMCAM
) -> np.ndarray:
    """True relative response of one amp's data region to flat light (raw orientation).

    `illumination` × `amp_qe` × the fixed pixel response, without faults.
    A flat of filter ``f`` and shutter time ``t`` collects
    ``FLAT_FLUX[f] × t × flat_response`` e⁻ per pixel (plus dark current).
    """
    index = camera_model.AMP_NAMES.index(amp)
    if geometry.data_width * geometry.data_height <= _CACHE_MAX_PIXELS:
        pixels = _pixel_response_cached(detector, index, geometry, seed)
    else:
        pixels = _make_pixel_response(detector, index, geometry, seed)
    return illumination(detector, amp, geometry, camera=camera) * amp_qe(detector, amp, seed) * pixels


def _photon_signal(
    image: ImageInfo,
    detector: int,
    amp: str,
    geometry: AmpGeometry,
    options: DataOptions,
    rng: np.random.Generator,
) -> np.ndarray:
    """Poisson photo-electrons (e⁻) of a dark or flat on one amp's data region."""
    mean = dark_current(detector, amp, geometry, options.seed) * (
        dark_time(image) * options.dark_current_factor(detector)
    )
    if image.image_type.upper() == "FLAT":
        gradient = options.flat_gradient(image)
        camera = profile(image.instrument)
        response = flat_response(detector, amp, geometry, options.seed, camera)
        if gradient:
            u = _focal_plane_coords(detector, amp, geometry, camera)[0]
            response = response * (1.0 + gradient * u / 1.5)
        flux = _flat_flux(camera, image.physical_filter) * shutter_time(image)
        mean = mean + response * (flux * options.amp_response_factor(detector, amp))
    return rng.poisson(mean).astype(np.float32)


def _flat_flux(camera: CameraProfile, physical_filter: str) -> float:
    """Flat illumination (e-/s per pixel) of a filter: ComCam's table, else by the filter's band."""
    if physical_filter in camera_model.FLAT_FLUX:
        return camera_model.FLAT_FLUX[physical_filter]
    band = camera.physical_filter_band(physical_filter)
    by_band = {camera_model.filter_band(name): flux for name, flux in camera_model.FLAT_FLUX.items()}
    return by_band.get(band, camera_model.FLAT_FLUX[camera_model.DEFAULT_PHYSICAL_FILTER])


def _add_cosmic_rays(data: np.ndarray, rng: np.random.Generator, mean_tracks: float) -> int:
    """Add cosmic-ray tracks (e⁻) to ``data`` in place; return their number."""
    n = int(rng.poisson(mean_tracks)) if mean_tracks > 0 else 0
    if n == 0:
        return 0
    h, w = data.shape
    lengths = rng.integers(CR_LENGTH_PIX[0], CR_LENGTH_PIX[1] + 1, size=n)
    y0 = rng.uniform(0, h, size=n)
    x0 = rng.uniform(0, w, size=n)
    angle = rng.uniform(0, np.pi, size=n)
    track = np.repeat(np.arange(n), lengths)
    starts = np.cumsum(lengths) - lengths
    t = np.arange(track.size) - np.repeat(starts, lengths)
    yi = np.clip(np.rint(y0[track] + t * np.sin(angle[track])), 0, h - 1).astype(np.intp)
    xi = np.clip(np.rint(x0[track] + t * np.cos(angle[track])), 0, w - 1).astype(np.intp)
    energy = rng.uniform(CR_ENERGY_E[0], CR_ENERGY_E[1], size=track.size).astype(np.float32)
    np.add.at(data, (yi, xi), energy)
    return n


_INSTRUME = {"LSSTComCam": "ComCam"}
"""``INSTRUME`` of a butler instrument whose header name differs from it."""


def _primary_header(image: ImageInfo, detector: int, geometry: AmpGeometry) -> fits.Header:
    camera = profile(image.instrument)
    det = camera_model.camera_detector_model(camera, detector)
    kvm = image.key_value_map
    begin = image.date_begin.tai
    end = image.date_end.tai
    header = fits.Header()
    cards: list[tuple[str, typing.Any, str]] = [
        ("DATE", end.isot, "Creation date of the file (TAI)"),
        ("ORIGIN", "Rubin Observatory (simulated)", ""),
        ("TIMESYS", "TAI", "Time system of dates"),
        ("TELESCOP", "LSST", ""),
        ("INSTRUME", _INSTRUME.get(camera.instrument, camera.instrument), ""),
        ("CAMCODE", camera.camera_code, "Camera code"),
        ("CONTRLLR", camera.controller, "Controller: OCS"),
        ("OBSID", image.obs_id, "Image name"),
        ("DAYOBS", str(image.day_obs), "Observing day"),
        ("SEQNUM", image.seq_num, "Sequence number"),
        ("GROUPID", image.group_id, "Group id"),
        ("IMGTYPE", image.image_type, "Image type"),
        ("TESTTYPE", kvm.get("testType", image.image_type), ""),
        ("REASON", kvm.get("reason", ""), ""),
        ("PROGRAM", kvm.get("program", ""), ""),
        ("CURINDEX", 1, "Index of this image in its sequence"),
        ("MAXINDEX", 1, "Number of images in the sequence"),
        ("DATE-OBS", begin.isot, "Start of integration (TAI)"),
        ("DATE-BEG", begin.isot, "Start of integration (TAI)"),
        ("DATE-END", end.isot, "End of integration (TAI)"),
        ("MJD", end.mjd, "Modified Julian date of DATE"),
        ("MJD-OBS", begin.mjd, ""),
        ("MJD-BEG", begin.mjd, ""),
        ("MJD-END", end.mjd, ""),
        ("EXPTIME", float(image.exp_time), "Exposure time (s)"),
        ("DARKTIME", dark_time(image), "Dark time (s)"),
        ("SHUTTIME", shutter_time(image), "Shutter open time (s)"),
        ("FILTER", image.physical_filter, "Filter in the beam"),
        ("BUNIT", "adu", ""),
        ("SEQFILE", "FP_ITL_2s_ir2_v26.seq", "Sequencer file"),
        ("DETSIZE", geometry.detsize, ""),
        ("CCD_MANU", det.vendor, "CCD manufacturer"),
        ("CCD_TYPE", det.ccd_type, "CCD model"),
        ("LSST_NUM", det.serial, "CCD serial"),
        ("CCDSLOT", det.slot, "CCD slot in the raft"),
        ("RAFTBAY", det.raft, "Raft bay"),
        ("DETECTOR", det.id, "Detector id"),
        ("DETNAME", det.name, "Detector name"),
        ("CCDGAIN", 1.0, "Rough gain (placeholder)"),
        ("CCDNOISE", 10.0, "Rough noise (placeholder)"),
    ]
    for key, value, comment in cards:
        header[key] = (value, comment)
    return header


@functools.lru_cache(maxsize=8 * 16)
def _segment_header(geometry: AmpGeometry, index: int) -> fits.Header:
    """Header template of one amp's Segment HDU (copied for every raw)."""
    name = geometry.amp_names[index]
    header = fits.Header()
    header["EXTNAME"] = f"Segment{name[1:]}"
    header["CHANNEL"] = (index + 1, "Amplifier channel")
    header["CCDSUM"] = "1 1"
    header["DATASEC"] = geometry.datasec
    header["DETSEC"] = geometry.detsec(name)
    header["BIASSEC"] = geometry.biassec
    header["DETSIZE"] = geometry.detsize
    return header


def make_raw(image: ImageInfo, detector: int, options: DataOptions | None = None) -> fits.HDUList:
    """Make the raw HDUList of one (image, detector).

    Parameters
    ----------
    image : `ImageInfo`
        The image (its ``instrument`` is the camera).
    detector : `int`
        Detector id of the image's camera.
    options : `DataOptions`, optional
        Geometry, seed and fault knobs; defaults if `None`.

    Returns
    -------
    hdulist : `astropy.io.fits.HDUList`
        Primary HDU and one int32 ``Segment`` HDU per amplifier of the
        detector's layout (16; 8 for a wavefront half CCD), in the
        vendor's geometry (ITL or e2v prescan and overscans).
    """
    options = options or DataOptions()
    geometry, pixels, n_tracks = _amp_pixels(image, detector, options)
    primary = fits.PrimaryHDU(header=_primary_header(image, detector, geometry))
    hdus = [
        fits.ImageHDU(data=pix, header=_segment_header(geometry, index).copy())
        for index, pix in enumerate(pixels)
    ]
    _add_sim_cards(primary.header, image, detector, options, n_tracks)
    return fits.HDUList([primary, *hdus])


def _amp_pixels(
    image: ImageInfo, detector: int, options: DataOptions
) -> tuple[AmpGeometry, list[np.ndarray], int]:
    """The pixels of one raw: its geometry, one int32 array per amplifier, and the cosmic-ray tracks."""
    geometry = image_geometry(image, detector, options)
    det = camera_model.camera_detector_model(profile(image.instrument), detector)
    # Seeded by seq_num, not exposure_id: exposure ids contain the date.
    rng = _rng(options.seed, _TAG_EXPOSURE, image.seq_num, detector)
    # A separate stream, so that cosmic-ray knobs leave every other pixel as is.
    cr_rng = _rng(options.seed, _TAG_COSMIC, image.seq_num, detector)
    rn_factor = options.read_noise_factor(detector)
    offset_adu = options.mean_offset(image)
    cr_mean = cosmic_ray_mean(image, geometry, options)
    # Photon signal of darks and flats: a stream of its own, so biases are unchanged.
    photon_rng = (
        _rng(options.seed, _TAG_PHOTON, image.seq_num, detector)
        if image.image_type.upper() in _PHOTON_TYPES
        else None
    )
    data_sl = geometry.data_slice
    x0, x1 = data_sl[1].start, data_sl[1].stop

    pixels: list[np.ndarray] = []
    n_tracks = 0
    for index, amp in enumerate(det.amplifiers):
        fixed = _amp_fixed(detector, index, geometry, options.seed)
        pix = rng.standard_normal(geometry.raw_shape, dtype=np.float32)
        rn = amp.read_noise * rn_factor
        pix *= np.float32(rn * isr_noise_compensation(geometry, rn / amp.gain))
        pix[data_sl] += fixed.pattern
        pix += fixed.row_ramp[:, np.newaxis]
        pix[:, x0:x1] += fixed.column_ramp[np.newaxis, :]
        n_tracks += _add_cosmic_rays(pix[data_sl], cr_rng, cr_mean)
        if photon_rng is not None:
            pix[data_sl] += _photon_signal(image, detector, amp.name, geometry, options, photon_rng)
        pix *= np.float32(1.0 / amp.gain)
        drift = rng.uniform(-DRIFT_RANGE_ADU, DRIFT_RANGE_ADU)
        common_mode = rng.normal(0.0, COMMON_MODE_SIGMA_ADU, size=geometry.raw_height).astype(np.float32)
        pix += np.float32(PEDESTAL_ADU + fixed.offset_adu + drift)
        pix += common_mode[:, np.newaxis]
        if offset_adu:
            pix[data_sl] += np.float32(offset_adu)
        np.rint(pix, out=pix)
        pixels.append(pix.astype(np.int32))
    return geometry, pixels, n_tracks


def _add_sim_cards(
    header: fits.Header, image: ImageInfo, detector: int, options: DataOptions, n_tracks: int
) -> None:
    """Add the ``SIM ...`` cards (the simulation's truth) to a raw's primary header."""
    header["HIERARCH SIM SEED"] = (options.seed, "Simulation base seed")
    header["HIERARCH SIM GEOMETRY"] = (options.geometry.value, "Simulated geometry scale")
    header["HIERARCH SIM RN FACTOR"] = (options.read_noise_factor(detector), "True / nominal read noise")
    header["HIERARCH SIM DATA OFFSET"] = (options.mean_offset(image), "[adu] fault offset on data regions")
    header["HIERARCH SIM CR TRACKS"] = (n_tracks, "Cosmic-ray tracks added")
    if image.image_type.upper() in _PHOTON_TYPES:
        header["HIERARCH SIM DARK FACTOR"] = (
            options.dark_current_factor(detector),
            "True / nominal dark current",
        )
        header["HIERARCH SIM FLAT GRADIENT"] = (options.flat_gradient(image), "Fault illumination gradient")


def _pixel_key(image: ImageInfo, detector: int, options: DataOptions) -> tuple[typing.Any, ...]:
    """Every input of the pixels (not the primary header) of one raw made by `make_raw`.

    Two raws with the same key have the same segment HDUs, byte for byte:
    the noise streams are seeded by (seed, seq_num, detector), the fixed
    patterns by (seed, detector), and the rest is the fault knobs resolved
    for this image and detector. The date, names and group id only reach
    the primary header.
    """
    geometry = image_geometry(image, detector, options)
    key: tuple[typing.Any, ...] = (
        image.instrument,
        geometry,
        options.seed,
        options.geometry.value,
        image.seq_num,
        detector,
        options.read_noise_factor(detector),
        options.mean_offset(image),
        cosmic_ray_mean(image, geometry, options),
    )
    if image.image_type.upper() in _PHOTON_TYPES:
        key += (
            image.image_type.upper(),
            dark_time(image),
            shutter_time(image),
            image.physical_filter,
            options.dark_current_factor(detector),
            options.flat_gradient(image),
            tuple(options.amp_response_factor(detector, amp) for amp in geometry.amp_names),
        )
    return key


class _SegmentCache:
    """Recently written raws' segment HDUs, as FITS bytes, by `_pixel_key`.

    Simulated runs take the same frames again and again (the k-th bias of
    a day has the same pixels on any day and in any run with the same
    seed and faults), so the data plane writes a cached frame's segments
    as they are and makes only its primary header. Holds at most
    ``max_bytes`` (least recently used dropped first); a single raw larger
    than a quarter of that (a full-size detector) is never kept. Thread
    safe: data planes write raws in their own threads.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: collections.OrderedDict[tuple[typing.Any, ...], tuple[bytes, int]] = (
            collections.OrderedDict()
        )
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: tuple[typing.Any, ...]) -> tuple[bytes, int] | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def put(self, key: tuple[typing.Any, ...], segments: bytes, n_tracks: int) -> None:
        if len(segments) > self.max_bytes // 4:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._size -= len(old[0])
            self._entries[key] = (segments, n_tracks)
            self._size += len(segments)
            while self._size > self.max_bytes:
                _, (dropped, _) = self._entries.popitem(last=False)
                self._size -= len(dropped)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._size = 0


_segment_cache = _SegmentCache(max_bytes=256 * 2**20)


_BLOCK = 2880
"""FITS block size: every header and data unit is padded to a multiple of it."""


def _header_bytes(data: bytes) -> int:
    """Length of the primary HDU (header, no data) at the start of a FITS file's bytes."""
    offset = _BLOCK
    while offset < len(data) and not data.startswith(b"XTENSION", offset):
        offset += _BLOCK
    return offset


@functools.lru_cache(maxsize=8 * 16)
def _segment_header_bytes(geometry: AmpGeometry, index: int) -> bytes:
    """The header astropy writes for amp ``index``'s Segment HDU (int32 pixels, ``geometry.raw_shape``).

    The same for every raw of that geometry: only the pixels differ.
    """
    segment = fits.ImageHDU(
        data=np.zeros(geometry.raw_shape, dtype=np.int32), header=_segment_header(geometry, index).copy()
    )
    stream = io.BytesIO()
    fits.HDUList([fits.PrimaryHDU(), segment]).writeto(stream)
    data = stream.getvalue()
    written = data[_header_bytes(data) :]
    return written[: len(written) - _padded(segment.data.nbytes)]


def _padded(size: int) -> int:
    return -(-size // _BLOCK) * _BLOCK


def _segment_bytes(geometry: AmpGeometry, pixels: list[np.ndarray]) -> bytes:
    """The Segment HDUs of a raw, byte for byte as astropy writes them (big-endian int32, zero padded)."""
    parts: list[bytes] = []
    for index, pix in enumerate(pixels):
        data = pix.astype(">i4", copy=False).tobytes()
        parts += [_segment_header_bytes(geometry, index), data, bytes(_padded(len(data)) - len(data))]
    return b"".join(parts)


def _primary_bytes(
    image: ImageInfo, detector: int, options: DataOptions, geometry: AmpGeometry, n_tracks: int
) -> bytes:
    """The primary HDU of a raw (header only), as astropy writes it before extensions."""
    primary = fits.PrimaryHDU(header=_primary_header(image, detector, geometry))
    _add_sim_cards(primary.header, image, detector, options, n_tracks)
    # As HDUList.writeto does for a primary HDU followed by extensions.
    primary.header.set("EXTEND", True, after="NAXIS")
    stream = io.BytesIO()
    primary.writeto(stream)
    return stream.getvalue()


def raw_bytes(image: ImageInfo, detector: int, options: DataOptions | None = None) -> bytes:
    """Return the FITS file of one raw: `make_raw` written out, byte for byte.

    The pixels are written straight from their arrays after a header made
    once per amplifier and geometry (astropy's own), without building the
    HDUs. The segments of a frame made before in this process (same
    `_pixel_key`) come from a cache, so only the primary header is made.
    """
    options = options or DataOptions()
    key = _pixel_key(image, detector, options)
    cached = _segment_cache.get(key)
    if cached is not None:
        segments, n_tracks = cached
        geometry = image_geometry(image, detector, options)
    else:
        geometry, pixels, n_tracks = _amp_pixels(image, detector, options)
        segments = _segment_bytes(geometry, pixels)
        _segment_cache.put(key, segments, n_tracks)
    return _primary_bytes(image, detector, options, geometry, n_tracks) + segments


def write_raw(
    image: ImageInfo, detector: int, directory: str | os.PathLike[str], options: DataOptions | None = None
) -> str:
    """Make one raw (`raw_bytes`) and write it atomically into ``directory``.

    The file appears under its final name (`raw_filename`) only when
    complete. Returns its path.
    """
    directory = os.fspath(directory)
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, raw_filename(image, detector))
    data = raw_bytes(image, detector, options)
    fd, tmp_path = tempfile.mkstemp(prefix=".tmp_", suffix=".fits", dir=directory)
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
        os.replace(tmp_path, path)
    except BaseException:
        if os.path.exists(tmp_path):
            os.unlink(tmp_path)
        raise
    return path


def write_bias_frames(
    directory: str | os.PathLike[str],
    n_exposures: int,
    detectors: typing.Iterable[int] = camera_model.DETECTOR_IDS,
    options: DataOptions | None = None,
    *,
    day_obs: int = 20261125,
    first_seq_num: int = 1,
    group_id: str = "",
    camera: CameraProfile = COMCAM,
) -> list[RawFile]:
    """Write ``n_exposures`` bias images × ``detectors`` raws of ``camera`` (blocking).

    One detector at a time, so memory stays at one raw even at full size.
    Returns the files in (exposure, detector) order.
    """
    dets = tuple(detectors)
    written: list[RawFile] = []
    for i in range(n_exposures):
        image = make_image_info(day_obs, first_seq_num + i, detectors=dets, group_id=group_id, camera=camera)
        for det in dets:
            written.append(RawFile(image, det, write_raw(image, det, directory, options)))
    return written


def write_frames(
    directory: str | os.PathLike[str],
    images: typing.Iterable[ImageInfo],
    options: DataOptions | None = None,
) -> list[RawFile]:
    """Write the raws of ``images`` (each for its own detectors; blocking).

    Returns the files in (image, detector) order.
    """
    written: list[RawFile] = []
    for image in images:
        for det in image.detectors:
            written.append(RawFile(image, det, write_raw(image, det, directory, options)))
    return written
