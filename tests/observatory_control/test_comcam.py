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

"""The ComCam group of the selected middleware against the mock CSCs.

On the simulated SAL this is the package's own group; on the real stack it is
ts_observatory_control's. The simulated group's API surface is checked against
the real one in tests/simsal/test_comcam_surface.py.
"""

from __future__ import annotations

import asyncio

import pytest
from lsst.ts.calibscripts.sal import ComCam, ComCamUsages, SalRetCode, State, salobj
from lsst.ts.calibscripts.sim import CameraFaults, ObservatoryOptions, SimulatedObservatory

SCALE = 0.001


async def test_usages_select_components_and_topics() -> None:
    async with salobj.Domain() as domain:
        async with ComCam(domain=domain, intended_usage=ComCamUsages.TakeImage) as comcam:
            assert comcam.rem.ccheaderservice is None
            assert hasattr(comcam.rem.ccoods, "evt_imageInOODS")
            assert hasattr(comcam.rem.cccamera, "evt_startIntegration")
            assert not hasattr(comcam.rem.cccamera, "evt_ccsCommandState")
        async with ComCam(domain=domain, intended_usage=ComCamUsages.All) as comcam:
            assert not hasattr(comcam.rem.ccoods, "evt_imageInOODS")
        async with ComCam(domain=domain) as comcam:
            assert comcam.components_attr == ["cccamera", "ccheaderservice", "ccoods"]
            assert hasattr(comcam.rem.ccoods, "evt_imageInOODS")
            assert hasattr(comcam.rem.cccamera, "evt_ccsCommandState")


async def test_take_bias_returns_ids_matching_image_names() -> None:
    checkpoints: list[str] = []

    async def checkpoint(name: str) -> None:
        checkpoints.append(name)

    async with SimulatedObservatory(ObservatoryOptions(time_scale=SCALE)) as observatory:
        async with salobj.Domain() as domain, ComCam(domain=domain) as comcam:
            camera = salobj.Remote(domain, "CCCamera", include=["endOfImageTelemetry"])
            await camera.start_task
            await comcam.assert_all_enabled("need the camera")
            group_id = comcam.next_group_id()
            ids = await comcam.take_bias(
                5, group_id=group_id, reason="daily", program="CALIB", checkpoint=checkpoint, note="a note"
            )
            assert len(ids) == 5 and all(type(i) is int for i in ids)
            names = [image.obs_id for image in observatory.images]
            assert [f"CC_O_{str(i)[:8]}_{int(str(i)[8:]):06d}" for i in ids] == names
            assert [image.exposure_id for image in observatory.images] == ids
            assert checkpoints == ["Expose 5 BIAS"]
            image = observatory.images[0]
            assert image.key_value_map == {
                "imageType": "BIAS",
                "groupId": group_id,
                "testType": "BIAS",
                "stutterRows": "0",
                "stutterNShifts": "0",
                "stutterDelay": "0.0",
                "reason": "daily",
                "program": "CALIB",
            }
            assert (image.group_id, image.image_type, image.exp_time) == (group_id, "BIAS", 0.0)
            assert image.detectors == tuple(range(9))
            # endOfImageTelemetry arrives for every image; emulatedImage is a string in ts_xml.
            for name in names:
                telemetry = await camera.evt_endOfImageTelemetry.next(flush=False, timeout=10)
                assert (telemetry.imageName, telemetry.emulatedImage) == (name, "")
            # A second call continues the sequence.
            more = await comcam.take_bias(1)
            assert more[0] > ids[-1]


async def test_assert_all_enabled() -> None:
    options = ObservatoryOptions(time_scale=SCALE, initial_states={"CCOODS": State.DISABLED})
    async with SimulatedObservatory(options), salobj.Domain() as domain:
        async with ComCam(domain=domain) as comcam:
            with pytest.raises(AssertionError, match=r"\['ccoods'\]\. Enable them"):
                await comcam.assert_all_enabled("Enable them")
            comcam.check.ccoods = False
            await comcam.assert_all_enabled()


async def test_assert_all_enabled_without_cscs_times_out() -> None:
    async with salobj.Domain() as domain, ComCam(domain=domain) as comcam:
        comcam.fast_timeout = 0.05
        with pytest.raises(asyncio.TimeoutError):
            await comcam.assert_all_enabled()


async def test_fresh_camera_waits_then_takes() -> None:
    options = ObservatoryOptions(time_scale=SCALE, camera=CameraFaults(publish_previous_image=False))
    async with SimulatedObservatory(options) as observatory, salobj.Domain() as domain:
        async with ComCam(domain=domain) as comcam:
            comcam.long_timeout = 0.05  # the real readiness check waits 30 s for history
            ids = await comcam.take_bias(2)
    assert ids == [image.exposure_id for image in observatory.images]
    assert observatory.images[0].seq_num == 1


# Camera faults, seen through ComCam.take_bias as a script would see them.


async def test_fail_on_frame() -> None:
    options = ObservatoryOptions(time_scale=SCALE, camera=CameraFaults(fail_take_images_on_frame=3))
    async with SimulatedObservatory(options) as observatory, salobj.Domain() as domain:
        async with ComCam(domain=domain) as comcam:
            with pytest.raises(salobj.AckError) as info:
                await comcam.take_bias(5)
            assert info.value.ackcmd.ack == SalRetCode.CMD_FAILED
            assert "frame 3" in info.value.ackcmd.result
    assert len(observatory.images) == 2


async def test_never_acked() -> None:
    options = ObservatoryOptions(time_scale=SCALE, camera=CameraFaults(never_ack_on_frame=2))
    async with SimulatedObservatory(options) as observatory, salobj.Domain() as domain:
        async with ComCam(domain=domain) as comcam:
            comcam.read_out_time = 0.0
            comcam.long_long_timeout = 0.2  # the real timeout is 2 s per frame + 120 s
            with pytest.raises(salobj.AckTimeoutError):
                await comcam.take_bias(3)
    assert len(observatory.images) == 1


async def test_dropped_start_integration() -> None:
    options = ObservatoryOptions(time_scale=SCALE, camera=CameraFaults(drop_start_integration_frames={2}))
    async with SimulatedObservatory(options) as observatory, salobj.Domain() as domain:
        async with ComCam(domain=domain) as comcam:
            comcam.long_long_timeout = 0.2
            with pytest.raises(RuntimeError, match="Timeout waiting for endReadout event"):
                await comcam.take_bias(3)
    assert len(observatory.images) == 2


async def test_dropped_end_readout_blocks_the_next_frame() -> None:
    options = ObservatoryOptions(time_scale=SCALE, camera=CameraFaults(drop_end_readout_frames={1}))
    async with SimulatedObservatory(options) as observatory, salobj.Domain() as domain:
        async with ComCam(domain=domain) as comcam:
            comcam.long_timeout = 0.02
            # The readiness check of frame 2 waits for frame 1's endReadout forever.
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(comcam.take_bias(2), timeout=0.5)
    assert len(observatory.images) == 1


async def test_camera_goes_to_fault_mid_sequence() -> None:
    options = ObservatoryOptions(time_scale=SCALE, camera=CameraFaults(fault_on_frame=2, fault_code=42))
    async with SimulatedObservatory(options), salobj.Domain() as domain:
        async with ComCam(domain=domain) as comcam:
            with pytest.raises(salobj.AckError) as info:
                await comcam.take_bias(3)
            assert info.value.ackcmd.ack == SalRetCode.CMD_FAILED
            camera = comcam.rem.cccamera
            # The failed ack may arrive before the summaryState event (no order across topics).
            state = await camera.evt_summaryState.aget(timeout=10)
            while state.summaryState != State.FAULT:
                state = await camera.evt_summaryState.next(flush=False, timeout=10)
            # errorCode is another topic: it may arrive after the FAULT summaryState.
            error = await camera.evt_errorCode.aget(timeout=10)
            while error.errorCode == 0:
                error = await camera.evt_errorCode.next(flush=False, timeout=10)
            assert error.errorCode == 42 and "fault" in error.errorReport
            with pytest.raises(AssertionError, match="cccamera"):
                await comcam.assert_all_enabled()
            # A later command is refused in FAULT. (take_bias itself would now wait
            # forever for the endReadout of the image the camera faulted on.)
            with pytest.raises(salobj.AckError) as info:
                await camera.cmd_takeImages.set_start(numImages=1, keyValueMap="imageType: BIAS", timeout=10)
            assert "not allowed in state=<State.FAULT: 3>" in info.value.ackcmd.result


async def test_camera_disabled_rejects_take_bias() -> None:
    options = ObservatoryOptions(time_scale=SCALE, initial_states={"CCCamera": State.DISABLED})
    async with SimulatedObservatory(options) as observatory, salobj.Domain() as domain:
        async with ComCam(domain=domain) as comcam:
            with pytest.raises(salobj.AckError) as info:
                await comcam.take_bias(1)
            assert "takeImages not allowed in state=<State.DISABLED: 1>" in info.value.ackcmd.result
    assert observatory.images == []
