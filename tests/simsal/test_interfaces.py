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

"""Enums and interface definitions of the simulated SAL."""

import pytest
from lsst.ts.calibscripts import sal
from lsst.ts.calibscripts.simsal import salobj
from lsst.ts.calibscripts.simsal.xml import component_info
from lsst.ts.calibscripts.simsal.xml.enums.OCPS import SalIndex
from lsst.ts.calibscripts.simsal.xml.enums.Script import (
    MetadataCoordSys,
    MetadataDome,
    MetadataRotSys,
    ScriptState,
)


def test_enum_values() -> None:
    assert [(s.name, s.value) for s in ScriptState] == [
        ("UNKNOWN", 0),
        ("UNCONFIGURED", 1),
        ("CONFIGURED", 2),
        ("RUNNING", 3),
        ("PAUSED", 4),
        ("ENDING", 5),
        ("STOPPING", 6),
        ("FAILING", 7),
        ("DONE", 8),
        ("STOPPED", 9),
        ("FAILED", 10),
        ("CONFIGURE_FAILED", 11),
    ]
    assert (MetadataCoordSys.NONE, MetadataCoordSys.ICRS, MetadataCoordSys.MOUNT) == (1, 2, 4)
    assert (MetadataRotSys.NONE, MetadataRotSys.SKY, MetadataRotSys.MOUNT) == (1, 2, 4)
    assert (MetadataDome.CLOSED, MetadataDome.OPEN, MetadataDome.EITHER) == (1, 2, 3)
    assert {m.name: m.value for m in SalIndex} == {"LATISS": 1, "LSSTComCam": 2, "LSSTCam": 3, "RA": 101}
    assert {m.name: m.value for m in salobj.State} == {
        "DISABLED": 1,
        "ENABLED": 2,
        "FAULT": 3,
        "OFFLINE": 4,
        "STANDBY": 5,
    }
    codes = salobj.SalRetCode
    assert (codes.CMD_ACK, codes.CMD_INPROGRESS, codes.CMD_STALLED, codes.CMD_COMPLETE) == (
        300,
        301,
        302,
        303,
    )
    assert (codes.CMD_NOPERM, codes.CMD_NOACK, codes.CMD_FAILED, codes.CMD_ABORTED, codes.CMD_TIMEOUT) == (
        -300,
        -301,
        -302,
        -303,
        -304,
    )
    assert salobj.as_state(2) is salobj.State.ENABLED
    assert salobj.as_state(99) == 99


@pytest.mark.skipif(sal.BACKEND is not sal.Backend.SIM, reason="the suite runs on the real SAL")
def test_sal_module_uses_simsal() -> None:
    assert sal.salobj is salobj
    assert sal.OCPSIndex.LSSTComCam == 2
    assert sal.ScriptState is ScriptState


def test_components() -> None:
    names = component_info.get_component_names()
    for name in ("Script", "CCCamera", "CCHeaderService", "CCOODS", "OCPS"):
        assert name in names
    assert "LSSTComCam" not in names
    with pytest.raises(ValueError, match="No such component LSSTComCam"):
        component_info.get_component_info("LSSTComCam")
    indexed = {name: component_info.get_component_info(name).indexed for name in names}
    assert indexed["Script"] and indexed["OCPS"]
    assert not (indexed["CCCamera"] or indexed["CCOODS"] or indexed["CCHeaderService"])


def test_topics_and_fields() -> None:
    script = component_info.get_component_info("Script")
    assert script.command_names == (
        "configure",
        "resume",
        "run",
        "setCheckpoints",
        "setGroupId",
        "setLogLevel",
        "stop",
    )
    for name in ("state", "description", "metadata", "checkpoints", "logLevel", "logMessage", "heartbeat"):
        assert name in script.event_names
    state = script.topics["evt_state"].make_dataclass()()
    assert state.salIndex == 0 and state.state == 0 and state.groupId == "" and state.numCheckpoints == 0
    metadata = script.topics["evt_metadata"].make_dataclass()()
    assert metadata.position == [0.0, 0.0]

    camera = component_info.get_component_info("CCCamera")
    take_images = camera.topics["cmd_takeImages"].make_dataclass()()
    assert set(vars(take_images)) >= {"numImages", "expTime", "shutter", "sensors", "keyValueMap", "obsNote"}
    assert not hasattr(take_images, "salIndex")
    for name in (
        "startIntegration",
        "startReadout",
        "endReadout",
        "endOfImageTelemetry",
        "ccsCommandState",
        "largeFileObjectAvailable",
        "summaryState",
        "heartbeat",
    ):
        assert name in camera.event_names, name
    assert "enterControl" in camera.command_names
    start_integration = camera.topics["evt_startIntegration"].make_dataclass()()
    assert isinstance(start_integration.imageName, str) and isinstance(start_integration.imageIndex, int)

    oods = component_info.get_component_info("CCOODS").topics["evt_imageInOODS"].make_dataclass()()
    assert set(vars(oods)) >= {"camera", "obsid", "raft", "sensor", "statusCode", "description"}

    ocps = component_info.get_component_info("OCPS")
    execute = ocps.topics["cmd_execute"].make_dataclass()()
    assert set(vars(execute)) >= {
        "pipeline",
        "version",
        "config",
        "data_query",
        "prereq_jobs",
        "output_dataset_types",
        "salIndex",
    }
    assert "abort_job" in ocps.command_names
    job_result = ocps.topics["evt_job_result"].make_dataclass()()
    assert (job_result.job_id, job_result.exit_code, job_result.result) == ("", 0, "")
    ack = ocps.topics["ack_ackcmd"].make_dataclass()()
    assert set(vars(ack)) >= {"ack", "error", "result", "identity", "origin", "cmdtype", "timeout"}


def test_data_type_shared_and_arrays_independent() -> None:
    info = component_info.get_component_info("Test").topics["evt_arrays"]
    assert (
        info.make_dataclass()
        is component_info.get_component_info("Test").topics["evt_arrays"].make_dataclass()
    )
    a = info.make_dataclass()()
    b = info.make_dataclass()()
    a.int0[0] = 5
    assert b.int0 == [0] * 5


def test_lsstcam_and_latiss_components() -> None:
    """MTCamera/ATCamera take images as CCCamera does; LATISS filters are ATSpectrograph's."""
    names = component_info.get_component_names()
    for name in (
        "MTCamera",
        "MTHeaderService",
        "MTOODS",
        "ATCamera",
        "ATHeaderService",
        "ATOODS",
        "ATSpectrograph",
        "MTDome",
        "MTDomeTrajectory",
    ):
        assert name in names, name
        assert not component_info.get_component_info(name).indexed
    comcam = component_info.get_component_info("CCCamera")
    for camera_name in ("MTCamera", "ATCamera"):
        camera = component_info.get_component_info(camera_name)
        for topic in ("cmd_takeImages", "evt_startIntegration", "evt_endReadout", "evt_endOfImageTelemetry"):
            assert {f: i.sal_type for f, i in camera.topics[topic].fields.items()} == {
                f: i.sal_type for f, i in comcam.topics[topic].fields.items()
            }, (camera_name, topic)
        assert "initGuiders" in camera.command_names and "ccsCommandState" in camera.event_names
        assert camera.topics["evt_endOfImageTelemetry"].fields["emulatedImage"].sal_type == "string"
    mtcamera = component_info.get_component_info("MTCamera")
    assert {"setFilter"} <= set(mtcamera.command_names)
    # ts_xml types: the detailed-state substates and the clear/discard counts are long.
    for topic in (
        "evt_ccsCommandState",
        "evt_imageReadinessDetailedState",
        "evt_calibrationDetailedState",
        "evt_shutterDetailedState",
        "evt_filterChangerDetailedState",
    ):
        assert mtcamera.topics[topic].fields["substate"].sal_type == "long", topic
    assert mtcamera.topics["cmd_clear"].fields["nClears"].sal_type == "long"
    assert mtcamera.topics["cmd_discardRows"].fields["nRows"].sal_type == "long"
    end_set_filter = mtcamera.topics["evt_endSetFilter"].fields
    assert (end_set_filter["filterSlot"].sal_type, end_set_filter["filterPosition"].sal_type) == (
        "int",
        "double",
    )
    assert {"startSetFilter", "endSetFilter", "availableFilters"} <= set(mtcamera.event_names)
    assert mtcamera.topics["evt_imageReadoutParameters"].fields["readRows"].count == 201
    atcamera = component_info.get_component_info("ATCamera")
    assert "setFilter" not in atcamera.command_names and "endSetFilter" not in atcamera.event_names
    assert atcamera.topics["evt_imageReadoutParameters"].fields["readRows"].count == 1
    spectrograph = component_info.get_component_info("ATSpectrograph")
    change_filter = spectrograph.topics["cmd_changeFilter"].fields
    assert {f: i.sal_type for f, i in change_filter.items()} == {"filter": "long", "name": "string"}
    change_disperser = spectrograph.topics["cmd_changeDisperser"].fields
    assert {f: i.sal_type for f, i in change_disperser.items()} == {"disperser": "long", "name": "string"}
    assert spectrograph.topics["cmd_moveLinearStage"].fields["distanceFromHome"].sal_type == "double"
    reported = spectrograph.topics["evt_reportedFilterPosition"].fields
    assert (reported["slot"].sal_type, reported["name"].sal_type, reported["pointingOffsets"].count) == (
        "long",
        "string",
        2,
    )
    settings = spectrograph.topics["evt_settingsAppliedValues"].fields
    assert settings["gratingNames"].sal_type == "string" and settings["linearStageMaxPos"].sal_type == "float"
    for oods in ("MTOODS", "ATOODS"):
        fields = component_info.get_component_info(oods).topics["evt_imageInOODS"].fields
        assert {f: i.sal_type for f, i in fields.items()} == {
            f: i.sal_type
            for f, i in component_info.get_component_info("CCOODS").topics["evt_imageInOODS"].fields.items()
        }
    for dome in ("MTDome", "MTDomeTrajectory"):
        assert "summaryState" in component_info.get_component_info(dome).event_names
