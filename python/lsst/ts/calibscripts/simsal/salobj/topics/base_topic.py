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

"""Base class of all topics."""

from __future__ import annotations

__all__ = ["BaseTopic"]

import typing

if typing.TYPE_CHECKING:
    from ..sal_info import SalInfo


class BaseTopic:
    """Common attributes of read and write topics.

    Parameters
    ----------
    salinfo : `SalInfo`
        SAL component information.
    attr_name : `str`
        Topic attribute name, e.g. ``evt_summaryState`` or ``ack_ackcmd``.

    Raises
    ------
    RuntimeError
        If the component has no such topic.
    """

    def __init__(self, *, salinfo: SalInfo, attr_name: str) -> None:
        topic_info = salinfo.component_info.topics.get(attr_name)
        if topic_info is None:
            raise RuntimeError(f"Topic {salinfo.name}.{attr_name} not found")
        self.salinfo = salinfo
        self.topic_info = topic_info
        self.attr_name = attr_name
        self.name = topic_info.name
        self.sal_name = topic_info.sal_name
        self.log = salinfo.log.getChild(topic_info.sal_name)
        self._array_fields = topic_info.array_fields
        self._field_names = frozenset(topic_info.fields)
        # How error messages name the topic, e.g. "CCCamera.logevent_endOfImageTelemetry".
        self._topic_desc = f"{salinfo.name}.{topic_info.sal_name}"

    @property
    def DataType(self) -> type:
        """The dataclass of this topic's messages."""
        return self.topic_info.make_dataclass()

    @property
    def dds_name(self) -> str:
        """Name of the topic in the middleware."""
        return f"{self.salinfo.name}_{self.sal_name}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.salinfo.name_index}, {self.attr_name})"
