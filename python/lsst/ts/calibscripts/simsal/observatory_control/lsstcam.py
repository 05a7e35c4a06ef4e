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


"""Stand-in for ``lsst.ts.observatory.control.maintel.lsstcam.LSSTCam`` (subset).

The same image taking as `ComCam` (`BaseCamera`) on MTCamera,
MTHeaderService and MTOODS, and the LSSTCam filter rule (v0.52): a filter
change needs the main telescope (``mtcs``) to stop tracking and park the
rotator first, so without an ``mtcs`` a ``filter`` other than the one in the
beam is refused with `RuntimeError` before any command is sent; the
filter already in the beam needs nothing. Changes allow 120 s.
"""

from __future__ import annotations

__all__ = ["LSSTCam", "LSSTCamUsages"]

import enum
import logging
import typing
from collections.abc import Awaitable, Callable

from .. import salobj
from .base_camera import CAMERA_TOPICS, FILTER_TOPICS, FilterChangerCamera, usage_table

COMPONENTS = ["MTCamera", "MTHeaderService", "MTOODS"]


class LSSTCamUsages(enum.IntEnum):
    """Intended usages of the LSSTCam group (ts_observatory_control values)."""

    All = 0
    StateTransition = 1
    MonitorState = 1 << 1
    MonitorHeartBeat = 1 << 2
    TakeImage = 1 << 3
    TakeImageFull = 1 << 4
    DryTest = 1 << 6


_USAGES = usage_table(
    "mtcamera", "mtheaderservice", "mtoods", CAMERA_TOPICS + FILTER_TOPICS + ["ccsCommandState"]
)


class LSSTCam(FilterChangerCamera):
    """The LSSTCam group: MTCamera, MTHeaderService and MTOODS.

    Parameters
    ----------
    domain : `salobj.Domain`, optional
        Domain for the Remotes (a script passes ``self.domain``).
    log : `logging.Logger`, optional
        Parent logger.
    intended_usage : `int`, optional
        `LSSTCamUsages` bit mask; None (default) reads every topic.
    tcs_ready_to_take_data : callable, optional
        Not used for calibrations (accepted for compatibility).
    mtcs : `object`, optional
        The main telescope group. Needed to change the filter: its
        ``stop_tracking()`` and ``move_rotator(position=0.0)`` are awaited
        before ``setFilter``.
    """

    filter_change_timeout = 120.0

    def __init__(
        self,
        domain: salobj.Domain | None = None,
        log: logging.Logger | None = None,
        intended_usage: int | None = None,
        tcs_ready_to_take_data: Callable[[], Awaitable] | None = None,
        mtcs: typing.Any = None,
    ) -> None:
        super().__init__(
            components=list(COMPONENTS),
            usages=_USAGES,
            domain=domain,
            log=log,
            intended_usage=intended_usage,
            tcs_ready_to_take_data=tcs_ready_to_take_data,
        )
        self.mtcs = mtcs

    async def setup_instrument(self, **kwargs: typing.Any) -> None:
        """Set up the instrument: ``filter`` (None or absent does nothing).

        Raises
        ------
        RuntimeError
            A keyword other than ``filter``; the current filter is unknown;
            or the filter differs from the one in the beam and there is no
            ``mtcs`` to prepare the telescope for the change.
        salobj.AckError
            MTCamera refused or failed the filter change.
        """
        self._check_kwargs(**kwargs)
        filter_name = kwargs.get("filter")
        if filter_name is not None:
            await self.setup_filter(filter=filter_name)

    async def setup_filter(  # type: ignore[override]
        self, filter: str
    ) -> salobj.type_hints.BaseMsgType | None:
        """Put ``filter`` in the beam unless it is there; ``endSetFilter`` of the change, if any.

        Raises
        ------
        RuntimeError
            The filter differs and the group has no ``mtcs``; or the current
            filter is unknown.
        salobj.AckError
            MTCamera refused or failed the change.
        """
        current = await self.get_current_filter()
        if current == filter:
            self.log.debug(f"Filter {filter} already in place.")
            return None
        if self.mtcs is None:
            raise RuntimeError(
                f"Cannot change the LSSTCam filter without proper setup: {filter} requested, {current} in "
                "the beam and no MTCS to stop tracking and park the rotator. Create LSSTCam with mtcs, "
                "or take the flats with the filter in the beam."
            )
        await self.mtcs.stop_tracking()
        await self.mtcs.move_rotator(position=0.0)
        return await super().setup_filter(filter=filter)
