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

"""Controller: the server side of a SAL component."""

from __future__ import annotations

__all__ = ["Controller", "SHUTDOWN_DELAY"]

import asyncio
import logging
import types
import typing

from . import _bus
from .base import ExpectedError
from .domain import Domain
from .sal_info import SalInfo
from .sal_log_handler import SalLogHandler
from .topics.controller_command import ControllerCommand
from .topics.controller_event import ControllerEvent
from .topics.controller_telemetry import ControllerTelemetry

#: Time (s) between stopping a controller's tasks and closing its domain,
#: so that readers' callbacks can handle the last messages. Much shorter than
#: the real 1 s: the simulated SAL delivers every message written before
#: closing first (``delivery_barrier``), so only the callbacks remain; a
#: script run closes several controllers and a test run closes thousands.
SHUTDOWN_DELAY = 0.02


class Controller:
    """A SAL component: reads its commands, writes its events and telemetry.

    Attributes ``cmd_<name>`` (`ControllerCommand`, unless ``write_only``),
    ``evt_<name>`` (`ControllerEvent`) and ``tel_<name>``
    (`ControllerTelemetry`) are created for each topic. The controller has
    its own `Domain`, whose default identity is the controller's
    ``name_index``, and starts itself (``start_task``).

    Parameters
    ----------
    name : `str`
        SAL component name.
    index : `int`, optional
        SAL index.
    do_callbacks : `bool`, optional
        Set each ``cmd_<name>.callback`` to method ``do_<name>`` at start?
        The set of ``do_`` methods must then match the commands exactly.
    write_only : `bool`, optional
        Read no commands?
    allow_missing_callbacks : `bool`, optional
        With ``do_callbacks``: allow missing ``do_`` methods (those commands
        fail with "This command is not supported").
    extra_commands : `set` [`str`], optional
        Commands for which a ``do_`` method may exist although the interface
        lacks them.
    discard_out_of_order_telemetry, discard_out_of_order_events : `bool`, optional
        Passed to `SalInfo`.

    Raises
    ------
    ValueError
        If ``do_callbacks`` and ``write_only`` are both true, or
        ``allow_missing_callbacks`` is true without ``do_callbacks``.
    TypeError
        If ``do_callbacks`` and the ``do_`` methods do not match the commands.
    RuntimeError
        If the component has no ``logLevel`` or ``logMessage`` event.
    """

    def __init__(
        self,
        name: str,
        index: int | None = None,
        *,
        do_callbacks: bool = False,
        write_only: bool = False,
        allow_missing_callbacks: bool = False,
        extra_commands: typing.Iterable[str] = frozenset(),
        discard_out_of_order_telemetry: bool = True,
        discard_out_of_order_events: bool = True,
    ) -> None:
        if do_callbacks and write_only:
            raise ValueError("Cannot specify do_callbacks and write_only")
        if allow_missing_callbacks and not do_callbacks:
            raise ValueError("Cannot specify allow_missing_callbacks without do_callbacks")
        self.isopen = False
        self.start_called = False
        self._do_callbacks = do_callbacks
        self.done_task: asyncio.Future = asyncio.get_running_loop().create_future()
        domain = Domain()
        try:
            self.salinfo = SalInfo(
                domain=domain,
                name=name,
                index=index,
                write_only=write_only,
                discard_out_of_order_telemetry=discard_out_of_order_telemetry,
                discard_out_of_order_events=discard_out_of_order_events,
            )
            domain.default_identity = self.salinfo.name_index
            self.salinfo.identity = self.salinfo.name_index
            self.log = self.salinfo.log
            if "logLevel" not in self.salinfo.event_names or "logMessage" not in self.salinfo.event_names:
                raise RuntimeError(f"{name} has no logLevel or logMessage event")
            if do_callbacks:
                self._check_do_methods(set(extra_commands), allow_missing_callbacks)
            if not write_only:
                for cmd_name in self.salinfo.command_names:
                    setattr(self, "cmd_" + cmd_name, ControllerCommand(self.salinfo, cmd_name))
            for evt_name in self.salinfo.event_names:
                setattr(self, "evt_" + evt_name, ControllerEvent(self.salinfo, evt_name))
            for tel_name in self.salinfo.telemetry_names:
                setattr(self, "tel_" + tel_name, ControllerTelemetry(self.salinfo, tel_name))
            self._sal_log_handler = SalLogHandler(controller=self)
            self.log.addHandler(self._sal_log_handler)
            self.delay_start_event = asyncio.Event()
            self.delay_start_event.set()
        except Exception:
            domain.basic_close()
            raise
        self.isopen = True
        self.start_called = True
        self.start_task = asyncio.create_task(self._protected_start())

    @property
    def domain(self) -> Domain:
        """The controller's domain."""
        return self.salinfo.domain

    def _check_do_methods(self, extra_commands: set[str], allow_missing_callbacks: bool) -> None:
        command_names = set(self.salinfo.command_names)
        do_names = {name[3:] for name in dir(self) if name.startswith("do_")}
        missing = command_names - do_names
        extra = do_names - command_names - extra_commands
        if missing and allow_missing_callbacks:
            for cmd_name in missing:
                setattr(self, f"do_{cmd_name}", self._unsupported_command)
            missing = set()
        if missing or extra:
            problems = []
            if missing:
                problems.append(f"must add {', '.join(sorted('do_' + name for name in missing))} methods")
            if extra:
                problems.append(f"must remove {', '.join(sorted('do_' + name for name in extra))} methods")
            raise TypeError("This class " + " and ".join(problems))

    async def _unsupported_command(self, data: typing.Any) -> None:
        raise ExpectedError("This command is not supported")

    async def _protected_start(self) -> None:
        try:
            await self.start()
            await self.start_phase2()
        except asyncio.CancelledError:
            raise
        except Exception as e:
            self.log.exception("Start failed")
            await self.close(exception=e, cancel_start=False)
            raise

    async def start(self) -> None:
        """Start the controller: wait for remotes in its domain, then read commands.

        Subclasses may override (calling ``super().start()`` first).
        """
        await asyncio.sleep(0)
        await self.delay_start_event.wait()
        remote_start_tasks = [
            salinfo.start_task
            for salinfo in list(self.domain.salinfo_set)
            if salinfo is not self.salinfo and salinfo.start_called
        ]
        if remote_start_tasks:
            await asyncio.gather(*remote_start_tasks)
        await self.salinfo.start()
        if self._do_callbacks:
            for cmd_name in self.salinfo.command_names:
                getattr(self, "cmd_" + cmd_name).callback = getattr(self, "do_" + cmd_name)
        self._sal_log_handler.flush_buffer()
        await self.put_log_level()

    async def start_phase2(self) -> None:
        """Second start phase, after `start`; a hook for subclasses."""
        pass

    async def put_log_level(self) -> None:
        """Write the ``logLevel`` event."""
        await self.evt_logLevel.set_write(level=self.log.getEffectiveLevel(), force_output=True)

    async def do_setLogLevel(self, data: typing.Any) -> None:
        """Set the log level of ``self.log`` and report it."""
        self.log.setLevel(data.level)
        await self.put_log_level()

    async def close_tasks(self) -> None:
        """Stop the controller's own tasks; a hook for subclasses, called by `close`."""
        pass

    async def close(self, exception: Exception | None = None, cancel_start: bool = True) -> None:
        """Shut down: stop tasks, let readers see the last messages, close the domain.

        ``done_task`` is then set (to ``exception`` if given). Idempotent.

        Parameters
        ----------
        exception : `Exception`, optional
            Why the controller is closing; ``done_task`` raises it.
        cancel_start : `bool`, optional
            Cancel ``start_task`` if it is still running?
        """
        if not self.isopen:
            # Closed or closing: wait until closed, ignoring any exception
            # (it is in done_task for whoever wants it).
            try:
                await self.done_task
            except Exception:
                pass
            return
        self.isopen = False
        try:
            if cancel_start and not self.start_task.done():
                self.start_task.cancel()
            await self.close_tasks()
        except Exception:
            self.log.exception("close_tasks failed; continuing to close")
        finally:
            self.log.removeHandler(self._sal_log_handler)
            try:
                await _bus.delivery_barrier()
                await asyncio.sleep(SHUTDOWN_DELAY)
                await self.domain.close()
            except Exception:
                logging.getLogger(__name__).exception("Failed to close the domain")
            if not self.done_task.done():
                if exception is not None:
                    self.done_task.set_exception(exception)
                else:
                    self.done_task.set_result(None)

    async def __aenter__(self) -> Controller:
        await self.start_task
        return self

    async def __aexit__(
        self,
        type: type[BaseException] | None,
        value: BaseException | None,
        traceback: types.TracebackType | None,
    ) -> None:
        await self.close()
