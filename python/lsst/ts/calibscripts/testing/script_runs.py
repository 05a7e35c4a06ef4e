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

"""Running a calibration script as a ScriptQueue would, for end-to-end tests.

The harnesses of the bias script's and the calibrations script's tests
share these steps: copy the template repository, configure the script
(pause and stop checkpoints), set its group id, run it with something
awaited alongside, wait for its end, stop it, and keep the report pictures
from being drawn.

Public API
----------
`no_pictures`, `fresh_repo`, `run_script`, `configure_only`, `wait_for`,
`send_stop`.
"""

from __future__ import annotations

__all__ = ["configure_only", "fresh_repo", "no_pictures", "run_script", "send_stop", "wait_for"]

import asyncio
import contextlib
import os
import pathlib
import shutil
import typing
from unittest import mock

import yaml

from .. import report


def no_pictures(summary: typing.Any, repo: typing.Any = None, *, log: typing.Any = None) -> report.RunReport:
    """Stand-in for `lsst.ts.calibscripts.report.write_run_pictures` that draws nothing."""
    path = pathlib.Path(summary.report_path or ".")
    return report.RunReport(
        directory=path.parent, summary_path=path, problems=["pictures not drawn in this test run"]
    )


def fresh_repo(tmp_path: str, template_repo: str) -> str:
    """``<tmp_path>/repo``, a copy of ``template_repo`` made on first use."""
    repo = os.path.join(tmp_path, "repo")
    if not os.path.exists(repo):
        shutil.copytree(template_repo, repo, symlinks=True)
    return repo


async def run_script(
    script: typing.Any,
    config: dict[str, typing.Any],
    *,
    group_id: str,
    timeout: float,
    pause_checkpoint: str = "",
    stop_checkpoint: str = "",
    during: typing.Callable[[], typing.Awaitable[None]] | None = None,
    pictures: bool = False,
    patches: typing.Iterable[typing.ContextManager[typing.Any]] = (),
) -> None:
    """Configure, set the group id and run ``script`` as a ScriptQueue would; return when it ended.

    Parameters
    ----------
    script : `BaseScript`
        A started script.
    config : `dict`
        Its configuration.
    group_id : `str`
        The group id.
    timeout : `float`
        Limit of ``during``, the run and the script's end (s).
    pause_checkpoint, stop_checkpoint : `str`
        Checkpoint regular expressions of the configure command.
    during : callable, optional
        Awaited concurrently with the run (e.g. to stop the script).
    pictures : `bool`
        Draw the report pictures (else `no_pictures` stands in).
    patches : iterable of context managers
        Entered around the run.
    """
    await script.start_task
    data = script.cmd_configure.DataType()
    data.config = yaml.safe_dump(config)
    data.pauseCheckpoint = pause_checkpoint
    data.stopCheckpoint = stop_checkpoint
    await script.do_configure(data)
    group = script.cmd_setGroupId.DataType()
    group.groupId = group_id
    await script.do_setGroupId(group)
    with contextlib.ExitStack() as stack:
        if not pictures:
            stack.enter_context(mock.patch.object(report, "write_run_pictures", no_pictures))
        for patch in patches:
            stack.enter_context(patch)
        run_task = asyncio.create_task(script.do_run(script.cmd_run.DataType()))
        if during is not None:
            await asyncio.wait_for(during(), timeout)
        await asyncio.wait_for(run_task, timeout)
        await asyncio.wait_for(script.done_task, timeout)


async def configure_only(script: typing.Any, config: dict[str, typing.Any] | str) -> typing.Any:
    """Configure a started script (no observatory); return it after configure, failed or not."""
    await script.start_task
    data = script.cmd_configure.DataType()
    data.config = yaml.safe_dump(config) if isinstance(config, dict) else config
    with contextlib.suppress(Exception):
        await script.do_configure(data)
    return script


async def wait_for(condition: typing.Callable[[], bool], timeout: float = 60.0, what: str = "") -> None:
    """Poll ``condition`` until it holds (a wait for something that must happen)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"Timed out waiting for {what or condition}")
        await asyncio.sleep(0.005)


async def send_stop(script: typing.Any) -> None:
    """Send the stop command, as the ScriptQueue does."""
    await script.do_stop(script.cmd_stop.DataType())
