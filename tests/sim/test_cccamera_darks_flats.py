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

"""Mock CCCamera: darks, flats (shutter), the filter changer and their faults."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from lsst.ts.calibscripts.sal import SalRetCode, State, salobj
from lsst.ts.calibscripts.sim import CameraFaults, ObservatoryOptions, SimulatedObservatory, Timing
from lsst.ts.calibscripts.sim.csc.camera import CCCameraCsc

SCALE = 0.001
SHUTTER_EVENTS = ("startShutterOpen", "endShutterOpen", "startShutterClose", "endShutterClose")
FILTER_EVENTS = (
    "startSetFilter",
    "startUnloadFilter",
    "endUnloadFilter",
    "startLoadFilter",
    "endLoadFilter",
    "endSetFilter",
)
# shutterDetailedState and filterChangerDetailedState substates (ts_xml order, 1-based)
CLOSED, OPEN, CLOSING, OPENING = 1, 2, 3, 4
UNLOADING, LOADING, LOADED, UNLOADED = 1, 2, 3, 4


def kvm(image_type: str) -> str:
    return f"imageType: {image_type}, groupId: 2026-11-25T20:00:00.000, testType: {image_type}"


async def take(camera: salobj.Remote, image_type: str, exp_time: float, shutter: bool, **kwargs) -> None:
    await camera.cmd_takeImages.set_start(
        numImages=1,
        expTime=exp_time,
        shutter=shutter,
        keyValueMap=kvm(image_type),
        sensors="",
        obsNote="",
        timeout=10,
        **kwargs,
    )


async def until_idle(observatory: SimulatedObservatory) -> None:
    while observatory.cccamera.busy:
        await asyncio.sleep(0.001)


def record_sleeps(observatory: SimulatedObservatory) -> list[float]:
    """Give the camera its own Timing whose sleeps (simulated seconds) are recorded."""
    timing = dataclasses.replace(observatory.cccamera.timing)
    slept: list[float] = []
    scaled_sleep = timing.sleep

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        await scaled_sleep(seconds)

    object.__setattr__(timing, "sleep", sleep)
    observatory.cccamera.timing = timing
    return slept


async def test_dark_keeps_the_shutter_closed_and_flat_opens_it(recorder) -> None:
    async with SimulatedObservatory(ObservatoryOptions(time_scale=SCALE)) as observatory:
        slept = record_sleeps(observatory)
        async with salobj.Domain() as domain, salobj.Remote(domain, "CCCamera") as camera:
            camera.evt_startIntegration.flush()
            recorder.watch(camera, "startIntegration", "endReadout", "endOfImageTelemetry", *SHUTTER_EVENTS)
            recorder.watch(camera, "shutterDetailedState")

            await take(camera, "DARK", 30.0, shutter=False)
            await recorder.wait_count("endOfImageTelemetry", 1)
            await recorder.wait_count("endReadout", 1)
            await until_idle(observatory)
            # Integration = expTime, then the readout delays: no shutter motion.
            assert slept == [30.0, 0.05, 2.0, 0.3]
            assert recorder.labels(*SHUTTER_EVENTS, "shutterDetailedState") == []

            slept.clear()
            await take(camera, "FLAT", 5.0, shutter=True)
            # Only the order within a topic is kept on the way: wait for every event.
            for label, count in [("endOfImageTelemetry", 2), ("endReadout", 2), ("shutterDetailedState", 4)]:
                await recorder.wait_count(label, count)
            for label in SHUTTER_EVENTS:
                await recorder.wait_count(label, 1)
            await until_idle(observatory)
            # Half the shutter time to open, expTime open, half to close.
            assert slept == [0.5, 5.0, 0.5, 0.05, 2.0, 0.3]
            flat_events = recorder.labels_as_written(
                "startIntegration", "endReadout", *SHUTTER_EVENTS, "shutterDetailedState"
            )[2:]
            assert flat_events == [
                "startIntegration",
                "startShutterOpen",
                "shutterDetailedState",
                "endShutterOpen",
                "shutterDetailedState",
                "startShutterClose",
                "shutterDetailedState",
                "endShutterClose",
                "shutterDetailedState",
                "endReadout",
            ]
            substates = [d.substate for d in recorder.data("shutterDetailedState")]
            assert substates == [OPENING, OPEN, CLOSING, CLOSED]

            telemetry = recorder.data("endOfImageTelemetry")
            assert [t.measuredShutterOpenTime for t in telemetry] == [0.0, 5.0]
            assert [t.exposureTime for t in telemetry] == [30.0, 5.0]

    dark, flat = observatory.images
    assert (dark.image_type, dark.exp_time, dark.physical_filter) == ("DARK", 30.0, "r_03")
    assert (flat.image_type, flat.exp_time, flat.physical_filter) == ("FLAT", 5.0, "r_03")
    assert flat.date_end.unix_tai - flat.date_begin.unix_tai == pytest.approx(5.0)


async def test_camera_accepts_short_open_shutter_exposures() -> None:
    # The 0.1 s open-shutter minimum is ts_observatory_control's, not the camera's.
    async with SimulatedObservatory(ObservatoryOptions(time_scale=SCALE)) as observatory:
        async with salobj.Domain() as domain, salobj.Remote(domain, "CCCamera") as camera:
            await take(camera, "FLAT", 0.01, shutter=True)
    assert [(image.image_type, image.exp_time) for image in observatory.images] == [("FLAT", 0.01)]


async def test_filter_state_is_history_for_late_joiners() -> None:
    options = ObservatoryOptions(time_scale=SCALE, camera=CameraFaults(initial_filter="z_03"))
    async with SimulatedObservatory(options) as observatory, salobj.Domain() as domain:
        async with salobj.Remote(domain, "CCCamera") as camera:
            available = await camera.evt_availableFilters.aget(timeout=5)
            assert available.filterNames.split(":") == ["u_02", "g_01", "r_03", "i_06", "z_03", "y_04"]
            assert available.filterTypes.split(":") == ["u", "g", "r", "i", "z", "y"]
            assert available.maxSlowChangeTime == [30.0] * 6
            end = await camera.evt_endSetFilter.aget(timeout=5)
            assert (end.filterName, end.filterType, end.filterSlot) == ("z_03", "z", 5)
            changer = await camera.evt_filterChangerDetailedState.aget(timeout=5)
            assert changer.substate == LOADED
            shutter = await camera.evt_shutterDetailedState.aget(timeout=5)
            assert shutter.substate == CLOSED
            await take(camera, "DARK", 1.0, shutter=False)
    assert observatory.images[0].physical_filter == "z_03"


def test_initial_filter_must_be_a_filter_of_the_camera() -> None:
    with pytest.raises(
        ValueError, match="initial_filter='HSC-R' is not a filter of any camera.*LSSTComCam: u_02"
    ):
        CameraFaults(initial_filter="HSC-R")
    # An LSSTCam filter is a filter, but not ComCam's: refused when the ComCam camera is made.
    with pytest.raises(
        ValueError, match="initial_filter='r_57' is not an LSSTComCam filter; use one of u_02"
    ):
        CCCameraCsc(faults=CameraFaults(initial_filter="r_57"))


async def test_set_filter_changes_the_filter(recorder) -> None:
    async with SimulatedObservatory(ObservatoryOptions(time_scale=SCALE)) as observatory:
        slept = record_sleeps(observatory)
        async with salobj.Domain() as domain, salobj.Remote(domain, "CCCamera") as camera:
            camera.evt_endSetFilter.flush()
            recorder.watch(camera, *FILTER_EVENTS, "filterChangerDetailedState", "ccsCommandState")
            ack = await camera.cmd_setFilter.set_start(name="g_01", timeout=10)
            recorder.add("ack", ack)
            assert ack.ack == SalRetCode.CMD_COMPLETE
            # Only the order within a topic is kept on the way: wait for every event.
            await recorder.wait_for(lambda: len(recorder.timeline) == 13)
            assert slept == [15.0, 15.0]
            assert recorder.labels_as_written() == [
                "ccsCommandState",
                "startSetFilter",
                "startUnloadFilter",
                "filterChangerDetailedState",
                "endUnloadFilter",
                "filterChangerDetailedState",
                "startLoadFilter",
                "filterChangerDetailedState",
                "endLoadFilter",
                "filterChangerDetailedState",
                "endSetFilter",
                "ccsCommandState",
                "ack",
            ]
            changer = [d.substate for d in recorder.data("filterChangerDetailedState")]
            assert changer == [UNLOADING, UNLOADED, LOADING, LOADED]
            assert [d.substate for d in recorder.data("ccsCommandState")] == [2, 1]
            end = recorder.data("endSetFilter")[0]
            assert (end.filterName, end.filterType, end.filterSlot) == ("g_01", "g", 2)
            start = recorder.data("startSetFilter")[0]
            assert (start.filterName, start.filterType) == ("g_01", "g")
            assert observatory.cccamera.current_filter == "g_01"

            # The filter in place: no motion, but start/endSetFilter as for any change.
            slept.clear()
            await camera.cmd_setFilter.set_start(name="g_01", timeout=10)
            await recorder.wait_count("endSetFilter", 2)
            assert slept == []
            assert len(recorder.data("startUnloadFilter")) == 1

            await take(camera, "FLAT", 1.0, shutter=True)
    assert observatory.images[0].physical_filter == "g_01"


async def test_set_filter_refuses_unknown_filter_and_wrong_state() -> None:
    options = ObservatoryOptions(time_scale=SCALE, initial_states={"CCCamera": State.DISABLED})
    async with SimulatedObservatory(options) as observatory, salobj.Domain() as domain:
        async with salobj.Remote(domain, "CCCamera") as camera:
            with pytest.raises(salobj.AckError) as info:
                await camera.cmd_setFilter.set_start(name="g_01", timeout=10)
            assert "setFilter not allowed in state=<State.DISABLED: 1>" in info.value.ackcmd.result
            await camera.cmd_enable.start(timeout=5)
            with pytest.raises(salobj.AckError) as info:
                await camera.cmd_setFilter.set_start(name="HSC-R", timeout=10)
            assert info.value.ackcmd.ack == SalRetCode.CMD_FAILED
            result = info.value.ackcmd.result
            assert "unknown filter 'HSC-R'" in result
            assert "u_02, g_01, r_03, i_06, z_03, y_04" in result
            assert observatory.cccamera.current_filter == "r_03"


async def test_camera_refuses_take_images_during_a_filter_change_and_vice_versa() -> None:
    options = ObservatoryOptions(time_scale=SCALE, camera=CameraFaults(never_end_set_filter=True))
    async with SimulatedObservatory(options) as observatory, salobj.Domain() as domain:
        async with salobj.Remote(domain, "CCCamera") as camera:
            camera.evt_endSetFilter.flush()
            # The stuck filter change is never acknowledged.
            with pytest.raises(salobj.AckTimeoutError):
                await camera.cmd_setFilter.set_start(name="i_06", timeout=0.2)
            start = await camera.evt_startSetFilter.next(flush=False, timeout=5)
            assert start.filterName == "i_06"
            with pytest.raises(salobj.AckError) as info:
                await take(camera, "DARK", 1.0, shutter=False)
            assert "busy with setFilter i_06" in info.value.ackcmd.result
            with pytest.raises(asyncio.TimeoutError):
                await camera.evt_endSetFilter.next(flush=False, timeout=0.05)
    assert observatory.images == []

    # setFilter is refused while an image is integrating.
    async with SimulatedObservatory(ObservatoryOptions(time_scale=SCALE)) as observatory:
        async with salobj.Domain() as domain, salobj.Remote(domain, "CCCamera") as camera:
            camera.evt_startIntegration.flush()
            long_dark = asyncio.create_task(take(camera, "DARK", 100_000.0, shutter=False))
            await camera.evt_startIntegration.next(flush=False, timeout=5)
            with pytest.raises(salobj.AckError) as info:
                await camera.cmd_setFilter.set_start(name="g_01", timeout=10)
            assert "setFilter g_01 rejected: the camera is busy with CC_O_" in info.value.ackcmd.result
            assert observatory.cccamera.current_filter == "r_03"
            long_dark.cancel()


async def test_filter_change_during_readout_is_accepted(recorder) -> None:
    timing = Timing(readout_time=100_000.0)  # the readout outlasts the test
    async with SimulatedObservatory(ObservatoryOptions(time_scale=SCALE, timing=timing)) as observatory:
        async with salobj.Domain() as domain, salobj.Remote(domain, "CCCamera") as camera:
            camera.evt_ccsCommandState.flush()
            recorder.watch(camera, "ccsCommandState", "startReadout")
            await take(camera, "DARK", 1.0, shutter=False)
            await recorder.wait_count("startReadout", 1)
            await recorder.wait_count("ccsCommandState", 1)
            ack = await camera.cmd_setFilter.set_start(name="u_02", timeout=10)
            assert ack.ack == SalRetCode.CMD_COMPLETE
            assert observatory.cccamera.current_filter == "u_02"
            # Still reading out: BUSY (written once), and takeImages is refused.
            assert observatory.cccamera.busy
            with pytest.raises(salobj.AckError) as info:
                await take(camera, "DARK", 1.0, shutter=False)
            assert "takeImages rejected: the camera is busy with CC_O_" in info.value.ackcmd.result
            assert [d.substate for d in recorder.data("ccsCommandState")] == [2]
    assert observatory.images[0].physical_filter == "r_03"


@pytest.mark.parametrize("reason", [True, "motor stalled"])
async def test_failed_filter_change_leaves_the_old_filter(reason: bool | str) -> None:
    options = ObservatoryOptions(time_scale=SCALE, camera=CameraFaults(fail_set_filter=reason))
    async with SimulatedObservatory(options) as observatory, salobj.Domain() as domain:
        async with salobj.Remote(domain, "CCCamera") as camera:
            camera.evt_endSetFilter.flush()
            with pytest.raises(salobj.AckError) as info:
                await camera.cmd_setFilter.set_start(name="y_04", timeout=10)
            assert info.value.ackcmd.ack == SalRetCode.CMD_FAILED
            result = info.value.ackcmd.result
            expected = "could not be unloaded" if reason is True else "motor stalled"
            assert "setFilter y_04 failed" in result and expected in result
            assert "r_03 is still in the beam" in result
            assert (await camera.evt_startSetFilter.next(flush=False, timeout=5)).filterName == "y_04"
            with pytest.raises(asyncio.TimeoutError):
                await camera.evt_endSetFilter.next(flush=False, timeout=0.05)
            # The camera is usable again, with the old filter.
            await until_idle(observatory)
            await take(camera, "FLAT", 1.0, shutter=True)
    assert observatory.images[0].physical_filter == "r_03"


async def test_shutter_that_fails_to_open_faults_the_camera(recorder) -> None:
    options = ObservatoryOptions(
        time_scale=SCALE, camera=CameraFaults(shutter_fails_on_frame=2, shutter_fault_code=7)
    )
    async with SimulatedObservatory(options) as observatory, salobj.Domain() as domain:
        async with salobj.Remote(domain, "CCCamera") as camera:
            recorder.watch(camera, *SHUTTER_EVENTS, "shutterDetailedState")
            await take(camera, "FLAT", 1.0, shutter=True)
            await until_idle(observatory)
            with pytest.raises(salobj.AckError) as info:
                await take(camera, "FLAT", 1.0, shutter=True)
            assert info.value.ackcmd.ack == SalRetCode.CMD_FAILED
            assert "shutter did not open" in info.value.ackcmd.result
            error = await camera.evt_errorCode.aget(timeout=5)
            while error.errorCode == 0:  # the errorCode history of a camera that never faulted
                error = await camera.evt_errorCode.next(flush=False, timeout=5)
            assert error.errorCode == 7 and "shutter did not open for CC_O_" in error.errorReport
            state = await camera.evt_summaryState.aget(timeout=5)
            while state.summaryState != State.FAULT:
                state = await camera.evt_summaryState.next(flush=False, timeout=5)
            await recorder.wait_count("shutterDetailedState", 6)
            await recorder.wait_count("startShutterOpen", 2)
            # Frame 2: the shutter starts to open, never opens, is reported closed.
            assert recorder.labels_as_written(*SHUTTER_EVENTS)[4:] == ["startShutterOpen"]
            substates = [d.substate for d in recorder.data("shutterDetailedState")]
            assert substates == [OPENING, OPEN, CLOSING, CLOSED, OPENING, CLOSED]
    # Only frame 1 was taken.
    assert len(observatory.images) == 1


async def test_shutter_fault_spares_closed_shutter_frames() -> None:
    options = ObservatoryOptions(time_scale=SCALE, camera=CameraFaults(shutter_fails_on_frame=1))
    async with SimulatedObservatory(options) as observatory, salobj.Domain() as domain:
        async with salobj.Remote(domain, "CCCamera") as camera:
            await take(camera, "DARK", 1.0, shutter=False)
    assert [image.image_type for image in observatory.images] == ["DARK"]
