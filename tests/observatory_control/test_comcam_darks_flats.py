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

"""Darks, flats and the filter through the ComCam group of the selected middleware."""

from __future__ import annotations

import asyncio

import pytest
from lsst.ts.calibscripts.sal import ComCam, SalRetCode, State, salobj
from lsst.ts.calibscripts.sim import CameraFaults, ObservatoryOptions, SimulatedObservatory

SCALE = 0.001
COMCAM_FILTERS = ["u_02", "g_01", "r_03", "i_06", "z_03", "y_04"]


async def test_take_darks_and_flats() -> None:
    checkpoints: list[str] = []

    async def checkpoint(name: str) -> None:
        checkpoints.append(name)

    async with SimulatedObservatory(ObservatoryOptions(time_scale=SCALE)) as observatory:
        async with salobj.Domain() as domain, ComCam(domain=domain) as comcam:
            camera = salobj.Remote(domain, "CCCamera", include=["endOfImageTelemetry"])
            await camera.start_task
            dark_ids = await comcam.take_darks(
                30.0, 2, group_id="dark-group", reason="daily", program="CALIB", checkpoint=checkpoint
            )
            flat_ids = await comcam.take_flats(5.0, 2, checkpoint=checkpoint, note="flats", filter="g_01")
            assert await comcam.get_current_filter() == "g_01"
            telemetry = [await camera.evt_endOfImageTelemetry.next(flush=False, timeout=5) for _ in range(4)]
            assert [t.measuredShutterOpenTime for t in telemetry] == [0.0, 0.0, 5.0, 5.0]

    images = observatory.images
    assert [image.exposure_id for image in images] == dark_ids + flat_ids
    assert [(i.image_type, i.exp_time, i.physical_filter) for i in images] == [
        ("DARK", 30.0, "r_03"),
        ("DARK", 30.0, "r_03"),
        ("FLAT", 5.0, "g_01"),
        ("FLAT", 5.0, "g_01"),
    ]
    assert checkpoints == ["Expose 2 DARK", "Expose 2 FLAT"]
    assert images[0].key_value_map == {
        "imageType": "DARK",
        "groupId": "dark-group",
        "testType": "DARK",
        "stutterRows": "0",
        "stutterNShifts": "0",
        "stutterDelay": "0.0",
        "reason": "daily",
        "program": "CALIB",
    }
    assert images[2].key_value_map["testType"] == "FLAT"
    assert images[2].group_id == images[3].group_id != "dark-group"


async def test_take_imgtype_bias_is_zero_seconds_whatever_the_exptime() -> None:
    async with SimulatedObservatory(ObservatoryOptions(time_scale=SCALE)) as observatory:
        async with salobj.Domain() as domain, ComCam(domain=domain) as comcam:
            await comcam.take_imgtype("BIAS", 10.0, 1)
            await comcam.take_imgtype("DARK", 0.0, 1, n_snaps=2, test_type="DARK_ZERO")
    assert [(i.image_type, i.exp_time) for i in observatory.images] == [
        ("BIAS", 0.0),
        ("DARK", 0.0),
        ("DARK", 0.0),
    ]
    assert observatory.images[1].key_value_map["testType"] == "DARK_ZERO"


async def test_setup_instrument_changes_the_filter_only_when_it_differs() -> None:
    async with SimulatedObservatory(ObservatoryOptions(time_scale=SCALE)) as observatory:
        async with salobj.Domain() as domain, ComCam(domain=domain) as comcam:
            assert await comcam.get_available_filters() == COMCAM_FILTERS
            assert await comcam.get_available_instrument_setup() == COMCAM_FILTERS
            camera = salobj.Remote(domain, "CCCamera", include=["startSetFilter"])
            await camera.start_task
            await comcam.setup_instrument(filter=None)
            await comcam.setup_instrument()
            await comcam.setup_instrument(filter="r_03")  # already in the beam: no setFilter
            await comcam.setup_instrument(filter="i_06")
            assert await comcam.get_current_filter() == "i_06"
            # The first (and only) setFilter the camera received was i_06.
            start = await camera.evt_startSetFilter.next(flush=False, timeout=5)
            assert start.filterName == "i_06"
            with pytest.raises(asyncio.TimeoutError):
                await camera.evt_startSetFilter.next(flush=False, timeout=0.05)
            end = await comcam.setup_filter("z_03")
            assert (end.filterName, end.filterSlot) == ("z_03", 5)
            # take_darks sets nothing up: the dark is taken in z_03.
            await comcam.take_darks(1.0, 1)
            with pytest.raises(RuntimeError, match="Invalid argument grating"):
                await comcam.setup_instrument(grating="empty_1")
    assert observatory.images[0].physical_filter == "z_03"


async def test_client_side_validations() -> None:
    async with SimulatedObservatory(ObservatoryOptions(time_scale=SCALE)) as observatory:
        async with salobj.Domain() as domain, ComCam(domain=domain) as comcam:
            with pytest.raises(
                RuntimeError, match=r"Minimum allowed open-shutter exposure time is 0.1. Got 0.05"
            ):
                await comcam.take_flats(0.05, 1)
            with pytest.raises(RuntimeError, match="Invalid argument grating"):
                await comcam.take_flats(1.0, 1, grating="empty_1")
            with pytest.raises(RuntimeError, match="Invalid imgtype:OBJECT"):
                await comcam.take_imgtype("OBJECT", 1.0, 1)
            assert observatory.images == []
            # A 0-s dark is allowed; a negative exposure time is the camera's to refuse.
            await comcam.take_darks(0.0, 1)
            with pytest.raises(salobj.AckError) as info:
                await comcam.take_darks(-1.0, 1)
            assert "expTime=-1.0 must be >= 0" in info.value.ackcmd.result
    assert [(i.image_type, i.exp_time) for i in observatory.images] == [("DARK", 0.0)]


async def test_unknown_filter_is_refused_by_the_camera() -> None:
    async with SimulatedObservatory(ObservatoryOptions(time_scale=SCALE)) as observatory:
        async with salobj.Domain() as domain, ComCam(domain=domain) as comcam:
            with pytest.raises(salobj.AckError) as info:
                await comcam.take_flats(1.0, 1, filter="HSC-R")
            assert info.value.ackcmd.ack == SalRetCode.CMD_FAILED
            assert "unknown filter 'HSC-R'" in info.value.ackcmd.result
            assert await comcam.get_current_filter() == "r_03"
    assert observatory.images == []


async def test_filter_change_faults() -> None:
    options = ObservatoryOptions(time_scale=SCALE, camera=CameraFaults(fail_set_filter="motor stalled"))
    async with SimulatedObservatory(options) as observatory, salobj.Domain() as domain:
        async with ComCam(domain=domain) as comcam:
            with pytest.raises(salobj.AckError) as info:
                await comcam.take_flats(1.0, 1, filter="u_02")
            assert "setFilter u_02 failed: motor stalled" in info.value.ackcmd.result
            assert await comcam.get_current_filter() == "r_03"
    assert observatory.images == []

    options = ObservatoryOptions(time_scale=SCALE, camera=CameraFaults(never_end_set_filter=True))
    async with SimulatedObservatory(options) as observatory, salobj.Domain() as domain:
        async with ComCam(domain=domain) as comcam:
            comcam.filter_change_timeout = 0.2  # the real timeout is 60 s
            with pytest.raises(salobj.AckTimeoutError):
                await comcam.setup_instrument(filter="u_02")
    assert observatory.images == []


async def test_current_filter_unknown_without_camera() -> None:
    async with salobj.Domain() as domain, ComCam(domain=domain) as comcam:
        comcam.fast_timeout = 0.05
        with pytest.raises(RuntimeError, match="Could not determine current filter.*CCCamera"):
            await comcam.setup_instrument(filter="g_01")
        with pytest.raises(RuntimeError, match="Could not determine current filter"):
            await comcam.take_flats(1.0, 1, filter="g_01")


async def test_shutter_failure_fails_take_flats() -> None:
    options = ObservatoryOptions(time_scale=SCALE, camera=CameraFaults(shutter_fails_on_frame=2))
    async with SimulatedObservatory(options) as observatory, salobj.Domain() as domain:
        async with ComCam(domain=domain) as comcam:
            with pytest.raises(salobj.AckError) as info:
                await comcam.take_flats(1.0, 3)
            assert "shutter did not open" in info.value.ackcmd.result
            state = await comcam.rem.cccamera.evt_summaryState.aget(timeout=1)
            while state.summaryState != State.FAULT:
                state = await comcam.rem.cccamera.evt_summaryState.next(flush=False, timeout=1)
    assert [image.image_type for image in observatory.images] == ["FLAT"]
