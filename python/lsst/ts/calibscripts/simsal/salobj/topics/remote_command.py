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

"""Commands sent by a Remote, and the wait for their acknowledgements."""

from __future__ import annotations

__all__ = ["RemoteCommand", "CommandInfo", "DONE_ACK_CODES", "FAILED_ACK_CODES", "GOOD_ACK_CODES"]

import asyncio
import collections
import typing

from ...xml.sal_enums import SalRetCode
from ..base import AckError, AckTimeoutError
from .write_topic import MAX_SEQ_NUM, WriteTopic

if typing.TYPE_CHECKING:
    from ..sal_info import SalInfo

#: Codes of a final acknowledgement.
DONE_ACK_CODES = frozenset(
    (
        SalRetCode.CMD_ABORTED,
        SalRetCode.CMD_COMPLETE,
        SalRetCode.CMD_FAILED,
        SalRetCode.CMD_NOACK,
        SalRetCode.CMD_NOPERM,
        SalRetCode.CMD_STALLED,
        SalRetCode.CMD_TIMEOUT,
    )
)

#: Codes of a failed command (raise `AckError`).
FAILED_ACK_CODES = DONE_ACK_CODES - {SalRetCode.CMD_COMPLETE}

#: Codes of a command that has not failed.
GOOD_ACK_CODES = frozenset((SalRetCode.CMD_ACK, SalRetCode.CMD_INPROGRESS, SalRetCode.CMD_COMPLETE))

#: Default time limit to wait for a command to finish (s).
DEFAULT_TIMEOUT = 3600


class CommandInfo:
    """A command that was sent and whose final acknowledgement has not yet been read.

    Parameters
    ----------
    remote_command : `RemoteCommand`
        The command topic.
    seq_num : `int`
        ``private_seqNum`` of the command.
    wait_done : `bool`
        Wait for the final acknowledgement?
    """

    def __init__(self, remote_command: RemoteCommand, seq_num: int, wait_done: bool) -> None:
        self.remote_command = remote_command
        self.seq_num = seq_num
        self.wait_done = wait_done
        self.ackcmd = remote_command.salinfo.make_ackcmd(
            private_seqNum=seq_num, ack=SalRetCode.CMD_NOACK, result="No command acknowledgement seen"
        )
        self._acks: collections.deque = collections.deque()
        self._waiter: asyncio.Future | None = None
        self._aborted = False

    def add_ackcmd(self, ackcmd: typing.Any) -> None:
        """Add an acknowledgement that arrived for this command."""
        self._acks.append(ackcmd)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def abort(self) -> None:
        """Stop waiting because the SalInfo is closing."""
        self._aborted = True
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def next_ackcmd(self, timeout: float) -> typing.Any:
        """Wait for the next acknowledgement of interest.

        With ``wait_done`` that is the final acknowledgement, and each
        ``CMD_INPROGRESS`` acknowledgement on the way extends the deadline
        by its ``timeout``; without, it is the next acknowledgement.

        Raises
        ------
        AckError
            If the acknowledgement is a failure.
        AckTimeoutError
            If no acknowledgement of interest arrives in time.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if not self._acks and self._aborted:
                raise AckError(msg="Command abandoned because the remote was closed", ackcmd=self.ackcmd)
            if not self._acks:
                remaining = deadline - loop.time()
                if remaining > 0:
                    self._waiter = loop.create_future()
                    try:
                        await asyncio.wait_for(self._waiter, timeout=remaining)
                    except asyncio.TimeoutError:
                        pass
                    finally:
                        self._waiter = None
                if not self._acks and not self._aborted:
                    self.remote_command.salinfo._running_cmds.pop(self.seq_num, None)
                    raise AckTimeoutError(
                        msg="Timed out waiting for command acknowledgement", ackcmd=self.ackcmd
                    )
                if not self._acks:
                    continue
            ackcmd = self._acks.popleft()
            self.ackcmd = ackcmd
            if ackcmd.ack in FAILED_ACK_CODES:
                raise AckError(msg="Command failed", ackcmd=ackcmd)
            if ackcmd.ack == SalRetCode.CMD_COMPLETE or not self.wait_done:
                return ackcmd
            if ackcmd.ack == SalRetCode.CMD_INPROGRESS:
                deadline += ackcmd.timeout


class RemoteCommand(WriteTopic):
    """A command sent by a Remote.

    Parameters
    ----------
    salinfo : `SalInfo`
        SAL component information.
    name : `str`
        Command name without prefix, e.g. ``enable``.
    """

    def __init__(self, salinfo: SalInfo, name: str) -> None:
        command_names = salinfo.command_names
        if name not in command_names:
            raise RuntimeError(f"{salinfo.name} has no command {name}")
        cmd_index = command_names.index(name)
        range_len = MAX_SEQ_NUM // len(command_names)
        min_seq_num = cmd_index * range_len + 1
        max_seq_num = min_seq_num + range_len - 1
        super().__init__(
            salinfo=salinfo, attr_name="cmd_" + name, min_seq_num=min_seq_num, max_seq_num=max_seq_num
        )
        salinfo._ensure_ackcmd_reader()

    def set(self, **kwargs: typing.Any) -> bool:
        """Replace ``data`` with a fresh instance and set the given fields.

        Returns
        -------
        did_change : `bool`
            True if any field differs from its default.
        """
        self._data = self.DataType()
        self._has_data = False
        return super().set(**kwargs)

    async def set_start(
        self, *, timeout: float = DEFAULT_TIMEOUT, wait_done: bool = True, **kwargs: typing.Any
    ) -> typing.Any:
        """Set the command data (as `set`) and send the command (as `start`)."""
        self.set(**kwargs)
        return await self.start(timeout=timeout, wait_done=wait_done)

    async def start(
        self, data: typing.Any = None, timeout: float = DEFAULT_TIMEOUT, wait_done: bool = True
    ) -> typing.Any:
        """Send the command and wait for an acknowledgement.

        Parameters
        ----------
        data : ``DataType``, optional
            Command data; if None, use ``self.data``.
        timeout : `float`, optional
            Time limit (s); extended by each ``CMD_INPROGRESS`` ack's timeout.
        wait_done : `bool`, optional
            Wait for the final acknowledgement (True) or the next one?

        Returns
        -------
        ackcmd : ``AckCmdType``
            The acknowledgement.

        Raises
        ------
        AckError
            If the command fails.
        AckTimeoutError
            If the acknowledgement does not arrive in time.
        RuntimeError
            If the SalInfo is not running.
        """
        self.salinfo.assert_running()
        if data is not None:
            self.data = data
        seq_num = self._next_seq_num()
        running_cmds = self.salinfo._running_cmds
        if seq_num in running_cmds:
            raise RuntimeError(f"{self.attr_name} private_seqNum={seq_num} is already running")
        cmd_info = CommandInfo(remote_command=self, seq_num=seq_num, wait_done=wait_done)
        running_cmds[seq_num] = cmd_info
        self._seq_num = seq_num  # _write_now takes the next number; make it this one
        try:
            self._write_now()
        except Exception:
            running_cmds.pop(seq_num, None)
            raise
        return await cmd_info.next_ackcmd(timeout=timeout)

    async def next_ackcmd(
        self, ackcmd: typing.Any, timeout: float = DEFAULT_TIMEOUT, wait_done: bool = True
    ) -> typing.Any:
        """Wait for a further acknowledgement of a command sent with ``start``.

        Parameters
        ----------
        ackcmd : ``AckCmdType``
            An acknowledgement of the command (e.g. from ``start(wait_done=False)``).
        timeout : `float`, optional
            Time limit (s).
        wait_done : `bool`, optional
            Wait for the final acknowledgement?

        Raises
        ------
        RuntimeError
            If the command is unknown or already finished (its final
            acknowledgement has arrived, even if it has not been read).
        AckError, AckTimeoutError
            As for `start`.
        """
        cmd_info = self.salinfo._running_cmds.get(ackcmd.private_seqNum)
        if cmd_info is None:
            raise RuntimeError(f"Command private_seqNum={ackcmd.private_seqNum} is unknown or finished")
        cmd_info.wait_done = wait_done
        return await cmd_info.next_ackcmd(timeout=timeout)

    async def set_write(self, *, force_output: bool | None = None, **kwargs: typing.Any) -> typing.Any:
        """Not supported: commands are sent with `set_start`."""
        raise NotImplementedError("Call set_start instead")

    async def write(self) -> typing.Any:
        """Not supported: commands are sent with `start`."""
        raise NotImplementedError("Call start instead")
