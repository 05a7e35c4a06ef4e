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

"""BaseCsc: a Controller with the standard summary-state machine."""

from __future__ import annotations

__all__ = ["BaseCsc"]

import asyncio
import typing

from .. import utils
from ..xml.sal_enums import State
from . import _signals
from .base import ExpectedError
from .controller import Controller

#: Interval between heartbeat events (s).
HEARTBEAT_INTERVAL = 1

#: SAL version reported in ``softwareVersions``.
SAL_VERSION = "simsal"

#: XML version reported in ``softwareVersions``.
XML_VERSION = "simsal"


class BaseCsc(Controller):
    """Base class of a Commandable SAL Component (CSC).

    Implements the summary-state machine (``start``: STANDBY→DISABLED,
    ``enable``: DISABLED→ENABLED, ``disable``: ENABLED→DISABLED,
    ``standby``: DISABLED or FAULT→STANDBY, ``exitControl``:
    STANDBY→OFFLINE then close), with ``begin_<cmd>``/``end_<cmd>`` hooks,
    `fault`, `assert_enabled` and a heartbeat every `HEARTBEAT_INTERVAL` s.

    Subclasses must set class attribute ``version``.

    Parameters
    ----------
    name : `str`
        SAL component name.
    index : `int`, optional
        SAL index.
    check_if_duplicate : `bool`, optional
        Accepted for compatibility; unused.
    initial_state : `State`, optional
        State to go to after starting; defaults to ``default_initial_state``.
    override : `str`, optional
        Configuration override for the ``start`` transition.
    simulation_mode : `int`, optional
        Simulation mode; must be in ``valid_simulation_modes``.
    allow_missing_callbacks : `bool`, optional
        Allow missing ``do_`` methods (see `Controller`).
    extra_commands : `set` [`str`], optional
        See `Controller`.
    discard_out_of_order_telemetry, discard_out_of_order_events : `bool`, optional
        Passed to `SalInfo`.

    Raises
    ------
    RuntimeError
        If the class has no ``version``.
    ValueError
        If ``initial_state`` is FAULT or not a State, or ``simulation_mode``
        is not valid.
    """

    valid_simulation_modes: typing.Sequence[int] = (0,)
    default_initial_state = State.STANDBY
    enable_cmdline_state = False
    simulation_help: str | None = None

    def __init__(
        self,
        name: str,
        index: int | None = None,
        check_if_duplicate: bool = False,
        initial_state: State | int | None = None,
        override: str = "",
        simulation_mode: int = 0,
        allow_missing_callbacks: bool = False,
        extra_commands: typing.Iterable[str] = frozenset(),
        discard_out_of_order_telemetry: bool = True,
        discard_out_of_order_events: bool = True,
    ) -> None:
        if getattr(self, "version", None) is None:
            raise RuntimeError(f"Class variable `version` is required for {type(self).__name__}")
        if initial_state is None:
            initial_state = self.default_initial_state
        try:
            initial_state = State(initial_state)
        except ValueError:
            raise ValueError(f"initial_state={initial_state!r} is not a valid State")
        if initial_state == State.FAULT:
            raise ValueError("initial_state cannot be FAULT")
        if simulation_mode not in self.valid_simulation_modes:
            raise ValueError(
                f"simulation_mode={simulation_mode} not in "
                f"valid_simulation_modes={self.valid_simulation_modes}"
            )
        self._summary_state = State(self.default_initial_state)
        self._initial_state = initial_state
        self._override = override
        self._simulation_mode = simulation_mode
        self._heartbeat_task: asyncio.Future = utils.make_done_future()
        self._background_tasks: set[asyncio.Task] = set()
        super().__init__(
            name=name,
            index=index,
            do_callbacks=True,
            allow_missing_callbacks=allow_missing_callbacks,
            extra_commands=extra_commands,
            discard_out_of_order_telemetry=discard_out_of_order_telemetry,
            discard_out_of_order_events=discard_out_of_order_events,
        )
        self._install_signal_handlers()

    def _install_signal_handlers(self) -> None:
        _signals.install_signal_handlers(self, self.signal_handler)

    def signal_handler(self) -> None:
        """Handle SIGINT/SIGTERM: close the CSC."""
        self._start_background(self.close())

    def _start_background(self, coro: typing.Coroutine) -> asyncio.Task:
        task = asyncio.create_task(coro)
        self._background_tasks.add(task)
        task.add_done_callback(self._background_tasks.discard)
        return task

    # Properties

    @property
    def summary_state(self) -> State:
        """The summary state."""
        return self._summary_state

    @property
    def disabled_or_enabled(self) -> bool:
        """Is the summary state DISABLED or ENABLED?"""
        return self._summary_state in (State.DISABLED, State.ENABLED)

    @property
    def simulation_mode(self) -> int:
        """The simulation mode."""
        return self._simulation_mode

    # Start and stop

    async def start(self) -> None:
        """Start: write ``simulationMode`` and ``softwareVersions``, start the heartbeat."""
        await super().start()
        await self.evt_simulationMode.set_write(mode=self._simulation_mode)
        await self.evt_softwareVersions.set_write(
            salVersion=SAL_VERSION, xmlVersion=XML_VERSION, cscVersion=str(self.version), subsystemVersions=""
        )
        self._heartbeat_task = asyncio.create_task(self._heartbeat_loop())

    async def start_phase2(self) -> None:
        """Report the summary state, then go to the initial state."""
        await self.handle_summary_state()
        await self._report_summary_state()
        if self._initial_state != self._summary_state:
            steps = {
                State.DISABLED: ["start"],
                State.ENABLED: ["start", "enable"],
                State.OFFLINE: ["exitControl"],
                State.STANDBY: [],
            }[self._initial_state]
            for cmd_name in steps:
                data = getattr(self, "cmd_" + cmd_name).DataType()
                if cmd_name == "start":
                    data.configurationOverride = self._override
                await getattr(self, "do_" + cmd_name)(data)

    async def close_tasks(self) -> None:
        """Stop the heartbeat and background tasks."""
        await super().close_tasks()
        _signals.remove_signal_handlers(self)
        self._heartbeat_task.cancel()
        for task in list(self._background_tasks):
            if task is not asyncio.current_task():
                task.cancel()

    async def _heartbeat_loop(self) -> None:
        while True:
            try:
                await self.evt_heartbeat.write()
            except Exception as e:
                self.log.warning(f"Heartbeat output failed: {e!r}")
            await asyncio.sleep(HEARTBEAT_INTERVAL)

    # Summary state

    def assert_enabled(self, action: str = "") -> None:
        """Raise `ExpectedError` if the summary state is not ENABLED.

        Parameters
        ----------
        action : `str`, optional
            What is not allowed (for the message).
        """
        if self._summary_state != State.ENABLED:
            raise ExpectedError(f"{action} not allowed in state={self._summary_state!r}")

    async def fault(self, code: int | None, report: str, traceback: str = "") -> None:
        """Go to FAULT and report why.

        Parameters
        ----------
        code : `int` or None
            Error code for ``errorCode``; None writes no ``errorCode``.
        report : `str`
            Description of the problem.
        traceback : `str`, optional
            Traceback, if any.
        """
        if self._summary_state == State.FAULT:
            return
        self._summary_state = State.FAULT
        if code is not None:
            await self.evt_errorCode.set_write(
                errorCode=code, errorReport=report, traceback=traceback, force_output=True
            )
        try:
            await self.handle_summary_state()
        except Exception:
            self.log.exception("handle_summary_state failed in FAULT")
        await self._report_summary_state()

    async def handle_summary_state(self) -> None:
        """Called after every summary-state change; a hook for subclasses."""
        pass

    async def _report_summary_state(self) -> None:
        await self.evt_summaryState.set_write(summaryState=self._summary_state)
        if self._summary_state != State.FAULT:
            await self.evt_errorCode.set_write(errorCode=0, errorReport="", traceback="")

    async def _do_change_state(
        self, data: typing.Any, cmd_name: str, allowed_curr_states: typing.Sequence[State], new_state: State
    ) -> None:
        curr_state = self._summary_state
        if curr_state not in allowed_curr_states:
            raise ExpectedError(f"{cmd_name} not allowed in state {curr_state!r}")
        await getattr(self, f"begin_{cmd_name}")(data)
        self._summary_state = new_state
        try:
            await getattr(self, f"end_{cmd_name}")(data)
        except Exception:
            self._summary_state = curr_state
            raise
        await self.handle_summary_state()
        await self._report_summary_state()

    async def do_start(self, data: typing.Any) -> None:
        """Go from STANDBY to DISABLED."""
        await self._do_change_state(data, "start", [State.STANDBY], State.DISABLED)

    async def do_enable(self, data: typing.Any) -> None:
        """Go from DISABLED to ENABLED."""
        await self._do_change_state(data, "enable", [State.DISABLED], State.ENABLED)

    async def do_disable(self, data: typing.Any) -> None:
        """Go from ENABLED to DISABLED."""
        await self._do_change_state(data, "disable", [State.ENABLED], State.DISABLED)

    async def do_standby(self, data: typing.Any) -> None:
        """Go from DISABLED or FAULT to STANDBY."""
        await self._do_change_state(data, "standby", [State.DISABLED, State.FAULT], State.STANDBY)

    async def do_exitControl(self, data: typing.Any) -> None:
        """Go from STANDBY to OFFLINE, then close the CSC."""
        await self._do_change_state(data, "exitControl", [State.STANDBY], State.OFFLINE)
        self._start_background(self.close())

    async def begin_start(self, data: typing.Any) -> None:
        """Called before going to DISABLED with ``start``."""
        pass

    async def end_start(self, data: typing.Any) -> None:
        """Called after going to DISABLED with ``start``; raising reverts the state."""
        pass

    async def begin_enable(self, data: typing.Any) -> None:
        """Called before ``enable``."""
        pass

    async def end_enable(self, data: typing.Any) -> None:
        """Called after ``enable``; raising reverts the state."""
        pass

    async def begin_disable(self, data: typing.Any) -> None:
        """Called before ``disable``."""
        pass

    async def end_disable(self, data: typing.Any) -> None:
        """Called after ``disable``; raising reverts the state."""
        pass

    async def begin_standby(self, data: typing.Any) -> None:
        """Called before ``standby``."""
        pass

    async def end_standby(self, data: typing.Any) -> None:
        """Called after ``standby``; raising reverts the state."""
        pass

    async def begin_exitControl(self, data: typing.Any) -> None:
        """Called before ``exitControl``."""
        pass

    async def end_exitControl(self, data: typing.Any) -> None:
        """Called after ``exitControl``; raising reverts the state."""
        pass
