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

"""LSSTComCam geometry needed to draw the run report.

Facts from obs_lsst (``policy/comCam``): one raft, R22, with nine ITL CCDs
``S00`` .. ``S22``; detector ids 0..8 in the order S00, S01, S02, S10, S11,
S12, S20, S21, S22. In ``S<r><c>`` the first digit is the row (0 at the
bottom of the focal plane, increasing upwards) and the second the column
(0 on the left). Each CCD has 16 amplifiers: C10..C17 along the top and
C07..C00 along the bottom.
"""

from __future__ import annotations

__all__ = [
    "AMP_NAMES",
    "DETECTOR_NAMES",
    "RAFT",
    "detector_id",
    "detector_name",
    "focal_plane_position",
]

from ..cameras import COMCAM

RAFT = COMCAM.detectors[0].raft

#: Detector names indexed by detector id.
DETECTOR_NAMES: tuple[str, ...] = tuple(d.name for d in COMCAM.detectors)

#: Amplifier names in the order the verification map draws them (top row of
#: the CCD left to right, then the bottom row left to right).
AMP_NAMES: tuple[str, ...] = tuple(f"C1{i}" for i in range(8)) + tuple(f"C0{i}" for i in range(7, -1, -1))


def detector_name(detector: int) -> str:
    """Return the name of a ComCam detector id, e.g. 4 -> ``R22_S11``.

    Raises
    ------
    ValueError
        If ``detector`` is not 0..8.
    """
    if not 0 <= int(detector) < len(DETECTOR_NAMES):
        raise ValueError(f"ComCam detector id must be 0..8, not {detector!r}")
    return DETECTOR_NAMES[int(detector)]


def detector_id(name: str) -> int:
    """Return the id of a ComCam detector name (``R22_S11`` or ``S11``).

    Raises
    ------
    ValueError
        If the name is not a ComCam detector.
    """
    full = name if name.startswith(f"{RAFT}_") else f"{RAFT}_{name}"
    try:
        return DETECTOR_NAMES.index(full)
    except ValueError:
        raise ValueError(f"{name!r} is not a ComCam detector (R22_S00 .. R22_S22)") from None


def focal_plane_position(detector: int) -> tuple[int, int]:
    """Return the (row, column) of a detector in a 3x3 grid.

    Row 0 is the top row of the picture, so that ``S2x`` is drawn at the top
    and ``S0x`` at the bottom, as the CCDs sit on the focal plane.
    """
    name = detector_name(detector)
    sensor_row, sensor_col = int(name[-2]), int(name[-1])
    return 2 - sensor_row, sensor_col
