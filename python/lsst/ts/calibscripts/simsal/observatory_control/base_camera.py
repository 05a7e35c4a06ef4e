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


"""Stand-in for ``lsst.ts.observatory.control.base_camera.BaseCamera`` (subset).

What the camera groups (`ComCam`, `LSSTCam`, `LATISS`) share, with
ts_observatory_control's names, signatures and behaviour (v0.52):
``take_bias``, ``take_darks``, ``take_flats``, ``take_imgtype``,
``next_group_id``, the camera readiness and ``ccsCommandState`` waits and
the intended-usage topic selection. Each group adds its components and
``setup_instrument``.

Every ``take_*`` goes through `BaseCamera.take_imgtype` and follows the
upstream path frame by frame: wait for the camera to be ready (the last
``endReadout`` matches the last ``startIntegration``; no history at all
costs up to 30 s), wait for ``ccsCommandState`` IDLE, send
``takeImages(numImages=1, expTime, shutter, ...)`` with timeout
``(expTime + read_out_time) * n + 120`` s, then take the exposure id from
the next ``startIntegration``. It returns as soon as the last frame's
integration ended: its readout and ingest come later. Like upstream, it
never waits for the OODS. BIAS frames are 0 s with the shutter closed, DARK
frames ``exptime`` with the shutter closed, FLAT frames ``exptime`` with the
shutter open (at least ``min_exptime``, 0.1 s, else `RuntimeError`: the
client refuses, not the camera). Only FLAT calls ``setup_instrument``.
"""

from __future__ import annotations

__all__ = [
    "BaseCamera",
    "CameraSubstate",
    "CameraUsages",
    "CLOSED_SHUTTER_TYPES",
    "FILTER_TOPICS",
    "FilterChangerCamera",
    "IMAGE_TYPES",
    "usage_table",
]

import abc
import asyncio
import enum
import logging
import typing
from collections.abc import Awaitable, Callable, Iterable, Mapping

import astropy.time

from .. import salobj
from .remote_group import RemoteGroup

CAMERA_TOPICS = [
    "takeImages",
    "endReadout",
    "startIntegration",
]
"""Camera topics every group's image taking reads."""

STATE_TOPICS = [
    "start",
    "enable",
    "disable",
    "standby",
    "exitControl",
    "enterControl",
    "summaryState",
    "configurationsAvailable",
]


class CameraUsages(enum.IntEnum):
    """Intended usages of a camera group (ts_observatory_control values).

    ``ComCamUsages``, ``LSSTCamUsages`` and ``LATISSUsages`` have these
    members and values.
    """

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


IMAGE_TYPES = ("BIAS", "DARK", "FLAT")
"""Image types these groups take (ts_observatory_control has more: OBJECT, ENGTEST...)."""

CLOSED_SHUTTER_TYPES = ("BIAS", "DARK")
"""Image types taken with the shutter closed and without instrument setup."""


def usage_table(
    camera_attr: str,
    header_attr: str,
    oods_attr: str,
    camera_topics: list[str],
    others: Mapping[str, list[str]] | None = None,
) -> dict[int, dict[str, tuple[bool, list[str]]]]:
    """Return ``{usage: {component_attr: (readonly, topics)}}`` of a camera group.

    Parameters
    ----------
    camera_attr, header_attr, oods_attr : `str`
        Attribute names of the camera, header service and OODS
        (``cccamera``, ``ccheaderservice``, ``ccoods``).
    camera_topics : `list` [`str`]
        Camera topics of image taking and instrument setup.
    others : `dict` [`str`, `list` [`str`]], optional
        Further components (LATISS: ``atspectrograph``) and the topics their
        setup needs; read with ``All``, ``TakeImage`` and ``TakeImageFull``.
    """
    others = dict(others or {})
    attrs = [camera_attr, *others, header_attr, oods_attr]
    return {
        CameraUsages.All: {
            camera_attr: (False, STATE_TOPICS + ["heartbeat"] + camera_topics),
            **{attr: (False, STATE_TOPICS + ["heartbeat"] + topics) for attr, topics in others.items()},
            header_attr: (False, STATE_TOPICS + ["heartbeat", "largeFileObjectAvailable"]),
            oods_attr: (False, STATE_TOPICS + ["heartbeat"]),
        },
        CameraUsages.StateTransition: {attr: (False, list(STATE_TOPICS)) for attr in attrs},
        CameraUsages.MonitorState: {attr: (True, ["summaryState"]) for attr in attrs},
        CameraUsages.MonitorHeartBeat: {attr: (True, ["heartbeat"]) for attr in attrs},
        CameraUsages.TakeImage: {
            camera_attr: (False, list(camera_topics)),
            **{attr: (False, list(topics)) for attr, topics in others.items()},
            oods_attr: (False, ["imageInOODS"]),
        },
        CameraUsages.TakeImageFull: {
            camera_attr: (False, list(camera_topics)),
            **{attr: (False, list(topics)) for attr, topics in others.items()},
            header_attr: (False, ["largeFileObjectAvailable"]),
        },
        CameraUsages.DryTest: {},
    }


class BaseCamera(RemoteGroup, abc.ABC):
    """A camera group: the camera, its header service and OODS (and more).

    Parameters
    ----------
    components : `list` [`str`]
        SAL components, the camera first.
    usages : `dict`
        The group's `usage_table`.
    domain : `salobj.Domain`, optional
        Domain for the Remotes (a script passes ``self.domain``).
    log : `logging.Logger`, optional
        Parent logger.
    intended_usage : `int`, optional
        `CameraUsages` bit mask; None (default) reads every topic, which is
        what a script needs (``rem.<oods>.evt_imageInOODS``,
        ``rem.<camera>.evt_ccsCommandState``).
    tcs_ready_to_take_data : callable, optional
        Not used for calibrations (accepted for compatibility).

    Attributes
    ----------
    read_out_time : `float`
        Seconds (2.0), used in command timeouts.
    min_exptime : `float`
        Shortest open-shutter exposure (0.1 s).
    instrument_setup_attributes : `list` [`str`]
        Keywords ``take_flats``/``setup_instrument`` accept.
    """

    def __init__(
        self,
        components: list[str],
        usages: Mapping[int, Mapping[str, tuple[bool, list[str]]]],
        domain: salobj.Domain | None = None,
        log: logging.Logger | None = None,
        intended_usage: int | None = None,
        tcs_ready_to_take_data: Callable[[], Awaitable] | None = None,
    ) -> None:
        self._usages = usages
        super().__init__(components=list(components), domain=domain, log=log, intended_usage=intended_usage)
        self._camera_attr = self.components_attr[0]
        self.read_out_time = 2.0
        self.shutter_time = 1.0
        self.min_exptime = 0.1
        self.instrument_setup_attributes: list[str] = ["filter"]
        self.cmd_lock = asyncio.Lock()
        self._ready_to_take_data = tcs_ready_to_take_data

    def _resources(self, intended_usage: int | None) -> Mapping[str, tuple[bool, Iterable[str] | None]]:
        if intended_usage is None:
            return {attr: (False, None) for attr in self.components_attr}
        usage = int(intended_usage)
        if usage == CameraUsages.All:
            return self._usages[CameraUsages.All]
        resources: dict[str, tuple[bool, list[str]]] = {}
        for bit in CameraUsages:
            if bit == CameraUsages.All or not usage & bit:
                continue
            for attr, (readonly, topics) in self._usages[bit].items():
                old = resources.get(attr)
                if old is None:
                    resources[attr] = (readonly, list(topics))
                else:
                    merged = old[1] + [t for t in topics if t not in old[1]]
                    resources[attr] = (old[0] and readonly, merged)
        return resources

    @property
    def camera(self) -> salobj.Remote:
        """The camera's Remote (``rem.cccamera``, ``rem.mtcamera``, ``rem.atcamera``)."""
        return getattr(self.rem, self._camera_attr)

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
        return await self.take_imgtype(
            imgtype="BIAS",
            exptime=0.0,
            n=nbias,
            group_id=group_id,
            test_type=test_type,
            reason=reason,
            program=program,
            sensors=sensors,
            note=note,
            checkpoint=checkpoint,
        )

    async def take_darks(
        self,
        exptime: float,
        ndarks: int,
        group_id: str | None = None,
        test_type: str | None = None,
        reason: str | None = None,
        program: str | None = None,
        sensors: str | None = None,
        note: str | None = None,
        checkpoint: Callable[[str], Awaitable] | None = None,
    ) -> list[int]:
        """Take ``ndarks`` dark frames of ``exptime`` seconds, shutter closed.

        No instrument setup: the filter is whatever is in the beam. The
        parameters are those of `take_bias`; ``testType`` defaults to
        ``DARK`` and the checkpoint is ``"Expose {ndarks} DARK"``.

        Returns
        -------
        exposure_ids : `list` [`int`]
            Exposure ids, one per frame.
        """
        return await self.take_imgtype(
            imgtype="DARK",
            exptime=exptime,
            n=ndarks,
            group_id=group_id,
            test_type=test_type,
            reason=reason,
            program=program,
            sensors=sensors,
            note=note,
            checkpoint=checkpoint,
        )

    async def take_flats(
        self,
        exptime: float,
        nflats: int,
        group_id: str | None = None,
        test_type: str | None = None,
        reason: str | None = None,
        program: str | None = None,
        sensors: str | None = None,
        note: str | None = None,
        checkpoint: Callable[[str], Awaitable] | None = None,
        **kwargs: typing.Any,
    ) -> list[int]:
        """Take ``nflats`` flat frames of ``exptime`` seconds, shutter open.

        Parameters
        ----------
        exptime : `float`
            Exposure time (s), at least ``min_exptime`` (0.1 s).
        nflats : `int`
            Number of frames.
        group_id, test_type, reason, program, sensors, note, checkpoint
            As for `take_bias` (``testType`` defaults to ``FLAT``).
        **kwargs
            Instrument setup (`instrument_setup_attributes`: ``filter``;
            LATISS also ``grating``, ``linear_stage``), passed to
            `setup_instrument` before the first frame.

        Returns
        -------
        exposure_ids : `list` [`int`]
            Exposure ids, one per frame.

        Raises
        ------
        RuntimeError
            ``exptime`` below ``min_exptime``, or a keyword not in
            `instrument_setup_attributes`.
        """
        return await self.take_imgtype(
            imgtype="FLAT",
            exptime=exptime,
            n=nflats,
            group_id=group_id,
            test_type=test_type,
            reason=reason,
            program=program,
            sensors=sensors,
            note=note,
            checkpoint=checkpoint,
            **kwargs,
        )

    async def take_imgtype(
        self,
        imgtype: str,
        exptime: float,
        n: int,
        n_snaps: int = 1,
        n_shift: int | None = None,
        row_shift: int | None = None,
        group_id: str | None = None,
        test_type: str | None = None,
        reason: str | None = None,
        program: str | None = None,
        sensors: str | None = None,
        note: str | None = None,
        checkpoint: Callable[[str], Awaitable] | None = None,
        **kwargs: typing.Any,
    ) -> list[int]:
        """Take ``n`` frames of one image type, one ``takeImages`` each.

        Parameters
        ----------
        imgtype : `str`
            ``BIAS``, ``DARK`` or ``FLAT``.
        exptime : `float`
            Exposure time (s); forced to 0 for BIAS.
        n : `int`
            Number of frames.
        n_snaps : `int`, optional
            Images per ``takeImages`` (``numImages``).
        n_shift, row_shift : `int`, optional
            Used by ts_observatory_control for stuttered images only;
            ignored for these types.
        group_id, test_type, reason, program, sensors, note, checkpoint
            As for `take_bias` (``testType`` defaults to ``imgtype``; the
            checkpoint is ``"Expose {n} {imgtype}"``).
        **kwargs
            Instrument setup (`instrument_setup_attributes`); applied by
            `setup_instrument` for every type except BIAS and DARK.

        Returns
        -------
        exposure_ids : `list` [`int`]
            Exposure ids from each image's ``startIntegration.imageName``.

        Raises
        ------
        RuntimeError
            Unknown ``imgtype`` or keyword, an open-shutter ``exptime`` below
            ``min_exptime``, no ``startIntegration`` within 120 s of an ack,
            or (from `setup_instrument`) the instrument cannot be set up.
        salobj.AckError
            ``takeImages`` or an instrument setup command failed (`salobj.AckTimeoutError`
            if not acknowledged in time).
        """
        self._check_kwargs(**kwargs)
        if imgtype not in IMAGE_TYPES:
            raise RuntimeError(f"Invalid imgtype:{imgtype}. Must be one of {list(IMAGE_TYPES)}")
        if group_id is None:
            group_id = self.next_group_id()
        if imgtype not in CLOSED_SHUTTER_TYPES:
            await self.setup_instrument(**kwargs)
        if checkpoint is not None:
            await checkpoint(f"Expose {n} {imgtype}")
        key_value_map = f"imageType: {imgtype}, groupId: {group_id}, testType: {test_type or imgtype}"
        key_value_map += ", stutterRows: 0, stutterNShifts: 0, stutterDelay: 0.0"
        if reason is not None:
            key_value_map += f", reason: {reason}"
        if program is not None:
            key_value_map += f", program: {program}"
        return await self._expose(
            exp_time=0.0 if imgtype == "BIAS" else float(exptime),
            shutter=imgtype not in CLOSED_SHUTTER_TYPES,
            n=n,
            n_snaps=n_snaps,
            key_value_map=key_value_map,
            sensors=sensors,
            note=note,
        )

    async def _expose(
        self,
        exp_time: float,
        shutter: bool,
        n: int,
        n_snaps: int,
        key_value_map: str,
        sensors: str | None,
        note: str | None,
    ) -> list[int]:
        """Send ``n`` ``takeImages`` of ``n_snaps`` images; return the exposure ids."""
        exposure_ids: list[int] = []
        async with self.cmd_lock:
            if shutter and exp_time < self.min_exptime:
                raise RuntimeError(
                    f"Minimum allowed open-shutter exposure time is {self.min_exptime}. Got {exp_time}."
                )
            timeout = (exp_time + self.read_out_time) * n + self.long_long_timeout
            for _ in range(n):
                self.camera.cmd_takeImages.set(
                    numImages=n_snaps,
                    expTime=exp_time,
                    shutter=shutter,
                    keyValueMap=key_value_map,
                    sensors="" if sensors is None else sensors,
                    obsNote=note or "",
                )
                await self._wait_for_camera_readiness()
                await self._wait_for_camera_state(CameraSubstate.IDLE)
                await self.camera.cmd_takeImages.start(timeout=timeout)
                for _ in range(n_snaps):
                    try:
                        exposure_ids.append(await self._next_exposure_id())
                    except asyncio.TimeoutError:
                        raise RuntimeError("Timeout waiting for endReadout event. Expected 1 got 0.")
        return exposure_ids

    def _check_kwargs(self, **kwargs: typing.Any) -> None:
        for key in kwargs:
            if key not in self.instrument_setup_attributes:
                raise RuntimeError(
                    f"Invalid argument {key}. Valid arguments are: {self.instrument_setup_attributes}"
                )

    @abc.abstractmethod
    async def setup_instrument(self, **kwargs: typing.Any) -> None:
        """Set up the instrument for a FLAT (each group's own keywords)."""
        raise NotImplementedError()

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


FILTER_TOPICS = ["setFilter", "endSetFilter", "availableFilters"]
"""Camera topics of a camera with a filter changer (ComCam, LSSTCam)."""


class FilterChangerCamera(BaseCamera):
    """A camera whose own filter changer holds the filters (``setFilter``).

    Shared by `ComCam` and `LSSTCam`: `setup_filter`, `get_current_filter`,
    `get_available_filters` and `get_available_instrument_setup`. Each
    decides in ``setup_instrument`` when to change the filter.

    Attributes
    ----------
    filter_change_timeout : `float`
        Seconds allowed for ``setFilter`` and its ``endSetFilter``.
    """

    filter_change_timeout: float = 60.0

    async def setup_filter(self, filter: str) -> salobj.type_hints.BaseMsgType:
        """Send ``setFilter(name=filter)`` and wait for ``endSetFilter``.

        Parameters
        ----------
        filter : `str`
            Physical filter name, e.g. ``g_01``.

        Returns
        -------
        end_set_filter : ``<camera>_logevent_endSetFilter``
            The ``endSetFilter`` sample of the change.

        Raises
        ------
        salobj.AckError
            The camera refused the filter (the result says why) or the
            change failed; `salobj.AckTimeoutError` after
            ``filter_change_timeout``.
        asyncio.TimeoutError
            No ``endSetFilter`` within ``filter_change_timeout``.
        """
        async with self.cmd_lock:
            self.camera.evt_endSetFilter.flush()
            await self.camera.cmd_setFilter.set_start(name=filter, timeout=self.filter_change_timeout)
            return await self.camera.evt_endSetFilter.next(flush=False, timeout=self.filter_change_timeout)

    async def get_current_filter(self) -> str:
        """Return the filter in the beam (``endSetFilter.filterName``).

        Raises
        ------
        RuntimeError
            No ``endSetFilter`` within ``fast_timeout`` (5 s).
        """
        try:
            end_set_filter = await self.camera.evt_endSetFilter.aget(timeout=self.fast_timeout)
        except asyncio.TimeoutError:
            raise RuntimeError(
                f"Could not determine current filter: no {self.components[0]} endSetFilter within "
                f"{self.fast_timeout} s. Check that {self.components[0]} is running and publishing "
                "its filter."
            )
        return end_set_filter.filterName

    async def get_available_filters(self) -> list[str]:
        """Return the filters the camera offers (``availableFilters``, split on ``:``).

        Raises
        ------
        asyncio.TimeoutError
            No ``availableFilters`` within ``fast_timeout`` (5 s).
        """
        available = await self.camera.evt_availableFilters.aget(timeout=self.fast_timeout)
        return available.filterNames.split(":")

    async def get_available_instrument_setup(self) -> list[str]:
        """Return the instrument setups available: the filter names."""
        return await self.get_available_filters()
