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

"""Tests of the runners' option parsing and command building."""

import pytest
from lsst.ts.calibscripts.sim.interfaces import JobRequest
from lsst.ts.calibscripts.sim.runners import make_runner
from lsst.ts.calibscripts.sim.runners._common import (
    RunOptions,
    RunOptionsError,
    job_collections,
    resolve_pipeline,
)
from lsst.ts.calibscripts.sim.runners.pipetask import build_command


def test_parse_ocps_config() -> None:
    options = RunOptions.parse(
        "LSSTComCam/raw/all",
        "-j 8 -i u/ocps/abc,LSSTComCam/calib --register-dataset-types  -c cpBiasIsr:doDither=False",
    )
    assert options.inputs == ["LSSTComCam/raw/all", "u/ocps/abc", "LSSTComCam/calib"]
    assert options.processes == 8
    assert options.register_dataset_types is True
    assert options.config_overrides == [("cpBiasIsr", "doDither", "False")]
    # Repeated inputs are kept once, in first-seen order; --opt=value works.
    again = RunOptions.parse("LSSTComCam/raw/all", "--input=LSSTComCam/raw/all,X -j2")
    assert again.inputs == ["LSSTComCam/raw/all", "X"] and again.processes == 2


@pytest.mark.parametrize(
    "config, text",
    [
        ("--no-such-thing", "No such option: --no-such-thing"),
        ("-i", "requires an argument"),
        ("-j many", "is not a valid integer"),
        ("-c nolabel", "Invalid value for '-c'"),
    ],
)
def test_parse_errors(config: str, text: str) -> None:
    with pytest.raises(RunOptionsError, match=text):
        RunOptions.parse("LSSTComCam/raw/all", config)


def test_build_command_is_the_ocps_one() -> None:
    request = JobRequest(
        job_id="0123456789abcdef0123456789abcdef",
        run_id="7",
        pipeline="${CP_PIPE_DIR}/pipelines/LSSTComCam/cpBias.yaml",
        version="",
        config="-j 8 -i LSSTComCam/calib --register-dataset-types  --processes=4 -j3",
        data_query="instrument='LSSTComCam' AND detector IN (0..8) AND exposure IN (1, 2)",
    )
    argv = build_command(request, "/repo", "pipetask")
    assert argv == [
        "pipetask", "--long-log", "run",
        "-p", "${CP_PIPE_DIR}/pipelines/LSSTComCam/cpBias.yaml",
        "-b", "/repo",
        "-o", "u/ocps/0123456789abcdef0123456789abcdef",
        "-i", "LSSTComCam/raw/all",
        "-j", "1", "-i", "LSSTComCam/calib", "--register-dataset-types", "--processes=1", "-j1",
        "--output-run", "u/ocps/0123456789abcdef0123456789abcdef/run",
        "-d", "instrument='LSSTComCam' AND detector IN (0..8) AND exposure IN (1, 2)",
    ]  # fmt: skip
    untouched = build_command(request, "/repo", "pipetask", processes=None)
    assert untouched[untouched.index("-j") + 1] == "8"


def test_collections_and_pipeline_resolution() -> None:
    assert job_collections("abc") == ("u/ocps/abc", "u/ocps/abc/run")
    env = {"CP_PIPE_DIR": "/cp"}
    assert (
        resolve_pipeline("${CP_PIPE_DIR}/pipelines/x.yaml#cpBiasIsr", env) == "/cp/pipelines/x.yaml#cpBiasIsr"
    )
    assert resolve_pipeline("$CP_PIPE_DIR/x.yaml", env) == "/cp/x.yaml"
    with pytest.raises(FileNotFoundError, match="NO_SUCH_DIR"):
        resolve_pipeline("${NO_SUCH_DIR}/x.yaml", env)


def test_make_runner(tmp_path) -> None:
    from lsst.ts.calibscripts.sim.interfaces import JobRunner

    runner = make_runner("inprocess", str(tmp_path), str(tmp_path / "logs"))
    assert isinstance(runner, JobRunner)
    assert isinstance(make_runner("pipetask", str(tmp_path), str(tmp_path / "logs")), JobRunner)
    with pytest.raises(ValueError, match="Unknown runner"):
        make_runner("shell", str(tmp_path), str(tmp_path))


def test_one_registry_of_runners(monkeypatch) -> None:
    """make_runner, ObservatoryOptions and the command line all read sim.runners.RUNNERS."""
    from lsst.ts.calibscripts.cli import run_make_comcam_bias
    from lsst.ts.calibscripts.sim import ObservatoryOptions, ScriptedRunner
    from lsst.ts.calibscripts.sim.runners import RUNNERS, RunnerKind, pipeline_runner_names

    assert set(RUNNERS) == {"scripted", "inprocess", "pipetask", "bps"}
    assert isinstance(make_runner("scripted", time_scale=0.5), ScriptedRunner)
    assert pipeline_runner_names() == ("inprocess", "pipetask", "bps")
    # A kind added to the registry is known to all three readers at once.
    monkeypatch.setitem(RUNNERS, "again", RunnerKind("again", ".scripted", "ScriptedRunner", False, "test"))
    assert isinstance(make_runner("again"), ScriptedRunner)
    ObservatoryOptions(runner="again")
    monkeypatch.setitem(RUNNERS, "piped", RunnerKind("piped", ".inprocess", "InProcessRunner", True, "test"))
    parser = run_make_comcam_bias.build_parser()
    assert parser.parse_args(["--simulate", "--runner", "piped"]).runner == "piped"
    with pytest.raises(ValueError, match="must be one of"):
        ObservatoryOptions(runner="shell")
