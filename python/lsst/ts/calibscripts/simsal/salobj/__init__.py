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
with the same names, signatures and behaviour. Messages travel through an
in-process bus (one per value of ``LSST_TOPIC_SUBNAME``): every reader
gets its own copy through the event loop, in order, filtered by SAL index;
events keep their latest sample per index for late joiners.

Deliberately absent, so that code relying on them fails here as it would
with ts_salobj 8: ``put``/``set_put``, ``get(flush=...)``, ``get_vars``/
``print_vars``, ``ackInProgress``, ``Remote(tel_max_history=...)``, any
automatic ``CMD_ACK``, a component named ``LSSTComCam`` (the camera is
``CCCamera``), and a nonzero index for a non-indexed component.

Field values are checked against their ts_xml types when set and when
written, as the real Avro serialiser does. By default messages of
different topics arrive in the order they were written; the ``unordered``
delivery mode (``CALIBSCRIPTS_SIM_DELIVERY=unordered``, see ``_bus``) lets
them arrive in any order, as on Kafka, keeping order within each topic.

Differences that do not change behaviour: the shutdown delay of a
controller is shorter (every message written before closing is still
delivered first); ``private_revCode`` is ``"simsal"``.
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
