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

"""BaseScriptTestCase drives a script the way ts_standardscripts tests do."""

import importlib.util
import os
import pathlib
import types
import typing
import unittest

import pytest
from lsst.ts.calibscripts.sal import ScriptState, salobj
from lsst.ts.calibscripts.testing import BaseScriptTestCase

EXAMPLES_DIR = pathlib.Path(__file__).parents[1] / "simsal" / "examples"


def load_example(name: str) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(f"testing_example_{name}", EXAMPLES_DIR / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ExampleScript = load_example("example_script").ExampleScript
ExampleCsc = load_example("example_csc").ExampleCsc

CSC_INDEX = 21


class TestExampleScript(BaseScriptTestCase, unittest.IsolatedAsyncioTestCase):
    async def basic_make_script(self, index: int) -> list[typing.Any]:
        self.script = ExampleScript(index=index)
        self.csc = ExampleCsc(index=CSC_INDEX, initial_state=salobj.State.ENABLED)
        self.closed_hook_called = False
        return [self.script, self.csc]

    async def close(self) -> None:
        self.closed_hook_called = True

    async def test_configure(self) -> None:
        async with self.make_script():
            config = await self.configure_script(csc_index=CSC_INDEX)
            assert config.csc_index == CSC_INDEX
            assert self.script.config.value == 42  # default filled in
            assert self.script.state.state == ScriptState.CONFIGURED
            assert self.script.group_id != ""
            # configure_script may be repeated.
            await self.configure_script(csc_index=CSC_INDEX, value=5)
            assert self.script.config.value == 5
        assert self.closed_hook_called
        assert self.csc.done_task.done()

    async def test_configure_invalid(self) -> None:
        async with self.make_script():
            with pytest.raises(salobj.ExpectedError, match="Additional properties are not allowed"):
                await self.configure_script(csc_index=CSC_INDEX, no_such_key=1)
            assert self.script.state.state == ScriptState.CONFIGURE_FAILED
            # A script whose configuration failed exits; it cannot be configured again.
            with pytest.raises(salobj.ExpectedError, match="Cannot configure: script is exiting"):
                await self.configure_script(csc_index=CSC_INDEX)

    async def test_configure_missing_required(self) -> None:
        async with self.make_script():
            with pytest.raises(salobj.ExpectedError, match="'csc_index' is a required property"):
                await self.configure_script()

    async def test_run(self) -> None:
        async with self.make_script():
            await self.configure_script(csc_index=CSC_INDEX, value=7)
            await self.run_script()
            assert self.csc.evt_scalars.data.int0 == 7

    async def test_run_expected_failure(self) -> None:
        async with self.make_script():
            await self.configure_script(csc_index=CSC_INDEX)
            await self.csc.fault(code=2, report="broken")
            await self.run_script(expected_final_state=ScriptState.FAILED)
            assert "not allowed in state=<State.FAULT: 3>" in self.script.state.reason

    async def test_run_wrong_final_state_is_reported(self) -> None:
        async with self.make_script():
            await self.configure_script(csc_index=CSC_INDEX)
            with pytest.raises(AssertionError, match="final state=DONE instead of FAILED"):
                await self.run_script(expected_final_state=ScriptState.FAILED)

    async def test_executable(self) -> None:
        await self.check_executable(EXAMPLES_DIR / "example_script.py")
        with pytest.raises(AssertionError, match="not executable"):
            await self.check_executable(EXAMPLES_DIR / "example_csc.py")
        with pytest.raises(AssertionError, match="not a file"):
            await self.check_executable(EXAMPLES_DIR / "no_such_script.py")

    async def test_executable_runs_schema(self) -> None:
        os.environ["LSST_SAL_SCRIPT_CHECK_BIN"] = "1"
        try:
            await self.check_executable(EXAMPLES_DIR / "example_script.py")
        finally:
            del os.environ["LSST_SAL_SCRIPT_CHECK_BIN"]

    def test_next_index_increases(self) -> None:
        first = self.next_index()
        assert self.next_index() == first + 1
