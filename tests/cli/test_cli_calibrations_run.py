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

"""End-to-end: run_calib_script make_comcam_calibrations --simulate (integration: the whole sequence)."""

import os
import pathlib
import subprocess
import sys

import pytest
import yaml
from lsst.daf.butler import Butler

pytestmark = pytest.mark.integration

COMMAND = [sys.executable, "-m", "lsst.ts.calibscripts.cli.run_calib_script", "make_comcam_calibrations"]
FAST = ["--simulate", "--runner", "inprocess", "--time-scale", "0.01", "--log-level", "WARNING"]
CALIB = "LSSTComCam/calib/daily"
SMALL = {
    "script_mode": "BIAS_DARK_FLAT",
    "generate_calibrations": True,
    "calib_collection": CALIB,
    "n_discard_bias": 0,
    "n_bias": 2,
    "n_discard_dark": 0,
    "n_dark": 2,
    "exp_times_dark": 2,
    "n_discard_flat": 0,
    "n_flat": 2,
    "exp_times_flat": 1,
    "filter": "g_01",
    "detectors": [4],
    "n_processes": 1,
    "report_dir": "out",
}
"""Two frames per type on one detector: every stage of every type, at little cost."""


def run_cli(args: list[str], cwd: pathlib.Path, timeout: float = 600) -> subprocess.CompletedProcess:
    env = dict(os.environ, CALIBSCRIPTS_SAL="sim", LSST_TOPIC_SUBNAME=f"test_cli_calib_{os.getpid()}")
    return subprocess.run(COMMAND + args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def certified(repo: pathlib.Path, dataset_type: str) -> list[tuple[int, str | None]]:
    butler = Butler.from_config(str(repo))
    try:
        refs = butler.query_datasets(dataset_type, collections=CALIB, find_first=False, explain=False)
        return sorted({(int(r.dataId["detector"]), r.dataId.get("physical_filter")) for r in refs})
    finally:
        butler.close()


@pytest.mark.slow
def test_simulated_bias_dark_flat_ends_done_and_reports_each_type(tmp_path: pathlib.Path) -> None:
    config = tmp_path / "small.yaml"
    config.write_text(yaml.safe_dump(SMALL))
    result = run_cli([str(config)] + FAST, tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert result.stdout.rstrip().endswith("Final state: DONE"), output
    repo = tmp_path / "sim_observatory" / "repo"
    assert certified(repo, "bias") == [(4, None)]
    assert certified(repo, "dark") == [(4, None)]
    assert certified(repo, "flat") == [(4, "g_01")]
    # Per type: how it ended, what was certified, its report files (in the run's report folder).
    lines = result.stdout.splitlines()
    start = lines.index("Result per type:")
    per_type = lines[start + 1 : start + 10]
    reports = tmp_path / "out"
    for offset, calib_type in enumerate(("BIAS", "DARK", "FLAT")):
        head, cert, files = per_type[3 * offset : 3 * offset + 3]
        assert head == f"  {calib_type}: SUCCEEDED", per_type
        assert cert.startswith(f"    certified: Certified {calib_type.lower()} for detector(s) [4]"), cert
        assert f"into {CALIB}" in cert
        names = files.removeprefix("    report: ").split(", ")
        summary = f"MakeComCamCalibrations_{calib_type.lower()}_"
        assert names[0].startswith(summary) and names[0].endswith(".yaml"), files
        for name in names:
            assert (reports / name).is_file(), name
        data = yaml.safe_load((reports / names[0]).read_text())
        assert data["calib_type"] == calib_type.lower() and data["outcome"] == "done"
    assert "filter(s) ['g_01']" in per_type[7]
    assert f"Run report in {reports}:" in result.stdout
