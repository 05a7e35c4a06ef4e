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

"""The run report of a calibration type: a YAML summary and PNG pictures.

* ``master_<type>_mosaic.png`` (``master_bias_mosaic.png``,
  ``master_dark_mosaic.png``, ``master_flat_mosaic.png``): each detector's
  master, the sensors of one raft where they sit on the focal plane
  (LSSTComCam R22 S00 .. S22), other sets in a compact grid;
* ``verification_map.png``: the verdict of each amplifier of each of the
  run's detectors (named as the instrument's camera names them, e.g.
  LSSTComCam's 9 x 16) for each of the type's cp_verify amplifier tests (bias and dark: MEAN,
  NOISE, CR_NOISE; flat: NOISE), annotated with the measured values;
* ``noise_vs_nominal.png`` (biases): per-amplifier NOISE against nominal
  read noise.

Entry point: `write_report` (or `write_report_async`); a script's summary
stage calls `write_run_pictures`. Importing this package does not import
matplotlib.
"""

from .figures import *
from .fits_reader import *
from .layout import *
from .verification import *
from .writer import *
