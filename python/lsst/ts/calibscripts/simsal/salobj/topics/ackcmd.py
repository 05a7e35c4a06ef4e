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

"""Command acknowledgement topics: the reader (remote side) and writer (controller side)."""

from __future__ import annotations

__all__ = ["AckCmdReader", "AckCmdWriter"]

import typing

from .read_topic import ReadTopic
from .write_topic import WriteTopic

if typing.TYPE_CHECKING:
    from ..sal_info import SalInfo


class AckCmdReader(ReadTopic):
    """Reads command acknowledgements and hands them to the commands waiting for them.

    An ack is accepted only if its ``identity`` and ``origin`` are those of
    this SalInfo and its ``private_seqNum`` is that of a running command.

    Parameters
    ----------
    salinfo : `SalInfo`
        SAL component information.
    """

    def __init__(self, salinfo: SalInfo) -> None:
        super().__init__(salinfo=salinfo, attr_name="ack_ackcmd", max_history=0)

    def _deliver(self, data: typing.Any) -> None:
        if not self.isopen:
            return
        salinfo = self.salinfo
        if self.filter_ackcmd and (data.identity != salinfo.identity or data.origin != salinfo.domain.origin):
            return
        salinfo._handle_ackcmd(data)


class AckCmdWriter(WriteTopic):
    """Writes command acknowledgements.

    Parameters
    ----------
    salinfo : `SalInfo`
        SAL component information.
    """

    _stamp_seq_num = False

    def __init__(self, salinfo: SalInfo) -> None:
        super().__init__(salinfo=salinfo, attr_name="ack_ackcmd")
