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

"""Camera naming: one home for the facts that differ between cameras.

A `CameraProfile` holds what the procedure, the report and the simulated
observatory need to know about one camera: the butler instrument name, the
obs-id camera code and controller, the control group and its SAL
components, the OCPS index, the detectors (id, name, raft, sensor, kind,
vendor), the default detectors, the physical filters (and LATISS's
gratings), which component changes them, and the readout time. `COMCAM`
is LSSTComCam, `LSSTCAM` LSSTCam (ids 0..204: 189 science sensors in 21
rafts, corner rafts with guider and wavefront sensors, ITL and e2v CCDs),
`LATISS` the auxiliary telescope's one-detector camera ``RXX_S00``; all
are instances of the same class, built with `raft_detectors`. The raw
amplifier layout of each CCD kind is `AmpLayout` (`DetectorInfo.amp_layout`).

This package imports none of the package's other rooms (``calib``,
``report``, ``cli``, ``sim``), which all import it.

Public API
----------
`CameraProfile`
    frozen; `CameraProfile.detector`, `~CameraProfile.detector_name`,
    `~CameraProfile.detector_id`, `~CameraProfile.raft_sensor`,
    `~CameraProfile.detector_from_raft_sensor`, `~CameraProfile.detector_ids`,
    `~CameraProfile.obs_id`, `~CameraProfile.sal_components`,
    `~CameraProfile.filter_band`.
`DetectorInfo`, `DetectorKind`
    one detector and its purpose (science, wavefront, guider).
`AmpLayout`, `AMP_LAYOUTS`
    raw amplifier layout per vendor (``ITL``, ``E2V``) and of a wavefront
    half CCD (``ITL`` with 8 amplifiers).
`raft_detectors(raft, first_id, sensors, vendor, kind=SCIENCE)`
    the detectors of one raft, ids consecutive from ``first_id``.
`COMCAM`
    LSSTComCam: OCPS:2, CCCamera/CCHeaderService/CCOODS, obs id ``CC_O_...``,
    detectors 0..8 = ``R22_S00`` .. ``R22_S22`` (ITL), filters
    ``u_02 g_01 r_03 i_06 z_03 y_04``, readout 2 s.
`LSSTCAM`
    LSSTCam: OCPS:3, MTCamera/MTHeaderService/MTOODS, obs id ``MC_O_...``,
    detectors 0..204 as obs_lsst numbers them, default the 189 science
    sensors, filters ``u_24 g_6 r_57 i_39 z_20 y_10``.
`LATISS`
    LATISS: OCPS:1, ATCamera/ATHeaderService/ATOODS and ATSpectrograph (filter
    and grating), obs id ``AT_O_...``, detector 0 = ``RXX_S00``; physical
    filter ``FILTER~GRATING`` (`CameraProfile.physical_filter`).
`PROFILES`, `profile(instrument)`
    every profile by butler instrument name.
"""

from __future__ import annotations

__all__ = [
    "AMP_LAYOUTS",
    "AmpLayout",
    "COMCAM",
    "LATISS",
    "LSSTCAM",
    "PROFILES",
    "CameraProfile",
    "DetectorInfo",
    "DetectorKind",
    "profile",
    "raft_detectors",
]

import dataclasses
import enum
import operator
import re
import typing


class DetectorKind(enum.Enum):
    """What a detector is for (obs_lsst's detector purpose)."""

    SCIENCE = "science"
    WAVEFRONT = "wavefront"
    GUIDER = "guider"


@dataclasses.dataclass(frozen=True)
class AmpLayout:
    """Raw amplifier layout of one kind of CCD (obs_lsst ``cameraHeader.yaml``).

    Attributes
    ----------
    data_width, data_height : `int`
        Imaging region of one amplifier (columns, rows).
    prescan : `int`
        Serial prescan columns before the data.
    serial_overscan : `int`
        Serial overscan columns after the data.
    parallel_overscan : `int`
        Parallel overscan rows above the data.
    amp_rows : `int`
        Rows of 8 amplifiers: 2 for a full CCD (16 amps), 1 for a wavefront
        half CCD (8 amps, ``C10`` .. ``C17``).
    """

    data_width: int
    data_height: int
    prescan: int
    serial_overscan: int
    parallel_overscan: int
    amp_rows: int = 2

    @property
    def n_amps(self) -> int:
        """Number of amplifiers."""
        return 8 * self.amp_rows

    @property
    def ccd_shape(self) -> tuple[int, int]:
        """Assembled imaging area (columns, rows), e.g. (4072, 4000) for ITL."""
        return (8 * self.data_width, self.amp_rows * self.data_height)

    def reduced(self, factor: int = 10) -> AmpLayout:
        """The same layout with the data region ``factor`` times smaller per axis.

        Prescan and overscan widths are kept, so overscan statistics stay
        faithful while frames are small.
        """
        return dataclasses.replace(
            self, data_width=-(-self.data_width // factor), data_height=self.data_height // factor
        )


AMP_LAYOUTS: dict[str, AmpLayout] = {
    # ITL 3800C: 509x2000 data, 3 prescan, 64 serial / 48 parallel overscan.
    "ITL": AmpLayout(data_width=509, data_height=2000, prescan=3, serial_overscan=64, parallel_overscan=48),
    # e2v CCD250: 512x2002 data, 10 prescan, 54 serial / 46 parallel overscan.
    "E2V": AmpLayout(data_width=512, data_height=2002, prescan=10, serial_overscan=54, parallel_overscan=46),
}
"""Full-CCD amplifier layout per vendor."""


@dataclasses.dataclass(frozen=True)
class DetectorInfo:
    """One detector of a camera.

    Attributes
    ----------
    id : `int`
        Butler detector id.
    raft, sensor : `str`
        E.g. ``R22`` and ``S11`` (LSSTCam corners: ``R00W`` and ``SW0``).
    kind : `DetectorKind`
        Science, wavefront or guider.
    vendor : `str`
        CCD vendor, ``ITL`` or ``E2V``.
    """

    id: int
    raft: str
    sensor: str
    kind: DetectorKind = DetectorKind.SCIENCE
    vendor: str = "ITL"

    @property
    def name(self) -> str:
        """Full name as the butler and cp_verify write it, e.g. ``R22_S11``."""
        return f"{self.raft}_{self.sensor}"

    @property
    def amp_layout(self) -> AmpLayout:
        """Raw amplifier layout: the vendor's; a wavefront sensor is half a CCD (8 amps)."""
        layout = AMP_LAYOUTS[self.vendor]
        if self.kind is DetectorKind.WAVEFRONT:
            return dataclasses.replace(layout, amp_rows=1)
        return layout


RAFT_SENSORS: tuple[str, ...] = tuple(f"S{row}{col}" for row in range(3) for col in range(3))
"""The nine sensors of a science raft, in id order (S00, S01, ..., S22)."""


def raft_detectors(
    raft: str,
    first_id: int,
    vendor: str,
    sensors: typing.Sequence[str] = RAFT_SENSORS,
    kind: DetectorKind = DetectorKind.SCIENCE,
) -> tuple[DetectorInfo, ...]:
    """The detectors of one raft, with consecutive ids from ``first_id``.

    Parameters
    ----------
    raft : `str`
        Raft name, e.g. ``R22`` (or ``R00W`` for an LSSTCam wavefront corner).
    first_id : `int`
        Id of the first sensor.
    vendor : `str`
        CCD vendor of the raft.
    sensors : sequence of `str`, optional
        Sensor names in id order; the nine ``Sxy`` by default.
    kind : `DetectorKind`, optional
        Purpose of every sensor of the raft.
    """
    return tuple(
        DetectorInfo(id=first_id + i, raft=raft, sensor=sensor, kind=kind, vendor=vendor)
        for i, sensor in enumerate(sensors)
    )


def _as_int(value: typing.Any, what: str) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{what} must be an integer, not {value!r}")
    try:
        return int(operator.index(value))
    except TypeError:
        raise ValueError(f"{what} must be an integer, not {value!r}") from None


@dataclasses.dataclass(frozen=True)
class CameraProfile:
    """The facts about one camera that the procedure, report and simulation use.

    Attributes
    ----------
    instrument : `str`
        Butler instrument name (``LSSTComCam``); also the OODS ``camera``.
    camera_code, controller : `str`
        The obs id prefix: ``CC`` and ``O`` make ``CC_O_20261125_000012``.
    group_name : `str`
        ts_observatory_control group class (``ComCam``).
    camera_component, header_service_component, oods_component : `str`
        SAL components of the group (``CCCamera``, ``CCHeaderService``, ``CCOODS``).
    ocps_index : `int`
        SAL index of the camera's OCPS (ComCam 2).
    detectors : `tuple` [`DetectorInfo`, ...]
        Every detector, in id order.
    default_detectors : `tuple` [`int`, ...]
        The detectors processed unless configured otherwise.
    filter_bands : `tuple` [`tuple` [`str`, `str`], ...]
        (physical filter, band) of every filter the camera holds.
    default_filter : `str`
        The filter in the beam unless set otherwise (simulation).
    read_out_time : `float`
        Seconds to read out one image.
    instrument_class_name : `str`
        obs_lsst instrument class registered in the butler.
    filter_component : `str`
        SAL component that changes the filter: the camera (``setFilter``) or
        LATISS's ``ATSpectrograph`` (``changeFilter``/``changeDisperser``).
    instrument_setup_attributes : `tuple` [`str`, ...]
        Keywords of the group's ``setup_instrument`` and ``take_flats``.
    filter_change_timeout : `float`
        Seconds the group allows a filter change.
    gratings : `tuple` [`str`, ...]
        Dispersers of the spectrograph (LATISS), in slot order; empty when
        the camera has none.
    default_grating : `str`
        The grating in the beam unless set otherwise (simulation).
    """

    instrument: str
    camera_code: str
    controller: str
    group_name: str
    camera_component: str
    header_service_component: str
    oods_component: str
    ocps_index: int
    detectors: tuple[DetectorInfo, ...]
    default_detectors: tuple[int, ...]
    filter_bands: tuple[tuple[str, str], ...]
    default_filter: str
    read_out_time: float
    instrument_class_name: str = ""
    filter_component: str = ""
    instrument_setup_attributes: tuple[str, ...] = ("filter",)
    filter_change_timeout: float = 60.0
    gratings: tuple[str, ...] = ()
    default_grating: str = ""

    def __post_init__(self) -> None:
        ids = [d.id for d in self.detectors]
        if len(set(ids)) != len(ids):
            raise ValueError(f"{self.instrument}: repeated detector ids")
        names = [d.name for d in self.detectors]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.instrument}: repeated detector names")
        unknown = sorted(set(self.default_detectors) - set(ids))
        if unknown:
            raise ValueError(f"{self.instrument}: default detectors {unknown} are not detectors")
        if self.filter_bands and self.default_filter not in self.filters:
            raise ValueError(f"{self.instrument}: default filter {self.default_filter!r} is not a filter")
        if self.gratings and self.default_grating not in self.gratings:
            raise ValueError(f"{self.instrument}: default grating {self.default_grating!r} is not a grating")

    # --- detectors -----------------------------------------------------------
    @property
    def detector_ids(self) -> tuple[int, ...]:
        """Every detector id, in order."""
        return tuple(d.id for d in self.detectors)

    def detector(self, detector: int) -> DetectorInfo:
        """The detector with id ``detector``.

        Raises
        ------
        ValueError
            Not an integer, or not a detector of this camera.
        """
        value = _as_int(detector, "detector")
        for info in self.detectors:
            if info.id == value:
                return info
        raise ValueError(f"detector {detector!r} is not a {self.instrument} detector ({self.describe_ids()})")

    def describe_ids(self) -> str:
        """The detector ids as text, ``0..8`` when consecutive."""
        ids = self.detector_ids
        if ids and list(ids) == list(range(ids[0], ids[-1] + 1)):
            return f"{ids[0]}..{ids[-1]}"
        return ", ".join(str(i) for i in ids)

    def detector_name(self, detector: int) -> str:
        """Full name of a detector, e.g. 4 -> ``R22_S11``."""
        return self.detector(detector).name

    def raft_sensor(self, detector: int) -> tuple[str, str]:
        """(raft, sensor) of a detector, e.g. 4 -> (``R22``, ``S11``)."""
        info = self.detector(detector)
        return info.raft, info.sensor

    def detector_from_raft_sensor(self, raft: str, sensor: str) -> int:
        """Detector id of (raft, sensor), e.g. (``R22``, ``S11``) -> 4."""
        for info in self.detectors:
            if info.raft == raft and info.sensor == sensor:
                return info.id
        raise ValueError(f"raft={raft!r}, sensor={sensor!r} is not a {self.instrument} detector")

    def detector_id(self, name: str) -> int:
        """Detector id of a full name, e.g. ``R22_S11`` -> 4."""
        raft, _, sensor = name.strip().partition("_")
        return self.detector_from_raft_sensor(raft, sensor)

    # --- images, filters, SAL ----------------------------------------------
    def obs_id(self, day_obs: int, seq_num: int) -> str:
        """The image name of (day_obs, seq_num), e.g. ``CC_O_20261125_000012``."""
        return f"{self.camera_code}_{self.controller}_{day_obs}_{seq_num:06d}"

    @property
    def filters(self) -> tuple[str, ...]:
        """Physical filters, in slot order."""
        return tuple(name for name, _ in self.filter_bands)

    def filter_band(self, physical_filter: str) -> str:
        """Band of a physical filter (``r_03`` -> ``r``)."""
        for name, band in self.filter_bands:
            if name == physical_filter:
                return band
        raise ValueError(
            f"Not an {self.instrument} physical filter: {physical_filter!r}; known: {', '.join(self.filters)}"
        )

    def physical_filter(self, filter_name: str | None = None, grating: str | None = None) -> str:
        """The butler ``physical_filter`` of a filter (and grating) in the beam.

        ComCam and LSSTCam: the filter name. LATISS: ``FILTER~GRATING``,
        where a blank grating or one named ``empty*`` reads ``empty``, and
        so does a filter named ``empty`` or ``empty_<n>`` (obs_lsst's LATISS
        translator), e.g. ``SDSSr_65mm~empty``, ``empty~holo4_003``.

        Parameters
        ----------
        filter_name, grating : `str`, optional
            Default: `default_filter` and `default_grating`.
        """
        filter_name = self.default_filter if filter_name is None else filter_name
        if not self.gratings:
            return filter_name
        grating = self.default_grating if grating is None else grating
        if not grating.strip() or grating.lower().startswith("empty"):
            grating = "empty"
        if re.fullmatch(r"empty_?\d*", filter_name.lower()):
            filter_name = "empty"
        return f"{filter_name}~{grating}"

    @property
    def physical_filter_bands(self) -> tuple[tuple[str, str], ...]:
        """Every (physical filter, band) the butler knows for this camera.

        With gratings, every filter+grating combination, of the filter's band.
        """
        if not self.gratings:
            return self.filter_bands
        result: dict[str, str] = {}
        for name, band in self.filter_bands:
            for grating in self.gratings:
                result.setdefault(self.physical_filter(name, grating), band)
        return tuple(result.items())

    def physical_filter_band(self, physical_filter: str) -> str:
        """Band of a butler ``physical_filter`` (``SDSSr_65mm~empty`` -> ``r``)."""
        for name, band in self.physical_filter_bands:
            if name == physical_filter:
                return band
        known = ", ".join(name for name, _ in self.physical_filter_bands)
        raise ValueError(f"Not an {self.instrument} physical filter: {physical_filter!r}; known: {known}")

    @property
    def sal_components(self) -> tuple[str, ...]:
        """SAL components of the camera group: camera, (spectrograph,) header service, OODS.

        In ts_observatory_control's order (LATISS: ATCamera, ATSpectrograph,
        ATHeaderService, ATOODS).
        """
        extra = (self.filter_component,) if self.filter_component not in ("", self.camera_component) else ()
        return (self.camera_component, *extra, self.header_service_component, self.oods_component)


COMCAM = CameraProfile(
    instrument="LSSTComCam",
    camera_code="CC",
    controller="O",
    group_name="ComCam",
    camera_component="CCCamera",
    header_service_component="CCHeaderService",
    oods_component="CCOODS",
    ocps_index=2,
    detectors=raft_detectors("R22", 0, vendor="ITL"),
    default_detectors=tuple(range(9)),
    filter_bands=(("u_02", "u"), ("g_01", "g"), ("r_03", "r"), ("i_06", "i"), ("z_03", "z"), ("y_04", "y")),
    default_filter="r_03",
    read_out_time=2.0,
    instrument_class_name="lsst.obs.lsst.LsstComCam",
    filter_component="CCCamera",
    filter_change_timeout=60.0,
)
"""LSSTComCam: one ITL raft R22 (obs_lsst ``policy/comCam``)."""

LSSTCAM_SCIENCE_RAFTS: tuple[tuple[str, str], ...] = (
    ("R01", "ITL"),
    ("R02", "ITL"),
    ("R03", "ITL"),
    ("R10", "ITL"),
    ("R11", "E2V"),
    ("R12", "E2V"),
    ("R13", "E2V"),
    ("R14", "E2V"),
    ("R20", "ITL"),
    ("R21", "E2V"),
    ("R22", "E2V"),
    ("R23", "E2V"),
    ("R24", "E2V"),
    ("R30", "E2V"),
    ("R31", "E2V"),
    ("R32", "E2V"),
    ("R33", "E2V"),
    ("R34", "E2V"),
    ("R41", "ITL"),
    ("R42", "ITL"),
    ("R43", "ITL"),
)
"""LSSTCam science rafts in id order and their CCD vendor (obs_lsst ``policy/lsstCam``)."""

LSSTCAM_CORNERS: tuple[str, ...] = ("R00", "R04", "R40", "R44")
"""LSSTCam corner rafts: each a guider pair ``SG0/SG1`` and a wavefront pair ``<raft>W`` ``SW0/SW1``."""


def _lsstcam_detectors() -> tuple[DetectorInfo, ...]:
    detectors: list[DetectorInfo] = []
    for raft, vendor in LSSTCAM_SCIENCE_RAFTS:
        detectors.extend(raft_detectors(raft, len(detectors), vendor))
    for raft in LSSTCAM_CORNERS:
        detectors.extend(raft_detectors(raft, len(detectors), "ITL", ("SG0", "SG1"), DetectorKind.GUIDER))
        detectors.extend(
            raft_detectors(f"{raft}W", len(detectors), "ITL", ("SW0", "SW1"), DetectorKind.WAVEFRONT)
        )
    return tuple(detectors)


_LSSTCAM_DETECTORS = _lsstcam_detectors()

LSSTCAM = CameraProfile(
    instrument="LSSTCam",
    camera_code="MC",
    controller="O",
    group_name="LSSTCam",
    camera_component="MTCamera",
    header_service_component="MTHeaderService",
    oods_component="MTOODS",
    ocps_index=3,
    detectors=_LSSTCAM_DETECTORS,
    default_detectors=tuple(d.id for d in _LSSTCAM_DETECTORS if d.kind is DetectorKind.SCIENCE),
    filter_bands=(("u_24", "u"), ("g_6", "g"), ("r_57", "r"), ("i_39", "i"), ("z_20", "z"), ("y_10", "y")),
    default_filter="r_57",
    read_out_time=2.0,
    instrument_class_name="lsst.obs.lsst.LsstCam",
    filter_component="MTCamera",
    filter_change_timeout=120.0,
)
"""LSSTCam: 21 science rafts (ids 0..188), then the corner rafts' guiders and
wavefront sensors (189..204), as obs_lsst ``policy/rafts.yaml`` numbers them."""

LATISS = CameraProfile(
    instrument="LATISS",
    camera_code="AT",
    controller="O",
    group_name="LATISS",
    camera_component="ATCamera",
    header_service_component="ATHeaderService",
    oods_component="ATOODS",
    ocps_index=1,
    detectors=raft_detectors("RXX", 0, "ITL", ("S00",)),
    default_detectors=(0,),
    filter_bands=(("empty_1", "white"), ("SDSSg_65mm", "g"), ("SDSSr_65mm", "r"), ("SDSSi_65mm", "i")),
    default_filter="SDSSr_65mm",
    read_out_time=2.0,
    instrument_class_name="lsst.obs.lsst.Latiss",
    filter_component="ATSpectrograph",
    instrument_setup_attributes=("filter", "grating", "linear_stage"),
    filter_change_timeout=30.0,
    # The disperser wheel of ts_config_latiss ATSpectrograph/v4/_init.yaml (DM-40585), slots 0..3.
    gratings=("empty_1", "blue300lpmm_qn1", "pinhole_1_1000", "holo4_003"),
    default_grating="empty_1",
)
"""LATISS: one ITL 3800C, detector 0 = ``RXX_S00``; filter and grating on ATSpectrograph."""

PROFILES: dict[str, CameraProfile] = {camera.instrument: camera for camera in (COMCAM, LSSTCAM, LATISS)}
"""Every camera profile by butler instrument name."""


def profile(instrument: str) -> CameraProfile:
    """The profile of a butler instrument name.

    Raises
    ------
    ValueError
        Unknown instrument; the message lists the known ones.
    """
    try:
        return PROFILES[instrument]
    except KeyError:
        raise ValueError(f"Unknown camera {instrument!r}; known: {', '.join(PROFILES)}") from None
