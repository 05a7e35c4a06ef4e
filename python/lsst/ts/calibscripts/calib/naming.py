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

"""Names and identifiers: exposure ids, obs ids, detectors, data queries.

Public API
----------
`obs_id_from_exposure_id(exposure_id, camera_code="CC", controller="O")`
    ``2026112500012`` -> ``"CC_O_20261125_000012"``.
`exposure_id_from_obs_id(obs_id)`
    ``"CC_O_20261125_000012"`` -> ``2026112500012``
    (``int(dayobs + seq[1:])``, obs_lsst's ``int(f"{dayobs}{seqnum:05d}")``).
`parse_obs_id(obs_id)`
    -> `ObsId` (camera_code, controller, day_obs, seq_num).
`detector_name(detector, camera=COMCAM)` / `detector_id(name, camera)` / `raft_sensor(detector, camera)` /
`detector_from_raft_sensor(raft, sensor, camera)`
    detector ids <-> names <-> (raft, sensor) of a `~lsst.ts.calibscripts.cameras.CameraProfile`
    (ComCam: 0..8 <-> ``"R22_S00"`` .. ``"R22_S22"`` <-> (``"R22"``, ``"S00"``)).
`camera_obs_id(exposure_id, camera=COMCAM)`
    the image name with the camera's code and controller.
`build_data_query(instrument, detectors, exposure_ids)`
    ``"instrument='LSSTComCam' AND detector IN (0, 1) AND exposure IN (2026112500012)"``:
    rendered explicitly (never a Python tuple repr), correct for one exposure
    and many, validated.
`format_id_list(values)`
    ``"(a, b)"`` / ``"(a)"``.
`COMCAM_DETECTORS`, `COMCAM_RAFT`, `COMCAM_INSTRUMENT`
    ComCam constants, taken from `lsst.ts.calibscripts.cameras.COMCAM`.

All functions raise `ValueError` with a message naming the bad value.
"""

from __future__ import annotations

__all__ = [
    "COMCAM_DETECTORS",
    "COMCAM_INSTRUMENT",
    "COMCAM_RAFT",
    "ObsId",
    "build_data_query",
    "detector_from_raft_sensor",
    "detector_id",
    "detector_name",
    "exposure_id_from_obs_id",
    "format_id_list",
    "camera_obs_id",
    "obs_id_from_exposure_id",
    "parse_obs_id",
    "raft_sensor",
]

import dataclasses
import operator
import re
import typing

from ..cameras import COMCAM, CameraProfile

COMCAM_INSTRUMENT = COMCAM.instrument
COMCAM_RAFT = COMCAM.detectors[0].raft
#: ComCam detector ids 0..8 (R22_S00, S01, S02, S10, S11, S12, S20, S21, S22).
COMCAM_DETECTORS: tuple[int, ...] = COMCAM.detector_ids

_OBS_ID_RE = re.compile(r"^(?P<code>[A-Z]{2})_(?P<controller>[A-Z])_(?P<day_obs>\d{8})_(?P<seq>\d{6})$")
_INSTRUMENT_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
# exposure id = YYYYMMDD followed by a 5-digit sequence number.
_MAX_SEQ = 99999


@dataclasses.dataclass(frozen=True)
class ObsId:
    """The parts of an image name such as ``CC_O_20261125_000012``."""

    camera_code: str
    controller: str
    day_obs: int
    seq_num: int

    @property
    def exposure_id(self) -> int:
        """The butler exposure id, ``int(f"{day_obs}{seq_num:05d}")``."""
        return int(f"{self.day_obs}{self.seq_num:05d}")

    def __str__(self) -> str:
        return f"{self.camera_code}_{self.controller}_{self.day_obs}_{self.seq_num:06d}"


def _as_int(value: typing.Any, what: str) -> int:
    """Convert an integer-like value (int, numpy integer) to `int`.

    `bool`, floats and strings are rejected so that a wrong type cannot
    silently become a valid-looking id.
    """
    if isinstance(value, bool):
        raise ValueError(f"{what} must be an integer, not {value!r}")
    try:
        return int(operator.index(value))
    except TypeError:
        raise ValueError(f"{what} must be an integer, not {value!r}") from None


def parse_obs_id(obs_id: str) -> ObsId:
    """Split an image name ``<CC>_<C>_<YYYYMMDD>_<NNNNNN>`` into its parts.

    Raises
    ------
    ValueError
        If ``obs_id`` does not have that form or its sequence number does not
        fit in an exposure id (>= 100000).
    """
    match = _OBS_ID_RE.match(obs_id.strip()) if isinstance(obs_id, str) else None
    if match is None:
        raise ValueError(f"{obs_id!r} is not an image name of the form CC_O_YYYYMMDD_NNNNNN")
    seq_num = int(match["seq"])
    if seq_num > _MAX_SEQ:
        raise ValueError(f"{obs_id!r}: sequence number {seq_num} does not fit in an exposure id")
    return ObsId(
        camera_code=match["code"],
        controller=match["controller"],
        day_obs=int(match["day_obs"]),
        seq_num=seq_num,
    )


def exposure_id_from_obs_id(obs_id: str) -> int:
    """Return the exposure id of an image name.

    ``"CC_O_20261125_000012"`` -> ``2026112500012``.
    """
    return parse_obs_id(obs_id).exposure_id


def obs_id_from_exposure_id(
    exposure_id: int, camera_code: str = COMCAM.camera_code, controller: str = COMCAM.controller
) -> str:
    """Return the image name of an exposure id.

    ``2026112500012`` -> ``"CC_O_20261125_000012"``. The controller is
    ``O`` for OCS-commanded images (every image a script takes).

    Raises
    ------
    ValueError
        If ``exposure_id`` is not a 13-digit YYYYMMDDNNNNN integer.
    """
    value = _as_int(exposure_id, "exposure id")
    text = str(value)
    if len(text) != 13:
        raise ValueError(f"exposure id {exposure_id!r} is not of the form YYYYMMDDNNNNN (13 digits)")
    return f"{camera_code}_{controller}_{text[:8]}_{int(text[8:]):06d}"


def camera_obs_id(exposure_id: int, camera: CameraProfile = COMCAM) -> str:
    """Return the image name of an exposure id on ``camera`` (its camera code and controller)."""
    return obs_id_from_exposure_id(exposure_id, camera.camera_code, camera.controller)


def detector_name(detector: int, camera: CameraProfile = COMCAM) -> str:
    """Return the full name of a detector, e.g. 4 -> ``"R22_S11"`` (ComCam)."""
    return camera.detector_name(detector)


def raft_sensor(detector: int, camera: CameraProfile = COMCAM) -> tuple[str, str]:
    """Return (raft, sensor) of a detector, e.g. 4 -> (``"R22"``, ``"S11"``) (ComCam)."""
    return camera.raft_sensor(detector)


def detector_from_raft_sensor(raft: str, sensor: str, camera: CameraProfile = COMCAM) -> int:
    """Return the detector id of (raft, sensor), e.g. (``"R22"``, ``"S11"``) -> 4 (ComCam)."""
    return camera.detector_from_raft_sensor(raft, sensor)


def detector_id(name: str, camera: CameraProfile = COMCAM) -> int:
    """Return the detector id of a full name, e.g. ``"R22_S11"`` -> 4 (ComCam)."""
    return camera.detector_id(name)


def format_id_list(values: typing.Iterable[int], what: str = "id") -> str:
    """Render integers as a butler-query list: ``(a, b, c)`` or ``(a)``.

    Duplicates are dropped (first occurrence kept); order is preserved.

    Raises
    ------
    ValueError
        If ``values`` is empty or holds a non-integer.
    """
    ints: list[int] = []
    for value in values:
        as_int = _as_int(value, what)
        if as_int not in ints:
            ints.append(as_int)
    if not ints:
        raise ValueError(f"at least one {what} is required")
    return "(" + ", ".join(str(v) for v in ints) + ")"


def build_data_query(
    instrument: str, detectors: typing.Iterable[int], exposure_ids: typing.Iterable[int]
) -> str:
    """Build the OCPS ``data_query`` for the given detectors and exposures.

    Parameters
    ----------
    instrument : `str`
        Butler instrument name, e.g. ``"LSSTComCam"`` (letters, digits, ``_``).
    detectors : iterable of `int`
        Detector ids (non-empty).
    exposure_ids : iterable of `int`
        Exposure ids (non-empty); numpy integers are accepted.

    Returns
    -------
    query : `str`
        e.g. ``"instrument='LSSTComCam' AND detector IN (0, 4) AND exposure IN (2026112500012)"``.

    Raises
    ------
    ValueError
        If the instrument name is not a plain identifier, or either list is
        empty or holds a non-integer.
    """
    if not isinstance(instrument, str) or not _INSTRUMENT_RE.match(instrument):
        raise ValueError(f"instrument {instrument!r} is not a plain name (letters, digits and _)")
    detector_list = format_id_list(detectors, "detector")
    exposure_list = format_id_list(exposure_ids, "exposure id")
    return f"instrument='{instrument}' AND detector IN {detector_list} AND exposure IN {exposure_list}"
