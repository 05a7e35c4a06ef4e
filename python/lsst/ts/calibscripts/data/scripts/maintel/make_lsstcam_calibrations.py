#!/usr/bin/env python
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

"""Run MakeLSSTCamCalibrations as a SAL script: ``make_lsstcam_calibrations.py <index>``.

The ScriptQueue starts this file and waits for the script to appear on the
real SAL, so it never runs on the simulated bus unless ``CALIBSCRIPTS_SAL=sim``
asks for it: without ts_salobj it exits with the reason.
"""

import asyncio
import sys

from lsst.ts.calibscripts import sal

try:
    sal.require_real_unless_sim_requested("The SAL script maintel/make_lsstcam_calibrations.py")
except ImportError as e:
    sys.exit(f"make_lsstcam_calibrations.py: {e}")

from lsst.ts.calibscripts.maintel.make_lsstcam_calibrations import MakeLSSTCamCalibrations  # noqa: E402

asyncio.run(MakeLSSTCamCalibrations.amain())
