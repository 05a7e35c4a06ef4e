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

"""Base class of topics that are read: events, telemetry and (for controllers) commands."""

from __future__ import annotations

__all__ = ["QueueCapacityChecker", "ReadTopic", "DEFAULT_QUEUE_LEN", "MIN_QUEUE_LEN"]

import asyncio
import bisect
import collections
import inspect
import logging
import typing
import warnings

from ..base import ExpectedError
from .base_topic import BaseTopic

if typing.TYPE_CHECKING:
    from ..sal_info import SalInfo

#: Default length of the read queue.
DEFAULT_QUEUE_LEN = 100

#: Smallest allowed length of the read queue.
MIN_QUEUE_LEN = 10

_CALLBACK_ERROR = "Not allowed because there is a callback function"


class QueueCapacityChecker:
    """Log how full a read queue is, as salobj does when the queue is read.

    Warning levels: 5-10 elements (whichever is nearest a tenth of the
    queue), half full (queues of 20 or more), 9/10 full, and full. Reaching
    a level logs once (a warning, or an error when full, since data may
    have been lost); the level is re-armed when the queue has emptied to
    half of the level below.

    Parameters
    ----------
    descr : `str`
        What the queue is, e.g. ``evt_imageInOODS python read queue``.
    log : `logging.Logger`
        Where to log.
    queue_len : `int`
        Length of the queue.
    """

    def __init__(self, descr: str, log: logging.Logger, queue_len: int) -> None:
        self.descr = descr
        self.log = log
        self.queue_len = queue_len
        levels = {min(10, max(5, queue_len // 10)), queue_len * 9 // 10, queue_len}
        if queue_len >= 20:
            levels.add(queue_len // 2)
        self.warn_levels = tuple(sorted(levels))
        self._level = 0  # index of the next level to log

    def check_nitems(self, nitems: int) -> bool:
        """Log if ``nitems`` reached a new level; return True if it logged."""
        while self._level > 0 and nitems <= self.warn_levels[self._level - 1] // 2:
            self._level -= 1
        if self._level >= len(self.warn_levels) or nitems < self.warn_levels[self._level]:
            return False
        self._level = bisect.bisect_right(self.warn_levels, nitems)
        if nitems >= self.queue_len:
            self.log.error(f"{self.descr} is full ({self.queue_len} elements); data may be lost")
        else:
            self.log.warning(f"{self.descr} is filling: {nitems} of {self.queue_len} elements")
        return True


class ReadTopic(BaseTopic):
    """A topic that receives messages.

    Each reader has a bounded queue of unread messages (``next``,
    ``get_oldest``) and the latest message ever received (``get``,
    ``aget``). When the queue is full the oldest message is dropped, with
    no warning on arrival: as in salobj, a topic cannot know whether
    anyone means to read it, so a topic nobody reads just keeps its newest
    ``queue_len`` messages. How full the queue is gets checked when it is
    read (``next`` and the callback loop, `QueueCapacityChecker`).

    Parameters
    ----------
    salinfo : `SalInfo`
        SAL component information.
    attr_name : `str`
        Topic attribute name, e.g. ``evt_summaryState``.
    max_history : `int`
        Number of historical samples to read when the component starts
        (0 or 1 in practice; only events keep history).
    queue_len : `int`, optional
        Length of the read queue.
    filter_ackcmd : `bool`, optional
        Only accept acks meant for this SalInfo (ackcmd topics only).

    Raises
    ------
    ValueError
        If ``queue_len`` or ``max_history`` is out of range.
    """

    def __init__(
        self,
        *,
        salinfo: SalInfo,
        attr_name: str,
        max_history: int,
        queue_len: int = DEFAULT_QUEUE_LEN,
        filter_ackcmd: bool = True,
    ) -> None:
        super().__init__(salinfo=salinfo, attr_name=attr_name)
        if max_history < 0:
            raise ValueError(f"max_history={max_history} must be >= 0")
        if queue_len <= MIN_QUEUE_LEN:
            raise ValueError(f"queue_len={queue_len} must be > MIN_QUEUE_LEN={MIN_QUEUE_LEN}")
        if max_history > queue_len:
            raise ValueError(f"max_history={max_history} must be <= queue_len={queue_len}")
        if salinfo.indexed and salinfo.index == 0 and max_history > 1:
            raise ValueError(
                f"max_history={max_history} must be 0 or 1 when reading all indices of an indexed component"
            )
        if max_history > 0 and self.topic_info.kind != "event":
            raise ValueError(f"max_history must be 0 for {self.topic_info.kind} topics")
        self.max_history = max_history
        self.filter_ackcmd = filter_ackcmd
        self.isopen = True
        self.allow_multiple_callbacks = False
        self.loop: asyncio.AbstractEventLoop | None = None
        self._data_queue: collections.deque = collections.deque(maxlen=queue_len)
        self._current_data: typing.Any = None
        self._next_future: asyncio.Future | None = None
        self._num_next_waiters = 0
        self._aget_future: asyncio.Future | None = None
        self._callback: typing.Callable | None = None
        self._callback_task: asyncio.Task | None = None
        self._callback_wakeup: asyncio.Future | None = None
        self._callback_tasks: set[asyncio.Task] = set()
        self.python_queue_length_checker = QueueCapacityChecker(
            descr=f"{attr_name} python read queue", log=self.log, queue_len=queue_len
        )
        salinfo.add_reader(self)

    @property
    def sal_index(self) -> int:
        """SAL index of the reader (0 reads every index)."""
        return self.salinfo.index

    @property
    def nqueued(self) -> int:
        """Number of unread messages in the queue."""
        return len(self._data_queue)

    @property
    def queue_len(self) -> int:
        """Length of the read queue."""
        return typing.cast(int, self._data_queue.maxlen)

    @property
    def has_callback(self) -> bool:
        """Is there a callback function?"""
        return self._callback is not None

    @property
    def has_data(self) -> bool:
        """Has any message been received?

        Raises
        ------
        RuntimeError
            If the SalInfo has not started.
        """
        self.salinfo.assert_started()
        return self._current_data is not None

    @property
    def callback(self) -> typing.Callable | None:
        """Function called with each message, or None.

        Setting a function flushes the queue; messages are then given to the
        function one at a time (concurrently if ``allow_multiple_callbacks``).
        While a callback is set, ``next``, ``aget``, ``flush`` and
        ``get_oldest`` raise `RuntimeError`.
        """
        return self._callback

    @callback.setter
    def callback(self, func: typing.Callable | None) -> None:
        if func is None:
            self._callback = None
            self._stop_callback_loop()
            return
        if not callable(func):
            raise TypeError(f"callback={func!r} must be callable")
        if not inspect.iscoroutinefunction(func):
            warnings.warn(
                "A synchronous callback function is deprecated; use an async function",
                DeprecationWarning,
                stacklevel=2,
            )
        self._data_queue.clear()
        self._callback = func
        self._start_callback_loop()

    def get(self) -> typing.Any:
        """Return the latest message received, or None if none.

        Raises
        ------
        RuntimeError
            If the SalInfo has not started.
        """
        self.salinfo.assert_started()
        return self._current_data

    async def aget(self, timeout: float | None = None) -> typing.Any:
        """Return the latest message, waiting for one if none has ever been received.

        Parameters
        ----------
        timeout : `float`, optional
            Maximum time to wait (s); None for no limit.

        Raises
        ------
        asyncio.TimeoutError
            If no message arrives in time.
        RuntimeError
            If there is a callback function or the SalInfo has not started.
        """
        if self.has_callback:
            raise RuntimeError(_CALLBACK_ERROR)
        self.salinfo.assert_started()
        if self._current_data is not None:
            return self._current_data
        if self._aget_future is None or self._aget_future.done():
            self._aget_future = asyncio.get_running_loop().create_future()
        return await asyncio.wait_for(asyncio.shield(self._aget_future), timeout=timeout)

    async def next(self, *, flush: bool, timeout: float | None = None) -> typing.Any:
        """Pop the oldest unread message, waiting for one if the queue is empty.

        Concurrent callers waiting on an empty queue all get the same message.

        Parameters
        ----------
        flush : `bool`
            Discard the queued messages first?
        timeout : `float`, optional
            Maximum time to wait (s); None for no limit.

        Raises
        ------
        asyncio.TimeoutError
            If no message arrives in time.
        RuntimeError
            If there is a callback function or the SalInfo has not started.
        """
        if self.has_callback:
            raise RuntimeError(_CALLBACK_ERROR)
        self.salinfo.assert_started()
        if flush:
            self._data_queue.clear()
        self.python_queue_length_checker.check_nitems(len(self._data_queue))
        if self._data_queue:
            return self._pop()
        if self._next_future is None or self._next_future.done():
            self._next_future = asyncio.get_running_loop().create_future()
        future = self._next_future
        self._num_next_waiters += 1
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout=timeout)
        finally:
            self._num_next_waiters -= 1
            if self._num_next_waiters == 0 and not future.done():
                # Nobody is waiting any more: do not swallow the next message.
                future.cancel()
                if self._next_future is future:
                    self._next_future = None

    def flush(self) -> None:
        """Discard the unread messages (``get`` and ``aget`` are not affected).

        Raises
        ------
        RuntimeError
            If there is a callback function.
        """
        if self.has_callback:
            raise RuntimeError(_CALLBACK_ERROR)
        self._data_queue.clear()

    def get_oldest(self) -> typing.Any:
        """Pop and return the oldest unread message, or None if the queue is empty.

        Raises
        ------
        RuntimeError
            If there is a callback function or the SalInfo has not started.
        """
        self.salinfo.assert_started()
        if self.has_callback:
            raise RuntimeError(_CALLBACK_ERROR)
        if self._data_queue:
            return self._pop()
        return None

    async def close(self) -> None:
        """Stop reading: cancel waiters and the callback loop. Idempotent."""
        self.basic_close()

    def basic_close(self) -> None:
        """Synchronous version of `close`."""
        if not self.isopen:
            return
        self.isopen = False
        self._callback = None
        self._stop_callback_loop()
        for task in list(self._callback_tasks):
            task.cancel()
        for future in (self._next_future, self._aget_future):
            if future is not None and not future.done():
                future.cancel()
        self._data_queue.clear()

    # Internals used by SalInfo and the bus.

    def _pop(self) -> typing.Any:
        return self._data_queue.popleft()

    def _deliver(self, data: typing.Any) -> None:
        """Receive one message from the bus (called by the event loop)."""
        if self.isopen:
            self._queue_one(data)

    def _queue_one(self, data: typing.Any) -> None:
        """Store one received message and wake whoever waits for it."""
        self._current_data = data
        if self._aget_future is not None and not self._aget_future.done():
            self._aget_future.set_result(data)
        if self._callback is None and self._next_future is not None and not self._next_future.done():
            self._next_future.set_result(data)
            return
        queue = self._data_queue
        queue.append(data)  # a full deque drops its oldest message
        if self._callback_wakeup is not None and not self._callback_wakeup.done():
            self._callback_wakeup.set_result(None)

    def _start_reading(self, loop: asyncio.AbstractEventLoop) -> None:
        """Called by SalInfo.start, before history is queued."""
        self.loop = loop
        if self._callback is not None:
            self._start_callback_loop()

    def _start_callback_loop(self) -> None:
        if self._callback_task is not None and not self._callback_task.done():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            # Started later, by SalInfo.start.
            return
        self._callback_task = loop.create_task(self._callback_loop())

    def _stop_callback_loop(self) -> None:
        if self._callback_task is not None and not self._callback_task.done():
            self._callback_task.cancel()
        self._callback_task = None

    async def _callback_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while self._callback is not None:
            if not self._data_queue:
                self._callback_wakeup = loop.create_future()
                await self._callback_wakeup
                continue
            self.python_queue_length_checker.check_nitems(len(self._data_queue))
            data = self._pop()
            if self.allow_multiple_callbacks:
                task = loop.create_task(self._run_callback(data))
                self._callback_tasks.add(task)
                task.add_done_callback(self._callback_tasks.discard)
            else:
                await self._run_callback(data)

    async def _run_callback(self, data: typing.Any) -> None:
        callback = self._callback
        if callback is None:
            return
        try:
            result = callback(data)
            if inspect.isawaitable(result):
                await result
        except asyncio.CancelledError:
            raise
        except ExpectedError as e:
            self.log.error("Callback %s failed with data=%s: %s", callback, data, e)
        except Exception:
            self.log.exception("Callback %s failed with data=%s", callback, data)
