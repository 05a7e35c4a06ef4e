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

"""Mock OODS (CCOODS, MTOODS, ATOODS): one ``imageInOODS`` per detector file of each image."""

from __future__ import annotations

__all__ = ["CCOODSCsc", "OodsCsc"]

import asyncio
from collections.abc import Callable

from ...cameras import COMCAM, CameraProfile
from ...sal import State
from ..faults import OodsFaults
from ..interfaces import DataPlane, ImageInfo, NullDataPlane
from ..timing import Timing, simulated_clock
from .base import ImageFeed, ImageName, SequenceCounter, SimCsc


class OodsCsc(SimCsc):
    """Mock OODS of a camera, ingesting the raws of each image it reads out.

    For each image taken from the `ImageFeed` it waits the ingest delay,
    asks the data plane to ingest the image's files (one call per image,
    `DataPlane.ingest_image`), then publishes ``imageInOODS(camera=<instrument>,
    obsid, raft, sensor, statusCode, description)`` for each detector as
    ctrl_oods fills it from the butler's records: the raft and sensor are the
    detector name split at ``_`` (``R22``/``S11``; LSSTCam corners
    ``R00``/``SG0`` and ``R00W``/``SW0``; LATISS ``RXX``/``S00``), one detector
    every `Timing.ingest_detector_interval`. Images are handled concurrently,
    so the events of consecutive images interleave. Nothing is ingested
    or published unless ENABLED.

    Parameters
    ----------
    image_feed : `ImageFeed`
        Images read out by the camera.
    profile : `CameraProfile`, optional
        The camera (default LSSTComCam): the component is its OODS.
    initial_state : `State`, optional
        Initial summary state.
    timing : `Timing`, optional
        Durations and time scale.
    faults : `OodsFaults`, optional
        Injected faults.
    data_plane : `DataPlane`, optional
        Ingests the files (default `NullDataPlane`).
    sequence : `SequenceCounter`, optional
        Names the unrelated images of `OodsFaults.unrelated_images`.
    clock : callable, optional
        TAI clock for unrelated image names.

    Attributes
    ----------
    images_received : `int`
        Images taken from the feed.
    images_done : `int`
        Images whose events were all published.
    """

    def __init__(
        self,
        image_feed: ImageFeed,
        profile: CameraProfile = COMCAM,
        initial_state: State = State.ENABLED,
        timing: Timing | None = None,
        faults: OodsFaults | None = None,
        data_plane: DataPlane | None = None,
        sequence: SequenceCounter | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.profile = profile
        self.timing = timing or Timing()
        self.faults = faults or OodsFaults()
        self.data_plane: DataPlane = data_plane if data_plane is not None else NullDataPlane()
        self.sequence = sequence or SequenceCounter(camera_code=profile.camera_code)
        self.clock = clock or simulated_clock()
        self.image_feed = image_feed
        self.images_received = 0
        self.images_done = 0
        self._queue = image_feed.subscribe()
        self._holds: dict[int, asyncio.Event] = {}
        super().__init__(name=profile.oods_component, initial_state=initial_state)

    async def start(self) -> None:
        await super().start()
        self.run_in_background(self._consume_images())

    async def _consume_images(self) -> None:
        while True:
            image = await self._queue.get()
            self.images_received += 1
            if self.summary_state != State.ENABLED:
                self.log.warning(
                    f"{image.obs_id} not ingested: {self.salinfo.name} state is {self.summary_state!r}"
                )
                continue
            self.run_in_background(self._ingest_image(image, self.images_received))

    @property
    def ingest_delay(self) -> float:
        """Simulated seconds from readout to the first event of an image."""
        return self.faults.ingest_delay if self.faults.ingest_delay is not None else self.timing.ingest_delay

    def hold(self, frame: int) -> asyncio.Event:
        """Publish nothing for the ``frame``-th image (1-based) until the returned event is set.

        Lets a test choose when that image's events come relative to other
        events, instead of relying on delivery timing.
        """
        return self._holds.setdefault(frame, asyncio.Event())

    async def _ingest_image(self, image: ImageInfo, frame: int) -> None:
        await self.timing.sleep(self.ingest_delay)
        if frame in self._holds:
            await self._holds[frame].wait()
        unrelated: list[ImageName] = []
        for _ in range(self.faults.unrelated_images):
            unrelated.append(self.sequence.allocate(self.clock(), controller="C"))
        if unrelated:
            await self.sequence.save()
        if self.summary_state != State.ENABLED:
            self.log.warning(f"{image.obs_id} not ingested: state {self.summary_state!r}")
            return
        results = await self._ingest_files(image, frame)
        for i, detector in enumerate(image.detectors):
            if i > 0:
                await self.timing.sleep(self.timing.ingest_detector_interval)
            if self.summary_state != State.ENABLED:
                self.log.warning(
                    f"{image.obs_id} detector {detector} not published: state {self.summary_state!r}"
                )
                return
            await self._publish(image, frame, detector, results)
            for other in unrelated:
                await self._write(other.name, detector, 0, "file ingested")
        self.images_done += 1
        if self.faults.fault_after_images is not None and self.images_done >= self.faults.fault_after_images:
            if self.summary_state != State.FAULT:
                await self.fault(code=1, report=f"Simulated OODS fault after {self.images_done} images")

    async def _ingest_files(self, image: ImageInfo, frame: int) -> dict[int, tuple[int, str]]:
        """Ingest the image's files in one data-plane call; return (code, description) by detector.

        Detectors with an injected status code or a missing event are not
        ingested. One butler ingest per image instead of one per file: the
        events still come one per detector, `Timing.ingest_detector_interval`
        apart (`_ingest_image`).
        """
        wanted = [
            detector
            for detector in image.detectors
            if not self.faults.is_missing(frame, image.obs_id, image.exposure_id, detector)
            and self.faults.status_code_for(frame, image.obs_id, image.exposure_id, detector) == 0
        ]
        if not wanted:
            return {}
        try:
            return await self.data_plane.ingest_image(image, wanted)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            self.log.exception(f"Ingest of {image.obs_id} detectors {wanted} raised")
            return {detector: (1, f"ingest failure: {e!r}") for detector in wanted}

    async def _publish(
        self, image: ImageInfo, frame: int, detector: int, results: dict[int, tuple[int, str]]
    ) -> None:
        if self.faults.is_missing(frame, image.obs_id, image.exposure_id, detector):
            self.log.warning(f"Simulated fault: no imageInOODS for {image.obs_id} detector {detector}")
            return
        code = self.faults.status_code_for(frame, image.obs_id, image.exposure_id, detector)
        if code == 1:
            description = f"ingest failure: simulated failure ingesting {image.obs_id} detector {detector}"
        elif code == 2:
            description = f"metadata failure: simulated bad header in {image.obs_id} detector {detector}"
        else:
            code, description = results.get(
                detector, (1, f"ingest failure: {image.obs_id} detector {detector} was not ingested")
            )
        await self._write(image.obs_id, detector, code, description)

    async def _write(self, obsid: str, detector: int, code: int, description: str) -> None:
        if code == 2:
            raft, sensor = "R??", "S??"
        else:
            raft, sensor = self.profile.raft_sensor(detector)
        await self.evt_imageInOODS.set_write(
            camera=self.profile.instrument,
            obsid=obsid,
            raft=raft,
            sensor=sensor,
            statusCode=int(code),
            description=description,
            force_output=True,
        )

    async def close_tasks(self) -> None:
        self.image_feed.unsubscribe(self._queue)
        await super().close_tasks()


CCOODSCsc = OodsCsc
"""The mock CCOODS: `OodsCsc` with the LSSTComCam profile (its default)."""
