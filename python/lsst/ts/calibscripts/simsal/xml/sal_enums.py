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

"""Generic SAL enums (as ``lsst.ts.xml.sal_enums``)."""

__all__ = ["State", "SalRetCode", "as_state", "as_salRetCode"]

import enum
import logging


class State(enum.IntEnum):
    """CSC summary state."""

    DISABLED = 1
    ENABLED = 2
    FAULT = 3
    OFFLINE = 4
    STANDBY = 5


class SalRetCode(enum.IntEnum):
    """SAL return codes, including the command acknowledgement codes."""

    OK = 0
    ERR = -1
    CMD_ACK = 300
    CMD_INPROGRESS = 301
    CMD_STALLED = 302
    CMD_COMPLETE = 303
    CMD_NOPERM = -300
    CMD_NOACK = -301
    CMD_FAILED = -302
    CMD_ABORTED = -303
    CMD_TIMEOUT = -304


def as_state(value: int) -> State | int:
    """Return ``value`` as a `State` if it is one, else log a warning and return it unchanged.

    Parameters
    ----------
    value : `int`
        The value to convert.

    Returns
    -------
    state : `State` or `int`
        The enum member, or the original value if it is not valid.
    """
    try:
        return State(value)
    except ValueError:
        logging.getLogger(__name__).warning("Invalid State value %s", value)
        return value


def as_salRetCode(value: int) -> SalRetCode | int:
    """Return ``value`` as a `SalRetCode` if it is one, else log a warning and return it unchanged.

    Parameters
    ----------
    value : `int`
        The value to convert.

    Returns
    -------
    code : `SalRetCode` or `int`
        The enum member, or the original value if it is not valid.
    """
    try:
        return SalRetCode(value)
    except ValueError:
        logging.getLogger(__name__).warning("Invalid SalRetCode value %s", value)
        return value
