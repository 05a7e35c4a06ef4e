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


"""Mock ATSpectrograph (LATISS filter, grating, linear stage) and state-only CSCs.

`ATSpectrographCsc` holds LATISS's filters and gratings (a `CameraProfile`
with ``gratings``); the camera asks it which physical filter is in the beam
(``FILTER~GRATING``). `StateOnlyCsc` is a CSC that only has a summary
state: MTDome and MTDomeTrajectory, which upstream LSSTCam flats check.
"""

from __future__ import annotations

__all__ = ["ATSpectrographCsc", "StateOnlyCsc", "WheelState"]

import enum
import typing

from ...cameras import LATISS, CameraProfile
from ...sal import State, salobj
from ..faults import CameraFaults
from ..timing import Timing
from .base import SimCsc

LINEAR_STAGE_RANGE = (0.0, 75.0)
"""Linear stage travel reported in ``settingsAppliedValues`` (mm from home)."""


class WheelState(enum.IntEnum):
    """Filter/grating wheel state as the mock reports it (``fwState``/``gwState``)."""

    STATIONARY = 3
    MOVING = 2


class ATSpectrographCsc(SimCsc):
    """Mock ATSpectrograph: filter wheel, disperser wheel and linear stage.

    At start it publishes ``settingsAppliedValues`` (``filterNames`` and
    ``gratingNames`` comma-separated, as ts_observatory_control splits them;
    the linear stage range), ``reportedFilterPosition``,
    ``reportedDisperserPosition``, ``reportedLinearStagePosition`` and the
    ``*InPosition`` events, so late joiners read them as history.

    ``changeFilter(filter, name)`` and ``changeDisperser(disperser, name)``
    select by ``name`` when it is not blank, else by slot (0..3); the wheel
    reports ``*InPosition`` false, moves for `Timing.spectrograph_move_time`
    (no motion when already there), then publishes the new
    ``reported*Position`` and ``*InPosition`` true before the ack.
    ``moveLinearStage(distanceFromHome)`` does the same for the stage.
    Refused with the reason: not ENABLED, an unknown name or slot, a stage
    position out of range, a wheel already moving. Faults (`CameraFaults`):
    ``fail_set_filter`` fails a filter or grating change after
    ``*InPosition`` false, the old element staying in place,
    ``fail_set_grating`` only a grating change; ``never_end_set_filter``
    never ends either.

    Parameters
    ----------
    profile : `CameraProfile`, optional
        The camera whose spectrograph this is (LATISS).
    initial_state : `State`, optional
        Initial summary state.
    timing : `Timing`, optional
        Durations and time scale.
    faults : `CameraFaults`, optional
        ``initial_filter`` (default the profile's default filter) and the
        filter change faults.

    Attributes
    ----------
    current_filter, current_grating : `str`
        The filter and grating in the beam.
    linear_stage_position : `float`
        mm from home.
    """

    def __init__(
        self,
        profile: CameraProfile = LATISS,
        initial_state: State = State.ENABLED,
        timing: Timing | None = None,
        faults: CameraFaults | None = None,
    ) -> None:
        if not profile.gratings:
            raise ValueError(f"{profile.instrument} has no spectrograph (no gratings in its profile)")
        self.profile = profile
        self.timing = timing or Timing()
        self.faults = faults or CameraFaults()
        initial = self.faults.initial_filter or profile.default_filter
        if initial not in profile.filters:
            raise ValueError(
                f"initial_filter={initial!r} is not an {profile.instrument} filter; "
                f"use one of {', '.join(profile.filters)}"
            )
        self.current_filter = initial
        self.current_grating = profile.default_grating
        self.linear_stage_position = 0.0
        self._moving: set[str] = set()
        super().__init__(
            name=profile.filter_component,
            initial_state=initial_state,
            configurations="Normal",
            overrides_available="Normal",
        )

    @property
    def physical_filter(self) -> str:
        """The butler physical filter in the beam, e.g. ``SDSSr_65mm~empty``."""
        return self.profile.physical_filter(self.current_filter, self.current_grating)

    async def start(self) -> None:
        await super().start()
        await self.evt_settingsAppliedValues.set_write(
            host="127.0.0.1",
            port=9999,
            moveTimeout=float(self.timing.spectrograph_move_time),
            linearStageMinPos=LINEAR_STAGE_RANGE[0],
            linearStageMaxPos=LINEAR_STAGE_RANGE[1],
            filterNames=",".join(self.profile.filters),
            gratingNames=",".join(self.profile.gratings),
            instrumentPort=1,
        )
        await self._report_filter()
        await self._report_grating()
        await self.evt_reportedLinearStagePosition.set_write(position=self.linear_stage_position)
        for topic in (
            self.evt_filterInPosition,
            self.evt_disperserInPosition,
            self.evt_linearStageInPosition,
        ):
            await topic.set_write(inPosition=True)
        await self.evt_fwState.set_write(state=int(WheelState.STATIONARY))
        await self.evt_gwState.set_write(state=int(WheelState.STATIONARY))

    async def _report_filter(self) -> None:
        name = self.current_filter
        await self.evt_reportedFilterPosition.set_write(
            slot=self.profile.filters.index(name),
            name=name,
            band=self.profile.filter_band(name),
            force_output=True,
        )

    async def _report_grating(self) -> None:
        name = self.current_grating
        await self.evt_reportedDisperserPosition.set_write(
            slot=self.profile.gratings.index(name), name=name, band=name, force_output=True
        )

    @staticmethod
    def _select(kind: str, names: tuple[str, ...], slot: int, name: str) -> str:
        if name.strip():
            if name not in names:
                raise salobj.ExpectedError(f"Unknown {kind} {name!r}; the {kind}s are {', '.join(names)}")
            return name
        if not 0 <= slot < len(names):
            raise salobj.ExpectedError(
                f"{kind} slot {slot} out of range 0..{len(names) - 1} ({', '.join(names)})"
            )
        return names[slot]

    async def _move(self, what: str, in_position: typing.Any, state: typing.Any | None) -> None:
        if what in self._moving:
            raise salobj.ExpectedError(f"The {what} is already moving; wait for it to end")
        self._moving.add(what)
        try:
            await in_position.set_write(inPosition=False)
            if state is not None:
                await state.set_write(state=int(WheelState.MOVING))
            if what != "linear stage":
                if self.faults.never_end_set_filter:
                    self.log.warning(f"Simulated fault: the {what} change never ends")
                    await self.hang()
                reason = self.faults.set_filter_failure
                if reason is None and what == "grating":
                    reason = self.faults.set_grating_failure
                if reason is not None:
                    await in_position.set_write(inPosition=True)
                    raise salobj.ExpectedError(f"{what} change failed: {reason}; the old {what} is in place")
            await self.timing.sleep(self.timing.spectrograph_move_time)
        finally:
            self._moving.discard(what)
            if state is not None:
                await state.set_write(state=int(WheelState.STATIONARY))

    async def do_changeFilter(self, data: salobj.type_hints.BaseMsgType) -> None:
        """Put a filter in the beam (by name, else by slot)."""
        self.assert_enabled("changeFilter")
        name = self._select("filter", self.profile.filters, data.filter, data.name)
        if name != self.current_filter:
            await self._move("filter", self.evt_filterInPosition, self.evt_fwState)
            self.current_filter = name
        await self._report_filter()
        await self.evt_filterInPosition.set_write(inPosition=True)

    async def do_changeDisperser(self, data: salobj.type_hints.BaseMsgType) -> None:
        """Put a grating in the beam (by name, else by slot)."""
        self.assert_enabled("changeDisperser")
        name = self._select("grating", self.profile.gratings, data.disperser, data.name)
        if name != self.current_grating:
            await self._move("grating", self.evt_disperserInPosition, self.evt_gwState)
            self.current_grating = name
        await self._report_grating()
        await self.evt_disperserInPosition.set_write(inPosition=True)

    async def do_moveLinearStage(self, data: salobj.type_hints.BaseMsgType) -> None:
        """Move the linear stage to ``distanceFromHome`` mm."""
        self.assert_enabled("moveLinearStage")
        low, high = LINEAR_STAGE_RANGE
        if not low <= data.distanceFromHome <= high:
            raise salobj.ExpectedError(
                f"moveLinearStage: {data.distanceFromHome} mm is outside the stage range {low}..{high} mm"
            )
        await self._move("linear stage", self.evt_linearStageInPosition, None)
        self.linear_stage_position = float(data.distanceFromHome)
        await self.evt_reportedLinearStagePosition.set_write(position=self.linear_stage_position)
        await self.evt_linearStageInPosition.set_write(inPosition=True)

    async def do_homeLinearStage(self, data: salobj.type_hints.BaseMsgType) -> None:
        """Move the linear stage home (0 mm)."""
        self.assert_enabled("homeLinearStage")
        await self._move("linear stage", self.evt_linearStageInPosition, None)
        self.linear_stage_position = 0.0
        await self.evt_reportedLinearStagePosition.set_write(position=0.0)
        await self.evt_linearStageInPosition.set_write(inPosition=True)


class StateOnlyCsc(SimCsc):
    """A CSC that only has a summary state (e.g. MTDome, MTDomeTrajectory).

    Parameters
    ----------
    name : `str`
        SAL component.
    initial_state : `State`, optional
        Initial summary state.
    """

    def __init__(self, name: str, initial_state: State = State.ENABLED) -> None:
        super().__init__(name=name, initial_state=initial_state)
