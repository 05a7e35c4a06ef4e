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

"""Stand-in for ts_observatory_control: the ComCam group.

Only the part a calibration script may use is provided, with the same
names, signatures and behaviour as ``lsst.ts.observatory.control``: the
camera groups `ComCam`, `LSSTCam` and `LATISS` on one base, `BaseCamera`
(``base_camera.py``).
"""

__all__ = [
    "BaseCamera",
    "ComCam",
    "ComCamUsages",
    "LATISS",
    "LATISSUsages",
    "LSSTCam",
    "LSSTCamUsages",
    "RemoteGroup",
]

from .base_camera import BaseCamera
from .comcam import ComCam, ComCamUsages
from .latiss import LATISS, LATISSUsages
from .lsstcam import LSSTCam, LSSTCamUsages
from .remote_group import RemoteGroup
