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


"""Stand-in for ``lsst.ts.observatory.control.auxtel.latiss.LATISS`` (subset).

The same image taking as `ComCam` (`BaseCamera`) on ATCamera,
ATHeaderService and ATOODS. ATCamera has no filter changer: LATISS filters
and gratings are ATSpectrograph's. `LATISS.setup_instrument` (``filter``,
``grating``, ``linear_stage``) sends ``changeFilter``, ``changeDisperser``
and ``moveLinearStage`` together under the command lock, each with a 30 s
timeout, with no "already in place" check (unlike ComCam): a name is sent as
``(filter=0, name=...)``, a slot number as ``(filter=n, name="")``.
"""

from __future__ import annotations

__all__ = ["LATISS", "LATISSUsages"]

import asyncio
import enum
import logging
import typing
from collections.abc import Awaitable, Callable

from .. import salobj
from .base_camera import CAMERA_TOPICS, BaseCamera, usage_table

COMPONENTS = ["ATCamera", "ATSpectrograph", "ATHeaderService", "ATOODS"]

SPECTROGRAPH_TOPICS = [
    "changeFilter",
    "changeDisperser",
    "moveLinearStage",
    "reportedFilterPosition",
    "reportedDisperserPosition",
    "reportedLinearStagePosition",
    "settingsAppliedValues",
]


class LATISSUsages(enum.IntEnum):
    """Intended usages of the LATISS group (ts_observatory_control values)."""

    All = 0
    StateTransition = 1
    MonitorState = 1 << 1
    MonitorHeartBeat = 1 << 2
    TakeImage = 1 << 3
    TakeImageFull = 1 << 4
    DryTest = 1 << 6


_USAGES = usage_table(
    "atcamera", "atheaderservice", "atoods", CAMERA_TOPICS, others={"atspectrograph": SPECTROGRAPH_TOPICS}
)


def _name_or_slot(value: str | int) -> tuple[int, str]:
    """``(slot, name)`` fields of a change command: a name goes as (0, name), a slot as (slot, "")."""
    if isinstance(value, str):
        return 0, value
    return int(value), ""


class LATISS(BaseCamera):
    """The LATISS group: ATCamera, ATSpectrograph, ATHeaderService and ATOODS.

    Parameters
    ----------
    domain : `salobj.Domain`, optional
        Domain for the Remotes (a script passes ``self.domain``).
    log : `logging.Logger`, optional
        Parent logger.
    intended_usage : `int`, optional
        `LATISSUsages` bit mask; None (default) reads every topic.
    tcs_ready_to_take_data : callable, optional
        Not used for calibrations (accepted for compatibility).
    """

    def __init__(
        self,
        domain: salobj.Domain | None = None,
        log: logging.Logger | None = None,
        intended_usage: int | None = None,
        tcs_ready_to_take_data: Callable[[], Awaitable] | None = None,
    ) -> None:
        super().__init__(
            components=list(COMPONENTS),
            usages=_USAGES,
            domain=domain,
            log=log,
            intended_usage=intended_usage,
            tcs_ready_to_take_data=tcs_ready_to_take_data,
        )
        self.instrument_setup_attributes = ["filter", "grating", "linear_stage"]

    @property
    def atspectrograph(self) -> salobj.Remote:
        """The ATSpectrograph Remote (``rem.atspectrograph``)."""
        return self.rem.atspectrograph

    async def setup_instrument(self, **kwargs: typing.Any) -> None:
        """Set up the spectrograph: ``filter``, ``grating`` and ``linear_stage``.

        Parameters
        ----------
        **kwargs
            ``filter`` and ``grating`` (name or slot), ``linear_stage``
            (mm from home); None or absent leaves that part alone.

        Raises
        ------
        RuntimeError
            A keyword not in `instrument_setup_attributes`.
        salobj.AckError
            ATSpectrograph refused or failed a change.
        """
        self._check_kwargs(**kwargs)
        await self.setup_atspec(
            filter=kwargs.get("filter"),
            grating=kwargs.get("grating"),
            linear_stage=kwargs.get("linear_stage"),
        )

    async def setup_atspec(
        self,
        filter: str | int | None = None,
        grating: str | int | None = None,
        linear_stage: float | None = None,
    ) -> None:
        """Send the changes asked for, together, and wait for their acks (30 s each)."""
        async with self.cmd_lock:
            commands = []
            spectrograph = self.atspectrograph
            if filter is not None:
                slot, name = _name_or_slot(filter)
                commands.append(
                    spectrograph.cmd_changeFilter.set_start(filter=slot, name=name, timeout=self.long_timeout)
                )
            if grating is not None:
                slot, name = _name_or_slot(grating)
                commands.append(
                    spectrograph.cmd_changeDisperser.set_start(
                        disperser=slot, name=name, timeout=self.long_timeout
                    )
                )
            if linear_stage is not None:
                commands.append(
                    spectrograph.cmd_moveLinearStage.set_start(
                        distanceFromHome=float(linear_stage), timeout=self.long_timeout
                    )
                )
            if commands:
                await asyncio.gather(*commands)

    async def get_setup(self) -> tuple[str, str, float]:
        """Return (filter, grating, linear stage position) as ATSpectrograph reports them.

        Raises
        ------
        asyncio.TimeoutError
            A position is not known within ``fast_timeout`` (5 s).
        """
        spectrograph = self.atspectrograph
        filter_position, disperser_position, stage_position = await asyncio.gather(
            spectrograph.evt_reportedFilterPosition.aget(timeout=self.fast_timeout),
            spectrograph.evt_reportedDisperserPosition.aget(timeout=self.fast_timeout),
            spectrograph.evt_reportedLinearStagePosition.aget(timeout=self.fast_timeout),
        )
        return filter_position.name, disperser_position.name, float(stage_position.position)

    async def get_available_instrument_setup(self) -> tuple[list[str], list[str], list[float]]:
        """Return (filter names, grating names, [stage min, stage max]) from ``settingsAppliedValues``.

        Raises
        ------
        asyncio.TimeoutError
            No ``settingsAppliedValues`` within ``fast_timeout`` (5 s).
        """
        settings = await self.atspectrograph.evt_settingsAppliedValues.aget(timeout=self.fast_timeout)
        return (
            settings.filterNames.split(","),
            settings.gratingNames.split(","),
            [float(settings.linearStageMinPos), float(settings.linearStageMaxPos)],
        )
