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


"""LSSTCam and LATISS observatories, driven by their groups as a calibration script would.

The groups come from `lsst.ts.calibscripts.sal` (the simulated ones here, the
real ts_observatory_control ones on the real stack).
"""

from __future__ import annotations

import asyncio
import typing

import pytest
from lsst.ts.calibscripts.cameras import LATISS, LSSTCAM
from lsst.ts.calibscripts.sal import SalRetCode, State, camera_group, salobj
from lsst.ts.calibscripts.sim import CameraFaults, ObservatoryOptions, OodsFaults, SimulatedObservatory

SCALE = 0.001
# One ITL science CCD, one e2v science CCD and a corner guider: few detectors keep this fast.
LSSTCAM_SENSORS = "R01_S00:R22_S11:R00_SG0"


class FakeMTCS:
    """Records the MTCS calls LSSTCam makes before a filter change."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def stop_tracking(self) -> None:
        self.calls.append("stop_tracking")

    async def move_rotator(self, position: float) -> None:
        self.calls.append(f"move_rotator {position}")


async def collect_image_in_oods(remote: typing.Any, count: int) -> list[typing.Any]:
    return [await remote.evt_imageInOODS.next(flush=False, timeout=10) for _ in range(count)]


async def test_lsstcam_observatory_takes_bias_dark_and_flats() -> None:
    async with SimulatedObservatory(ObservatoryOptions(time_scale=SCALE), camera=LSSTCAM) as observatory:
        assert [csc.salinfo.name for csc in observatory.cscs] == [
            "MTCamera",
            "MTHeaderService",
            "MTOODS",
            "OCPS",
            "MTDome",
            "MTDomeTrajectory",
        ]
        assert observatory.ocps.salinfo.index == 3
        assert observatory.camera is observatory.mtcamera and observatory.oods is observatory.mtoods
        async with salobj.Domain() as domain, camera_group("LSSTCam")(domain=domain) as lsstcam:
            await lsstcam.assert_all_enabled()
            assert lsstcam.components_attr == ["mtcamera", "mtheaderservice", "mtoods"]
            assert await lsstcam.get_available_filters() == list(LSSTCAM.filters)
            oods = lsstcam.rem.mtoods
            bias = await lsstcam.take_bias(1, sensors=LSSTCAM_SENSORS)
            dark = await lsstcam.take_darks(15.0, 1, sensors=LSSTCAM_SENSORS)
            # The filter in the beam needs no telescope; another one does.
            flat = await lsstcam.take_flats(5.0, 1, sensors=LSSTCAM_SENSORS, filter="r_57")
            with pytest.raises(RuntimeError, match="Cannot change the LSSTCam filter without proper setup"):
                await lsstcam.take_flats(5.0, 1, sensors=LSSTCAM_SENSORS, filter="g_6")
            assert await lsstcam.get_current_filter() == "r_57"
            lsstcam.mtcs = FakeMTCS()
            flat += await lsstcam.take_flats(5.0, 1, sensors=LSSTCAM_SENSORS, filter="g_6")
            assert lsstcam.mtcs.calls == ["stop_tracking", "move_rotator 0.0"]
            assert await lsstcam.get_current_filter() == "g_6"
            events = await collect_image_in_oods(oods, 4 * 3)

    images = observatory.images
    assert [image.exposure_id for image in images] == bias + dark + flat
    assert [(i.image_type, i.exp_time, i.physical_filter) for i in images] == [
        ("BIAS", 0.0, "r_57"),
        ("DARK", 15.0, "r_57"),
        ("FLAT", 5.0, "r_57"),
        ("FLAT", 5.0, "g_6"),
    ]
    assert all(image.obs_id.startswith("MC_O_") and image.detectors == (0, 94, 189) for image in images)
    by_image: dict[str, list[tuple[str, str]]] = {}
    for event in events:
        assert (event.camera, event.statusCode, event.description) == (
            "LSSTCam",
            0,
            "Ingested (no data plane)",
        )
        by_image.setdefault(event.obsid, []).append((event.raft, event.sensor))
    assert sorted(by_image) == sorted(image.obs_id for image in images)
    assert all(pairs == [("R01", "S00"), ("R22", "S11"), ("R00", "SG0")] for pairs in by_image.values())


async def test_lsstcam_blank_sensors_are_the_science_detectors_and_domes_have_state() -> None:
    options = ObservatoryOptions(
        time_scale=SCALE, instrument="LSSTCam", initial_states={"MTDome": State.DISABLED}
    )
    async with SimulatedObservatory(options) as observatory, salobj.Domain() as domain:
        dome = salobj.Remote(domain, "MTDome", include=["summaryState"])
        trajectory = salobj.Remote(domain, "MTDomeTrajectory", include=["summaryState"])
        await asyncio.gather(dome.start_task, trajectory.start_task)
        assert (await dome.evt_summaryState.aget(timeout=5)).summaryState == State.DISABLED
        assert (await trajectory.evt_summaryState.aget(timeout=5)).summaryState == State.ENABLED
        async with camera_group("LSSTCam")(domain=domain) as lsstcam:
            await lsstcam.take_bias(1)
    assert observatory.images[0].detectors == tuple(range(189))


async def test_lsstcam_faults_still_apply() -> None:
    options = ObservatoryOptions(
        time_scale=SCALE,
        instrument="LSSTCam",
        camera=CameraFaults(fail_take_images_on_frame=2),
        oods=OodsFaults(missing={(1, 94)}, status_codes={((1, 189), 1)}),
    )
    async with SimulatedObservatory(options) as observatory, salobj.Domain() as domain:
        async with camera_group("LSSTCam")(domain=domain) as lsstcam:
            await lsstcam.take_bias(1, sensors=LSSTCAM_SENSORS)
            with pytest.raises(salobj.AckError) as info:
                await lsstcam.take_bias(1, sensors=LSSTCAM_SENSORS)
            assert info.value.ackcmd.ack == SalRetCode.CMD_FAILED
            events = await collect_image_in_oods(lsstcam.rem.mtoods, 2)
    assert len(observatory.images) == 1
    assert [(e.raft, e.sensor, e.statusCode) for e in events] == [("R01", "S00", 0), ("R00", "SG0", 1)]


async def test_lsstcam_initial_states_name_its_components() -> None:
    with pytest.raises(ValueError, match=r"unknown CSC names \['CCCamera'\] for LSSTCam"):
        ObservatoryOptions(instrument="LSSTCam", initial_states={"CCCamera": State.DISABLED})
    with pytest.raises(ValueError, match="Unknown camera 'HSC'"):
        ObservatoryOptions(instrument="HSC")


async def test_latiss_observatory_takes_bias_dark_and_flats_with_filter_and_grating() -> None:
    async with SimulatedObservatory(ObservatoryOptions(time_scale=SCALE), camera="LATISS") as observatory:
        assert [csc.salinfo.name for csc in observatory.cscs] == [
            "ATCamera",
            "ATSpectrograph",
            "ATHeaderService",
            "ATOODS",
            "OCPS",
        ]
        assert observatory.ocps.salinfo.index == 1
        assert observatory.spectrograph is observatory.atspectrograph
        async with salobj.Domain() as domain, camera_group("LATISS")(domain=domain) as latiss:
            await latiss.assert_all_enabled()
            filters, gratings, stage = await latiss.get_available_instrument_setup()
            assert (filters, gratings, stage) == (list(LATISS.filters), list(LATISS.gratings), [0.0, 75.0])
            with pytest.raises(RuntimeError, match="Invalid argument focus"):
                await latiss.take_flats(5.0, 1, focus=1.0)
            bias = await latiss.take_bias(1)
            dark = await latiss.take_darks(30.0, 1)
            flat = await latiss.take_flats(
                5.0, 1, filter="SDSSg_65mm", grating="holo4_003", linear_stage=20.0
            )
            assert await latiss.get_setup() == ("SDSSg_65mm", "holo4_003", 20.0)
            # A slot number goes as (slot, ""): slot 3 is SDSSi_65mm.
            flat += await latiss.take_flats(5.0, 1, filter=3, grating="empty_1")
            assert await latiss.get_setup() == ("SDSSi_65mm", "empty_1", 20.0)
            events = await collect_image_in_oods(latiss.rem.atoods, 4)

    images = observatory.images
    assert [image.exposure_id for image in images] == bias + dark + flat
    assert [(i.image_type, i.physical_filter) for i in images] == [
        ("BIAS", "SDSSr_65mm~empty"),
        ("DARK", "SDSSr_65mm~empty"),
        ("FLAT", "SDSSg_65mm~holo4_003"),
        ("FLAT", "SDSSi_65mm~empty"),
    ]
    assert all(image.obs_id.startswith("AT_O_") and image.detectors == (0,) for image in images)
    assert [(e.camera, e.obsid, e.raft, e.sensor) for e in events] == [
        ("LATISS", image.obs_id, "RXX", "S00") for image in images
    ]


async def test_latiss_spectrograph_refusals_and_faults() -> None:
    options = ObservatoryOptions(
        time_scale=SCALE, instrument="LATISS", camera=CameraFaults(fail_set_filter=True)
    )
    async with SimulatedObservatory(options) as observatory, salobj.Domain() as domain:
        async with camera_group("LATISS")(domain=domain) as latiss:
            with pytest.raises(salobj.AckError) as info:
                await latiss.setup_instrument(filter="SDSSz_65mm")
            assert (
                "Unknown filter 'SDSSz_65mm'; the filters are empty_1, SDSSg_65mm" in info.value.ackcmd.result
            )
            with pytest.raises(salobj.AckError) as info:
                await latiss.take_flats(5.0, 1, grating="blue300lpmm_qn1")
            assert "grating change failed" in info.value.ackcmd.result
            with pytest.raises(salobj.AckError) as info:
                await latiss.setup_instrument(linear_stage=80.0)
            assert "outside the stage range" in info.value.ackcmd.result
            assert await latiss.get_setup() == ("SDSSr_65mm", "empty_1", 0.0)
    assert observatory.images == []


async def test_latiss_initial_filter_is_the_spectrographs() -> None:
    options = ObservatoryOptions(
        time_scale=SCALE, instrument="LATISS", camera=CameraFaults(initial_filter="empty_1")
    )
    async with SimulatedObservatory(options) as observatory, salobj.Domain() as domain:
        async with camera_group("LATISS")(domain=domain) as latiss:
            await latiss.take_darks(1.0, 1)
    assert observatory.images[0].physical_filter == "empty~empty"
    with pytest.raises(ValueError, match="'r_03' is not an LATISS filter"):
        async with SimulatedObservatory(
            ObservatoryOptions(
                time_scale=SCALE, instrument="LATISS", camera=CameraFaults(initial_filter="r_03")
            )
        ):
            pass


@pytest.mark.parametrize(
    "camera, sensors",
    [("LSSTCam", LSSTCAM_SENSORS + ":R00W_SW0"), ("LATISS", "")],
)
async def test_raws_are_made_and_ingested_for_every_camera(
    fresh_repo: str, camera: str, sensors: str
) -> None:
    from lsst.ts.calibscripts.cameras import profile
    from lsst.ts.calibscripts.sim.data import repo
    from lsst.ts.calibscripts.sim.data.options import DataOptions

    options = ObservatoryOptions(
        time_scale=SCALE,
        instrument=camera,
        repo=fresh_repo,
        data=DataOptions(repo=fresh_repo, cosmic_rays=False),
    )
    cam = profile(camera)
    async with SimulatedObservatory(options) as observatory:
        async with salobj.Domain() as domain, camera_group(cam.group_name)(domain=domain) as group:
            kwargs = {"sensors": sensors} if sensors else {}
            (exposure_id,) = await group.take_bias(1, **kwargs)
            (image,) = observatory.images
            oods = getattr(group.rem, cam.oods_component.lower())
            events = await collect_image_in_oods(oods, len(image.detectors))
    assert [(e.camera, e.statusCode, e.description) for e in events] == [(camera, 0, "file ingested")] * len(
        image.detectors
    )
    assert {f"{e.raft}_{e.sensor}" for e in events} == {cam.detector_name(d) for d in image.detectors}
    butler = repo.open_butler(fresh_repo, writeable=False)
    try:
        refs = butler.query_datasets(
            "raw", collections=f"{camera}/raw/all", exposure=exposure_id, instrument=camera
        )
        assert sorted(int(ref.dataId["detector"]) for ref in refs) == sorted(image.detectors)
        for ref in refs:
            info = cam.detector(int(ref.dataId["detector"]))
            raw = butler.get(ref)
            assert raw[0].header["DETNAME"] == info.name
            assert len(raw) - 1 == info.amp_layout.n_amps
    finally:
        butler.close()
