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

"""Mock CCCamera: the LSSTComCam camera control system as seen through SAL."""

from __future__ import annotations

__all__ = ["CCCameraCsc", "DETECTOR_NAMES", "CCSCommandState", "parse_key_value_map", "parse_sensors"]

import enum
import typing
from collections.abc import Callable

from ...sal import State, salobj
from ..faults import CameraFaults
from ..interfaces import DataPlane, ImageInfo, NullDataPlane
from ..timing import Timing, simulated_clock, tai_to_astropy
from .base import ImageFeed, ImageName, SequenceCounter, SimCsc

RAFT = "R22"
DETECTOR_NAMES: tuple[str, ...] = tuple(f"{RAFT}_S{i}{j}" for i in range(3) for j in range(3))
"""Detector names by id: 0..8 = R22_S00 .. R22_S22."""


class CCSCommandState(enum.IntEnum):
    """``ccsCommandState.substate`` values."""

    IDLE = 1
    BUSY = 2


def parse_sensors(sensors: str) -> tuple[int, ...]:
    """Return the detector ids of a ``takeImages.sensors`` string.

    Parameters
    ----------
    sensors : `str`
        Colon-delimited sensor names (``R22_S00:R22_S11``, or ``S00``);
        blank means every sensor.

    Returns
    -------
    detectors : `tuple` [`int`, ...]
        Sorted detector ids.

    Raises
    ------
    salobj.ExpectedError
        If a name is not a ComCam sensor.
    """
    if not sensors.strip():
        return tuple(range(len(DETECTOR_NAMES)))
    detectors = set()
    for item in sensors.split(":"):
        name = item.strip().replace("/", "_")
        if not name:
            continue
        if not name.startswith(RAFT + "_"):
            name = f"{RAFT}_{name}"
        if name not in DETECTOR_NAMES:
            raise salobj.ExpectedError(
                f"Unknown sensor {item.strip()!r}; ComCam sensors are {DETECTOR_NAMES}"
            )
        detectors.add(DETECTOR_NAMES.index(name))
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


class CCCameraCsc(SimCsc):
    """Mock CCCamera taking LSSTComCam images.

    ``takeImages`` publishes, per image: ``ccsCommandState`` BUSY →
    ``startIntegration`` → (integration) → final ``CMD_COMPLETE`` ack
    (after the last image's integration) → ``startReadout`` →
    ``endReadout`` (after the readout time) → ``endOfImageTelemetry`` →
    ``ccsCommandState`` IDLE. A ``takeImages`` received before IDLE is
    rejected (``CMD_FAILED``). After ``endReadout`` the image goes to the
    data plane (raw files) and to the `ImageFeed` (CCOODS).

    Parameters
    ----------
    initial_state : `State`, optional
        Initial summary state.
    timing : `Timing`, optional
        Durations and time scale.
    faults : `CameraFaults`, optional
        Injected faults.
    data_plane : `DataPlane`, optional
        Receives each image read out (default: `NullDataPlane`).
    sequence : `SequenceCounter`, optional
        Image name allocator (shared with CCOODS for unrelated images).
    image_feed : `ImageFeed`, optional
        Where images read out are handed to CCOODS.
    clock : callable, optional
        Returns the current TAI unix time (default `simulated_clock`).

    Attributes
    ----------
    images : `list` [`ImageInfo`]
        Every image started, in order.
    frames_received : `int`
        takeImages commands accepted (the frame counter of `CameraFaults`).
    """

    def __init__(
        self,
        initial_state: State = State.ENABLED,
        timing: Timing | None = None,
        faults: CameraFaults | None = None,
        data_plane: DataPlane | None = None,
        sequence: SequenceCounter | None = None,
        image_feed: ImageFeed | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.timing = timing or Timing()
        self.faults = faults or CameraFaults()
        self.data_plane: DataPlane = data_plane if data_plane is not None else NullDataPlane()
        self.sequence = sequence or SequenceCounter(first_seq_num=self.faults.first_seq_num)
        self.image_feed = image_feed or ImageFeed()
        self.clock = clock or simulated_clock()
        self.images: list[ImageInfo] = []
        self.frames_received = 0
        self._busy_with: str | None = None
        super().__init__(
            name="CCCamera",
            initial_state=initial_state,
            configurations="Normal",
            overrides_available="Normal",
            allow_missing_callbacks=True,
        )
        self.cmd_takeImages.allow_multiple_callbacks = True

    @property
    def busy(self) -> bool:
        """True from ``takeImages`` acceptance until ``ccsCommandState`` IDLE."""
        return self._busy_with is not None

    async def start(self) -> None:
        await super().start()
        await self.evt_availableFilters.set_write(filterNames="r_03", filterTypes="r")
        await self.evt_endSetFilter.set_write(filterName="r_03", filterType="r", filterSlot=1)
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

    async def _write_command_state(self, substate: CCSCommandState) -> None:
        await self.evt_ccsCommandState.set_write(
            substate=int(substate), timestampTransition=self.clock(), force_output=True
        )

    def _identity(
        self, name: ImageName, key_value_map: dict[str, str], index: int, count: int, tai: float
    ) -> dict[str, typing.Any]:
        return dict(
            additionalKeys=":".join(key_value_map.keys()),
            additionalValues=":".join(_escape(v) for v in key_value_map.values()),
            imagesInSequence=count,
            imageName=name.name,
            imageIndex=index,
            imageSource="CC",
            imageController="O",
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
        if self._busy_with is not None:
            raise salobj.ExpectedError(
                f"takeImages rejected: the camera is busy with {self._busy_with} "
                "(wait for ccsCommandState IDLE)"
            )
        detectors = parse_sensors(data.sensors)
        key_value_map = parse_key_value_map(data.keyValueMap)
        self.frames_received += 1
        frame = self.frames_received
        if self.faults.hangs_on(frame):
            self.log.warning(f"Simulated fault: takeImages frame {frame} is never acknowledged")
            await self.hang()
        if frame == self.faults.fail_take_images_on_frame:
            raise salobj.ExpectedError(f"Simulated CCS failure: takeImages rejected on frame {frame}")

        self._busy_with = f"takeImages frame {frame}"
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
                integration = data.expTime + (self.timing.shutter_time if data.shutter else 0.0)
                await self.timing.sleep(integration)
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
                )
                self.images.append(image)
                last = index == count
                readout = self._readout(image, fields, frame, last=last, shutter=bool(data.shutter))
                if last:
                    # The final ack goes out when this callback returns; the
                    # readout continues in the background.
                    self.run_in_background(readout)
                    readout_started = True
                else:
                    await readout
        finally:
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
                await self._write_command_state(CCSCommandState.IDLE)
        finally:
            if last:
                self._busy_with = None
