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

"""The command line runs any of the package's scripts from one registry (no observatory started)."""

import asyncio
import io
import os
import pathlib
import subprocess
import sys

import pytest
import yaml
from lsst.ts.calibscripts.calib.plan import make_plan
from lsst.ts.calibscripts.calib.sequence import SequenceResult, TypeResult, TypeState
from lsst.ts.calibscripts.calib.summary import Outcome, RunSummary
from lsst.ts.calibscripts.cameras import COMCAM, LATISS, LSSTCAM
from lsst.ts.calibscripts.cli import command, registry, run_calib_script
from lsst.ts.calibscripts.cli.simulation import SimulationSettings
from lsst.ts.calibscripts.configs import CALIBRATIONS_SIMULATION_EXAMPLE, example_path, load_example_text
from lsst.ts.calibscripts.maintel import MakeComCamBias, MakeComCamCalibrations

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_registry_names_each_script_once_with_its_class_and_camera() -> None:
    assert registry.script_names() == (
        "make_comcam_bias",
        "make_comcam_calibrations",
        "make_lsstcam_calibrations",
        "make_latiss_calibrations",
    )
    bias = registry.get_script("make_comcam_bias")
    calibrations = registry.get_script("make_comcam_calibrations")
    assert bias.load() is MakeComCamBias and calibrations.load() is MakeComCamCalibrations
    assert bias.camera is COMCAM and calibrations.camera is COMCAM
    assert calibrations.example == CALIBRATIONS_SIMULATION_EXAMPLE
    with pytest.raises(
        KeyError, match="No script 'make_lsstcam_bias'; scripts: make_comcam_bias, make_comcam"
    ):
        registry.get_script("make_lsstcam_bias")


def test_every_registered_script_has_its_shipped_simulation_example() -> None:
    for entry in registry.SCRIPTS.values():
        assert example_path(entry.example).is_file(), entry.name


def test_fail_job_choices_follow_the_scripts_types() -> None:
    assert registry.get_script("make_comcam_bias").job_pipelines() == {
        "cp_bias": "cpBias",
        "verify_bias": "verifyBias",
    }
    jobs = registry.get_script("make_comcam_calibrations").job_pipelines()
    assert jobs["cp_dark"] == "cpDark" and jobs["verify_flat"] == "verifyFlat"
    assert set(jobs) == {f"{stage}_{t}" for stage in ("cp", "verify") for t in ("bias", "dark", "flat")}


def test_observatory_of_a_script_is_its_camera(tmp_path) -> None:
    entry = registry.get_script("make_comcam_calibrations")
    settings = SimulationSettings(repo=str(tmp_path / "repo"), fail_job=["cp_dark", "verify_flat"])
    options = entry.observatory(settings, entry.camera)
    assert options.instrument == "LSSTComCam"
    assert set(options.ocps.job_outcomes) == {"cpDark", "verifyFlat"}


def test_list_names_the_scripts(capsys: pytest.CaptureFixture) -> None:
    assert run_calib_script.main(["--list"]) == 0
    out = capsys.readouterr().out
    assert "make_comcam_bias" in out and "MakeComCamCalibrations (camera LSSTComCam)" in out


def test_unknown_script_is_refused_naming_the_known_ones(capsys: pytest.CaptureFixture) -> None:
    assert run_calib_script.main(["make_comcam_flats", "--simulate"]) == command.EXIT_NOT_RUN
    assert "No script 'make_comcam_flats'; scripts: make_comcam_bias" in capsys.readouterr().err
    assert run_calib_script.main([]) == command.EXIT_NOT_RUN


def test_schema_of_the_script_named(capsys: pytest.CaptureFixture) -> None:
    assert run_calib_script.main(["make_comcam_calibrations", "--schema"]) == 0
    assert yaml.safe_load(capsys.readouterr().out) == MakeComCamCalibrations.get_schema()
    assert run_calib_script.main_make_comcam_calibrations(["--schema"]) == 0
    assert yaml.safe_load(capsys.readouterr().out) == MakeComCamCalibrations.get_schema()
    assert run_calib_script.main(["make_comcam_bias", "--schema"]) == 0
    assert yaml.safe_load(capsys.readouterr().out) == MakeComCamBias.get_schema()


@pytest.mark.parametrize("job, accepted", [("cp_dark", True), ("verify_flat", True), ("certify", False)])
def test_fail_job_of_the_calibrations_script(job: str, accepted: bool, capsys) -> None:
    parser = command.build_parser(registry.get_script("make_comcam_calibrations"))
    if accepted:
        assert parser.parse_args(["--simulate", "--fail-job", job]).fail_job == [job]
    else:
        with pytest.raises(SystemExit):
            parser.parse_args(["--simulate", "--fail-job", job])
        assert "invalid choice" in capsys.readouterr().err


def test_bias_command_refuses_a_dark_job_fault(capsys: pytest.CaptureFixture) -> None:
    from lsst.ts.calibscripts.cli import run_make_comcam_bias

    with pytest.raises(SystemExit):
        run_make_comcam_bias.main(["--simulate", "--fail-job", "cp_dark"])
    assert "invalid choice: 'cp_dark'" in capsys.readouterr().err


def test_calibrations_example_is_a_valid_bias_dark_flat_plan() -> None:
    config = yaml.safe_load(load_example_text(CALIBRATIONS_SIMULATION_EXAMPLE))
    plan = make_plan(config, MakeComCamCalibrations.schema_name)
    assert [t.calib_type for t in plan.types] == ["BIAS", "DARK", "FLAT"]
    assert config["report_dir"] == "calib_reports"
    entry = registry.get_script("make_comcam_calibrations")
    frames, detectors = command.expected_counts(load_example_text(entry.example), entry)
    assert frames == plan.n_frames_to_take == 12 and detectors == 9


@pytest.mark.parametrize(
    "name, camera, n_detectors",
    [("make_lsstcam_calibrations", LSSTCAM, 3), ("make_latiss_calibrations", LATISS, 1)],
)
def test_each_cameras_example_is_a_valid_bias_dark_flat_plan(name: str, camera, n_detectors: int) -> None:
    entry = registry.get_script(name)
    assert entry.camera is camera
    config = yaml.safe_load(load_example_text(entry.example))
    plan = make_plan(config, entry.load().schema_name, camera)
    assert [t.calib_type for t in plan.types] == ["BIAS", "DARK", "FLAT"]
    assert len(plan.detectors) == n_detectors
    assert config["calib_collection"].startswith(f"{camera.instrument}/calib")
    frames, detectors = command.expected_counts(load_example_text(entry.example), entry)
    assert frames == plan.n_frames_to_take and detectors == n_detectors


def test_expected_counts_of_the_calibrations_script() -> None:
    entry = registry.get_script("make_comcam_calibrations")
    text = (
        "script_mode: DARK\ncalib_collection: c\nn_dark: 2\nn_discard_dark: 1\nexp_times_dark: 3\n"
        "detectors: [1, 2]\n"
    )
    assert command.expected_counts(text, entry) == (3, 2)
    assert command.expected_counts("script_mode: DARK\nn_dark: many\n", entry) == (None, 9)


def _summary(calib_type: str, outcome: Outcome, files: list[str], certification: str = "") -> RunSummary:
    summary = RunSummary(calib_type=calib_type.lower())
    summary.finish(outcome, reason="")
    summary.certification_text = certification
    summary.report_files = files
    return summary


def test_type_results_say_per_type_what_was_certified_and_the_report_files() -> None:
    class Script:
        summaries = {
            "BIAS": _summary(
                "BIAS", Outcome.DONE, ["/r/x_bias_1.yaml", "/r/x_bias_1_mosaic.png"], "Certified bias"
            ),
            "DARK": _summary("DARK", Outcome.FAILED, ["/r/x_dark_1.yaml"]),
        }
        result = SequenceResult(
            types=(
                TypeResult("BIAS", TypeState.SUCCEEDED, certified=True, reason="certified bias ..."),
                TypeResult("DARK", TypeState.FAILED, reason="cp_dark failed: job x\nmore"),
            )
        )

    lines = command.type_results(Script())
    assert lines == [
        "Result per type:",
        "  BIAS: SUCCEEDED",
        "    certified: Certified bias",
        "    report: x_bias_1.yaml, x_bias_1_mosaic.png",
        "  DARK: FAILED: cp_dark failed: job x",
        "    certified: nothing",
        "    report: x_dark_1.yaml",
    ]


def test_a_one_type_script_prints_no_per_type_lines() -> None:
    class BiasScript:
        summary = _summary("BIAS", Outcome.DONE, ["/r/b.yaml"])

    assert command.type_results(BiasScript()) == []
    assert command.report_files(BiasScript()) == ["/r/b.yaml"]


@pytest.mark.parametrize("name", ["run_calib_script", "run_make_comcam_calibrations"])
def test_bin_wrappers(name: str) -> None:
    wrapper = ROOT / "bin" / f"{name}.py"
    assert os.access(wrapper, os.X_OK)
    argv = [sys.executable, str(wrapper)] + (
        ["make_comcam_calibrations"] if name == "run_calib_script" else []
    )
    result = subprocess.run(argv + ["--schema"], capture_output=True, text=True, check=True, timeout=120)
    assert yaml.safe_load(result.stdout) == MakeComCamCalibrations.get_schema()


def test_amain_prints_the_report_of_every_type(tmp_path, monkeypatch) -> None:
    entry = registry.get_script("make_comcam_calibrations")
    files = [str(tmp_path / "a_bias.yaml"), str(tmp_path / "a_dark.yaml")]

    async def fake_run(*args: object) -> tuple:
        return 1, "FAILED", "DARK failed; kept: BIAS; not built: FLAT", files

    args = command.build_parser(entry).parse_args([])
    out = io.StringIO()
    code = asyncio.run(command.amain(entry, args, "script_mode: BIAS_DARK\n", out=out, run=fake_run))
    assert code == 1
    text = out.getvalue()
    assert f"Run report in {tmp_path}:\n  a_bias.yaml\n  a_dark.yaml\n" in text
    assert text.rstrip().endswith("Final state: FAILED: DARK failed; kept: BIAS; not built: FLAT")
