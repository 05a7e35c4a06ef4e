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

"""The test tiers: what ``make test`` leaves out, what runs first, what runs alone."""

import os
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
HAPPY = "tests/script/test_happy_path.py"
FAULTS = "tests/script/test_faults.py"
PIPETASK = "tests/script/test_pipetask_integration.py"


def collect(*args: str, returncode: int = 0) -> tuple[list[str], str]:
    """Node ids pytest collects from the repository root with ``args``, and its summary line.

    ``returncode`` is pytest's expected exit code (5: no test collected).
    """
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == returncode, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    return [line for line in lines if "::" in line], next(line for line in lines if "collected" in line)


@pytest.mark.slow
def test_fast_tier_leaves_out_slow_tests_and_starts_with_integration() -> None:
    fast, summary = collect("-m", "not slow", FAULTS, PIPETASK)
    slow = {
        f"{FAULTS}::test_verification_fails[False]",
        f"{FAULTS}::test_verification_fails[True]",
        f"{FAULTS}::test_certification_conflict_and_supersede",
    }
    assert not slow & set(fast)
    assert f"{FAULTS}::test_csc_not_enabled[OCPS]" in fast
    assert re.search(
        rf"^{len(fast)}/{len(fast) + len(slow)} tests collected \({len(slow)} deselected\)", summary
    )
    # A module whose tests are all slow is left out whole.
    happy, summary = collect("-m", "not slow", HAPPY, returncode=5)
    assert happy == [] and "no tests collected (6 deselected)" in summary
    # The integration test comes first although its file is collected last.
    assert fast[0] == f"{PIPETASK}::test_whole_procedure_with_pipetask"


@pytest.mark.serial
def test_serial_tests_share_one_xdist_group(request: pytest.FixtureRequest) -> None:
    group = request.node.get_closest_marker("xdist_group")
    assert group is not None and group.args == ("serial",)


@pytest.mark.xdist_group("tiers_probe")
@pytest.mark.parametrize("probe", range(4))
def test_group_probe(request: pytest.FixtureRequest, probe: int) -> None:
    """Grouped tests carry their group in the node id wherever ``--dist loadgroup`` schedules them."""
    if getattr(request.config.option, "loadgroup", False):
        assert request.node.nodeid.endswith("@tiers_probe")
    else:
        assert "@" not in request.node.nodeid


@pytest.mark.slow  # a pytest run with two workers
def test_tests_of_an_xdist_group_run_in_one_worker() -> None:
    """``--dist loadgroup`` keeps a group on one worker (its session fixtures are built once)."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup", "-v", "-p", "no:cacheprovider"]
        + ["tests/tiers/test_tiers.py", "-k", "test_group_probe"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    ran = re.findall(r"^\[(gw\d)\].* PASSED (\S+)", result.stdout, flags=re.MULTILINE)
    assert len(ran) == 4, result.stdout
    assert len({worker for worker, _ in ran}) == 1, ran
    assert all(nodeid.endswith("@tiers_probe") for _, nodeid in ran), ran


def test_make_test_and_ci_run_both_tiers() -> None:
    makefile = (ROOT / "Makefile").read_text()
    targets = dict(re.findall(r"^([\w-]+): venv\n\t(.+)$", makefile, flags=re.MULTILINE))
    assert '-m "not slow"' in targets["test"] and "$(PYTEST_PARALLEL)" in targets["test"]
    assert "-m slow" in targets["test-slow"]
    assert targets["test-all"].endswith("pytest $(PYTEST_PARALLEL)")  # no marker selection
    assert re.search(r"^PYTEST_PARALLEL \?= -n auto --dist loadgroup$", makefile, flags=re.MULTILINE)
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert "set -euo pipefail" in ci
    commands = [re.split(r" [>|&]", line)[0] for line in ci if line.startswith("make ")]
    assert commands == ["make venv", "make demo", "make test", "make test-slow"]
    # The demo runs in the background beside both tiers; every one runs to its end, and CI
    # fails if any of the three fails.
    assert 'make demo >"$demo_log" 2>&1 &' in ci
    assert "make test || test_status=$?" in ci
    assert "make test-slow || slow_status=$?" in ci
    assert ci.index('wait "$demo_pid" || demo_status=$?') > ci.index("make test-slow || slow_status=$?")
    verdict = next(line for line in ci if line.startswith("if "))
    assert all(f'"${name}_status" -ne 0' in verdict for name in ("demo", "test", "slow")), verdict
    assert ci[-2:] == ["    exit 1", "fi"]
    # The fast tier runs with the simulated SAL delivering as Kafka does (seeded, so that a
    # failure reproduces); the slow tier in the default, ordered mode: CI runs both modes.
    assert targets["test"].startswith(
        "CALIBSCRIPTS_SIM_DELIVERY=$(DELIVERY) CALIBSCRIPTS_SIM_DELIVERY_SEED=$(SEED) "
    )
    assert re.search(r"^DELIVERY \?= unordered$", makefile, flags=re.MULTILINE)
    assert re.search(r"^SEED \?= \d+$", makefile, flags=re.MULTILINE)
    assert "CALIBSCRIPTS_SIM_DELIVERY" not in targets["test-slow"]
    # pip installs without compiling every dependency; imports compile what they use.
    assert "--no-compile" in makefile.split("\n$(VENV)/.installed: pyproject.toml\n", 1)[1].split("\n\n")[0]


@pytest.mark.parametrize("cpus, workers", [(1, 2), (2, 4), (3, 6), (16, 8)])
def test_auto_workers_are_two_per_cpu_at_most_eight(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, cpus: int, workers: int
) -> None:
    monkeypatch.delenv("PYTEST_XDIST_AUTO_NUM_WORKERS", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cpus)), raising=False)
    hook = request.config.pluginmanager.hook
    assert hook.pytest_xdist_auto_num_workers(config=request.config) == workers
    # The environment variable pytest-xdist documents still decides.
    monkeypatch.setenv("PYTEST_XDIST_AUTO_NUM_WORKERS", "3")
    assert hook.pytest_xdist_auto_num_workers(config=request.config) == 3


def test_every_pytest_process_starts_cheaply(request: pytest.FixtureRequest) -> None:
    """No unused plugin is loaded, and ``make`` lets pytest keep its rewritten test modules."""
    assert not request.config.pluginmanager.has_plugin("zarr")
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^unexport PYTHONDONTWRITEBYTECODE$", makefile, flags=re.MULTILINE)
