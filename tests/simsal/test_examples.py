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

"""An example script and CSC written only from the real salobj API run on the selected SAL.

Also covers ``amain``: exit codes, ``--schema`` and signal handling.
"""

import asyncio
import importlib.util
import os
import pathlib
import signal
import subprocess
import sys
import types
import typing

import pytest
import yaml
from lsst.ts.calibscripts.sal import ScriptState, salobj

EXAMPLES_DIR = pathlib.Path(__file__).parent / "examples"
SCRIPT_PATH = EXAMPLES_DIR / "example_script.py"
STD_TIMEOUT = 10


def load_module(name: str) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(f"simsal_example_{name}", EXAMPLES_DIR / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def example_script() -> typing.Any:
    return load_module("example_script").ExampleScript


@pytest.fixture
def example_csc() -> typing.Any:
    return load_module("example_csc").ExampleCsc


def test_schema_option_prints_schema_and_starts_nothing(example_script: typing.Any) -> None:
    env = dict(os.environ)  # with the CALIBSCRIPTS_SAL the suite runs on
    # Without LSST_TOPIC_SUBNAME nothing SAL-related can start: --schema must not need it.
    env.pop("LSST_TOPIC_SUBNAME", None)
    result = subprocess.run(
        [sys.executable, str(SCRIPT_PATH), "0", "--schema"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert yaml.safe_load(result.stdout) == example_script.get_schema()
    # The index is still required.
    result = subprocess.run(
        [sys.executable, str(SCRIPT_PATH), "--schema"], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 2
    assert "index" in result.stderr


async def run_amain(
    script_class: typing.Any, index: int, monkeypatch: pytest.MonkeyPatch, drive: typing.Callable
) -> int:
    """Run ``script_class.amain()`` with argv ``[index]`` while ``drive(remote)`` commands it.

    Returns the exit code amain would give the process.
    """
    monkeypatch.setattr(sys, "argv", ["example_script.py", str(index)])
    async with salobj.Domain() as domain:
        remote = salobj.Remote(domain, "Script", index)
        await remote.start_task

        async def amain_exit_code() -> int:
            # SystemExit must be caught in the coroutine: a task re-raises it out of the event loop.
            try:
                await script_class.amain()
            except SystemExit as e:
                return int(e.code) if e.code is not None else 0
            return 0

        amain_task = asyncio.create_task(amain_exit_code())
        state = await remote.evt_state.next(flush=False, timeout=STD_TIMEOUT)
        assert state.state == ScriptState.UNCONFIGURED
        await drive(remote)
        return await asyncio.wait_for(amain_task, timeout=STD_TIMEOUT)


async def test_example_script_and_csc(
    example_script: typing.Any, example_csc: typing.Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    csc = example_csc(index=3, initial_state=salobj.State.ENABLED)
    await csc.start_task
    log_messages: list[str] = []

    async def drive(remote: salobj.Remote) -> None:
        async def log_callback(data: typing.Any) -> None:
            log_messages.append(data.message)

        remote.evt_logMessage.callback = log_callback
        await remote.cmd_configure.set_start(config="csc_index: 3\nvalue: 17", timeout=STD_TIMEOUT)
        await remote.cmd_setGroupId.set_start(groupId="g1", timeout=STD_TIMEOUT)
        await remote.cmd_run.start(timeout=STD_TIMEOUT)

    assert await run_amain(example_script, 11, monkeypatch, drive) == 0
    assert "Test:3 echoed 17" in log_messages
    async with salobj.Domain() as domain:
        remote = salobj.Remote(domain, "Test", 3)
        await remote.start_task
        assert remote.evt_scalars.get().int0 == 17
        ackcmd = await remote.cmd_wait.set_start(duration=0.1, timeout=STD_TIMEOUT, wait_done=False)
        assert ackcmd.ack == salobj.SalRetCode.CMD_INPROGRESS
    await csc.close()


async def test_amain_exit_code_on_failure(
    example_script: typing.Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def drive(remote: salobj.Remote) -> None:
        # No CSC at Test:4, so the command times out and the script fails.
        await remote.cmd_configure.set_start(config="csc_index: 4\ntimeout: 0.2", timeout=STD_TIMEOUT)
        await remote.cmd_setGroupId.set_start(groupId="g1", timeout=STD_TIMEOUT)
        ackcmd = await remote.cmd_run.start(timeout=STD_TIMEOUT)
        assert ackcmd.ack == salobj.SalRetCode.CMD_COMPLETE
        state = remote.evt_state.get()
        while state.state != ScriptState.FAILED:
            state = await remote.evt_state.next(flush=False, timeout=STD_TIMEOUT)
        assert "Timed out waiting for command acknowledgement" in state.reason

    assert await run_amain(example_script, 12, monkeypatch, drive) == 1


async def test_amain_exit_code_on_configure_failure(
    example_script: typing.Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def drive(remote: salobj.Remote) -> None:
        with pytest.raises(salobj.AckError, match="'csc_index' is a required property"):
            await remote.cmd_configure.set_start(config="value: 1", timeout=STD_TIMEOUT)

    assert await run_amain(example_script, 13, monkeypatch, drive) == 1


async def test_amain_exit_code_when_stopped(
    example_script: typing.Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def drive(remote: salobj.Remote) -> None:
        await remote.cmd_stop.start(timeout=STD_TIMEOUT)

    assert await run_amain(example_script, 14, monkeypatch, drive) == 0


async def test_sigterm_ends_script_without_final_state(
    example_script: typing.Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    states: list[int] = []

    async def drive(remote: salobj.Remote) -> None:
        async def state_callback(data: typing.Any) -> None:
            states.append(data.state)

        remote.evt_state.callback = state_callback
        os.kill(os.getpid(), signal.SIGTERM)

    assert await run_amain(example_script, 15, monkeypatch, drive) == 1
    await asyncio.sleep(0.05)
    assert states == []
