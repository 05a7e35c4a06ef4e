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

"""LSSTComCam camera model used by the simulated data plane.

Public API
----------
``INSTRUMENT``, ``RAFT``, ``RAFT_SERIAL``, ``DETECTOR_IDS``, ``SLOTS``
    The single raft R22 with detectors 0..8 = ``R22_S00`` .. ``R22_S22``.
``AMP_NAMES``
    Amplifier names in raw-file HDU order (HDU 1..16): C10..C17, C07..C00.
`DetectorModel`, `AmplifierModel`, `detector_model`, `detector_models`
    Per-detector serial, vendor and per-amplifier gain (e⁻/ADU) and nominal
    read noise (e⁻), from the LSSTComCam camera description (144 amps).
`GeometryScale`, `AmpGeometry`, `amp_geometry`
    Raw amplifier geometry: the full ITL layout (509×2000 data, 3 prescan
    columns, 64 serial-overscan columns, 48 parallel-overscan rows; CCD
    4072×4000) and a reduced one with a smaller data region and the same
    prescan/overscan widths, so overscan statistics stay faithful.
`detector_amp_geometry`
    Raw amplifier geometry of any camera's detector from its vendor's
    layout (`lsst.ts.calibscripts.cameras.AmpLayout`): e2v amps have 10
    prescan, 54 serial and 46 parallel overscan; reduced geometry keeps
    those widths with a data region ten times smaller per axis.
`amp_names`
    Amplifier names of a full CCD (16) or a wavefront half CCD (8).
`camera_detector_model`
    The `DetectorModel` of a detector of any camera profile (LSSTCam's
    ITL/e2v science, guider and wavefront sensors, LATISS's ITL CCD).
`detector_name`, `detector_id`
    Conversions between ids and ``R22_Sxy`` names.
``PHYSICAL_FILTERS``, ``DEFAULT_PHYSICAL_FILTER``, `filter_band`
    The LSSTComCam physical filters (``u_02`` .. ``y_04``) and their bands.
``FLAT_FLUX``
    Flat-field illumination per physical filter at the focal-plane centre
    (e⁻/s per pixel; a 5-s flat collects 10–18 ke⁻).
``DARK_TIME_EXCESS``, ``BIAS_DARK_TIME``
    Dark time minus exposure time of darks and flats (s), and the dark time
    of a bias (s), as in real LSST camera headers.
`detector_position`
    Where a detector sits in the 3×3 raft (column, row).
"""

from __future__ import annotations

__all__ = [
    "INSTRUMENT",
    "INSTRUMENT_CLASS_NAME",
    "RAFT",
    "RAFT_SERIAL",
    "DETECTOR_IDS",
    "SLOTS",
    "AMP_NAMES",
    "AmplifierModel",
    "DetectorModel",
    "GeometryScale",
    "AmpGeometry",
    "amp_geometry",
    "detector_amp_geometry",
    "detector_model",
    "detector_models",
    "detector_name",
    "detector_id",
    "detector_position",
    "amp_names",
    "camera_detector_model",
    "PHYSICAL_FILTERS",
    "DEFAULT_PHYSICAL_FILTER",
    "FLAT_FLUX",
    "DARK_TIME_EXCESS",
    "BIAS_DARK_TIME",
    "filter_band",
]

import dataclasses
import enum
import functools
import random

from ...cameras import COMCAM, CameraProfile

INSTRUMENT = COMCAM.instrument
INSTRUMENT_CLASS_NAME = "lsst.obs.lsst.LsstComCam"
RAFT = COMCAM.detectors[0].raft
RAFT_SERIAL = "LCA-11021_RTM-031"
SLOTS: tuple[str, ...] = tuple(d.sensor for d in COMCAM.detectors)
DETECTOR_IDS: tuple[int, ...] = tuple(range(len(SLOTS)))
AMP_NAMES: tuple[str, ...] = (
    "C10",
    "C11",
    "C12",
    "C13",
    "C14",
    "C15",
    "C16",
    "C17",
    "C07",
    "C06",
    "C05",
    "C04",
    "C03",
    "C02",
    "C01",
    "C00",
)

PHYSICAL_FILTERS: dict[str, str] = dict(COMCAM.filter_bands)
"""LSSTComCam physical filter → band (obs_lsst's ComCam filter definitions)."""

DEFAULT_PHYSICAL_FILTER = COMCAM.default_filter
"""The filter in the beam unless an image says otherwise."""

FLAT_FLUX: dict[str, float] = {
    "u_02": 2000.0,
    "g_01": 3200.0,
    "r_03": 3600.0,
    "i_06": 3400.0,
    "z_03": 2800.0,
    "y_04": 2200.0,
}
"""Flat illumination at the focal-plane centre, e⁻/s per pixel, per filter.

A 5-s flat (the upstream default) collects 10–18 ke⁻: well above the level
where read noise matters for cp_verify's ``NOISE <= sqrt(MEAN)`` test, and
well below full well."""

DARK_TIME_EXCESS = 0.01371
"""Dark time − exposure time of a dark or flat (s), as in LSSTCam headers
(``EXPTIME 5.0``, ``DARKTIME 5.01371``)."""

BIAS_DARK_TIME = 0.398
"""Dark time of a 0-s bias (s), as in a ComCam bias header."""

CCD_VENDOR = "ITL"
CCD_TYPE = "3800C"

_CCD_SERIALS: dict[str, str] = {
    "S00": "ITL-3800C-229",
    "S01": "ITL-3800C-251",
    "S02": "ITL-3800C-215",
    "S10": "ITL-3800C-326",
    "S11": "ITL-3800C-283",
    "S12": "ITL-3800C-243",
    "S20": "ITL-3800C-319",
    "S21": "ITL-3800C-209",
    "S22": "ITL-3800C-206",
}

# Per-slot (gain e-/ADU, read noise e-) in AMP_NAMES order (C10..C17, C07..C00).
_AMP_TABLE: dict[str, tuple[tuple[float, float], ...]] = {
    "S00": (
        (1.3517, 8.7), (1.3597, 10.0), (1.3423, 10.9), (1.3337, 11.2),
        (1.3051, 11.2), (1.3448, 10.5), (1.3557, 8.7), (1.3202, 7.3),
        (1.4009, 6.9), (1.4343, 8.3), (1.4329, 9.1), (1.4228, 10.6),
        (1.3028, 10.7), (1.2945, 10.5), (1.3809, 9.7), (1.4009, 8.8),
    ),
    "S01": (
        (1.3738, 5.3), (1.3594, 5.4), (1.3454, 5.5), (1.3479, 5.4),
        (1.3493, 5.4), (1.3469, 5.5), (1.3524, 5.0), (1.3381, 5.7),
        (1.3749, 7.0), (1.4081, 6.1), (1.4053, 6.3), (1.4000, 6.4),
        (1.4018, 7.0), (1.4149, 6.7), (1.4158, 6.6), (1.4017, 6.6),
    ),
    "S02": (
        (1.3748, 7.3), (1.3866, 7.7), (1.3566, 8.1), (1.3814, 8.1),
        (1.3815, 8.0), (1.3531, 8.1), (1.3835, 6.9), (1.3253, 7.2),
        (1.3513, 7.8), (1.3811, 6.8), (1.3654, 7.6), (1.3673, 7.7),
        (1.3720, 7.4), (1.3976, 7.5), (1.4072, 7.0), (1.3754, 7.0),
    ),
    "S10": (
        (1.3937, 7.7), (1.3826, 8.8), (1.3862, 9.6), (1.3781, 10.0),
        (1.3813, 9.8), (1.3886, 8.9), (1.3825, 7.8), (1.3655, 7.9),
        (1.3057, 7.7), (1.3810, 7.9), (1.3819, 8.7), (1.3548, 9.2),
        (1.3793, 9.4), (1.3523, 9.2), (1.3908, 9.2), (1.3808, 8.1),
    ),
    "S11": (
        (1.3544, 5.8), (1.3418, 6.5), (1.3546, 6.5), (1.3487, 7.2),
        (1.3469, 6.8), (1.2998, 6.8), (1.3286, 6.1), (1.3144, 6.1),
        (1.3443, 7.1), (1.3855, 6.9), (1.4043, 7.6), (1.4180, 7.9),
        (1.4137, 8.0), (1.4255, 7.6), (1.4281, 7.2), (1.4368, 6.8),
    ),
    "S12": (
        (1.3757, 6.8), (1.3662, 7.4), (1.3236, 7.8), (1.3709, 7.9),
        (1.3756, 8.0), (1.3549, 7.9), (1.3607, 7.0), (1.3461, 6.2),
        (1.3788, 8.1), (1.4176, 8.2), (1.4287, 9.1), (1.4382, 9.5),
        (1.4317, 10.5), (1.4397, 10.6), (1.4297, 11.0), (1.4293, 9.2),
    ),
    "S20": (
        (1.3720, 6.7), (1.3856, 7.3), (1.3956, 7.6), (1.3995, 8.2),
        (1.3982, 8.0), (1.3805, 7.7), (1.4011, 6.8), (1.3806, 5.8),
        (1.4068, 6.3), (1.4497, 8.0), (1.4359, 9.3), (1.4497, 10.0),
        (1.4452, 10.1), (1.4292, 9.7), (1.4419, 9.0), (1.4285, 8.1),
    ),
    "S21": (
        (1.3104, 7.0), (1.2822, 7.3), (1.2663, 7.8), (1.2798, 8.4),
        (1.3034, 7.9), (1.3038, 7.6), (1.3113, 6.9), (1.2881, 6.2),
        (1.1728, 7.5), (1.3857, 7.8), (1.3769, 8.8), (1.3843, 9.8),
        (1.3885, 9.6), (1.3835, 9.7), (1.3740, 8.9), (1.3723, 8.2),
    ),
    "S22": (
        (1.4044, 8.3), (1.3889, 9.5), (1.3973, 10.0), (1.4016, 10.4),
        (1.3937, 10.2), (1.3369, 9.3), (1.3790, 8.0), (1.3528, 7.7),
        (1.3745, 8.1), (1.3918, 8.8), (1.3844, 10.0), (1.3792, 10.8),
        (1.4057, 11.0), (1.4183, 10.9), (1.4144, 10.1), (1.4273, 9.0),
    ),
}  # fmt: skip


class GeometryScale(str, enum.Enum):
    """Size of the simulated raw amplifiers."""

    FULL = "full"
    """Real ITL size: 576×2048 raw amps, 4072×4000 assembled CCD."""

    REDUCED = "reduced"
    """Smaller data region (51×200 per amp), real prescan/overscan widths."""


@dataclasses.dataclass(frozen=True)
class AmpGeometry:
    """Raw layout of one amplifier (all ITL amps share it).

    The raw array has shape ``(raw_height, raw_width)``; columns are
    ``[prescan | data | serial overscan]`` and rows are
    ``[data | parallel overscan]`` (read corner lower left, as in the raw file).

    Attributes
    ----------
    data_width, data_height : `int`
        Imaging (data) region size.
    prescan : `int`
        Serial prescan columns before the data.
    serial_overscan : `int`
        Serial overscan columns after the data.
    parallel_overscan : `int`
        Parallel overscan rows above the data.
    amp_rows : `int`
        Rows of 8 amplifiers: 2 (16 amps) or 1 (a wavefront half CCD,
        ``C10`` .. ``C17``).
    """

    data_width: int
    data_height: int
    prescan: int = 3
    serial_overscan: int = 64
    parallel_overscan: int = 48
    amp_rows: int = 2

    @property
    def amp_names(self) -> tuple[str, ...]:
        """Amplifier names in raw-file HDU order (`amp_names` of ``amp_rows``)."""
        return amp_names(self.amp_rows)

    @property
    def raw_width(self) -> int:
        """Raw amp width (columns)."""
        return self.prescan + self.data_width + self.serial_overscan

    @property
    def raw_height(self) -> int:
        """Raw amp height (rows)."""
        return self.data_height + self.parallel_overscan

    @property
    def raw_shape(self) -> tuple[int, int]:
        """Numpy shape of a raw amp, ``(rows, columns)``."""
        return (self.raw_height, self.raw_width)

    @property
    def data_slice(self) -> tuple[slice, slice]:
        """Numpy index of the data region in a raw amp."""
        return (slice(0, self.data_height), slice(self.prescan, self.prescan + self.data_width))

    @property
    def prescan_slice(self) -> tuple[slice, slice]:
        """Numpy index of the serial prescan (data rows)."""
        return (slice(0, self.data_height), slice(0, self.prescan))

    @property
    def serial_overscan_slice(self) -> tuple[slice, slice]:
        """Numpy index of the serial overscan (data rows only, as ``BIASSEC``)."""
        x0 = self.prescan + self.data_width
        return (slice(0, self.data_height), slice(x0, x0 + self.serial_overscan))

    @property
    def serial_overscan_full_slice(self) -> tuple[slice, slice]:
        """Numpy index of the serial overscan stretched over all raw rows."""
        x0 = self.prescan + self.data_width
        return (slice(0, self.raw_height), slice(x0, x0 + self.serial_overscan))

    @property
    def parallel_overscan_slice(self) -> tuple[slice, slice]:
        """Numpy index of the parallel overscan (data columns)."""
        return (
            slice(self.data_height, self.raw_height),
            slice(self.prescan, self.prescan + self.data_width),
        )

    @property
    def ccd_width(self) -> int:
        """Assembled CCD width: 8 amps across."""
        return 8 * self.data_width

    @property
    def ccd_height(self) -> int:
        """Assembled CCD height: ``amp_rows`` amps high."""
        return self.amp_rows * self.data_height

    @property
    def datasec(self) -> str:
        """FITS ``DATASEC`` (1-based, inclusive), e.g. ``[4:512,1:2000]``."""
        return f"[{self.prescan + 1}:{self.prescan + self.data_width},1:{self.data_height}]"

    @property
    def biassec(self) -> str:
        """FITS ``BIASSEC`` of the serial overscan over the data rows."""
        x0 = self.prescan + self.data_width
        return f"[{x0 + 1}:{x0 + self.serial_overscan},1:{self.data_height}]"

    @property
    def detsize(self) -> str:
        """FITS ``DETSIZE`` of the assembled CCD, e.g. ``[1:4072,1:4000]``."""
        return f"[1:{self.ccd_width},1:{self.ccd_height}]"

    def detsec(self, amp_name: str) -> str:
        """FITS ``DETSEC`` of one amp's data in the assembled CCD.

        Both rows are flipped in x (``[x_hi:x_lo, ...]``); the C0x row sits
        above the C1x row and is flipped in y, as in a ComCam raw
        (``Segment10`` ``[509:1,1:2000]``, ``Segment00`` ``[509:1,4000:2001]``).
        """
        row, col = int(amp_name[1]), int(amp_name[2])
        w, h = self.data_width, self.data_height
        x_hi, x_lo = w * (col + 1), w * col + 1
        if row == 1:
            return f"[{x_hi}:{x_lo},1:{h}]"
        return f"[{x_hi}:{x_lo},{2 * h}:{h + 1}]"


_GEOMETRIES = {
    GeometryScale.FULL: AmpGeometry(data_width=509, data_height=2000),
    GeometryScale.REDUCED: AmpGeometry(data_width=51, data_height=200),
}


def amp_geometry(scale: GeometryScale | str = GeometryScale.REDUCED) -> AmpGeometry:
    """Return the amplifier geometry for a scale (``"full"`` or ``"reduced"``)."""
    return _GEOMETRIES[GeometryScale(scale)]


def detector_amp_geometry(
    camera: CameraProfile, detector: int, scale: GeometryScale | str = GeometryScale.REDUCED
) -> AmpGeometry:
    """Raw amplifier geometry of one detector of ``camera``, from its vendor's layout.

    LSSTComCam detectors give exactly `amp_geometry`. A wavefront half CCD
    has the same amplifiers as its vendor's, in one row of 8 (``amp_rows`` 1).

    Raises
    ------
    ValueError
        Not a detector of the camera.
    """
    layout = camera.detector(detector).amp_layout
    if GeometryScale(scale) is GeometryScale.REDUCED:
        layout = layout.reduced()
    return AmpGeometry(
        data_width=layout.data_width,
        data_height=layout.data_height,
        prescan=layout.prescan,
        serial_overscan=layout.serial_overscan,
        parallel_overscan=layout.parallel_overscan,
        amp_rows=layout.amp_rows,
    )


def amp_names(amp_rows: int = 2) -> tuple[str, ...]:
    """Amplifier names in raw HDU order: `AMP_NAMES` for a full CCD, ``C10`` .. ``C17`` for a half CCD."""
    if amp_rows == 2:
        return AMP_NAMES
    if amp_rows == 1:
        return AMP_NAMES[:8]
    raise ValueError(f"amp_rows must be 1 or 2; got {amp_rows!r}")


@dataclasses.dataclass(frozen=True)
class AmplifierModel:
    """One amplifier of the camera model.

    Attributes
    ----------
    name : `str`
        ``C10`` .. ``C00``.
    hdu : `int`
        1-based HDU index in a raw file.
    gain : `float`
        Gain, e⁻/ADU.
    read_noise : `float`
        Nominal read noise, e⁻ (the simulated "PTC" value).
    """

    name: str
    hdu: int
    gain: float
    read_noise: float

    @property
    def segment_name(self) -> str:
        """Raw HDU ``EXTNAME``, e.g. ``Segment10``."""
        return f"Segment{self.name[1:]}"


@dataclasses.dataclass(frozen=True)
class DetectorModel:
    """One LSSTComCam CCD.

    Attributes
    ----------
    id : `int`
        Detector id 0..8.
    raft, slot : `str`
        ``R22`` and ``S00``..``S22``.
    serial : `str`
        CCD serial (``LSST_NUM``), e.g. ``ITL-3800C-229``.
    vendor, ccd_type : `str`
        ``ITL`` and ``3800C``.
    amplifiers : `tuple` [`AmplifierModel`, ...]
        The 16 amps in HDU order.
    """

    id: int
    raft: str
    slot: str
    serial: str
    vendor: str
    ccd_type: str
    amplifiers: tuple[AmplifierModel, ...]

    @property
    def name(self) -> str:
        """Full name, e.g. ``R22_S00``."""
        return f"{self.raft}_{self.slot}"

    def amp(self, name: str) -> AmplifierModel:
        """Return the amplifier called ``name``."""
        for amp in self.amplifiers:
            if amp.name == name:
                return amp
        raise KeyError(f"No amplifier {name!r} on {self.name}")

    @property
    def gains(self) -> dict[str, float]:
        """Gains (e⁻/ADU) by amp name."""
        return {a.name: a.gain for a in self.amplifiers}

    @property
    def read_noises(self) -> dict[str, float]:
        """Nominal read noise (e⁻) by amp name."""
        return {a.name: a.read_noise for a in self.amplifiers}


def detector_name(detector: int) -> str:
    """Return ``R22_Sxy`` for a detector id 0..8."""
    if detector not in DETECTOR_IDS:
        raise ValueError(f"LSSTComCam has detectors 0..8; got {detector!r}")
    return f"{RAFT}_{SLOTS[detector]}"


def detector_id(name: str) -> int:
    """Return the detector id of ``R22_Sxy`` (or ``Sxy``)."""
    parts = name.split("_")
    if len(parts) == 2 and parts[0] == RAFT:
        slot = parts[1]
    elif len(parts) == 1:
        slot = parts[0]
    else:
        slot = ""
    if slot not in SLOTS:
        raise ValueError(f"Not an LSSTComCam detector name: {name!r}")
    return SLOTS.index(slot)


def filter_band(physical_filter: str) -> str:
    """Return the band of a ComCam physical filter (``r_03`` → ``r``)."""
    try:
        return PHYSICAL_FILTERS[physical_filter]
    except KeyError:
        raise ValueError(
            f"Not an LSSTComCam physical filter: {physical_filter!r}; known: {', '.join(PHYSICAL_FILTERS)}"
        ) from None


def detector_position(detector: int) -> tuple[int, int]:
    """Return (column, row) of a detector in the 3×3 raft, each 0..2.

    ``Sxy``: ``x`` (first digit) is the row and ``y`` the column, so
    ``S00`` is at the lower left and ``S02`` at the lower right.
    """
    slot = detector_name(detector).split("_")[1]
    return int(slot[2]), int(slot[1])


@functools.cache
def detector_model(detector: int) -> DetectorModel:
    """Return the camera model of one detector (0..8)."""
    slot = detector_name(detector).split("_")[1]
    amps = tuple(
        AmplifierModel(name=name, hdu=i + 1, gain=gain, read_noise=rn)
        for i, (name, (gain, rn)) in enumerate(zip(AMP_NAMES, _AMP_TABLE[slot]))
    )
    return DetectorModel(
        id=detector,
        raft=RAFT,
        slot=slot,
        serial=_CCD_SERIALS[slot],
        vendor=CCD_VENDOR,
        ccd_type=CCD_TYPE,
        amplifiers=amps,
    )


_CCD_TYPES = {"ITL": "3800C", "E2V": "CCD250"}
# Typical (gain e-/ADU, read noise e-) of each vendor's amplifiers and their spread.
_VENDOR_AMPS = {"ITL": ((1.40, 0.05), (7.5, 1.5)), "E2V": ((1.05, 0.05), (5.5, 1.0))}


@functools.cache
def camera_detector_model(camera: CameraProfile, detector: int) -> DetectorModel:
    """The camera model of one detector of any camera profile.

    LSSTComCam's detectors are `detector_model` (gains and read noise from
    its camera description). Other cameras' detectors get, per vendor, a
    typical gain and read noise with a fixed spread, drawn from a stream
    seeded by (instrument, detector) so that they never change; the
    amplifiers follow the detector's layout (8 for a wavefront half CCD).

    Raises
    ------
    ValueError
        Not a detector of the camera.
    """
    if camera.instrument == INSTRUMENT:
        return detector_model(detector)
    info = camera.detector(detector)
    names = amp_names(info.amp_layout.amp_rows)
    (gain, gain_spread), (noise, noise_spread) = _VENDOR_AMPS[info.vendor]
    rng = random.Random(f"{camera.instrument}/{info.id}")
    amps = tuple(
        AmplifierModel(
            name=name,
            hdu=i + 1,
            gain=round(rng.gauss(gain, gain_spread), 4),
            read_noise=round(max(2.0, rng.gauss(noise, noise_spread)), 1),
        )
        for i, name in enumerate(names)
    )
    ccd_type = _CCD_TYPES[info.vendor]
    return DetectorModel(
        id=info.id,
        raft=info.raft,
        slot=info.sensor,
        serial=f"{info.vendor}-{ccd_type}-{1000 + info.id}",
        vendor=info.vendor,
        ccd_type=ccd_type,
        amplifiers=amps,
    )


def detector_models() -> tuple[DetectorModel, ...]:
    """Return all nine detectors, ids 0..8."""
    return tuple(detector_model(d) for d in DETECTOR_IDS)
