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

"""The MakeComCamBias stage helpers, each on its own (no observatory)."""

import asyncio
import types
import unittest

from lsst.ts.calibscripts.calib.stages import Stage
from lsst.ts.calibscripts.maintel import MakeComCamBias
from lsst.ts.calibscripts.maintel.make_comcam_bias import describe_camera_fault, describe_error, tai_isot
from lsst.ts.calibscripts.sal import SalRetCode, State, salobj
from lsst.ts.calibscripts.testing import BaseScriptTestCase


class TestStageHelpers(BaseScriptTestCase, unittest.IsolatedAsyncioTestCase):
    async def basic_make_script(self, index: int) -> list:
        self.script = MakeComCamBias(index=index)
        return [self.script]

    async def test_use_exposures_splits_discard_combined_verify(self) -> None:
        async with self.make_script():
            await self.configure_script(calib_collection="c", n_bias=3, n_discard_bias=1, n_verify_bias=2)
            ids = [2026112500001 + i for i in range(6)]
            self.script.use_exposures(ids, n_discard=1)
            summary = self.script.summary
            assert summary.exposures_discarded == ids[:1]
            assert summary.exposures_combined == ids[1:4]
            assert summary.exposures_verify == ids[4:]

    async def test_use_exposures_verifies_on_combined_without_extra_frames(self) -> None:
        async with self.make_script():
            await self.configure_script(calib_collection="c", n_bias=2)
            ids = [2026112500007, 2026112500008, 2026112500009]
            self.script.use_exposures(ids, n_discard=1)
            assert self.script.summary.exposures_combined == ids[1:]
            assert self.script.summary.exposures_verify == ids[1:]

    async def test_validity_range(self) -> None:
        async with self.make_script():
            await self.configure_script(calib_collection="c", n_bias=2)
            self.script.use_exposures([2026113000040, 2026113000041, 2026120100001], n_discard=1)
            assert self.script.validity_range() == ("2026-12-01T12:00:00.000", "2026-12-02T12:00:00.000")
        async with self.make_script():
            await self.configure_script(
                calib_collection="c",
                certify_calib_begin_date="2020-01-01",
                certify_calib_end_date="2030-01-01",
            )
            assert self.script.validity_range() == ("2020-01-01T00:00:00.000", "2030-01-01T00:00:00.000")

    async def test_resume_hint(self) -> None:
        async with self.make_script():
            await self.configure_script(calib_collection="c", n_bias=2, n_verify_bias=1)
            ids = [2026112500001 + i for i in range(4)]
            self.script.use_exposures(ids, n_discard=1)
            assert (
                self.script.resume_hint()
                == f"\nTo resume once every raw is ingested: exposure_ids: {ids[1:]}"
            )
            self.script.summary.mark_done(Stage.WAIT_INGEST)
            assert self.script.resume_hint() == f"\nTo resume: exposure_ids: {ids[1:]}"

    async def test_planned_stages(self) -> None:
        async with self.make_script():
            await self.configure_script(calib_collection="c", do_verify=False, do_certify=False)
            assert self.script.planned_stages() == [
                Stage.PREFLIGHT,
                Stage.TAKE_BIASES,
                Stage.WAIT_INGEST,
                Stage.CP_BIAS,
                Stage.SUMMARY,
            ]
            assert self.script.evt_metadata.data.totalCheckpoints == 5


def test_describe_error() -> None:
    ack = types.SimpleNamespace(ack=SalRetCode.CMD_FAILED, result="Failed: not allowed in state=DISABLED")
    assert describe_error(salobj.AckError("Command failed", ack)) == (
        "command failed (CMD_FAILED): Failed: not allowed in state=DISABLED"
    )
    timeout_ack = types.SimpleNamespace(ack=SalRetCode.CMD_NOACK, result="No command acknowledgement seen")
    assert describe_error(salobj.AckTimeoutError("Timed out", timeout_ack)).startswith(
        "command not acknowledged in time (CMD_NOACK)"
    )
    assert describe_error(RuntimeError("boom")) == "boom"
    assert describe_error(TimeoutError()) == "TimeoutError"


def test_tai_isot() -> None:
    text = tai_isot()
    assert len(text) == 23 and text[10] == "T" and text[19] == "."


class FakeTopic:
    """A read topic whose latest sample the test sets."""

    def __init__(self, sample: object = None) -> None:
        self.sample = sample

    def get(self) -> object:
        return self.sample


def fake_camera(state: State, error: object) -> types.SimpleNamespace:
    return types.SimpleNamespace(
        evt_summaryState=FakeTopic(types.SimpleNamespace(summaryState=state)), evt_errorCode=FakeTopic(error)
    )


async def test_camera_fault_that_arrives_after_the_failed_ack_is_described() -> None:
    """summaryState and errorCode are other topics than the ack: they may come later."""
    old_error = types.SimpleNamespace(errorCode=0, errorReport="")
    camera = fake_camera(State.ENABLED, old_error)

    async def fault_later() -> None:
        await asyncio.sleep(0.05)
        camera.evt_summaryState.sample = types.SimpleNamespace(summaryState=State.FAULT)
        await asyncio.sleep(0.05)
        camera.evt_errorCode.sample = types.SimpleNamespace(errorCode=42, errorReport="shutter stuck")

    faulting = asyncio.create_task(fault_later())
    description = await describe_camera_fault(camera, old_error, grace=10)
    await faulting
    assert description == "CCCamera is in FAULT (errorCode 42: shutter stuck)"


async def test_camera_not_in_fault_or_without_a_new_error_code() -> None:
    old_error = types.SimpleNamespace(errorCode=7, errorReport="an old fault")
    assert await describe_camera_fault(fake_camera(State.ENABLED, old_error), old_error, grace=0.05) == ""
    # In FAULT, but the errorCode seen is the one from before the frame: it is not quoted.
    faulted = fake_camera(State.FAULT, old_error)
    assert (
        await describe_camera_fault(faulted, old_error, grace=0.05)
        == "CCCamera is in FAULT (no new errorCode)"
    )
