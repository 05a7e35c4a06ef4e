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

"""Mock CCCamera and CCHeaderService driven only through Remotes."""

from __future__ import annotations

import asyncio
import datetime

import pytest
from lsst.ts.calibscripts.sal import SalRetCode, State, salobj
from lsst.ts.calibscripts.sim import CameraFaults, ObservatoryOptions, SimulatedObservatory

SCALE = 0.001
BIAS_KVM = "imageType: BIAS, groupId: 2026-11-25T20:00:00.000, testType: BIAS, reason: daily"
CAMERA_EVENTS = (
    "ccsCommandState",
    "startIntegration",
    "startReadout",
    "endReadout",
    "endOfImageTelemetry",
)


async def take_one(camera: salobj.Remote, recorder=None, timeout: float = 10.0, **kwargs) -> None:
    """One bias takeImages; record "ack" when the final ack arrives."""
    fields = dict(numImages=1, expTime=0.0, shutter=False, keyValueMap=BIAS_KVM, sensors="", obsNote="")
    fields.update(kwargs)
    ack = await camera.cmd_takeImages.set_start(timeout=timeout, **fields)
    assert ack.ack == SalRetCode.CMD_COMPLETE
    if recorder is not None:
        recorder.add("ack", ack)


async def wait_idle(recorder, count: int) -> None:
    await recorder.wait_for(
        lambda: sum(1 for d in recorder.data("ccsCommandState") if d.substate == 1) >= count
    )


async def test_three_bias_event_order(recorder) -> None:
    options = ObservatoryOptions(time_scale=0.01)
    async with SimulatedObservatory(options) as observatory, salobj.Domain() as domain:
        async with (
            salobj.Remote(domain, "CCCamera") as camera,
            salobj.Remote(domain, "CCHeaderService") as header,
        ):
            # History: the "previous image" pair and an IDLE state are there for late joiners.
            camera.evt_startIntegration.flush()
            camera.evt_endReadout.flush()
            camera.evt_ccsCommandState.flush()
            recorder.watch(camera, *CAMERA_EVENTS)
            recorder.watch(header, "largeFileObjectAvailable")
            for frame in range(3):
                await take_one(camera, recorder)
                await wait_idle(recorder, frame + 1)
            await recorder.wait_count("largeFileObjectAvailable", 3)
            # Only the order within a topic is kept on the way: wait for every event.
            await recorder.wait_counts(
                {name: 6 if name == "ccsCommandState" else 3 for name in CAMERA_EVENTS}
            )

            labels = recorder.labels_as_written(*CAMERA_EVENTS, "ack")
            one_frame = ["ccsCommandState", "startIntegration", "ack", "startReadout", "endReadout"]
            one_frame += ["endOfImageTelemetry", "ccsCommandState"]
            assert labels == one_frame * 3
            substates = [d.substate for d in recorder.data("ccsCommandState")]
            assert substates == [2, 1, 2, 1, 2, 1]

            names = [image.obs_id for image in observatory.images]
            assert len(names) == 3
            for event in ("startIntegration", "startReadout", "endReadout", "endOfImageTelemetry"):
                assert [d.imageName for d in recorder.data(event)] == names
            seqs = [int(name.split("_")[3]) for name in names]
            assert seqs == [seqs[0], seqs[0] + 1, seqs[0] + 2]
            start = recorder.data("startIntegration")[0]
            assert start.imageSource == "CC" and start.imageController == "O"
            assert start.imageDate == names[0].split("_")[2]
            assert start.imageNumber == seqs[0]
            assert (start.imageIndex, start.imagesInSequence) == (1, 1)
            assert start.additionalKeys == "imageType:groupId:testType:reason"
            assert start.additionalValues == "BIAS:2026-11-25T20\\:00\\:00.000:BIAS:daily"
            assert [d.id for d in recorder.data("largeFileObjectAvailable")] == names
            lfoa = recorder.data("largeFileObjectAvailable")[0]
            assert lfoa.generator == "CCHeaderService" and lfoa.checkSum


async def test_names_roll_over_at_noon_tai(recorder) -> None:
    noon = datetime.datetime(2026, 11, 25, 12, tzinfo=datetime.timezone.utc).timestamp()
    now = [noon - 30.0]

    def clock() -> float:
        return now[0]

    options = ObservatoryOptions(time_scale=SCALE, clock=clock)
    async with SimulatedObservatory(options) as observatory, salobj.Domain() as domain:
        async with salobj.Remote(domain, "CCCamera") as camera:
            recorder.watch(camera, "startIntegration", "ccsCommandState")
            # 11:59:30, 11:59:59.9 then 12:00:00.0, 12:00:30 TAI
            for frame, tai in enumerate([noon - 30.0, noon - 0.1, noon, noon + 30.0]):
                now[0] = tai
                await take_one(camera)
                await wait_idle(recorder, frame + 1)
            # Only the order within a topic is kept on the way: wait for every startIntegration.
            await recorder.wait_count("startIntegration", 4)
            names = [d.imageName for d in recorder.data("startIntegration")]
            # Seq 1 of 20261124 is the "previous image" the camera published at start.
            assert names == [
                "CC_O_20261124_000002",
                "CC_O_20261124_000003",
                "CC_O_20261125_000001",
                "CC_O_20261125_000002",
            ]
            assert [image.day_obs for image in observatory.images] == [20261124, 20261124, 20261125, 20261125]
            assert [image.exposure_id for image in observatory.images] == [
                2026112400002,
                2026112400003,
                2026112500001,
                2026112500002,
            ]


async def test_sequence_never_repeats_across_take_calls(recorder) -> None:
    async with SimulatedObservatory(ObservatoryOptions(time_scale=SCALE)) as observatory:
        async with salobj.Domain() as domain, salobj.Remote(domain, "CCCamera") as camera:
            recorder.watch(camera, "startIntegration", "endReadout")
            for _ in range(2):
                await take_one(camera, numImages=2)
                await asyncio.wait_for(_until(lambda: not observatory.cccamera.busy), 5)
            await recorder.wait_counts({"startIntegration": 4, "endReadout": 4})
    # numImages=2: each image is read out before the next integrates.
    assert recorder.labels_as_written() == ["startIntegration", "endReadout"] * 4
    starts = recorder.data("startIntegration")
    assert [(d.imageIndex, d.imagesInSequence) for d in starts] == [(1, 2), (2, 2)] * 2
    names = [image.obs_id for image in observatory.images]
    assert len(names) == 4 and len(set(names)) == 4
    assert [image.exposure_id for image in observatory.images] == sorted(
        image.exposure_id for image in observatory.images
    )


async def _until(condition) -> None:
    while not condition():
        await asyncio.sleep(0.001)


async def test_take_images_rejected_while_busy() -> None:
    options = ObservatoryOptions(time_scale=0.1)  # 0.2 s readout
    async with SimulatedObservatory(options), salobj.Domain() as domain:
        async with salobj.Remote(domain, "CCCamera") as camera:
            await take_one(camera)  # returns at the end of integration; readout continues
            with pytest.raises(salobj.AckError) as info:
                await take_one(camera)
            assert info.value.ackcmd.ack == SalRetCode.CMD_FAILED
            assert "busy" in info.value.ackcmd.result


@pytest.mark.parametrize("state", [State.DISABLED, State.STANDBY])
async def test_take_images_rejected_unless_enabled(state: State) -> None:
    options = ObservatoryOptions(time_scale=SCALE, initial_states={"CCCamera": state})
    async with SimulatedObservatory(options) as observatory, salobj.Domain() as domain:
        async with salobj.Remote(domain, "CCCamera") as camera:
            summary = await camera.evt_summaryState.aget(timeout=5)
            assert summary.summaryState == state
            with pytest.raises(salobj.AckError) as info:
                await take_one(camera)
            assert info.value.ackcmd.ack == SalRetCode.CMD_FAILED
            assert f"takeImages not allowed in state={state!r}" in info.value.ackcmd.result
            assert observatory.images == []
            if state == State.DISABLED:
                await camera.cmd_enable.start(timeout=5)
                await take_one(camera)
                assert len(observatory.images) == 1


async def test_bad_arguments_rejected() -> None:
    async with SimulatedObservatory(ObservatoryOptions(time_scale=SCALE)), salobj.Domain() as domain:
        async with salobj.Remote(domain, "CCCamera") as camera:
            for kwargs, text in (
                (dict(numImages=0), "numImages"),
                (dict(expTime=-1.0), "expTime"),
                (dict(sensors="R22_S33"), "R22_S33"),
            ):
                with pytest.raises(salobj.AckError) as info:
                    await take_one(camera, **kwargs)
                assert info.value.ackcmd.ack == SalRetCode.CMD_FAILED
                assert text in info.value.ackcmd.result


async def test_late_remote_sees_stale_history() -> None:
    async with SimulatedObservatory(ObservatoryOptions(time_scale=SCALE)) as observatory:
        async with salobj.Domain() as domain:
            async with salobj.Remote(domain, "CCCamera") as camera:
                await take_one(camera)
                await asyncio.wait_for(_until(lambda: not observatory.cccamera.busy), 5)
            name = observatory.images[-1].obs_id
            async with salobj.Remote(domain, "CCCamera") as late:
                # The last sample of each event is queued, stale, for next(flush=False).
                stale = await late.evt_startIntegration.next(flush=False, timeout=10)
                assert stale.imageName == name
                assert (await late.evt_endReadout.next(flush=False, timeout=10)).imageName == name
                state = await late.evt_summaryState.next(flush=False, timeout=10)
                assert state.summaryState == State.ENABLED
                applied = await late.evt_configurationApplied.aget(timeout=10)
                assert applied.configurations
                assert (await late.evt_ccsCommandState.aget(timeout=10)).substate == 1
                late.evt_startIntegration.flush()
                with pytest.raises(asyncio.TimeoutError):
                    await late.evt_startIntegration.next(flush=False, timeout=0.05)


async def test_fresh_camera_has_no_image_history() -> None:
    options = ObservatoryOptions(time_scale=SCALE, camera=CameraFaults(publish_previous_image=False))
    async with SimulatedObservatory(options), salobj.Domain() as domain:
        async with salobj.Remote(domain, "CCCamera") as camera:
            assert camera.evt_startIntegration.get() is None
            assert camera.evt_endReadout.get() is None
            await take_one(camera)
            start = await camera.evt_startIntegration.next(flush=False, timeout=10)
            assert start.imageName.endswith("_000001")


async def test_sensors_honoured() -> None:
    async with SimulatedObservatory(ObservatoryOptions(time_scale=SCALE)) as observatory:
        async with salobj.Domain() as domain, salobj.Remote(domain, "CCOODS") as oods:
            async with salobj.Remote(domain, "CCCamera") as camera:
                await take_one(camera, sensors="R22_S11:R22_S00")
            seen = [await oods.evt_imageInOODS.next(flush=False, timeout=5) for _ in range(2)]
            assert sorted(event.sensor for event in seen) == ["S00", "S11"]
            with pytest.raises(asyncio.TimeoutError):
                await oods.evt_imageInOODS.next(flush=False, timeout=0.1)
    assert observatory.images[0].detectors == (0, 4)
