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

"""The in-process message bus behind the simulated SAL.

Every SAL topic in the process, for each value of ``LSST_TOPIC_SUBNAME``,
has one `Channel`: the read topics subscribed to it and, for events, the
latest sample per SAL index (the history a late-joining reader gets).

`publish` never calls a reader directly: each subscribed reader whose SAL
index matches gets its own copy of the message through
``loop.call_soon``, so ``write`` returns before anyone has read the
message and per-topic FIFO order is kept. Messages that are published in
the same event-loop iteration reach their readers in the same order. A
reader whose event loop runs in another thread is reached with
``call_soon_threadsafe``.

History is kept per ``LSST_TOPIC_SUBNAME``, for the life of the process,
as Kafka keeps it per topic namespace: a test that must not see samples
from earlier tests uses its own subname
(``salobj.set_test_topic_subname(randomize=True)``).
"""

from __future__ import annotations

__all__ = ["Channel", "get_channel", "copy_message", "delivery_barrier"]

import asyncio
import typing

from ..utils import current_tai

if typing.TYPE_CHECKING:
    from .topics.read_topic import ReadTopic

_channels: dict[tuple[str, str, str], Channel] = {}


def copy_message(msg: typing.Any, array_fields: tuple[str, ...]) -> typing.Any:
    """Return a copy of a message that shares no mutable state with it.

    Parameters
    ----------
    msg : ``DataType``
        The message.
    array_fields : `tuple` [`str`]
        Names of the list-valued fields, which are copied too.

    Returns
    -------
    copy : ``DataType``
        The copy.
    """
    new = object.__new__(type(msg))
    new.__dict__.update(msg.__dict__)
    for name in array_fields:
        new.__dict__[name] = list(new.__dict__[name])
    return new


class Channel:
    """Readers of one topic, and its latest samples.

    Parameters
    ----------
    indexed : `bool`
        Is the component indexed (messages have ``salIndex``)?
    array_fields : `tuple` [`str`]
        Names of the list-valued fields.
    keep_history : `bool`
        Keep the latest sample per SAL index (events)?
    """

    __slots__ = ("indexed", "array_fields", "keep_history", "readers", "history")

    def __init__(self, indexed: bool, array_fields: tuple[str, ...], keep_history: bool) -> None:
        self.indexed = indexed
        self.array_fields = array_fields
        self.keep_history = keep_history
        self.readers: list[ReadTopic] = []
        # SAL index: latest sample; dict order is the order of the last writes.
        self.history: dict[int, typing.Any] = {}

    def add_reader(self, reader: ReadTopic) -> None:
        """Subscribe a reader."""
        if reader not in self.readers:
            self.readers.append(reader)

    def remove_reader(self, reader: ReadTopic) -> None:
        """Unsubscribe a reader (no error if it is not subscribed)."""
        try:
            self.readers.remove(reader)
        except ValueError:
            pass

    def get_history(self, index: int) -> list[typing.Any]:
        """Return copies of the stored samples a reader with SAL index ``index`` may see.

        For a non-indexed component this is the latest sample; for an
        indexed one, the latest sample of ``index``, or of every index
        (oldest first) if ``index`` is 0.
        """
        if not self.history:
            return []
        if not self.indexed:
            return [copy_message(msg, self.array_fields) for msg in self.history.values()]
        if index == 0:
            return [copy_message(msg, self.array_fields) for msg in self.history.values()]
        msg = self.history.get(index)
        return [] if msg is None else [copy_message(msg, self.array_fields)]

    def publish(self, msg: typing.Any) -> None:
        """Send a message to every matching reader, asynchronously.

        Parameters
        ----------
        msg : ``DataType``
            The message, already stamped. It is not modified or retained:
            the history and every reader get their own copies.
        """
        sal_index = msg.salIndex if self.indexed else 0
        if self.keep_history:
            self.history.pop(sal_index, None)
            self.history[sal_index] = copy_message(msg, self.array_fields)
        if not self.readers:
            return
        try:
            running_loop = asyncio.get_running_loop()
        except RuntimeError:
            running_loop = None
        stale: list[ReadTopic] = []
        rcv_stamp = current_tai()
        for reader in self.readers:
            if self.indexed and reader.sal_index != 0 and reader.sal_index != sal_index:
                continue
            loop = reader.loop
            if loop is None or loop.is_closed():
                stale.append(reader)
                continue
            data = copy_message(msg, self.array_fields)
            data.private_rcvStamp = rcv_stamp
            if loop is running_loop:
                loop.call_soon(reader._deliver, data)
            elif loop.is_running():
                # The reader's loop runs in another thread.
                loop.call_soon_threadsafe(reader._deliver, data)
        for reader in stale:
            self.remove_reader(reader)


def get_channel(
    subname: str,
    component: str,
    sal_name: str,
    indexed: bool,
    array_fields: tuple[str, ...],
    keep_history: bool,
) -> Channel:
    """Get (creating if needed) the channel of a topic.

    Parameters
    ----------
    subname : `str`
        Value of ``LSST_TOPIC_SUBNAME``; different values never see each
        other's messages (like different Kafka topic namespaces).
    component : `str`
        SAL component name.
    sal_name : `str`
        Topic SAL name, e.g. ``logevent_summaryState``.
    indexed : `bool`
        Is the component indexed?
    array_fields : `tuple` [`str`]
        Names of the list-valued fields.
    keep_history : `bool`
        Keep the latest sample per index?
    """
    key = (subname, component, sal_name)
    channel = _channels.get(key)
    if channel is None:
        channel = Channel(indexed=indexed, array_fields=array_fields, keep_history=keep_history)
        _channels[key] = channel
    return channel


async def delivery_barrier() -> None:
    """Wait until every message published before this call has been handed to its readers."""
    loop = asyncio.get_running_loop()
    future = loop.create_future()
    loop.call_soon(future.set_result, None)
    await future
