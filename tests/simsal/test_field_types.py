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

"""Field types are enforced at write time, as the real SAL's Avro serialiser does."""

import enum
import typing

import numpy as np
import pytest
from lsst.ts.calibscripts.simsal import salobj
from lsst.ts.calibscripts.simsal.salobj import _avro
from lsst.ts.calibscripts.simsal.xml.component_info import FieldInfo, get_component_info

STD_TIMEOUT = 5


class Color(enum.IntEnum):
    RED = 1


class Name(str, enum.Enum):
    ALICE = "alice"


def field(spec: str) -> FieldInfo:
    return FieldInfo.from_spec("x", spec)


@pytest.mark.parametrize(
    "spec, avro_type",
    [
        ("boolean", "boolean"),
        ("byte", "int"),
        ("short", "int"),
        ("int", "int"),
        ("long", "int"),
        ("unsigned short", "int"),
        ("long long", "long"),
        ("unsigned int", "long"),
        ("float", "float"),
        ("double", "double"),
        ("string", "string"),
    ],
)
def test_ts_xml_types_map_to_avro(spec: str, avro_type: str) -> None:
    assert field(spec).avro_type == avro_type


@pytest.mark.parametrize(
    "spec, value, sent",
    [
        ("boolean", True, True),
        ("int", 7, 7),
        ("int", Color.RED, 1),
        ("int", np.int16(-3), -3),
        ("int", 2**31 - 1, 2**31 - 1),
        ("int", -(2**31), -(2**31)),
        ("long long", 2**63 - 1, 2**63 - 1),
        ("double", 2, 2.0),
        ("double", np.float32(0.5), 0.5),
        ("float", 1.25, 1.25),
        ("string", "", ""),
        ("string", Name.ALICE, "alice"),
        ("int[3]", (1, 2, 3), [1, 2, 3]),
    ],
)
def test_values_that_fit_are_sent_as_plain_python(spec: str, value: typing.Any, sent: typing.Any) -> None:
    result = _avro.check_value("Test.logevent_scalars", field(spec), value)
    assert result == sent
    assert type(result) is type(sent)
    if isinstance(result, list):
        assert [type(item) for item in result] == [type(item) for item in sent]


@pytest.mark.parametrize(
    "spec, value, error, message",
    [
        ("string", False, TypeError, "must be string on field x"),
        ("string", 3, TypeError, "must be string"),
        ("string", b"abc", TypeError, "must be string"),
        ("boolean", 1, TypeError, "must be boolean"),
        ("boolean", "yes", TypeError, "must be boolean"),
        ("boolean", np.bool_(True), TypeError, "must be boolean"),
        ("int", True, TypeError, "must be int"),
        ("int", 1.0, TypeError, "must be int"),
        ("int", "1", TypeError, "must be int"),
        ("long long", 2.5, TypeError, "must be long"),
        ("double", True, TypeError, "must be double"),
        ("double", "1.0", TypeError, "must be double"),
        ("float", None, TypeError, "must be float"),
        ("int", 2**31, ValueError, r"out of range \[-2147483648, 2147483647\]"),
        ("long", -(2**31) - 1, ValueError, "out of range"),
        ("unsigned int", 2**63, ValueError, "out of range"),
        ("int[3]", [1, 2], ValueError, "must be array of 3 items"),
        ("int[3]", [1, 2, 3, 4], ValueError, "must be array of 3 items"),
        ("int[3]", 1, TypeError, "must be array"),
        ("int[3]", "abc", TypeError, "must be array"),
        ("double[2]", [1.0, "2"], TypeError, "must be double"),
    ],
)
def test_values_that_do_not_fit_are_refused(
    spec: str, value: typing.Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message) as info:
        _avro.check_value("Test.logevent_scalars", field(spec), value)
    assert "of Test.logevent_scalars" in str(info.value)
    assert "the message was not sent" in str(info.value)


def test_emulated_image_is_a_string_as_in_ts_xml() -> None:
    info = get_component_info("CCCamera").topics["evt_endOfImageTelemetry"]
    assert info.fields["emulatedImage"].sal_type == "string"


async def test_write_of_a_wrong_type_raises_and_sends_nothing() -> None:
    controller = salobj.Controller("CCCamera")
    await controller.start_task
    async with salobj.Domain() as domain:
        remote = salobj.Remote(domain, "CCCamera", include=["endOfImageTelemetry"])
        await remote.start_task
        topic = controller.evt_endOfImageTelemetry
        # set and set_write refuse before changing anything.
        with pytest.raises(TypeError, match="must be string on field emulatedImage"):
            await topic.set_write(imageName="CC_O_20240101_000001", emulatedImage=False)
        assert topic.data.imageName == ""
        with pytest.raises(TypeError, match="must be string on field emulatedImage"):
            topic.set(emulatedImage=False)
        # A value put in data directly is refused by write.
        topic.data.emulatedImage = False
        with pytest.raises(TypeError, match="must be string on field emulatedImage"):
            await topic.write()
        topic.data.emulatedImage = ""
        await topic.set_write(imageName="CC_O_20240101_000002")
        data = await remote.evt_endOfImageTelemetry.next(flush=False, timeout=STD_TIMEOUT)
        # Only the good message arrived.
        assert data.imageName == "CC_O_20240101_000002"
        assert remote.evt_endOfImageTelemetry.nqueued == 0
    await controller.close()


async def test_int_ranges_on_write() -> None:
    controller = salobj.Controller("Test", 1)
    await controller.start_task
    topic = controller.evt_scalars
    with pytest.raises(ValueError, match="out of range.*on field long0"):
        await topic.set_write(long0=2**31)
    await topic.set_write(longLong0=2**40, unsignedInt0=2**32, unsignedShort0=65535)
    with pytest.raises(ValueError, match="on field longLong0"):
        await topic.set_write(longLong0=2**63)
    await controller.close()


async def test_remote_command_refuses_wrong_types(mini_csc_class: typing.Any) -> None:
    async with mini_csc_class(index=1, initial_state=salobj.State.ENABLED) as csc, salobj.Domain() as domain:
        remote = salobj.Remote(domain, "Test", 1)
        await remote.start_task
        with pytest.raises(TypeError, match="must be boolean on field boolean0 of Test.command_setScalars"):
            remote.cmd_setScalars.set(boolean0=1)
        with pytest.raises(TypeError, match="must be string on field string0"):
            await remote.cmd_setScalars.set_start(string0=5, timeout=STD_TIMEOUT)
        # A value put in data directly is refused by start; the command is not sent.
        remote.cmd_setScalars.set(int0=3)
        remote.cmd_setScalars.data.double0 = "2.5"
        with pytest.raises(TypeError, match="must be double on field double0"):
            await remote.cmd_setScalars.start(timeout=STD_TIMEOUT)
        assert csc.scalars_received == []
        await remote.cmd_setScalars.set_start(int0=3, double0=2, timeout=STD_TIMEOUT)
        assert len(csc.scalars_received) == 1
        assert type(csc.scalars_received[0].double0) is float


async def test_wrong_type_written_in_a_command_handler_fails_the_command() -> None:
    controller = salobj.Controller("Test", 1)

    async def do_set_scalars(data: typing.Any) -> None:
        await controller.evt_scalars.set_write(string0=data.int0)

    controller.cmd_setScalars.callback = do_set_scalars
    await controller.start_task
    async with salobj.Domain() as domain:
        remote = salobj.Remote(domain, "Test", 1)
        await remote.start_task
        with pytest.raises(salobj.AckError) as info:
            await remote.cmd_setScalars.set_start(int0=4, timeout=STD_TIMEOUT)
        assert info.value.ackcmd.ack == salobj.SalRetCode.CMD_FAILED
        assert "must be string on field string0" in info.value.ackcmd.result
        assert remote.evt_scalars.get() is None
    await controller.close()
