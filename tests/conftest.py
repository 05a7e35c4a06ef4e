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

"""Test-wide settings: the simulated SAL unless CALIBSCRIPTS_SAL asks for another.

The suite never reaches a real broker by accident: only an explicit
``CALIBSCRIPTS_SAL=real`` (or ``auto`` where ts_salobj is installed) runs it
on the real SAL stack.
"""

import os

os.environ.setdefault("CALIBSCRIPTS_SAL", "sim")
os.environ.setdefault("LSST_TOPIC_SUBNAME", "test_calibscripts")
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def fresh_topic_subname() -> None:
    """Give every test its own topic namespace, as upstream tests do.

    Event history lives as long as the process for a given
    ``LSST_TOPIC_SUBNAME`` (as Kafka keeps it), so without this a test
    would see samples left by an earlier one.
    """
    from lsst.ts.calibscripts.sal import salobj

    salobj.set_test_topic_subname(randomize=True)
