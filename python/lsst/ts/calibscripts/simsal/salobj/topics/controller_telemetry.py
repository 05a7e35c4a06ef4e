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

"""Telemetry written by a Controller."""

from __future__ import annotations

__all__ = ["ControllerTelemetry"]

import typing

from .write_topic import WriteTopic

if typing.TYPE_CHECKING:
    from ..sal_info import SalInfo


class ControllerTelemetry(WriteTopic):
    """A telemetry topic written by a Controller.

    Parameters
    ----------
    salinfo : `SalInfo`
        SAL component information.
    name : `str`
        Telemetry topic name.
    """

    def __init__(self, salinfo: SalInfo, name: str) -> None:
        super().__init__(salinfo=salinfo, attr_name="tel_" + name)
