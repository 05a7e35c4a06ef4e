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
vendor), the default detectors, the physical filters and the readout time.
`COMCAM` is LSSTComCam; LSSTCam (ids 0..204, corner rafts with guider and
wavefront sensors, ITL and e2v CCDs) and LATISS (one detector ``RXX_S00``)
are further instances built the same way (`raft_detectors`).

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
`raft_detectors(raft, first_id, sensors, vendor, kind=SCIENCE)`
    the detectors of one raft, ids consecutive from ``first_id``.
`COMCAM`
    LSSTComCam: OCPS:2, CCCamera/CCHeaderService/CCOODS, obs id ``CC_O_...``,
    detectors 0..8 = ``R22_S00`` .. ``R22_S22`` (ITL), filters
    ``u_02 g_01 r_03 i_06 z_03 y_04``, readout 2 s.
`PROFILES`, `profile(instrument)`
    every profile by butler instrument name.
"""

from __future__ import annotations

__all__ = [
    "COMCAM",
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
import typing


class DetectorKind(enum.Enum):
    """What a detector is for (obs_lsst's detector purpose)."""

    SCIENCE = "science"
    WAVEFRONT = "wavefront"
    GUIDER = "guider"


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

    @property
    def sal_components(self) -> tuple[str, ...]:
        """SAL components of the camera group: camera, header service, OODS."""
        return (self.camera_component, self.header_service_component, self.oods_component)


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
)
"""LSSTComCam: one ITL raft R22 (obs_lsst ``policy/comCam``)."""

PROFILES: dict[str, CameraProfile] = {COMCAM.instrument: COMCAM}
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
