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

"""End-to-end runs of run_make_comcam_bias --simulate (integration: each runs the whole procedure).

The run that ends DONE with no configuration file (the shipped example) is the README's demo,
``make demo``, which CI runs; what the command prints and draws in a run to DONE (stages in
order, every detector certified, the pictures at their sizes) is checked on the installed
wheel's command in ``tests/packaging/test_wheel_install.py``.
"""

import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest
import yaml
from lsst.daf.butler import Butler

# Each test runs the command in a process of its own (a whole run or its start): the slow tier.
pytestmark = [pytest.mark.integration, pytest.mark.slow]

COMMAND = [sys.executable, "-m", "lsst.ts.calibscripts.cli.run_make_comcam_bias"]
FAST = ["--simulate", "--runner", "inprocess", "--time-scale", "0.05"]


def environment() -> dict[str, str]:
    env = dict(os.environ)
    env["CALIBSCRIPTS_SAL"] = "sim"
    env["LSST_TOPIC_SUBNAME"] = f"test_cli_{os.getpid()}"
    return env


def run_cli(args: list[str], cwd: pathlib.Path, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        COMMAND + args, cwd=cwd, env=environment(), capture_output=True, text=True, timeout=timeout
    )


def final_line(output: str) -> str:
    """The "Final state: ..." line (the reason may continue on more lines)."""
    (line,) = [line for line in output.splitlines() if line.startswith("Final state: ")]
    return line


def certified_detectors(repo: pathlib.Path, collection: str = "LSSTComCam/calib/daily") -> list[int]:
    butler = Butler.from_config(str(repo))
    try:
        if collection not in butler.collections.query("*"):
            return []
        refs = butler.query_datasets("bias", collections=collection, find_first=False, explain=False)
        return sorted({int(ref.dataId["detector"]) for ref in refs})
    finally:
        butler.close()


def test_simulated_job_failure(tmp_path: pathlib.Path) -> None:
    result = run_cli(
        FAST + ["--fail-job", "cp_bias", "--report-dir", "out", "--log-level", "WARNING"], tmp_path
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    final = final_line(result.stdout)
    assert final.startswith("Final state: FAILED: ")
    assert "Fault: the cp_bias job fails." in result.stdout
    # As with the real OCPS, the result names no log: the reason says where OCPS keeps it,
    # and the simulation says where its execution service keeps the job's output directory.
    job_id = final.split("cp_bias job ", 1)[1].split()[0]
    assert f"cp_bias job {job_id} failed (exit_code 1)" in final
    assert f"log: ocps.log in the output directory of job {job_id} on the OCPS execution service" in final
    log_dir = tmp_path / "sim_observatory" / "ocps_logs"
    assert f"a job's log is {log_dir}/<job_id>/out/ocps.log" in result.stdout
    log_text = (log_dir / job_id / "out" / "ocps.log").read_text()
    assert "simulated failure of the cp_bias job" in log_text
    # Quieter than INFO: the command announces the stages itself, up to the failing one.
    assert "Stage 4/8 cp_bias: Run cpBias through OCPS:2" in result.stdout
    assert "Stage 5/8" not in result.stdout
    assert certified_detectors(tmp_path / "sim_observatory" / "repo") == []
    assert list((tmp_path / "out").glob("*.yaml")), "the summary is written on failure too"


def test_configuration_rejected(tmp_path: pathlib.Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("calib_collection: LSSTComCam/calib/daily\nn_bias: many\n")
    result = run_cli([str(config)] + FAST, tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Configuration rejected" in result.stdout
    final = final_line(result.stdout)
    assert final.startswith("Final state: CONFIGURE_FAILED: ") and "n_bias" in result.stdout


def test_interrupt_stops_the_script(tmp_path: pathlib.Path) -> None:
    """Ctrl-C sends the script a stop: it ends STOPPED (exit 1) with nothing certified."""
    process = subprocess.Popen(
        COMMAND + ["--simulate", "--runner", "inprocess", "--time-scale", "0.5", "--log-level", "WARNING"],
        cwd=tmp_path,
        env=environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = []
    try:
        deadline = time.monotonic() + 300
        for line in process.stdout:
            lines.append(line)
            if line.startswith("Stage 2/8 take_biases"):
                process.send_signal(signal.SIGINT)
                break
            assert time.monotonic() < deadline, "".join(lines)
        rest, _ = process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    output = "".join(lines) + rest
    assert process.returncode == 1, output
    assert "Interrupted: stopping the script" in output
    assert final_line(output).startswith("Final state: STOPPED"), output
    assert certified_detectors(tmp_path / "sim_observatory" / "repo") == []


def test_conflicting_certification(tmp_path: pathlib.Path) -> None:
    """A bias already certified over the run's day: FAILED, the conflict named, nothing certified."""
    from lsst.ts.calibscripts.configs import load_example_text

    config = yaml.safe_load(load_example_text())
    # Short (the conflict is found at certify, whatever the size): 3 frames, 2 detectors.
    config.update(supersede=False, n_bias=2, detectors=[0, 8])
    path = tmp_path / "no_supersede.yaml"
    path.write_text(yaml.safe_dump(config))
    result = run_cli([str(path), *FAST, "--conflicting-certification"], tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "Fault: a bias is already certified in LSSTComCam/calib/daily over the run's day." in output
    final = final_line(result.stdout)
    assert final.startswith("Final state: FAILED: ") and "certify failed" in final
    assert "LSSTComCam/calib/sim_previous_bias" in result.stdout  # the existing dataset is named
    butler = Butler.from_config(str(tmp_path / "sim_observatory" / "repo"))
    try:
        refs = butler.query_datasets(
            "bias", collections="LSSTComCam/calib/daily", find_first=False, explain=False
        )
        assert {ref.run for ref in refs} == {"LSSTComCam/calib/sim_previous_bias"}
    finally:
        butler.close()
