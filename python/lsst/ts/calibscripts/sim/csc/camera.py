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

"""Mock camera control system (CCCamera, MTCamera, ATCamera) as seen through SAL.

One class per kind of camera, driven by a `CameraProfile`: `CameraCsc`
takes images (ATCamera: LATISS has no filter changer, its filter is
ATSpectrograph's), `FilterChangerCameraCsc` adds the filter changer of
CCCamera and MTCamera. `make_camera_csc` picks the class of a profile.
"""

from __future__ import annotations

__all__ = [
    "CCCameraCsc",
    "CameraCsc",
    "FilterChangerCameraCsc",
    "CCSCommandState",
    "FilterChangerDetailedState",
    "ShutterDetailedState",
    "make_camera_csc",
    "parse_key_value_map",
    "parse_sensors",
]

import asyncio
import enum
import typing
from collections.abc import Callable

from ...cameras import COMCAM, CameraProfile
from ...sal import State, salobj
from ..faults import CameraFaults
from ..interfaces import DataPlane, ImageInfo, NullDataPlane
from ..timing import Timing, simulated_clock, tai_to_astropy
from .base import ImageFeed, ImageName, SequenceCounter, SimCsc


class CCSCommandState(enum.IntEnum):
    """``ccsCommandState.substate`` values."""

    IDLE = 1
    BUSY = 2


class ShutterDetailedState(enum.IntEnum):
    """``shutterDetailedState.substate`` values (ts_xml order, 1-based)."""

    CLOSED = 1
    OPEN = 2
    CLOSING = 3
    OPENING = 4


class FilterChangerDetailedState(enum.IntEnum):
    """``filterChangerDetailedState.substate`` values (ts_xml order, 1-based)."""

    UNLOADING = 1
    LOADING = 2
    LOADED = 3
    UNLOADED = 4
    ROTATING = 5
    NOFILTER = 6
    UNKNOWN = 7


def parse_sensors(sensors: str, camera: CameraProfile = COMCAM) -> tuple[int, ...]:
    """Return the detector ids of a ``takeImages.sensors`` string.

    Parameters
    ----------
    sensors : `str`
        Colon-delimited sensor names (``R22_S00:R22_S11``; ``S00`` alone on a
        one-raft camera); blank means the camera's default detectors (ComCam:
        all nine; LSSTCam: the 189 science sensors, whose files the MTOODS
        ingests; LATISS: its one).
    camera : `CameraProfile`, optional
        The camera.

    Returns
    -------
    detectors : `tuple` [`int`, ...]
        Sorted detector ids.

    Raises
    ------
    salobj.ExpectedError
        If a name is not a sensor of the camera.
    """
    if not sensors.strip():
        return tuple(sorted(camera.default_detectors))
    rafts = {d.raft for d in camera.detectors}
    detectors = set()
    for item in sensors.split(":"):
        name = item.strip().replace("/", "_")
        if not name:
            continue
        if "_" not in name and len(rafts) == 1:
            name = f"{next(iter(rafts))}_{name}"
        try:
            detectors.add(camera.detector_id(name))
        except ValueError:
            raise salobj.ExpectedError(
                f"Unknown sensor {item.strip()!r}; {camera.instrument} sensors are "
                f"{', '.join(d.name for d in camera.detectors[:9])}"
                f"{' ...' if len(camera.detectors) > 9 else ''} ({camera.describe_ids()})"
            ) from None
    if not detectors:
        raise salobj.ExpectedError(f"No sensor in sensors={sensors!r}")
    return tuple(sorted(detectors))


def parse_key_value_map(key_value_map: str) -> dict[str, str]:
    """Parse a ``takeImages.keyValueMap`` (``"imageType: BIAS, groupId: ..."``).

    Pairs are separated by commas and split at their first colon (values
    such as ``groupId`` contain colons); a piece without a colon continues
    the previous value (a value containing a comma).

    Raises
    ------
    salobj.ExpectedError
        If the map does not start with a ``key: value`` pair.
    """
    result: dict[str, str] = {}
    last_key: str | None = None
    for piece in key_value_map.split(","):
        if not piece.strip():
            continue
        if ":" in piece:
            key, value = piece.split(":", 1)
            key = key.strip()
            if key and " " not in key:
                result[key] = value.strip()
                last_key = key
                continue
        if last_key is None:
            raise salobj.ExpectedError(
                f"Cannot parse keyValueMap={key_value_map!r}: expected 'key: value, ...'"
            )
        result[last_key] = f"{result[last_key]},{piece}"
    return result


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace(":", "\\:")


class CameraCsc(SimCsc):
    """Mock camera control system taking images of one camera (``profile``).

    The SAL component is the profile's camera (CCCamera, MTCamera,
    ATCamera); image names carry its obs-id code (``CC_O_``, ``MC_O_``,
    ``AT_O_``) and the sensors of ``takeImages`` are its detectors.

    ``takeImages`` publishes, per image: ``ccsCommandState`` BUSY →
    ``startIntegration`` → (integration) → final ``CMD_COMPLETE`` ack
    (after the last image's integration) → ``startReadout`` →
    ``endReadout`` (after the readout time) → ``endOfImageTelemetry`` →
    ``ccsCommandState`` IDLE. A ``takeImages`` received before IDLE is
    rejected (``CMD_FAILED``). After ``endReadout`` the image goes to the
    data plane (raw files) and to the `ImageFeed` (the OODS).

    The integration lasts ``expTime``. With ``shutter`` true (a flat) the
    shutter opens after ``startIntegration`` (``startShutterOpen``,
    ``shutterDetailedState`` OPENING, then ``endShutterOpen``, OPEN, half
    of ``Timing.shutter_time`` later), stays open ``expTime`` and closes
    (``startShutterClose``, CLOSING, ``endShutterClose``, CLOSED); without
    it (a bias or dark) no shutter event is published. Each image is tagged
    with its ``imageType`` and ``expTime`` and the physical filter in the
    beam (`physical_filter`). The camera itself accepts any ``expTime >= 0``
    with either shutter setting: the 0.1 s open-shutter minimum is the
    client's (ts_observatory_control).

    Parameters
    ----------
    profile : `CameraProfile`, optional
        The camera (default LSSTComCam).
    initial_state : `State`, optional
        Initial summary state.
    timing : `Timing`, optional
        Durations and time scale.
    faults : `CameraFaults`, optional
        Injected faults.
    data_plane : `DataPlane`, optional
        Receives each image read out (default: `NullDataPlane`).
    sequence : `SequenceCounter`, optional
        Image name allocator (shared with the OODS for unrelated images).
    image_feed : `ImageFeed`, optional
        Where images read out are handed to the OODS.
    clock : callable, optional
        Returns the current TAI unix time (default `simulated_clock`).
    filter_source : callable, optional
        Returns the physical filter in the beam when the filter is another
        component's (LATISS: ATSpectrograph's filter~grating); default the
        profile's default physical filter.

    Attributes
    ----------
    images : `list` [`ImageInfo`]
        Every image started, in order.
    frames_received : `int`
        takeImages commands accepted (the frame counter of `CameraFaults`).
    """

    def __init__(
        self,
        profile: CameraProfile = COMCAM,
        initial_state: State = State.ENABLED,
        timing: Timing | None = None,
        faults: CameraFaults | None = None,
        data_plane: DataPlane | None = None,
        sequence: SequenceCounter | None = None,
        image_feed: ImageFeed | None = None,
        clock: Callable[[], float] | None = None,
        filter_source: Callable[[], str] | None = None,
    ) -> None:
        self.profile = profile
        self.timing = timing or Timing()
        self.faults = faults or CameraFaults()
        self.data_plane: DataPlane = data_plane if data_plane is not None else NullDataPlane()
        self.sequence = sequence or SequenceCounter(
            first_seq_num=self.faults.first_seq_num, camera_code=profile.camera_code
        )
        self.image_feed = image_feed or ImageFeed()
        self.clock = clock or simulated_clock()
        self.filter_source = filter_source
        self.images: list[ImageInfo] = []
        self.frames_received = 0
        # What the camera is doing: taking images (from acceptance until the
        # last readout ends; _integrating until the last integration ends)
        # and changing filter. ccsCommandState is BUSY while either runs.
        self._busy_with: str | None = None
        self._integrating = False
        self._changing_filter: str | None = None
        super().__init__(
            name=profile.camera_component,
            initial_state=initial_state,
            configurations="Normal",
            overrides_available="Normal",
            allow_missing_callbacks=True,
        )
        self.cmd_takeImages.allow_multiple_callbacks = True

    @property
    def physical_filter(self) -> str:
        """The butler physical filter in the beam (what an image is tagged with)."""
        if self.filter_source is not None:
            return self.filter_source()
        return self.profile.physical_filter()

    @property
    def busy(self) -> bool:
        """True from ``takeImages`` or ``setFilter`` acceptance until ``ccsCommandState`` IDLE."""
        return self._busy_with is not None or self._changing_filter is not None

    async def start(self) -> None:
        await super().start()
        await self._publish_initial_filter_state()
        await self._write_shutter_state(ShutterDetailedState.CLOSED)
        if self.faults.publish_previous_image:
            previous = self.sequence.allocate(self.clock())
            await self.sequence.save()
            fields = self._identity(previous, {}, index=1, count=1, tai=self.clock())
            await self.evt_startIntegration.set_write(
                **fields, exposureTime=0.0, mode="normal", timeout=0.0, force_output=True
            )
            await self.evt_endReadout.set_write(
                **fields, requestedExposureTime=0.0, timestampEndOfReadout=self.clock(), force_output=True
            )
        await self._write_command_state(CCSCommandState.IDLE)

    async def _publish_initial_filter_state(self) -> None:
        """Publish the filter state late joiners read at start (none without a filter changer)."""

    async def _write_command_state(self, substate: CCSCommandState) -> None:
        await self.evt_ccsCommandState.set_write(
            substate=int(substate), timestampTransition=self.clock(), force_output=True
        )

    async def _write_shutter_state(self, substate: ShutterDetailedState) -> None:
        await self.evt_shutterDetailedState.set_write(
            substate=int(substate), timestampTransition=self.clock(), force_output=True
        )

    async def _write_transition(self, topic: typing.Any) -> None:
        await topic.set_write(timestampTransition=self.clock(), force_output=True)

    async def _write_idle_if_free(self) -> None:
        if not self.busy:
            await self._write_command_state(CCSCommandState.IDLE)

    async def _open_shutter(self, image_name: str, frame: int) -> None:
        """Open the shutter; if it fails to open, go to FAULT and raise."""
        await self._write_transition(self.evt_startShutterOpen)
        await self._write_shutter_state(ShutterDetailedState.OPENING)
        await self.timing.sleep(self.timing.shutter_time / 2)
        if frame == self.faults.shutter_fails_on_frame:
            await self._write_shutter_state(ShutterDetailedState.CLOSED)
            report = (
                f"Simulated shutter failure: the shutter did not open for {image_name}; "
                "the image was not taken"
            )
            await self.fault(code=self.faults.shutter_fault_code, report=report)
            raise salobj.ExpectedError(report)
        await self._write_transition(self.evt_endShutterOpen)
        await self._write_shutter_state(ShutterDetailedState.OPEN)

    async def _close_shutter(self) -> None:
        await self._write_transition(self.evt_startShutterClose)
        await self._write_shutter_state(ShutterDetailedState.CLOSING)
        await self.timing.sleep(self.timing.shutter_time / 2)
        await self._write_transition(self.evt_endShutterClose)
        await self._write_shutter_state(ShutterDetailedState.CLOSED)

    def _identity(
        self, name: ImageName, key_value_map: dict[str, str], index: int, count: int, tai: float
    ) -> dict[str, typing.Any]:
        return dict(
            additionalKeys=":".join(key_value_map.keys()),
            additionalValues=":".join(_escape(v) for v in key_value_map.values()),
            imagesInSequence=count,
            imageName=name.name,
            imageIndex=index,
            imageSource=self.profile.camera_code,
            imageController=self.profile.controller,
            imageDate=str(name.day_obs),
            imageNumber=name.seq_num,
            timestampAcquisitionStart=tai,
        )

    async def do_takeImages(self, data: salobj.type_hints.BaseMsgType) -> None:
        """Take ``numImages`` images; the ack is sent after the last integration."""
        self.assert_enabled("takeImages")
        if data.numImages < 1:
            raise salobj.ExpectedError(f"numImages={data.numImages} must be >= 1")
        if data.expTime < 0:
            raise salobj.ExpectedError(f"expTime={data.expTime} must be >= 0")
        activity = self._busy_with or self._changing_filter
        if activity is not None:
            raise salobj.ExpectedError(
                f"takeImages rejected: the camera is busy with {activity} (wait for ccsCommandState IDLE)"
            )
        detectors = parse_sensors(data.sensors, self.profile)
        key_value_map = parse_key_value_map(data.keyValueMap)
        self.frames_received += 1
        frame = self.frames_received
        if self.faults.hangs_on(frame):
            self.log.warning(f"Simulated fault: takeImages frame {frame} is never acknowledged")
            await self.hang()
        if frame == self.faults.fail_take_images_on_frame:
            raise salobj.ExpectedError(f"Simulated CCS failure: takeImages rejected on frame {frame}")

        self._busy_with = f"takeImages frame {frame}"
        self._integrating = True
        readout_started = False
        try:
            await self._write_command_state(CCSCommandState.BUSY)
            count = int(data.numImages)
            for index in range(1, count + 1):
                tai_begin = self.clock()
                name = self.sequence.allocate(tai_begin)
                await self.sequence.save()
                self._busy_with = name.name
                fields = self._identity(name, key_value_map, index=index, count=count, tai=tai_begin)
                if frame in self.faults.drop_start_integration_frames:
                    self.log.warning(f"Simulated fault: startIntegration of {name.name} not published")
                else:
                    await self.evt_startIntegration.set_write(
                        **fields,
                        exposureTime=data.expTime,
                        mode="normal",
                        timeout=data.expTime,
                        force_output=True,
                    )
                if frame == self.faults.fault_on_frame:
                    report = f"Simulated camera fault while taking {name.name}"
                    await self.fault(code=self.faults.fault_code, report=report)
                    raise salobj.ExpectedError(report)
                physical_filter = self.physical_filter
                if data.shutter:
                    await self._open_shutter(name.name, frame)
                await self.timing.sleep(data.expTime)
                if data.shutter:
                    await self._close_shutter()
                image = ImageInfo(
                    obs_id=name.name,
                    exposure_id=name.exposure_id,
                    day_obs=name.day_obs,
                    seq_num=name.seq_num,
                    group_id=key_value_map.get("groupId", ""),
                    image_type=key_value_map.get("imageType", ""),
                    exp_time=float(data.expTime),
                    date_begin=tai_to_astropy(tai_begin),
                    date_end=tai_to_astropy(tai_begin + data.expTime),
                    detectors=detectors,
                    key_value_map=dict(key_value_map),
                    physical_filter=physical_filter,
                    instrument=self.profile.instrument,
                )
                self.images.append(image)
                last = index == count
                readout = self._readout(image, fields, frame, last=last, shutter=bool(data.shutter))
                if last:
                    # The final ack goes out when this callback returns; the
                    # readout continues in the background.
                    self._integrating = False
                    self.run_in_background(readout)
                    readout_started = True
                else:
                    await readout
        finally:
            self._integrating = False
            if not readout_started:
                self._busy_with = None

    async def _readout(
        self, image: ImageInfo, fields: dict[str, typing.Any], frame: int, last: bool, shutter: bool
    ) -> None:
        """Read one image out, then hand it to the data plane and CCOODS."""
        try:
            await self.timing.sleep(self.timing.readout_start_delay)
            await self.evt_startReadout.set_write(
                **fields,
                exposureTime=image.exp_time,
                timestampStartOfReadout=self.clock(),
                force_output=True,
            )
            await self.timing.sleep(self.timing.readout_time)
            if frame in self.faults.drop_end_readout_frames:
                self.log.warning(f"Simulated fault: endReadout of {image.obs_id} not published")
            else:
                await self.evt_endReadout.set_write(
                    **fields,
                    requestedExposureTime=image.exp_time,
                    timestampEndOfReadout=self.clock(),
                    force_output=True,
                )
            try:
                self.data_plane.begin_image(image)
            except Exception:
                self.log.exception(f"Data plane failed to start writing {image.obs_id}")
            self.image_feed.publish(image)
            await self.timing.sleep(self.timing.end_of_image_telemetry_delay)
            tai_end = image.date_end.unix_tai
            await self.evt_endOfImageTelemetry.set_write(
                **fields,
                exposureTime=image.exp_time,
                imageTag=f"sim{image.exposure_id:x}",
                timestampDateObs=image.date_begin.unix_tai,
                timestampDateEnd=tai_end,
                measuredShutterOpenTime=image.exp_time if shutter else 0.0,
                darkTime=float(self.clock() - image.date_begin.unix_tai),
                # A string in ts_xml: empty unless the camera emulates the image.
                emulatedImage="",
                force_output=True,
            )
            if last:
                self._busy_with = None
                await self._write_idle_if_free()
        finally:
            if last:
                self._busy_with = None


class FilterChangerCameraCsc(CameraCsc):
    """Mock camera with its own filter changer (CCCamera, MTCamera).

    The changer holds the profile's filters, slot 1 = the first
    (``availableFilters``, ``:``-delimited as ts_observatory_control parses
    them).

    ``setFilter(name)`` changes the filter: ``ccsCommandState`` BUSY →
    ``startSetFilter`` → unload (``startUnloadFilter``,
    ``filterChangerDetailedState`` UNLOADING, ``endUnloadFilter``,
    UNLOADED) → load (``startLoadFilter``, LOADING, ``endLoadFilter``,
    LOADED), ``Timing.filter_change_time`` in all → ``endSetFilter`` →
    ``CMD_COMPLETE`` → IDLE. The filter already in place ends at once
    (``startSetFilter`` then ``endSetFilter``, no motion). An unknown name,
    a camera not ENABLED, integrating or already changing filter is refused
    with ``CMD_FAILED`` and the reason; a change during the readout of the
    last image is accepted (the shutter is closed), ``ccsCommandState``
    staying BUSY until both end. ``takeImages`` is refused during a filter
    change. At start the camera publishes
    ``availableFilters`` (``:``-delimited, as ts_observatory_control
    parses them), ``endSetFilter`` of the filter in place,
    ``filterChangerDetailedState`` LOADED and ``shutterDetailedState``
    CLOSED, so late joiners see them as history.

    Parameters
    ----------
    profile : `CameraProfile`, optional
        The camera (default LSSTComCam).
    **kwargs
        The parameters of `CameraCsc`.

    Attributes
    ----------
    current_filter : `str`
        The filter in the beam (`CameraFaults.initial_filter`, default the
        profile's default filter).

    Raises
    ------
    ValueError
        `CameraFaults.initial_filter` is not a filter of the camera.
    """

    def __init__(self, profile: CameraProfile = COMCAM, **kwargs: typing.Any) -> None:
        faults = kwargs.get("faults") or CameraFaults()
        initial = faults.initial_filter or profile.default_filter
        if initial not in profile.filters:
            raise ValueError(
                f"initial_filter={initial!r} is not an {profile.instrument} filter; "
                f"use one of {', '.join(profile.filters)}"
            )
        self.current_filter = initial
        super().__init__(profile=profile, **kwargs)
        self.cmd_setFilter.allow_multiple_callbacks = True

    @property
    def physical_filter(self) -> str:
        """The filter in the beam."""
        return self.current_filter

    @property
    def filter_names(self) -> tuple[str, ...]:
        """The filters of the changer, by slot (slot 1 first)."""
        return self.profile.filters

    async def _publish_initial_filter_state(self) -> None:
        names = self.filter_names
        change_times = [float(self.timing.filter_change_time)] * 6
        await self.evt_availableFilters.set_write(
            filterNames=":".join(names),
            filterTypes=":".join(self.profile.filter_band(name) for name in names),
            maxSlowChangeTime=change_times,
            maxFastChangeTime=change_times,
        )
        await self._write_end_set_filter()
        await self._write_filter_changer_state(FilterChangerDetailedState.LOADED)

    async def _write_filter_changer_state(self, substate: FilterChangerDetailedState) -> None:
        await self.evt_filterChangerDetailedState.set_write(
            substate=int(substate), timestampTransition=self.clock(), force_output=True
        )

    async def _write_end_set_filter(self) -> None:
        name = self.current_filter
        await self.evt_endSetFilter.set_write(
            filterName=name,
            filterType=self.profile.filter_band(name),
            filterSlot=self.filter_names.index(name) + 1,
            # The linear encoder position is not modelled.
            filterPosition=0.0,
            force_output=True,
        )

    @property
    def changing_filter(self) -> str | None:
        """The filter change in progress (``setFilter <name>``), or None."""
        return self._changing_filter

    async def do_setFilter(self, data: salobj.type_hints.BaseMsgType) -> None:
        """Put filter ``name`` in the beam; the ack is sent after ``endSetFilter``."""
        self.assert_enabled("setFilter")
        name = data.name
        if name not in self.filter_names:
            raise salobj.ExpectedError(
                f"setFilter rejected: unknown filter {name!r}; "
                f"the available filters are {', '.join(self.filter_names)} (availableFilters)"
            )
        activity = self._changing_filter or (self._busy_with if self._integrating else None)
        if activity is not None:
            raise salobj.ExpectedError(
                f"setFilter {name} rejected: the camera is busy with {activity} "
                "(wait for ccsCommandState IDLE)"
            )
        was_busy = self.busy
        self._changing_filter = f"setFilter {name}"
        cancelled = False
        try:
            if not was_busy:
                await self._write_command_state(CCSCommandState.BUSY)
            await self.evt_startSetFilter.set_write(
                filterName=name, filterType=self.profile.filter_band(name), force_output=True
            )
            if name != self.current_filter:
                await self._change_filter(name)
            await self._write_end_set_filter()
        except asyncio.CancelledError:
            cancelled = True
            raise
        finally:
            if not cancelled:
                self._changing_filter = None
                await self._write_idle_if_free()

    async def _change_filter(self, name: str) -> None:
        """Unload the filter in place and load ``name``."""
        old = self.current_filter
        if self.faults.never_end_set_filter:
            self.log.warning(f"Simulated fault: the filter change {old} -> {name} never ends")
            await self.hang()
        reason = self.faults.set_filter_failure
        if reason is not None:
            raise salobj.ExpectedError(f"setFilter {name} failed: {reason}; {old} is still in the beam")
        half = self.timing.filter_change_time / 2
        await self._write_transition(self.evt_startUnloadFilter)
        await self._write_filter_changer_state(FilterChangerDetailedState.UNLOADING)
        await self.timing.sleep(half)
        await self._write_transition(self.evt_endUnloadFilter)
        await self._write_filter_changer_state(FilterChangerDetailedState.UNLOADED)
        await self._write_transition(self.evt_startLoadFilter)
        await self._write_filter_changer_state(FilterChangerDetailedState.LOADING)
        await self.timing.sleep(half)
        self.current_filter = name
        await self._write_transition(self.evt_endLoadFilter)
        await self._write_filter_changer_state(FilterChangerDetailedState.LOADED)


CCCameraCsc = FilterChangerCameraCsc
"""The mock CCCamera: `FilterChangerCameraCsc` with the LSSTComCam profile (its default)."""


def make_camera_csc(profile: CameraProfile, **kwargs: typing.Any) -> CameraCsc:
    """The mock camera of a profile: with a filter changer when the camera changes filters itself.

    Parameters
    ----------
    profile : `CameraProfile`
        The camera.
    **kwargs
        The parameters of `CameraCsc`.
    """
    if profile.filter_component == profile.camera_component:
        return FilterChangerCameraCsc(profile=profile, **kwargs)
    return CameraCsc(profile=profile, **kwargs)
