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

"""Logging handler that writes log records as the ``logMessage`` event."""

from __future__ import annotations

__all__ = ["SalLogHandler"]

import asyncio
import collections
import logging
import threading
import typing

if typing.TYPE_CHECKING:
    from .controller import Controller

#: Number of records kept while the controller is not yet running.
BUFFER_LEN = 10


class SalLogHandler(logging.Handler):
    """Write each log record as a ``logMessage`` event of a controller.

    Like any event, a record identical to the previous one is not
    written again. Records emitted before the controller is running are buffered (at most
    `BUFFER_LEN`) and written once it runs. Records from other threads are
    handed to the event loop.

    Parameters
    ----------
    controller : `Controller`
        The controller whose ``evt_logMessage`` is written.
    """

    def __init__(self, controller: Controller) -> None:
        super().__init__()
        self.controller = controller
        self.loop = asyncio.get_running_loop()
        self.thread_id = threading.get_ident()
        self._buffer: collections.deque = collections.deque(maxlen=BUFFER_LEN)
        self._formatter = logging.Formatter()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            traceback = ""
            if record.exc_info:
                traceback = record.exc_text or self._formatter.formatException(record.exc_info)
            kwargs = dict(
                name=record.name,
                level=record.levelno,
                message=message,
                traceback=traceback,
                filePath=record.pathname,
                functionName=record.funcName,
                lineNumber=record.lineno,
                process=record.process or 0,
            )
            if threading.get_ident() == self.thread_id:
                self._write(kwargs)
            elif not self.loop.is_closed():
                self.loop.call_soon_threadsafe(self._write, kwargs)
        except Exception:
            self.handleError(record)

    def _write(self, kwargs: dict[str, typing.Any]) -> None:
        salinfo = self.controller.salinfo
        if not salinfo.isopen:
            return
        if not salinfo.running:
            self._buffer.append(kwargs)
            return
        while self._buffer:
            self.controller.evt_logMessage._set_write_now(**self._buffer.popleft())
        self.controller.evt_logMessage._set_write_now(**kwargs)

    def flush_buffer(self) -> None:
        """Write the buffered records (called when the controller starts)."""
        salinfo = self.controller.salinfo
        if not salinfo.running:
            return
        while self._buffer:
            self.controller.evt_logMessage._set_write_now(**self._buffer.popleft())
