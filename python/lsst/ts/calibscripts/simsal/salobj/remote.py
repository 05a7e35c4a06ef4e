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

"""Remote: the client side of a SAL component."""

from __future__ import annotations

__all__ = ["Remote"]

import asyncio
import types
import typing

from .domain import Domain
from .sal_info import SalInfo
from .topics.remote_command import RemoteCommand
from .topics.remote_event import RemoteEvent
from .topics.remote_telemetry import RemoteTelemetry


class Remote:
    """A client of a SAL component: sends its commands, reads its events and telemetry.

    Attributes ``cmd_<name>`` (`RemoteCommand`, unless ``readonly``),
    ``evt_<name>`` (`RemoteEvent`) and ``tel_<name>`` (`RemoteTelemetry`)
    are created for each topic.

    Parameters
    ----------
    domain : `Domain`
        The domain.
    name : `str`
        SAL component name.
    index : `int`, optional
        SAL index; 0 or None reads every index of an indexed component
        (and sends commands with ``salIndex=0``).
    readonly : `bool`, optional
        Make no command topics?
    include : `list` [`str`], optional
        Names of the only events and telemetry topics to read (commands are
        not affected). Unknown names are ignored.
    exclude : `list` [`str`], optional
        Names of events and telemetry topics not to read.
    evt_max_history : `int`, optional
        Historical samples to read for each event at start (0 or 1).
    start : `bool`, optional
        Start automatically (needs a running event loop)?
    num_messages, consume_messages_timeout, discard_out_of_order_telemetry, \
discard_out_of_order_events : optional
        Passed to `SalInfo`.

    Raises
    ------
    TypeError
        If ``domain`` is not a `Domain`.
    ValueError
        If both ``include`` and ``exclude`` are given.
    """

    def __init__(
        self,
        domain: Domain,
        name: str,
        index: int | None = None,
        *,
        readonly: bool = False,
        include: typing.Iterable[str] | None = None,
        exclude: typing.Iterable[str] | None = None,
        evt_max_history: int = 1,
        start: bool = True,
        num_messages: int = 1,
        consume_messages_timeout: float = 0.1,
        discard_out_of_order_telemetry: bool = True,
        discard_out_of_order_events: bool = True,
    ) -> None:
        if not isinstance(domain, Domain):
            raise TypeError(f"domain {domain!r} must be an lsst.ts.salobj.Domain")
        if include is not None and exclude is not None:
            raise ValueError("Cannot specify both include and exclude")
        include_set = None if include is None else frozenset(include)
        exclude_set = frozenset() if exclude is None else frozenset(exclude)

        def is_wanted(topic_name: str) -> bool:
            if include_set is not None:
                return topic_name in include_set
            return topic_name not in exclude_set

        self.salinfo = SalInfo(
            domain=domain,
            name=name,
            index=index,
            num_messages=num_messages,
            consume_messages_timeout=consume_messages_timeout,
            discard_out_of_order_telemetry=discard_out_of_order_telemetry,
            discard_out_of_order_events=discard_out_of_order_events,
        )
        try:
            if not readonly:
                for cmd_name in self.salinfo.command_names:
                    setattr(self, "cmd_" + cmd_name, RemoteCommand(self.salinfo, cmd_name))
            for evt_name in self.salinfo.event_names:
                if is_wanted(evt_name):
                    setattr(
                        self,
                        "evt_" + evt_name,
                        RemoteEvent(self.salinfo, evt_name, max_history=evt_max_history),
                    )
            for tel_name in self.salinfo.telemetry_names:
                if is_wanted(tel_name):
                    setattr(self, "tel_" + tel_name, RemoteTelemetry(self.salinfo, tel_name))
        except Exception:
            self.salinfo.basic_close()
            raise
        self.start_called = False
        self.start_task: asyncio.Future
        if start:
            self.start_called = True
            self.start_task = asyncio.create_task(self.start())
        else:
            self.start_task = self.salinfo.start_task

    @property
    def domain(self) -> Domain:
        """The domain."""
        return self.salinfo.domain

    async def start(self) -> None:
        """Start reading (and queue historical event data)."""
        self.start_called = True
        await self.salinfo.start()

    async def close(self) -> None:
        """Close the Remote (not its domain). Idempotent."""
        await self.salinfo.close()

    async def __aenter__(self) -> Remote:
        await self.start_task
        return self

    async def __aexit__(
        self,
        type: type[BaseException] | None,
        value: BaseException | None,
        traceback: types.TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"Remote(name={self.salinfo.name}, index={self.salinfo.index})"
