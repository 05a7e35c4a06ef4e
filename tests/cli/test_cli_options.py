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

"""Tests of run_make_comcam_bias: options, configuration handling, progress."""

import asyncio
import io
import logging
import os
import pathlib
import subprocess
import sys

import pytest
import yaml
from lsst.ts.calibscripts.cameras import COMCAM, LATISS
from lsst.ts.calibscripts.cli import run_make_comcam_bias as cli
from lsst.ts.calibscripts.cli.progress import Progress, format_duration
from lsst.ts.calibscripts.cli.simulation import (
    SimulationSettings,
    configured_physical_filter,
    observatory_options,
    parse_fail_ingest,
    parse_noisy,
    previous_bias_validity,
    prior_calibration_filters,
    register_calibration_collection,
)
from lsst.ts.calibscripts.configs import EXAMPLES, SIMULATION_EXAMPLE, load_example_text
from lsst.ts.calibscripts.schemas import load_schema


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_schema_option(capsys: pytest.CaptureFixture) -> None:
    assert cli.main(["--schema"]) == 0
    assert yaml.safe_load(capsys.readouterr().out) == load_schema()


def test_schema_from_bin_script() -> None:
    """The bin/ wrapper prints the same schema as the entry point."""
    wrapper = pathlib.Path(__file__).resolve().parents[2] / "bin" / "run_make_comcam_bias.py"
    assert os.access(wrapper, os.X_OK)
    result = subprocess.run(
        [sys.executable, str(wrapper), "--schema"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert yaml.safe_load(result.stdout) == load_schema()


@pytest.mark.parametrize(
    "argv",
    [
        ["--noisy", "4=1.2"],
        ["--fail-job", "cp_bias"],
        ["--repo", "x"],
        ["--runner", "inprocess"],
        ["--time-scale", "0.5"],
        ["--conflicting-certification"],
        ["--prior-calibrations"],
        ["--prior-calibrations", "g_01"],
    ],
)
def test_simulation_options_need_simulate(argv: list[str], capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as excinfo:
        cli.main(argv)
    assert excinfo.value.code == 2
    assert "need --simulate" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--index", "0"], "index must be in"),
        (["--log-level", "LOUD"], "not a log level"),
        (["--simulate", "--noisy", "9=1.2"], "detector must be 0..8"),
        (["--simulate", "--noisy", "4"], "DETECTOR=FACTOR"),
        (["--simulate", "--fail-ingest", "0"], "numbered from 1"),
        (["--simulate", "--fail-job", "certify"], "invalid choice"),
        (["--simulate", "--time-scale", "-1"], "must be > 0"),
        (["--simulate", "--prior-calibrations", "HSC-R"], "HSC-R is not a physical filter of LSSTComCam"),
        (["--simulate", "--prior-calibrations", ","], "no filter is not a physical filter"),
    ],
)
def test_bad_options(argv: list[str], message: str, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as excinfo:
        cli.main(argv)
    assert excinfo.value.code == 2
    assert message in capsys.readouterr().err


def test_missing_config_file(tmp_path, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        cli.main([str(tmp_path / "missing.yaml")])
    assert "cannot read the configuration file" in capsys.readouterr().err


def test_log_level_parsing() -> None:
    assert cli.parse_log_level("debug") == logging.DEBUG
    assert cli.parse_log_level("30") == 30


def test_fault_option_parsers() -> None:
    assert parse_fail_ingest("3") == (3, None)
    assert parse_fail_ingest("3:4") == (3, 4)
    assert parse_noisy("4=1.25") == (4, 1.25)
    with pytest.raises(ValueError):
        parse_fail_ingest("x")
    with pytest.raises(ValueError):
        parse_noisy("4=0")


def test_prior_calibration_filters() -> None:
    assert prior_calibration_filters("current", COMCAM) == ()
    assert prior_calibration_filters("all", COMCAM) == ("u_02", "g_01", "r_03", "i_06", "z_03", "y_04")
    assert prior_calibration_filters(" g_01, r_03,g_01 ", COMCAM) == ("g_01", "r_03")
    # LATISS flats are per FILTER~GRATING, as the butler names them.
    assert prior_calibration_filters("SDSSr_65mm~empty", LATISS) == ("SDSSr_65mm~empty",)
    with pytest.raises(
        ValueError, match="r_03 is not a physical filter of LATISS; give current, all or some"
    ):
        prior_calibration_filters("r_03", LATISS)


def test_observatory_options_prior_calibrations(tmp_path) -> None:
    repo = str(tmp_path / "repo")
    assert observatory_options(SimulationSettings(repo=repo)).prior_calibrations is None
    current = observatory_options(SimulationSettings(repo=repo, prior_calibrations="current"))
    assert current.prior_calibrations == ()
    assert current.initial_physical_filter == "r_03"
    chosen = observatory_options(SimulationSettings(repo=repo, prior_calibrations="g_01,i_06"))
    assert chosen.prior_calibrations == ("g_01", "i_06")


def test_observatory_options_from_settings(tmp_path) -> None:
    settings = SimulationSettings(
        repo=str(tmp_path / "repo"),
        runner="inprocess",
        full_size=True,
        time_scale=0.5,
        fail_ingest=[(3, None), (2, 4)],
        fail_job=["verify_bias"],
        noisy={4: 1.3},
    )
    options = observatory_options(settings)
    assert options.repo == str(tmp_path / "repo") and options.runner == "inprocess"
    assert options.time_scale == 0.5
    assert all(state.name == "ENABLED" for state in options.initial_states.values())
    assert options.data.geometry.value == "full"
    assert options.data.read_noise_factors == {4: 1.3}
    assert options.oods.status_codes == {(3, None): 1, (2, 4): 1}
    assert options.ocps.script_for(1, "${CP_PIPE_DIR}/pipelines/LSSTComCam/cpBias.yaml").action.value == "run"
    verify = options.ocps.script_for(2, "${CP_VERIFY_DIR}/pipelines/LSSTComCam/verifyBias.yaml")
    assert verify.action.value == "fail" and "verify_bias" in verify.message
    reduced = observatory_options(SimulationSettings(repo=str(tmp_path / "r2")))
    assert reduced.data.geometry.value == "reduced" and reduced.runner == "pipetask"


def test_patch_config() -> None:
    text = "# comment\ncalib_collection: a/b\nn_bias: 3\n"
    assert cli.patch_config(text) == text  # verbatim without overrides
    assert cli.patch_config(text, repo=None) == text
    patched = yaml.safe_load(cli.patch_config(text, repo="/r", report_dir="out"))
    assert patched == dict(calib_collection="a/b", n_bias=3, repo="/r", report_dir="out")
    assert yaml.safe_load(cli.patch_config("", repo="/r")) == dict(repo="/r")
    # Not a mapping: left for the script to reject.
    assert cli.patch_config("- a\n- b\n", repo="/r") == "- a\n- b\n"
    assert cli.patch_config("a: : 2", repo="/r") == "a: : 2"


def test_expected_counts() -> None:
    assert cli.expected_counts("calib_collection: x\n") == (21, 9)  # schema defaults 1 + 20
    assert cli.expected_counts("n_bias: 5\nn_discard_bias: 0\nn_verify_bias: 2\ndetectors: [0, 4]\n") == (
        7,
        2,
    )
    assert cli.expected_counts('detectors: "(0..3)"\nn_bias: 2\n') == (3, 4)
    assert cli.expected_counts("exposure_ids: [2026112500001]\n") == (0, 9)
    assert cli.expected_counts("n_bias: many\n") == (None, 9)


def test_examples_are_valid_configurations() -> None:
    import jsonschema

    schema = load_schema()
    for name in EXAMPLES:
        config = yaml.safe_load(load_example_text(name))
        jsonschema.Draft7Validator(schema).validate(config)
        assert "calib_collection" in config
    simulation = yaml.safe_load(load_example_text(SIMULATION_EXAMPLE))
    assert simulation["report_dir"] == "calib_reports"
    assert cli.expected_counts(load_example_text())[0] == simulation["n_bias"] + simulation["n_discard_bias"]


def test_progress_not_a_terminal() -> None:
    out = io.StringIO()
    clock = FakeClock()
    progress = Progress(stream=out, live=False, n_frames=2, n_detectors=9, clock=clock)
    progress.on_end_readout("CC_O_20261125_000000")  # before RUNNING: the camera's previous image
    progress.on_state("CONFIGURED", "")
    progress.on_state("RUNNING", "")
    progress.on_state("RUNNING", "take_biases")
    progress.on_end_readout("CC_O_20261125_000001")
    progress.on_end_readout("CC_O_20261125_000001")  # duplicate
    progress.on_end_readout("CC_O_20261125_000002")
    for det in range(9):
        progress.on_image_in_oods("CC_O_20261125_000001", 0)
    progress.on_image_in_oods("CC_C_20261125_000003", 0)  # another script's image
    progress.on_image_in_oods("CC_O_20261125_000002", 1)
    clock.now += 75
    progress.on_state("RUNNING", "cp_bias")
    clock.now += 42
    assert progress.frames == 2 and progress.ingested == 9 and progress.ingest_failed == 1
    assert progress.status_line() == (
        "[4/8 cp_bias] frames 2/2 | ingested 9/18 (1 failed) | job running 00:42 | elapsed 01:57"
    )
    text = out.getvalue()
    # Only permanent lines: no carriage returns, one line per stage.
    assert "\r" not in text
    assert text.splitlines() == [
        "Stage 2/8 take_biases: Take the bias exposures",
        "Stage 4/8 cp_bias: Run cpBias through OCPS:2",
    ]


def test_progress_on_a_terminal() -> None:
    out = io.StringIO()
    progress = Progress(stream=out, live=True, n_frames=None, clock=FakeClock(), announce_stages=False)
    progress.on_state("RUNNING", "preflight")
    progress.print("12:00:00 INFO: hello")
    progress.finish()
    text = out.getvalue()
    assert "\r\x1b[2K" in text  # the status line is redrawn in place
    assert "[1/8 preflight] frames 0/? | ingested 0/? | elapsed 00:00" in text
    assert "12:00:00 INFO: hello\n" in text
    assert text.endswith("\r\x1b[2K")  # and removed at the end
    assert "Stage 1/8" not in text  # the script's own log says it at INFO


def test_format_duration() -> None:
    assert format_duration(0) == "00:00"
    assert format_duration(125.7) == "02:05"
    assert format_duration(3725) == "1:02:05"


def test_report_listing_names_only_the_files_the_run_wrote(tmp_path, monkeypatch) -> None:
    """Files in the report folder that the run did not write (e.g. the config) are not listed."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "my_config.yaml").write_text("calib_collection: c\nreport_dir: .\n")
    (tmp_path / "older_run.png").write_bytes(b"")
    written = [str(tmp_path / "MakeComCamBias_20261125T120000_7.yaml"), str(tmp_path / "x_mosaic.png")]

    async def fake_run_script(*args: object, **kwargs: object) -> tuple:
        return 0, "DONE", "done", list(written)

    monkeypatch.setattr(cli, "run_script", fake_run_script)
    args = cli.build_parser().parse_args(["my_config.yaml"])
    out = io.StringIO()
    code = asyncio.run(cli.amain(args, (tmp_path / "my_config.yaml").read_text(), out=out))
    assert code == 0
    lines = out.getvalue().splitlines()
    start = lines.index(f"Run report in {tmp_path}:")
    assert lines[start + 1 : start + 3] == ["  MakeComCamBias_20261125T120000_7.yaml", "  x_mosaic.png"]
    assert "my_config.yaml" not in out.getvalue() and "older_run.png" not in out.getvalue()
    assert lines[-1] == "Final state: DONE"


def test_conflicting_bias_covers_the_simulated_day_not_the_real_one(monkeypatch) -> None:
    """--conflicting-certification's bias overlaps the day the run certifies over on any date."""
    from astropy.time import Time

    monkeypatch.setenv("CALIBSCRIPTS_SIM_DATE", "2031-03-15")
    begin, end = previous_bias_validity()
    # The run's day is the day_obs of now (12:00 to 12:00 TAI): 03-14 or 03-15, by the time of day.
    assert begin <= Time("2031-03-14T12:00:00", scale="tai")
    assert end >= Time("2031-03-16T12:00:00", scale="tai")
    assert (end - begin).jd == pytest.approx(4.0)
    noon = Time("2031-03-15T12:00:00", scale="tai")
    begin, end = previous_bias_validity(clock=lambda: noon.unix_tai)
    assert (begin.isot, end.isot) == ("2031-03-13T12:00:00.000", "2031-03-17T12:00:00.000")


@pytest.mark.parametrize(
    "reason, prior, hint",
    [
        ("preflight failed: no bias for detector(s) [0, 1] in repo /r: this run ...", None, True),
        ("preflight failed: no bias and no dark for detector(s) [0] in repo /r: ...", None, True),
        ("preflight failed: collection 'LSSTComCam/calib/daily' does not exist in repo /r: ...", None, True),
        ("preflight failed: no bias for detector(s) [0, 1] in repo /r: this run ...", "current", False),
        ("preflight failed: CCCamera is STANDBY, not ENABLED", None, False),
    ],
)
def test_simulated_run_without_prior_calibrations_says_how_to_get_them(
    reason: str, prior: str | None, hint: bool, monkeypatch
) -> None:
    """A simulated run refused for want of certified calibrations names --prior-calibrations."""
    from lsst.ts.calibscripts.cli import command

    async def fake_start(entry, args, config_text, progress):
        return None, config_text

    async def fake_run(*args: object, **kwargs: object) -> tuple:
        return 1, "FAILED", reason, []

    monkeypatch.setattr(command, "_start_simulation", fake_start)
    argv = ["--simulate"] + ([] if prior is None else ["--prior-calibrations", prior])
    args = cli.build_parser().parse_args(argv)
    out = io.StringIO()
    assert asyncio.run(command.amain(cli.ENTRY, args, "calib_collection: c\n", out, run=fake_run)) == 1
    assert ("--prior-calibrations makes a bias, a dark and a flat first" in out.getvalue()) is hint


def test_configured_physical_filter() -> None:
    """--prior-calibrations current makes the flat of the configuration's filter."""
    assert configured_physical_filter({"filter": "g_01"}, COMCAM) == "g_01"
    assert configured_physical_filter({}, COMCAM) is None
    assert configured_physical_filter({"filter": "HSC-R"}, COMCAM) is None  # configure names it
    assert configured_physical_filter({"filter": "SDSSg_65mm", "grating": "empty_1"}, LATISS) == (
        "SDSSg_65mm~empty"
    )
    assert configured_physical_filter({"filter": "SDSSg_65mm", "grating": "holo4_003"}, LATISS) == (
        "SDSSg_65mm~holo4_003"
    )


def test_register_calibration_collection(fresh_repo: str) -> None:
    from lsst.daf.butler import Butler, CollectionType

    assert register_calibration_collection(fresh_repo, "LSSTComCam/calib/daily")
    assert not register_calibration_collection(fresh_repo, "LSSTComCam/calib/daily")
    # Another type is left as it is, for the script's preflight to judge.
    assert not register_calibration_collection(fresh_repo, "LSSTComCam/calib")
    butler = Butler.from_config(fresh_repo)
    try:
        assert butler.collections.get_info("LSSTComCam/calib/daily").type is CollectionType.CALIBRATION
        assert butler.collections.get_info("LSSTComCam/calib").type is CollectionType.CHAINED
    finally:
        butler.close()
