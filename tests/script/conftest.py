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

"""Harness of the MakeComCamBias end-to-end tests.

A test describes the observatory (`ObservatoryOptions`) and the script
configuration, runs the script through configure, setGroupId and run as a
ScriptQueue would, and gets a `BiasRun` with the final state, the reason, the
OCPS requests, the report and the repository to assert on.

The repository is a copy of ``template_repo`` (``tests/conftest.py``, made
once per test process), so each test starts from a fresh butler without
paying for its creation.
"""

from __future__ import annotations

import dataclasses
import os
import typing

import pytest
import yaml
from lsst.ts.calibscripts.calib import butler_ops
from lsst.ts.calibscripts.maintel import MakeComCamBias
from lsst.ts.calibscripts.sal import ScriptState
from lsst.ts.calibscripts.sim import ObservatoryOptions, SimulatedObservatory
from lsst.ts.calibscripts.sim.interfaces import NullDataPlane
from lsst.ts.calibscripts.testing import script_runs

TIME_SCALE = 0.002
CALIB = "LSSTComCam/calib/test"
GROUP_ID = "2026-11-25T15:00:00.000"
RUN_TIMEOUT = 120.0

_index = iter(range(100, 100000))


@dataclasses.dataclass
class BiasRun:
    """What a script run did."""

    script: MakeComCamBias
    observatory: SimulatedObservatory
    repo: str | None
    report_dir: str

    @property
    def state(self) -> ScriptState:
        return ScriptState(self.script.state.state)

    @property
    def reason(self) -> str:
        return self.script.state.reason

    @property
    def executes(self) -> list[typing.Any]:
        return self.observatory.execute_requests

    @property
    def jobs(self) -> dict[str, typing.Any]:
        return self.observatory.ocps.jobs

    def report(self) -> dict[str, typing.Any]:
        files = [f for f in os.listdir(self.report_dir) if f.endswith(".yaml")]
        assert len(files) == 1, files
        with open(os.path.join(self.report_dir, files[0])) as stream:
            return yaml.safe_load(stream)

    def certifications(self, collection: str = CALIB) -> list[butler_ops.ExistingCertification]:
        assert self.repo is not None
        return butler_ops.list_certifications(self.repo, collection)


def make_job_runner(runner: str, repo: str | None, log_dir: str) -> typing.Any:
    """The job runner for ``runner`` (the observatory builds only "scripted")."""
    if runner == "inprocess":
        from lsst.ts.calibscripts.sim.runners.inprocess import InProcessRunner

        assert repo is not None
        return InProcessRunner(repo, log_dir)
    if runner == "pipetask":
        from lsst.ts.calibscripts.sim.runners.pipetask import PipetaskRunner

        try:
            return PipetaskRunner(repo, log_dir)  # type: ignore[call-arg]
        except TypeError:
            return PipetaskRunner()
    return None


no_pictures = script_runs.no_pictures


class ScriptRunner:
    """Runs MakeComCamBias against a simulated observatory."""

    CALIB = CALIB
    GROUP_ID = GROUP_ID

    def __init__(self, tmp_path: str, template_repo: str) -> None:
        self.tmp_path = tmp_path
        self.template_repo = template_repo

    def fresh_repo(self) -> str:
        return script_runs.fresh_repo(self.tmp_path, self.template_repo)

    async def __call__(
        self,
        config: dict[str, typing.Any] | None = None,
        options: ObservatoryOptions | None = None,
        *,
        use_repo: bool = True,
        runner: str = "inprocess",
        pause_checkpoint: str = "",
        stop_checkpoint: str = "",
        during: typing.Callable[[BiasRun], typing.Awaitable[None]] | None = None,
        observatory: SimulatedObservatory | None = None,
        pictures: bool = False,
    ) -> BiasRun:
        """Configure and run the script; return when it has ended.

        Parameters
        ----------
        config : `dict`
            Script configuration on top of: calib_collection, repo, a report
            folder, n_processes 1.
        options : `ObservatoryOptions`
            Observatory options; ``time_scale`` and ``repo`` are filled in.
        use_repo : `bool`
            Use a butler repository (else no data plane: scripted jobs only).
        runner : `str`
            ``inprocess``, ``pipetask`` or ``scripted``. Scripted jobs read
            no raws, so with ``scripted`` (and no ``options.data``) the
            camera writes none: CCOODS reports each ingest at once, with
            the repository still there for the certification checks.
        pause_checkpoint, stop_checkpoint : `str`
            Checkpoint regular expressions of the configure command.
        during : callable
            Awaited concurrently with the run (e.g. to stop the script).
        observatory : `SimulatedObservatory`
            Reuse a running observatory (for several runs on one repo).
        pictures : `bool`
            Draw the report pictures. Off by default: drawing them takes
            about a second per run, and tests/report tests them (the
            pipetask, CLI and installed-wheel runs draw them end to end).
            When off, the YAML summary is still written and says why no
            picture was drawn.
        """
        repo = self.fresh_repo() if use_repo else None
        report_dir = os.path.join(self.tmp_path, f"reports_{next(_index)}")
        options = options or ObservatoryOptions()
        options.time_scale = TIME_SCALE
        options.timing = dataclasses.replace(options.timing, time_scale=TIME_SCALE)
        if use_repo:
            options.repo = repo
        if runner != "scripted" and not use_repo:
            runner = "scripted"
        full_config = {
            "calib_collection": CALIB,
            "repo": repo or "/repo/LSSTComCam",
            "report_dir": report_dir,
            "n_processes": 1,
            **(config or {}),
        }
        own_observatory = observatory is None
        if observatory is None:
            job_runner = make_job_runner(runner, repo, os.path.join(self.tmp_path, "job_logs"))
            data_plane = NullDataPlane() if runner == "scripted" and options.data is None else None
            observatory = SimulatedObservatory(options, data_plane=data_plane, job_runner=job_runner)
            await observatory.start()
        script = MakeComCamBias(index=next(_index))
        result = BiasRun(script=script, observatory=observatory, repo=repo, report_dir=report_dir)
        try:
            await script_runs.run_script(
                script,
                full_config,
                group_id=GROUP_ID,
                timeout=RUN_TIMEOUT,
                pause_checkpoint=pause_checkpoint,
                stop_checkpoint=stop_checkpoint,
                during=None if during is None else lambda: during(result),
                pictures=pictures,
            )
        finally:
            await script.close()
            if own_observatory:
                await observatory.close()
        return result

    wait_for = staticmethod(script_runs.wait_for)
    stop = staticmethod(script_runs.send_stop)

    async def configure_only(self, config: dict[str, typing.Any]) -> MakeComCamBias:
        """Configure a script (no observatory); return it after configure."""
        return await script_runs.configure_only(MakeComCamBias(index=next(_index)), config)


@pytest.fixture
def run_bias(tmp_path: typing.Any, template_repo: str) -> ScriptRunner:
    return ScriptRunner(str(tmp_path), template_repo)
