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

"""SalInfo: one SAL component (name and index) as seen by a Remote or Controller."""

from __future__ import annotations

__all__ = ["SalInfo"]

import asyncio
import enum
import logging
import os
import types
import typing

from ..utils import current_tai
from ..xml.component_info import ComponentInfo, TopicInfo, get_component_info
from ..xml.sal_enums import SalRetCode
from . import _bus
from .base import MAX_SAL_INDEX
from .domain import Domain
from .topics.remote_command import DONE_ACK_CODES

if typing.TYPE_CHECKING:
    from .topics.ackcmd import AckCmdReader, AckCmdWriter
    from .topics.read_topic import ReadTopic
    from .topics.remote_command import CommandInfo
    from .topics.write_topic import WriteTopic

TOPIC_SUBNAME_ENV_VAR = "LSST_TOPIC_SUBNAME"


class SalInfo:
    """Information about one SAL component and its topics.

    Parameters
    ----------
    domain : `Domain`
        The domain.
    name : `str`
        SAL component name.
    index : `int`, optional
        SAL index; 0 or None for a non-indexed component, or to read every
        index of an indexed one.
    write_only : `bool`, optional
        Read nothing?
    num_messages, consume_messages_timeout : optional
        Accepted for compatibility; unused.
    discard_out_of_order_telemetry, discard_out_of_order_events : `bool`, optional
        Accepted for compatibility; in-process delivery is always in order.

    Raises
    ------
    TypeError
        If ``domain`` is not a `Domain` or ``index`` is not an int.
    RuntimeError
        If ``LSST_TOPIC_SUBNAME`` is not set.
    ValueError
        If the component does not exist, or ``index`` is nonzero for a
        non-indexed component.
    """

    def __init__(
        self,
        domain: Domain,
        name: str,
        index: int | None = 0,
        write_only: bool = False,
        num_messages: int = 1,
        consume_messages_timeout: float = 0.1,
        discard_out_of_order_telemetry: bool = True,
        discard_out_of_order_events: bool = True,
    ) -> None:
        if not isinstance(domain, Domain):
            raise TypeError(f"domain {domain!r} must be an lsst.ts.salobj.Domain")
        if index is None:
            index = 0
        if isinstance(index, bool) or not isinstance(index, (int, enum.IntEnum)):
            raise TypeError(f"index {index!r} must be an integer")
        index = int(index)
        topic_subname = os.environ.get(TOPIC_SUBNAME_ENV_VAR, "")
        if not topic_subname:
            raise RuntimeError(f"You must define environment variable {TOPIC_SUBNAME_ENV_VAR}")
        component_info = get_component_info(name)
        if index != 0 and not component_info.indexed:
            raise ValueError(f"Index={index} must be 0 or None; {name} is not an indexed SAL component")
        if not 0 <= index <= MAX_SAL_INDEX:
            raise ValueError(f"index={index} must be in the range [0, {MAX_SAL_INDEX}]")
        loop = asyncio.get_running_loop()
        self.domain = domain
        self.name = name
        self.index = index
        self.write_only = write_only
        self.topic_subname = topic_subname
        self.component_info: ComponentInfo = component_info
        self.identity = domain.default_identity
        self.log = logging.getLogger(name)
        if self.log.getEffectiveLevel() > logging.INFO:
            self.log.setLevel(logging.INFO)
        self.isopen = True
        self.start_called = False
        self.start_task: asyncio.Future = loop.create_future()
        self.done_task: asyncio.Future = loop.create_future()
        self._readers: dict[str, ReadTopic] = {}
        self._writers: dict[str, WriteTopic] = {}
        self._running_cmds: dict[int, CommandInfo] = {}
        self._ackcmd_reader: AckCmdReader | None = None
        self._ackcmd_writer: AckCmdWriter | None = None
        domain.add_salinfo(self)

    # Properties

    @property
    def indexed(self) -> bool:
        """Is the component indexed?"""
        return self.component_info.indexed

    @property
    def name_index(self) -> str:
        """``name:index`` for an indexed component, else ``name``."""
        return f"{self.name}:{self.index}" if self.indexed else self.name

    @property
    def command_names(self) -> tuple[str, ...]:
        """Command names without prefix, sorted."""
        return self.component_info.command_names

    @property
    def event_names(self) -> tuple[str, ...]:
        """Event names without prefix, sorted."""
        return self.component_info.event_names

    @property
    def telemetry_names(self) -> tuple[str, ...]:
        """Telemetry topic names, sorted."""
        return self.component_info.telemetry_names

    @property
    def sal_topic_names(self) -> list[str]:
        """SAL names of every topic, sorted."""
        return sorted(info.sal_name for info in self.component_info.topics.values())

    @property
    def AckCmdType(self) -> type:
        """The dataclass of command acknowledgements."""
        return self.component_info.topics["ack_ackcmd"].make_dataclass()

    @property
    def started(self) -> bool:
        """Has `start` finished?"""
        return self.start_task.done()

    @property
    def running(self) -> bool:
        """Is the SalInfo started and still open?"""
        return self.isopen and self.started

    def assert_started(self) -> None:
        """Raise `RuntimeError` if not started."""
        if not self.started:
            raise RuntimeError("Not started")

    def assert_running(self) -> None:
        """Raise `RuntimeError` if not started or no longer open."""
        if not self.started:
            raise RuntimeError("Not started")
        if not self.isopen:
            raise RuntimeError("No longer open")

    def make_ackcmd(
        self, private_seqNum: int, ack: SalRetCode, error: int = 0, result: str = "", timeout: float = 0
    ) -> typing.Any:
        """Make a command acknowledgement.

        Parameters
        ----------
        private_seqNum : `int`
            Sequence number of the command.
        ack : `SalRetCode`
            Acknowledgement code.
        error : `int`, optional
            Error code (0 for no error).
        result : `str`, optional
            Message.
        timeout : `float`, optional
            For ``CMD_INPROGRESS``: how much longer the command may take (s).
        """
        return self.AckCmdType(
            private_seqNum=private_seqNum, ack=int(ack), error=error, result=result, timeout=timeout
        )

    # Topics

    def add_reader(self, topic: ReadTopic) -> None:
        """Add a read topic (called by the topic)."""
        if self.start_called:
            raise RuntimeError("Cannot add topics after the start called")
        if topic.attr_name in self._readers:
            raise ValueError(f"Read topic {topic.attr_name} already present")
        self._readers[topic.attr_name] = topic

    def add_writer(self, topic: WriteTopic) -> None:
        """Add a write topic (called by the topic)."""
        if self.start_called:
            raise RuntimeError("Cannot add topics after the start called")
        if topic.attr_name in self._writers:
            raise ValueError(f"Write topic {topic.attr_name} already present")
        self._writers[topic.attr_name] = topic

    def _get_channel(self, topic_info: TopicInfo) -> _bus.Channel:
        return _bus.get_channel(
            subname=self.topic_subname,
            component=self.name,
            sal_name=topic_info.sal_name,
            indexed=self.indexed,
            array_fields=topic_info.array_fields,
            keep_history=topic_info.kind == "event",
        )

    def _ensure_ackcmd_reader(self) -> AckCmdReader:
        if self._ackcmd_reader is None:
            from .topics.ackcmd import AckCmdReader

            self._ackcmd_reader = AckCmdReader(self)
        return self._ackcmd_reader

    def _ensure_ackcmd_writer(self) -> AckCmdWriter:
        if self._ackcmd_writer is None:
            from .topics.ackcmd import AckCmdWriter

            self._ackcmd_writer = AckCmdWriter(self)
        return self._ackcmd_writer

    def _handle_ackcmd(self, ackcmd: typing.Any) -> None:
        """Give an acknowledgement to the running command it belongs to."""
        cmd_info = self._running_cmds.get(ackcmd.private_seqNum)
        if cmd_info is None:
            return
        if ackcmd.ack in DONE_ACK_CODES:
            # The command is finished as soon as its final ack arrives.
            del self._running_cmds[ackcmd.private_seqNum]
        cmd_info.add_ackcmd(ackcmd)

    # Life cycle

    async def start(self) -> None:
        """Start reading: subscribe every read topic and queue historical data.

        Raises
        ------
        RuntimeError
            If already called.
        """
        if self.start_called:
            raise RuntimeError("Start already called")
        self.start_called = True
        try:
            if not self.isopen:
                raise RuntimeError("No longer open")
            loop = asyncio.get_running_loop()
            readers = [] if self.write_only else list(self._readers.values())
            subscriptions = []
            for reader in readers:
                channel = self._get_channel(reader.topic_info)
                channel.add_reader(reader)
                reader._start_reading(loop)
                subscriptions.append((reader, channel))
            # History is read in the same step as subscribing, so that no
            # message is both historical and live, and none is lost.
            rcv_stamp = current_tai()
            for reader, channel in subscriptions:
                if reader.max_history > 0:
                    for data in channel.get_history(self.index):
                        data.private_rcvStamp = rcv_stamp
                        reader._queue_one(data)
            self.start_task.set_result(None)
        except Exception as e:
            if not self.start_task.done():
                self.start_task.set_exception(e)
            raise

    def basic_close(self) -> None:
        """Close synchronously. Idempotent."""
        if not self.isopen:
            return
        self.isopen = False
        for reader in self._readers.values():
            self._get_channel(reader.topic_info).remove_reader(reader)
            reader.basic_close()
        for writer in self._writers.values():
            writer.basic_close()
        for cmd_info in self._running_cmds.values():
            cmd_info.abort()
        self._running_cmds.clear()
        self.domain.remove_salinfo(self)
        if not self.start_task.done():
            self.start_task.cancel()
        if not self.done_task.done():
            self.done_task.set_result(None)

    async def close(self) -> None:
        """Stop reading and writing. Idempotent."""
        self.basic_close()

    async def __aenter__(self) -> SalInfo:
        return self

    async def __aexit__(
        self,
        type: type[BaseException] | None,
        value: BaseException | None,
        traceback: types.TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"SalInfo({self.name_index})"
