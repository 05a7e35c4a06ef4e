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

"""MakeComCamCalibrations: LSSTComCam biases, darks and flats in one run.

The procedure is the camera-generic
`~lsst.ts.calibscripts.calib.script.BaseMakeCalibrations`: configure makes
the plan (``schemas/make_comcam_calibrations.yaml``), run checks the CSCs
once (CCCamera, CCHeaderService, CCOODS, OCPS:2 and the repository), sets
the flats' filter once through the ComCam group, then takes bias, dark and
flat frames in that order while each type's processing (cpBias, cpDark,
cpFlat and their verification through OCPS:2, judgement, certification)
runs as soon as its frames are in. The dark is built with this run's bias
job output and the flat with this run's bias and dark job outputs.

This module is only the ComCam profile and schema around the base class.
"""

from __future__ import annotations

__all__ = ["MakeComCamCalibrations"]

from ..calib.script import BaseMakeCalibrations
from ..cameras import COMCAM

DESCRIPTION = (
    "Take LSSTComCam biases, darks and flats; build each calibration through OCPS:2 "
    "(cpBias, cpDark on this run's bias, cpFlat on this run's bias and dark), verify and certify it."
)

HELP = """Options are described in the configuration schema (--schema).
Minimal configuration:
    script_mode: BIAS_DARK_FLAT
    filter: r_03
    generate_calibrations: true
    calib_collection: LSSTComCam/calib/daily
"""


class MakeComCamCalibrations(BaseMakeCalibrations):
    """Take, build, verify and certify LSSTComCam biases, darks and flats.

    Parameters
    ----------
    index : `int`
        The Script SAL index.
    """

    camera = COMCAM
    """The camera: ComCam (OCPS:2, CCOODS, filter through CCCamera)."""
    schema_name = "make_comcam_calibrations.yaml"
    """The configuration schema."""

    def __init__(self, index: int = 1) -> None:
        super().__init__(index=index, descr=DESCRIPTION, help=HELP)
