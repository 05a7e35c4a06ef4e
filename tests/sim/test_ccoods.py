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

"""Mock CCOODS driven through Remotes: ingest events per detector, faults."""

from __future__ import annotations

import asyncio
import collections

import pytest
from lsst.ts.calibscripts.sal import State, salobj
from lsst.ts.calibscripts.sim import ObservatoryOptions, OodsFaults, SimulatedObservatory, Timing
from lsst.ts.calibscripts.sim.interfaces import ImageInfo, NullDataPlane
from lsst.ts.calibscripts.testing import script_runs

SCALE = 0.001
SENSORS = [f"S{i}{j}" for i in range(3) for j in range(3)]
KVM = "imageType: BIAS, groupId: g1, testType: BIAS"


async def take(camera: salobj.Remote, observatory: SimulatedObservatory, count: int) -> None:
    """Take ``count`` biases, each after the previous readout."""
    for _ in range(count):
        while observatory.cccamera.busy:
            await asyncio.sleep(0.001)
        await camera.cmd_takeImages.set_start(
            numImages=1, expTime=0.0, shutter=False, keyValueMap=KVM, sensors="", obsNote="", timeout=10
        )


async def collect(oods: salobj.Remote, count: int, timeout: float = 5.0) -> list:
    return [await oods.evt_imageInOODS.next(flush=False, timeout=timeout) for _ in range(count)]


async def assert_no_more(oods: salobj.Remote) -> None:
    with pytest.raises(asyncio.TimeoutError):
        await oods.evt_imageInOODS.next(flush=False, timeout=0.1)


async def test_nine_ingest_events_per_image() -> None:
    async with SimulatedObservatory(ObservatoryOptions(time_scale=SCALE)) as observatory:
        async with salobj.Domain() as domain, salobj.Remote(domain, "CCOODS") as oods:
            async with salobj.Remote(domain, "CCCamera") as camera:
                await take(camera, observatory, 3)
            events = await collect(oods, 27)
            await assert_no_more(oods)
    names = [image.obs_id for image in observatory.images]
    per_image = collections.defaultdict(list)
    for event in events:
        per_image[event.obsid].append(event)
    assert sorted(per_image) == names
    for name in names:
        assert sorted(e.sensor for e in per_image[name]) == SENSORS
        assert {(e.camera, e.raft, e.statusCode) for e in per_image[name]} == {("LSSTComCam", "R22", 0)}


async def test_events_of_consecutive_images_interleave() -> None:
    # Images are ingested concurrently, so the events of two images interleave.
    # Both images are held until the OODS has received the second, then
    # released together: the overlap does not depend on how fast the test takes
    # the second image (under load a 9 ms ingest could end before the second
    # readout). A serial OODS would publish all of one image's events first.
    options = ObservatoryOptions(
        time_scale=SCALE, timing=Timing(ingest_delay=0.0, ingest_detector_interval=1.0)
    )
    async with SimulatedObservatory(options) as observatory:
        holds = [observatory.ccoods.hold(1), observatory.ccoods.hold(2)]
        async with salobj.Domain() as domain, salobj.Remote(domain, "CCOODS") as oods:
            async with salobj.Remote(domain, "CCCamera") as camera:
                await take(camera, observatory, 2)
            # A serial OODS never takes the second image.
            await script_runs.wait_for(
                lambda: observatory.ccoods.images_received == 2, timeout=10, what="the OODS has both images"
            )
            for hold in holds:
                hold.set()
            events = await collect(oods, 18)
    order = [event.obsid for event in events]
    first, second = (image.obs_id for image in observatory.images)
    last = {name: max(i for i, each in enumerate(order) if each == name) for name in (first, second)}
    assert order.index(second) < last[first]
    assert order.index(first) < last[second]


async def test_status_codes_and_missing_events() -> None:
    faults = OodsFaults(status_codes={(1, 3): 1, (2, None): 2}, missing={(1, 7), (1, 8)})
    async with SimulatedObservatory(ObservatoryOptions(time_scale=SCALE, oods=faults)) as observatory:
        async with salobj.Domain() as domain, salobj.Remote(domain, "CCOODS") as oods:
            async with salobj.Remote(domain, "CCCamera") as camera:
                await take(camera, observatory, 2)
            events = await collect(oods, 7 + 9)
            await assert_no_more(oods)
    first, second = (image.obs_id for image in observatory.images)
    first_events = {e.sensor: e for e in events if e.obsid == first}
    assert sorted(first_events) == SENSORS[:7]
    assert first_events["S10"].statusCode == 1
    assert first_events["S10"].description.startswith("ingest failure:")
    assert all(e.statusCode == 0 for s, e in first_events.items() if s != "S10")
    second_events = [e for e in events if e.obsid == second]
    assert len(second_events) == 9
    assert {(e.statusCode, e.raft, e.sensor) for e in second_events} == {(2, "R??", "S??")}
    assert all(e.description.startswith("metadata failure:") for e in second_events)


async def test_unrelated_images_interleaved() -> None:
    faults = OodsFaults(unrelated_images=2)
    async with SimulatedObservatory(ObservatoryOptions(time_scale=SCALE, oods=faults)) as observatory:
        async with salobj.Domain() as domain, salobj.Remote(domain, "CCOODS") as oods:
            async with salobj.Remote(domain, "CCCamera") as camera:
                await take(camera, observatory, 1)
            events = await collect(oods, 27)
            await assert_no_more(oods)
    ours = observatory.images[0].obs_id
    others = sorted({e.obsid for e in events} - {ours})
    assert len(others) == 2 and all(name.startswith("CC_C_") for name in others)
    obsids = [e.obsid for e in events]
    assert obsids[0] == ours and obsids[1] in others and obsids[3] == ours  # interleaved
    assert sum(1 for name in obsids if name == ours) == 9


async def test_no_ingest_unless_enabled() -> None:
    options = ObservatoryOptions(time_scale=SCALE, initial_states={"CCOODS": State.DISABLED})
    async with SimulatedObservatory(options) as observatory:
        async with salobj.Domain() as domain, salobj.Remote(domain, "CCOODS") as oods:
            async with salobj.Remote(domain, "CCCamera") as camera:
                await take(camera, observatory, 1)
            await assert_no_more(oods)
            assert (await oods.evt_summaryState.aget(timeout=10)).summaryState == State.DISABLED


async def test_oods_goes_to_fault_after_images() -> None:
    faults = OodsFaults(fault_after_images=1)
    async with SimulatedObservatory(ObservatoryOptions(time_scale=SCALE, oods=faults)) as observatory:
        async with salobj.Domain() as domain, salobj.Remote(domain, "CCOODS") as oods:
            async with salobj.Remote(domain, "CCCamera") as camera:
                await take(camera, observatory, 1)
                await collect(oods, 9)
                while (await oods.evt_summaryState.aget(timeout=10)).summaryState != State.FAULT:
                    await oods.evt_summaryState.next(flush=False, timeout=10)
                # errorCode is another topic: it may arrive after the FAULT summaryState.
                error = await oods.evt_errorCode.aget(timeout=10)
                while error.errorCode == 0:
                    error = await oods.evt_errorCode.next(flush=False, timeout=10)
                assert error.errorCode == 1
                await take(camera, observatory, 1)
            await assert_no_more(oods)


class RecordingDataPlane(NullDataPlane):
    """A data plane that records calls and fails one detector."""

    def __init__(self) -> None:
        self.begun: list[str] = []
        self.ingested: list[tuple[str, int]] = []

    def begin_image(self, image: ImageInfo) -> None:
        self.begun.append(image.obs_id)

    async def ingest(self, image: ImageInfo, detector: int) -> tuple[int, str]:
        self.ingested.append((image.obs_id, detector))
        if detector == 5:
            return 1, "ingest failure: no raw file"
        return 0, "file ingested"


async def test_data_plane_called_per_image_and_detector() -> None:
    data_plane = RecordingDataPlane()
    faults = OodsFaults(missing={(1, 0)})
    options = ObservatoryOptions(time_scale=SCALE, oods=faults)
    async with SimulatedObservatory(options, data_plane=data_plane) as observatory:
        async with salobj.Domain() as domain, salobj.Remote(domain, "CCOODS") as oods:
            async with salobj.Remote(domain, "CCCamera") as camera:
                await take(camera, observatory, 1)
            events = await collect(oods, 8)
    name = observatory.images[0].obs_id
    assert data_plane.begun == [name]
    assert sorted(data_plane.ingested) == [(name, d) for d in range(1, 9)]
    failed = [e for e in events if e.statusCode != 0]
    assert [(e.sensor, e.description) for e in failed] == [("S12", "ingest failure: no raw file")]


class BatchRecordingDataPlane(NullDataPlane):
    """A data plane that records its ``ingest_image`` calls."""

    def __init__(self) -> None:
        self.batches: list[tuple[str, list[int]]] = []

    async def ingest(self, image: ImageInfo, detector: int) -> tuple[int, str]:
        raise AssertionError("CCOODS ingests each image in one call")

    async def ingest_image(self, image: ImageInfo, detectors) -> dict[int, tuple[int, str]]:
        self.batches.append((image.obs_id, list(detectors)))
        return {d: (1, "ingest failure: no raw file") if d == 6 else (0, "file ingested") for d in detectors}


async def test_one_data_plane_call_per_image_without_the_faulted_detectors() -> None:
    data_plane = BatchRecordingDataPlane()
    faults = OodsFaults(status_codes={(1, 3): 1}, missing={(1, 0)})
    options = ObservatoryOptions(time_scale=SCALE, oods=faults)
    async with SimulatedObservatory(options, data_plane=data_plane) as observatory:
        async with salobj.Domain() as domain, salobj.Remote(domain, "CCOODS") as oods:
            async with salobj.Remote(domain, "CCCamera") as camera:
                await take(camera, observatory, 2)
            events = await collect(oods, 8 + 9)
            await assert_no_more(oods)
    first, second = (image.obs_id for image in observatory.images)
    assert sorted(data_plane.batches) == [(first, [1, 2, 4, 5, 6, 7, 8]), (second, list(range(9)))]
    codes = {(e.obsid, e.sensor): (e.statusCode, e.description) for e in events}
    assert codes[(first, "S10")][0] == 1 and "simulated failure" in codes[(first, "S10")][1]
    assert codes[(first, "S20")] == codes[(second, "S20")] == (1, "ingest failure: no raw file")
    assert codes[(second, "S00")] == (0, "file ingested")
    assert (first, "S00") not in codes
