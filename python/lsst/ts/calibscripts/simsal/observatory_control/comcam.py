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


"""Stand-in for ``lsst.ts.observatory.control.maintel.comcam.ComCam``.

Only the API a calibration script may use, with ts_observatory_control's
names, signatures and behaviour (v0.52): ``rem.cccamera``,
``rem.ccheaderservice``, ``rem.ccoods``, ``start_task``, ``take_bias``,
``take_darks``, ``take_flats``, ``take_imgtype`` (`BaseCamera`),
`ComCam.setup_instrument`, ``setup_filter``, ``get_current_filter``,
``get_available_filters``, ``get_available_instrument_setup``
(`FilterChangerCamera`), ``assert_all_enabled``, ``read_out_time``,
``next_group_id``, ``close`` and ``async with``.

Only FLAT calls `ComCam.setup_instrument` with the ``filter`` keyword, which
sends ``setFilter`` only when the filter differs from
``endSetFilter.filterName``.
"""

from __future__ import annotations

__all__ = ["ComCam", "ComCamUsages", "CameraSubstate"]

import enum
import logging
import typing
from collections.abc import Awaitable, Callable

from .. import salobj
from .base_camera import CAMERA_TOPICS, FILTER_TOPICS, CameraSubstate, FilterChangerCamera, usage_table

COMPONENTS = ["CCCamera", "CCHeaderService", "CCOODS"]


class ComCamUsages(enum.IntEnum):
    """Intended usages of the ComCam group (ts_observatory_control values)."""

    All = 0
    StateTransition = 1
    MonitorState = 1 << 1
    MonitorHeartBeat = 1 << 2
    TakeImage = 1 << 3
    TakeImageFull = 1 << 4
    DryTest = 1 << 6


_USAGES = usage_table("cccamera", "ccheaderservice", "ccoods", CAMERA_TOPICS + FILTER_TOPICS)


class ComCam(FilterChangerCamera):
    """The LSSTComCam group: CCCamera, CCHeaderService and CCOODS.

    Parameters
    ----------
    domain : `salobj.Domain`, optional
        Domain for the Remotes (a script passes ``self.domain``).
    log : `logging.Logger`, optional
        Parent logger.
    intended_usage : `int`, optional
        `ComCamUsages` bit mask; None (default) reads every topic, which is
        what a script needs (``rem.ccoods.evt_imageInOODS``,
        ``rem.cccamera.evt_ccsCommandState``).
    tcs_ready_to_take_data : callable, optional
        Not used for calibrations (accepted for compatibility).
    """

    filter_change_timeout = 60.0

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

    async def setup_instrument(self, **kwargs: typing.Any) -> None:
        """Set up the instrument: put ``filter`` in the beam if it is not there.

        Parameters
        ----------
        **kwargs
            ``filter`` (`str` or `None`). None or absent does nothing (no
            topic is read); a filter already in the beam
            (``endSetFilter.filterName``) sends no command.

        Raises
        ------
        RuntimeError
            A keyword other than ``filter``, or the current filter is unknown.
        salobj.AckError
            The camera refused or failed the filter change.
        """
        self._check_kwargs(**kwargs)
        filter_name = kwargs.get("filter")
        if filter_name is None:
            return
        current = await self.get_current_filter()
        if current == filter_name:
            self.log.debug(f"Filter {filter_name} already in place.")
            return
        await self.setup_filter(filter=filter_name)
