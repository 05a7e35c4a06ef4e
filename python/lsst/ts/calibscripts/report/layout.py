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

"""Camera geometry needed to draw the run report.

Everything comes from the camera's profile (`lsst.ts.calibscripts.cameras`):
detector ids and names, rafts and sensors, and each detector's amplifiers
(`amp_names`: 16 for an ITL or e2v CCD, the 8 ``C10`` .. ``C17`` of a
wavefront half CCD). The pictures show the detectors of the run
(`run_detectors`): every detector of a small camera (LSSTComCam's nine,
LATISS's one), the run's detectors otherwise.

Where a run's detectors are the science sensors ``S<r><c>`` of one raft,
the mosaic draws them where they sit in the raft (`focal_plane_position`):
the first digit is the row (0 at the bottom of the focal plane, increasing
upwards) and the second the column (0 on the left). Any other set of
detectors (an LSSTCam subset over several rafts, corner sensors) is drawn
as a compact grid in id order (`mosaic_grid`).

The LSSTComCam constants `DETECTOR_NAMES` and `AMP_NAMES` are kept: ComCam
is one raft of nine ITL CCDs, ids 0..8 in the order S00, S01, S02, S10,
S11, S12, S20, S21, S22, each with 16 amplifiers, C10..C17 along the top
and C07..C00 along the bottom.
"""

from __future__ import annotations

__all__ = [
    "AMP_NAMES",
    "DETECTOR_NAMES",
    "FULL_CAMERA_DETECTORS",
    "RAFT",
    "amp_names",
    "detector_id",
    "detector_name",
    "focal_plane_position",
    "mosaic_grid",
    "run_detectors",
]

import math
import re
import typing

from ..cameras import COMCAM, CameraProfile

RAFT = COMCAM.detectors[0].raft

#: LSSTComCam's detector names indexed by detector id.
DETECTOR_NAMES: tuple[str, ...] = tuple(d.name for d in COMCAM.detectors)

#: Amplifier names of a full CCD in the order the verification map draws
#: them (top row of the CCD left to right, then the bottom row left to
#: right); a wavefront half CCD has the first 8.
AMP_NAMES: tuple[str, ...] = tuple(f"C1{i}" for i in range(8)) + tuple(f"C0{i}" for i in range(7, -1, -1))

#: A camera with at most this many detectors is always drawn whole (absent
#: detectors drawn empty); a larger one shows the run's detectors only.
FULL_CAMERA_DETECTORS = 9

_RAFT_SENSOR = re.compile(r"S(\d)(\d)")


def amp_names(detector: int, camera: CameraProfile = COMCAM) -> tuple[str, ...]:
    """Return the amplifier names of a detector, in `AMP_NAMES` order.

    16 for an ITL or e2v CCD, ``C10`` .. ``C17`` for a wavefront half CCD.

    Raises
    ------
    ValueError
        If ``detector`` is not a detector of ``camera``.
    """
    return AMP_NAMES[: camera.detector(detector).amp_layout.n_amps]


def run_detectors(camera: CameraProfile = COMCAM, detectors: typing.Iterable[int] = ()) -> tuple[int, ...]:
    """Return the detector ids a run's pictures show, sorted.

    Every detector of a camera with at most `FULL_CAMERA_DETECTORS`
    detectors; otherwise ``detectors`` (ids that are not the camera's are
    left out).
    """
    if len(camera.detectors) <= FULL_CAMERA_DETECTORS:
        return camera.detector_ids
    known = set(camera.detector_ids)
    return tuple(sorted({int(d) for d in detectors} & known))


def detector_name(detector: int, camera: CameraProfile = COMCAM) -> str:
    """Return the name of a detector id, e.g. 4 -> ``R22_S11`` on LSSTComCam.

    Raises
    ------
    ValueError
        If ``detector`` is not a detector of ``camera``.
    """
    return camera.detector_name(detector)


def detector_id(name: str, camera: CameraProfile = COMCAM) -> int:
    """Return the id of a detector name (``R22_S11``, or ``S11`` on a one-raft camera).

    Raises
    ------
    ValueError
        If the name is not a detector of ``camera``.
    """
    rafts = {d.raft for d in camera.detectors}
    full = name.strip()
    if "_" not in full and len(rafts) == 1:
        full = f"{next(iter(rafts))}_{full}"
    try:
        return camera.detector_id(full)
    except ValueError:
        first, last = camera.detectors[0].name, camera.detectors[-1].name
        raise ValueError(f"{name!r} is not a {camera.instrument} detector ({first} .. {last})") from None


def focal_plane_position(detector: int, camera: CameraProfile = COMCAM) -> tuple[int, int]:
    """Return the (row, column) of a science sensor in its raft's 3x3 grid.

    Row 0 is the top row of the picture, so that ``S2x`` is drawn at the top
    and ``S0x`` at the bottom, as the CCDs sit on the focal plane.

    Raises
    ------
    ValueError
        If ``detector`` is not a detector of ``camera`` or its sensor is not
        an ``S<row><column>`` raft position (LATISS's one CCD is ``S00``).
    """
    info = camera.detector(detector)
    match = _RAFT_SENSOR.fullmatch(info.sensor)
    if match is None:
        raise ValueError(f"{info.name} has no position in a 3x3 raft")
    sensor_row, sensor_col = int(match[1]), int(match[2])
    return 2 - sensor_row, sensor_col


def mosaic_grid(
    camera: CameraProfile = COMCAM, detectors: typing.Iterable[int] = ()
) -> tuple[tuple[int, int], dict[int, tuple[int, int]]]:
    """Return the mosaic's grid: (rows, columns) and each detector's (row, column).

    The detectors are `run_detectors` of ``camera`` and ``detectors``.
    Science sensors of one raft (all of LSSTComCam, an LSSTCam raft) are
    placed as on the focal plane (`focal_plane_position`) in a 3x3 grid; a
    camera of one detector gets a 1x1 grid; anything else a compact,
    nearly square grid in id order, row 0 at the top.
    """
    ids = run_detectors(camera, detectors)
    if len(ids) == 1:
        return (1, 1), {ids[0]: (0, 0)}
    infos = [camera.detector(d) for d in ids]
    if (
        ids
        and len({info.raft for info in infos}) == 1
        and all(_RAFT_SENSOR.fullmatch(info.sensor) for info in infos)
    ):
        return (3, 3), {d: focal_plane_position(d, camera) for d in ids}
    columns = max(1, math.ceil(math.sqrt(len(ids))))
    rows = max(1, math.ceil(len(ids) / columns))
    return (rows, columns), {d: divmod(index, columns) for index, d in enumerate(ids)}
