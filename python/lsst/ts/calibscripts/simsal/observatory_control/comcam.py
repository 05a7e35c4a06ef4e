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

Only the API a bias script may use, with ts_observatory_control's names,
signatures and behaviour (v0.52): ``rem.cccamera``, ``rem.ccheaderservice``,
``rem.ccoods``, ``start_task``, `ComCam.take_bias`, `ComCam.assert_all_enabled`,
``read_out_time``, `ComCam.next_group_id`, `ComCam.close` and ``async with``.

`ComCam.take_bias` follows the upstream path frame by frame: wait for the
camera to be ready (the last ``endReadout`` matches the last
``startIntegration``; no history at all costs up to 30 s), wait for
``ccsCommandState`` IDLE, send ``takeImages(numImages=1, expTime=0,
shutter=False, ...)`` with timeout ``read_out_time * nbias + 120`` s, then
take the exposure id from the next ``startIntegration``. It returns as
soon as the last frame's integration ended: its readout and ingest come
later. Like upstream, it never waits for CCOODS.
"""

from __future__ import annotations

__all__ = ["ComCam", "ComCamUsages", "CameraSubstate"]

import asyncio
import enum
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping

import astropy.time

from .. import salobj
from .remote_group import RemoteGroup

COMPONENTS = ["CCCamera", "CCHeaderService", "CCOODS"]

_CAMERA_TOPICS = [
    "takeImages",
    "setFilter",
    "endReadout",
    "startIntegration",
    "endSetFilter",
    "availableFilters",
]
_STATE_TOPICS = [
    "start",
    "enable",
    "disable",
    "standby",
    "exitControl",
    "enterControl",
    "summaryState",
    "configurationsAvailable",
]


class ComCamUsages(enum.IntEnum):
    """Intended usages of the ComCam group (ts_observatory_control values)."""

    All = 0
    StateTransition = 1
    MonitorState = 1 << 1
    MonitorHeartBeat = 1 << 2
    TakeImage = 1 << 3
    TakeImageFull = 1 << 4
    DryTest = 1 << 6


class CameraSubstate(enum.IntEnum):
    """``ccsCommandState.substate``."""

    IDLE = 1
    BUSY = 2


# usage -> {component attr: (readonly, topics)}
_USAGES: dict[int, dict[str, tuple[bool, list[str]]]] = {
    ComCamUsages.All: {
        "cccamera": (False, _STATE_TOPICS + ["heartbeat"] + _CAMERA_TOPICS),
        "ccheaderservice": (False, _STATE_TOPICS + ["heartbeat", "largeFileObjectAvailable"]),
        "ccoods": (False, _STATE_TOPICS + ["heartbeat"]),
    },
    ComCamUsages.StateTransition: {
        attr: (False, list(_STATE_TOPICS)) for attr in ("cccamera", "ccheaderservice", "ccoods")
    },
    ComCamUsages.MonitorState: {
        attr: (True, ["summaryState"]) for attr in ("cccamera", "ccheaderservice", "ccoods")
    },
    ComCamUsages.MonitorHeartBeat: {
        attr: (True, ["heartbeat"]) for attr in ("cccamera", "ccheaderservice", "ccoods")
    },
    ComCamUsages.TakeImage: {
        "cccamera": (False, list(_CAMERA_TOPICS)),
        "ccoods": (False, ["imageInOODS"]),
    },
    ComCamUsages.TakeImageFull: {
        "cccamera": (False, list(_CAMERA_TOPICS)),
        "ccheaderservice": (False, ["largeFileObjectAvailable"]),
    },
    ComCamUsages.DryTest: {},
}


class ComCam(RemoteGroup):
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
        Not used for biases (accepted for compatibility).
    """

    def __init__(
        self,
        domain: salobj.Domain | None = None,
        log: logging.Logger | None = None,
        intended_usage: int | None = None,
        tcs_ready_to_take_data: Callable[[], Awaitable] | None = None,
    ) -> None:
        super().__init__(components=list(COMPONENTS), domain=domain, log=log, intended_usage=intended_usage)
        self.read_out_time = 2.0
        self.shutter_time = 1.0
        self.min_exptime = 0.1
        self.cmd_lock = asyncio.Lock()
        self._ready_to_take_data = tcs_ready_to_take_data

    def _resources(self, intended_usage: int | None) -> Mapping[str, tuple[bool, Iterable[str] | None]]:
        if intended_usage is None:
            return {attr: (False, None) for attr in self.components_attr}
        usage = int(intended_usage)
        if usage == ComCamUsages.All:
            return _USAGES[ComCamUsages.All]
        resources: dict[str, tuple[bool, list[str]]] = {}
        for bit in ComCamUsages:
            if bit == ComCamUsages.All or not usage & bit:
                continue
            for attr, (readonly, topics) in _USAGES[bit].items():
                old = resources.get(attr)
                if old is None:
                    resources[attr] = (readonly, list(topics))
                else:
                    merged = old[1] + [t for t in topics if t not in old[1]]
                    resources[attr] = (old[0] and readonly, merged)
        return resources

    @property
    def camera(self) -> salobj.Remote:
        """The CCCamera Remote (``rem.cccamera``)."""
        return self.rem.cccamera

    def next_group_id(self) -> str:
        """Return a new group id: the current TAI time as ISO, e.g. ``2026-11-25T12:34:56.789``."""
        return astropy.time.Time.now().tai.isot

    async def take_bias(
        self,
        nbias: int,
        group_id: str | None = None,
        test_type: str | None = None,
        reason: str | None = None,
        program: str | None = None,
        sensors: str | None = None,
        note: str | None = None,
        checkpoint: Callable[[str], Awaitable] | None = None,
    ) -> list[int]:
        """Take ``nbias`` bias frames, one ``takeImages`` each.

        Parameters
        ----------
        nbias : `int`
            Number of frames.
        group_id : `str`, optional
            ``groupId`` of the frames (default `next_group_id`).
        test_type : `str`, optional
            ``testType`` (default ``BIAS``).
        reason, program : `str`, optional
            Added to the keyValueMap when given.
        sensors : `str`, optional
            Colon-delimited sensor names; None means every sensor.
        note : `str`, optional
            ``obsNote``.
        checkpoint : callable, optional
            Awaited once with ``"Expose {nbias} BIAS"`` before the first frame.

        Returns
        -------
        exposure_ids : `list` [`int`]
            Exposure ids from each frame's ``startIntegration.imageName``.

        Raises
        ------
        salobj.AckError
            ``takeImages`` failed; `salobj.AckTimeoutError` if it was not
            acknowledged in time.
        RuntimeError
            No ``startIntegration`` within 120 s of the ack.
        """
        if group_id is None:
            group_id = self.next_group_id()
        if checkpoint is not None:
            await checkpoint(f"Expose {nbias} BIAS")
        key_value_map = f"imageType: BIAS, groupId: {group_id}, testType: {test_type or 'BIAS'}"
        key_value_map += ", stutterRows: 0, stutterNShifts: 0, stutterDelay: 0.0"
        if reason is not None:
            key_value_map += f", reason: {reason}"
        if program is not None:
            key_value_map += f", program: {program}"
        exposure_ids: list[int] = []
        async with self.cmd_lock:
            timeout = (0.0 + self.read_out_time) * nbias + self.long_long_timeout
            for _ in range(nbias):
                self.camera.cmd_takeImages.set(
                    numImages=1,
                    expTime=0.0,
                    shutter=False,
                    keyValueMap=key_value_map,
                    sensors="" if sensors is None else sensors,
                    obsNote=note or "",
                )
                await self._wait_for_camera_readiness()
                await self._wait_for_camera_state(CameraSubstate.IDLE)
                await self.camera.cmd_takeImages.start(timeout=timeout)
                try:
                    exposure_ids.append(await self._next_exposure_id())
                except asyncio.TimeoutError:
                    raise RuntimeError("Timeout waiting for endReadout event. Expected 1 got 0.")
        return exposure_ids

    async def _wait_for_camera_readiness(self) -> None:
        """Wait until the last image started has been read out."""
        camera = self.camera
        camera.evt_endReadout.flush()
        try:
            start_integration, end_readout = await asyncio.gather(
                camera.evt_startIntegration.aget(timeout=self.long_timeout),
                camera.evt_endReadout.aget(timeout=self.long_timeout),
            )
        except asyncio.TimeoutError:
            self.log.info("No startIntegration/endReadout seen; assuming the camera is ready.")
            return
        while end_readout.imageName != start_integration.imageName:
            timeout = self.long_timeout + 2 * start_integration.exposureTime + self.read_out_time
            try:
                end_readout = await camera.evt_endReadout.next(flush=False, timeout=timeout)
            except asyncio.TimeoutError:
                self.log.warning(
                    f"No endReadout for {start_integration.imageName} in {timeout} s "
                    f"(last endReadout: {end_readout.imageName}). Continuing to wait..."
                )
        camera.evt_startIntegration.flush()

    async def _wait_for_camera_state(self, substate: CameraSubstate) -> None:
        """Wait for ``ccsCommandState`` to reach ``substate`` (if the topic is read)."""
        camera = self.camera
        if not hasattr(camera, "evt_ccsCommandState"):
            return
        try:
            state = await camera.evt_ccsCommandState.aget(timeout=self.fast_timeout)
            camera.evt_ccsCommandState.flush()
            while state.substate != substate:
                state = await camera.evt_ccsCommandState.next(flush=False, timeout=self.fast_timeout)
        except asyncio.TimeoutError:
            self.log.warning("Could not determine CCS Command State; ignoring.")

    async def _next_exposure_id(self) -> int:
        start_integration = await self.camera.evt_startIntegration.next(
            flush=False, timeout=self.long_long_timeout
        )
        _, _, day_obs, seq_num = start_integration.imageName.split("_")
        return int(day_obs + seq_num[1:])
