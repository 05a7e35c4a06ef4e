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

"""Stand-in for ``lsst.ts.salobj`` (Kafka era, version 8), in process.

Provides the subset of the salobj API used by SAL scripts and simple CSCs,
with the same names, signatures and behaviour; see the package
documentation for what is deliberately absent.
"""

from . import topics, type_hints
from .base import *
from .base_csc import *
from .base_script import *
from .controller import *
from .csc_utils import *
from .domain import *
from .remote import *
from .sal_enums import *
from .sal_info import *
from .sal_log_handler import *
from .testutils import *
from .validator import *
