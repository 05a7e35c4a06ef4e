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
index matches gets its own copy of the message through the event loop, so
``write`` returns before anyone has read the message. A reader whose event
loop runs in another thread is reached with ``call_soon_threadsafe``.

Two delivery modes (`DeliveryMode`) say when a copy arrives:

``ordered`` (default)
    Through ``loop.call_soon``: messages published in the same event-loop
    iteration reach their readers in the order they were written, whatever
    their topics.
``unordered``
    As on the real SAL, where Kafka keeps order only within a topic: each
    copy is delayed by a random time in ``[0, max_delay]`` drawn from a
    seeded generator, except that a reader still receives the samples of
    one topic in the order they were written. Samples of different topics
    (an ``ackcmd`` and the events its command caused, say) may arrive in
    any order.

The mode is read from the environment when this module is imported:
``CALIBSCRIPTS_SIM_DELIVERY`` (``ordered`` or ``unordered``),
``CALIBSCRIPTS_SIM_DELIVERY_SEED`` (an integer; without it a random seed is
drawn and logged, so that a failure can be reproduced) and
``CALIBSCRIPTS_SIM_DELIVERY_MAX_DELAY`` (seconds, default 0.005). Tests
change it with `set_delivery`.

History is kept per ``LSST_TOPIC_SUBNAME``, for the life of the process,
as Kafka keeps it per topic namespace: a test that must not see samples
from earlier tests uses its own subname
(``salobj.set_test_topic_subname(randomize=True)``).
"""

from __future__ import annotations

__all__ = [
    "DELIVERY_ENV_VAR",
    "DELIVERY_MAX_DELAY_ENV_VAR",
    "DELIVERY_SEED_ENV_VAR",
    "DEFAULT_MAX_DELAY",
    "Channel",
    "Delivery",
    "DeliveryMode",
    "copy_message",
    "delivery_barrier",
    "delivery_from_environment",
    "get_channel",
    "get_delivery",
    "set_delivery",
]

import asyncio
import collections
import enum
import logging
import os
import random
import typing
import weakref

from ..utils import current_tai

if typing.TYPE_CHECKING:
    from .topics.read_topic import ReadTopic

_channels: dict[tuple[str, str, str], Channel] = {}

#: Environment variable that selects the delivery mode.
DELIVERY_ENV_VAR = "CALIBSCRIPTS_SIM_DELIVERY"
#: Environment variable with the seed of the unordered mode's delays.
DELIVERY_SEED_ENV_VAR = "CALIBSCRIPTS_SIM_DELIVERY_SEED"
#: Environment variable with the largest delay of the unordered mode (s).
DELIVERY_MAX_DELAY_ENV_VAR = "CALIBSCRIPTS_SIM_DELIVERY_MAX_DELAY"
#: Default largest delay of the unordered mode (s).
DEFAULT_MAX_DELAY = 0.005

_log = logging.getLogger(__name__)


class DeliveryMode(str, enum.Enum):
    """When the bus hands a message to its readers."""

    ORDERED = "ordered"
    """Next event-loop iteration; order kept across topics."""

    UNORDERED = "unordered"
    """After a seeded random delay; order kept only within a topic."""


class Delivery:
    """The delivery mode of the bus and, when unordered, its random delays.

    Parameters
    ----------
    mode : `DeliveryMode` or `str`
        The mode.
    seed : `int`, optional
        Seed of the delays (unordered mode); random if None.
    max_delay : `float`, optional
        Largest delay (s) in unordered mode.

    Raises
    ------
    ValueError
        If the mode is unknown or ``max_delay`` is negative.
    """

    def __init__(
        self, mode: DeliveryMode | str, seed: int | None = None, max_delay: float = DEFAULT_MAX_DELAY
    ) -> None:
        try:
            self.mode = DeliveryMode(mode)
        except ValueError:
            allowed = ", ".join(m.value for m in DeliveryMode)
            raise ValueError(f"Unknown delivery mode {mode!r}; use one of {allowed}") from None
        if not max_delay >= 0:
            raise ValueError(f"max_delay={max_delay} must be >= 0")
        if seed is None:
            seed = random.SystemRandom().randrange(2**31)
        self.seed = seed
        self.max_delay = float(max_delay)
        self._rng = random.Random(seed)

    @property
    def ordered(self) -> bool:
        """Is order kept across topics?"""
        return self.mode is DeliveryMode.ORDERED

    def draw_delay(self) -> float:
        """Return the next random delay (s)."""
        return self._rng.uniform(0.0, self.max_delay)

    def __repr__(self) -> str:
        if self.ordered:
            return "Delivery(ordered)"
        return f"Delivery(unordered, seed={self.seed}, max_delay={self.max_delay})"


def delivery_from_environment(environ: typing.Mapping[str, str] | None = None) -> Delivery:
    """Make the `Delivery` that the environment asks for.

    Parameters
    ----------
    environ : `dict` [`str`, `str`], optional
        The environment; `os.environ` if None.

    Raises
    ------
    ValueError
        If a variable has a value that cannot be used; the message names it.
    """
    environ = os.environ if environ is None else environ
    mode = environ.get(DELIVERY_ENV_VAR, "").strip().lower() or DeliveryMode.ORDERED.value
    seed_text = environ.get(DELIVERY_SEED_ENV_VAR, "").strip()
    delay_text = environ.get(DELIVERY_MAX_DELAY_ENV_VAR, "").strip()
    try:
        seed = int(seed_text) if seed_text else None
    except ValueError:
        raise ValueError(f"{DELIVERY_SEED_ENV_VAR}={seed_text!r} is not an integer") from None
    try:
        max_delay = float(delay_text) if delay_text else DEFAULT_MAX_DELAY
    except ValueError:
        raise ValueError(f"{DELIVERY_MAX_DELAY_ENV_VAR}={delay_text!r} is not a number") from None
    try:
        return Delivery(mode, seed=seed, max_delay=max_delay)
    except ValueError as e:
        raise ValueError(f"{DELIVERY_ENV_VAR} / {DELIVERY_MAX_DELAY_ENV_VAR}: {e}") from None


_delivery = delivery_from_environment()
if not _delivery.ordered:
    _log.warning(
        "Simulated SAL delivers messages unordered across topics: %s=%s %s=%s %s=%s",
        DELIVERY_ENV_VAR,
        _delivery.mode.value,
        DELIVERY_SEED_ENV_VAR,
        _delivery.seed,
        DELIVERY_MAX_DELAY_ENV_VAR,
        _delivery.max_delay,
    )

# Event loop: the latest time (loop.time()) at which a delayed message is due,
# and the number of delayed messages not yet delivered.
_latest_due: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, float] = weakref.WeakKeyDictionary()
_n_pending: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, int] = weakref.WeakKeyDictionary()


def get_delivery() -> Delivery:
    """Return the bus's current `Delivery`."""
    return _delivery


def set_delivery(delivery: Delivery) -> Delivery:
    """Change the delivery mode; return the previous one.

    Messages already on their way keep their delivery times.

    Parameters
    ----------
    delivery : `Delivery`
        The new mode.
    """
    global _delivery
    previous = _delivery
    _delivery = delivery
    return previous


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

    __slots__ = ("indexed", "array_fields", "keep_history", "readers", "history", "_pending")

    def __init__(self, indexed: bool, array_fields: tuple[str, ...], keep_history: bool) -> None:
        self.indexed = indexed
        self.array_fields = array_fields
        self.keep_history = keep_history
        self.readers: list[ReadTopic] = []
        # SAL index: latest sample; dict order is the order of the last writes.
        self.history: dict[int, typing.Any] = {}
        # Unordered mode: reader: (due time, message) not yet delivered, oldest first.
        self._pending: dict[ReadTopic, collections.deque[tuple[float, typing.Any]]] = {}

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
        delivery = _delivery
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
            if delivery.ordered:
                if loop is running_loop:
                    loop.call_soon(reader._deliver, data)
                elif loop.is_running():
                    # The reader's loop runs in another thread.
                    loop.call_soon_threadsafe(reader._deliver, data)
            else:
                delay = delivery.draw_delay()
                if loop is running_loop:
                    self._schedule(loop, reader, data, delay)
                elif loop.is_running():
                    loop.call_soon_threadsafe(self._schedule, loop, reader, data, delay)
        for reader in stale:
            self.remove_reader(reader)

    def _schedule(
        self, loop: asyncio.AbstractEventLoop, reader: ReadTopic, data: typing.Any, delay: float
    ) -> None:
        """Deliver ``data`` to ``reader`` after ``delay``, but not before earlier samples of this topic.

        Called in the reader's event loop.
        """
        queue = self._pending.get(reader)
        due = loop.time() + delay
        if queue is None:
            queue = collections.deque()
            self._pending[reader] = queue
            loop.call_at(due, self._deliver_due, loop, reader)
        elif queue[-1][0] > due:
            due = queue[-1][0]
        queue.append((due, data))
        _n_pending[loop] = _n_pending.get(loop, 0) + 1
        if due > _latest_due.get(loop, 0.0):
            _latest_due[loop] = due

    def _deliver_due(self, loop: asyncio.AbstractEventLoop, reader: ReadTopic) -> None:
        """Deliver the oldest sample for ``reader`` if it is due; schedule the next."""
        queue = self._pending.get(reader)
        if queue is None:
            return
        # One message per event-loop iteration, as in ordered mode, so that a
        # reader's callback loop keeps up with a burst of due messages.
        if queue[0][0] <= loop.time():
            _n_pending[loop] -= 1
            reader._deliver(queue.popleft()[1])
        if not queue:
            del self._pending[reader]
        elif queue[0][0] <= loop.time():
            loop.call_soon(self._deliver_due, loop, reader)
        else:
            loop.call_at(queue[0][0], self._deliver_due, loop, reader)


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
    """Wait until every message published in this event loop before this call has been handed
    to its readers (in unordered mode: until the latest delayed message is due).
    """
    loop = asyncio.get_running_loop()
    while _n_pending.get(loop, 0) > 0:
        await asyncio.sleep(max(0.0, _latest_due.get(loop, 0.0) - loop.time()))
    future = loop.create_future()
    loop.call_soon(future.set_result, None)
    await future
