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

"""Commands received by a Controller, and their acknowledgement."""

from __future__ import annotations

__all__ = ["ControllerCommand"]

import asyncio
import inspect
import typing

from ...xml.sal_enums import SalRetCode
from ..base import ExpectedError
from .read_topic import DEFAULT_QUEUE_LEN, ReadTopic

if typing.TYPE_CHECKING:
    from ..sal_info import SalInfo


class ControllerCommand(ReadTopic):
    """A command topic read by a Controller.

    The callback's outcome is the command's final acknowledgement:
    returning None gives ``CMD_COMPLETE``, returning an ack sends that ack,
    `asyncio.TimeoutError` gives ``CMD_TIMEOUT``, cancellation gives
    ``CMD_ABORTED`` and any other exception ``CMD_FAILED``. No ``CMD_ACK``
    is ever sent; call `ack_in_progress` for a ``CMD_INPROGRESS``.

    Parameters
    ----------
    salinfo : `SalInfo`
        SAL component information.
    name : `str`
        Command name without prefix, e.g. ``enable``.
    queue_len : `int`, optional
        Length of the read queue.
    """

    def __init__(self, salinfo: SalInfo, name: str, queue_len: int = DEFAULT_QUEUE_LEN) -> None:
        super().__init__(salinfo=salinfo, attr_name="cmd_" + name, max_history=0, queue_len=queue_len)
        self._ack_writer = salinfo._ensure_ackcmd_writer()

    async def next(self, *, timeout: float | None = None) -> typing.Any:  # type: ignore[override]
        """Pop the oldest unread command, waiting for one if there are none.

        Parameters
        ----------
        timeout : `float`, optional
            Maximum time to wait (s).
        """
        return await super().next(flush=False, timeout=timeout)

    def _deliver(self, data: typing.Any) -> None:
        if data.private_seqNum <= 0:
            self.log.warning("Ignoring %s with private_seqNum=%s <= 0", self.attr_name, data.private_seqNum)
            return
        super()._deliver(data)

    async def ack(self, data: typing.Any, ackcmd: typing.Any) -> None:
        """Acknowledge a command.

        Parameters
        ----------
        data : ``DataType``
            The command data.
        ackcmd : ``AckCmdType``
            The acknowledgement; its seqNum, identity and origin are set from
            ``data``.
        """
        ackcmd.private_seqNum = data.private_seqNum
        ackcmd.identity = data.private_identity
        ackcmd.origin = data.private_origin
        self._ack_writer._write_now(ackcmd)

    async def ack_in_progress(self, data: typing.Any, timeout: float, result: str = "") -> None:
        """Acknowledge a command as in progress (``CMD_INPROGRESS``).

        Parameters
        ----------
        data : ``DataType``
            The command data.
        timeout : `float`
            Additional time the command may take (s); the sender extends its
            deadline by this much.
        result : `str`, optional
            Message for the sender.
        """
        ackcmd = self.salinfo.make_ackcmd(
            private_seqNum=data.private_seqNum, ack=SalRetCode.CMD_INPROGRESS, result=result, timeout=timeout
        )
        await self.ack(data, ackcmd)

    async def _run_callback(self, data: typing.Any) -> None:
        callback = self._callback
        if callback is None:
            return
        make_ackcmd = self.salinfo.make_ackcmd
        seq_num = data.private_seqNum
        try:
            result = callback(data)
            if inspect.isawaitable(result):
                result = await result
            if isinstance(result, self.salinfo.AckCmdType):
                ackcmd = result
            else:
                ackcmd = make_ackcmd(private_seqNum=seq_num, ack=SalRetCode.CMD_COMPLETE, result="Done")
        except asyncio.TimeoutError:
            ackcmd = make_ackcmd(
                private_seqNum=seq_num, ack=SalRetCode.CMD_TIMEOUT, error=1, result="Timeout"
            )
        except asyncio.CancelledError:
            ackcmd = make_ackcmd(
                private_seqNum=seq_num, ack=SalRetCode.CMD_ABORTED, error=1, result="Aborted"
            )
        except ExpectedError as e:
            self.log.error("%s failed: %s", self.attr_name, e)
            ackcmd = make_ackcmd(
                private_seqNum=seq_num, ack=SalRetCode.CMD_FAILED, error=1, result=f"Failed: {e}"
            )
        except Exception as e:
            self.log.exception("%s failed", self.attr_name)
            ackcmd = make_ackcmd(
                private_seqNum=seq_num, ack=SalRetCode.CMD_FAILED, error=1, result=f"Failed: {e}"
            )
        if not self.salinfo.running:
            self.log.warning("Cannot acknowledge %s seqNum=%s: no longer running", self.attr_name, seq_num)
            return
        await self.ack(data, ackcmd)
