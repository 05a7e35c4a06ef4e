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

"""Build the wheel, install it in a fresh virtual environment, and run it.

Checks that the wheel ships what the script needs at run time (schema,
example configurations, ScriptQueue executable, pipelines, interface data),
that the console entry point works, and that a simulated run succeeds from
the installed copy, not from the source tree.

Why not ``python -m venv --system-site-packages``: the environment running
the tests is itself a virtual environment, and ``--system-site-packages``
exposes the *base* interpreter's site-packages, not this environment's, so
daf_butler and the other dependencies would be missing; installing them
again would need the network and minutes. Instead the new environment is
made without pip and gets a ``.pth`` file that appends this environment's
site-packages to ``sys.path``, after its own. Python does not process
``.pth`` files found in a directory added that way, so this environment's
editable install of the project (a ``.pth`` pointing at the source tree)
stays invisible: ``lsst.ts.calibscripts`` can only come from the wheel,
installed with ``pip --python <new venv> install --no-deps``. The test stays
offline. The installed copy's command runs a short rehearsal (two
detectors) with the jobs in process: the pipelines and tasks still come
from the installed copy. The shipped example itself (no configuration file,
nine detectors, the real ``pipetask``) is the README demo, ``make demo``,
which CI runs; the shipped examples are in the wheel
(`test_wheel_contents`) and are valid configurations
(``tests/cli/test_cli_options.py``); ``tests/script/test_pipetask_integration.py``
runs the whole procedure through ``pipetask``.
"""

import os
import pathlib
import re
import shutil
import site
import subprocess
import sys
import zipfile

import pytest
import yaml
from lsst.ts.calibscripts.schemas import load_schema

# One worker builds the wheel and the environment once (session fixtures: pytest-xdist may run
# other modules' tests between this module's, which would rebuild module fixtures).
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("wheel")]

ROOT = pathlib.Path(__file__).resolve().parents[2]
SOURCE_ITEMS = ("python", "pyproject.toml", "README.rst", "setup.cfg", "setup.py")


def run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """Build the wheel from a copy of the source tree (so the tree is left untouched)."""
    work = tmp_path_factory.mktemp("build")
    source = work / "src"
    source.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "version.py", "build", "dist")
    for item in SOURCE_ITEMS:
        path = ROOT / item
        if path.is_dir():
            shutil.copytree(path, source / item, ignore=ignore, symlinks=True)
        else:
            shutil.copy2(path, source / item)
    run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--outdir",
            str(work / "dist"),
            str(source),
        ],
        timeout=600,
    )
    (built,) = (work / "dist").glob("ts_calibscripts-*.whl")
    return built


@pytest.fixture(scope="session")
def venv(wheel: pathlib.Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A fresh virtual environment with the wheel installed and this environment's dependencies."""
    root = tmp_path_factory.mktemp("venv") / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(root)], timeout=300)
    python = root / "bin" / "python"
    new_site = pathlib.Path(
        run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip()
    )
    parents = [p for p in site.getsitepackages() if os.path.isdir(p)]
    (new_site / "_parent_environment.pth").write_text("".join(f"{p}\n" for p in parents))
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--no-deps",
            "--no-index",
            str(wheel),
        ],
        timeout=600,
    )
    # pipetask of the new environment, so that OCPS jobs also run the installed copy.
    pipetask = root / "bin" / "pipetask"
    pipetask.write_text(
        f"#!{python}\nimport sys\nfrom lsst.ctrl.mpexec.cli.pipetask import main\nsys.exit(main())\n"
    )
    pipetask.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{root / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["CALIBSCRIPTS_SAL"] = "sim"
    env.pop("CP_PIPE_DIR", None)
    env.pop("CP_VERIFY_DIR", None)
    return dict(root=root, python=python, site=new_site, env=env)


def test_wheel_contents(wheel: pathlib.Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        entry_text = archive.read(entry_points).decode()
        for line in (
            "run_make_comcam_bias = lsst.ts.calibscripts.cli.run_make_comcam_bias:main",
            "run_calib_script = lsst.ts.calibscripts.cli.run_calib_script:main",
            "run_make_comcam_calibrations = "
            "lsst.ts.calibscripts.cli.run_calib_script:main_make_comcam_calibrations",
        ):
            assert line in entry_text, line
        for name in (
            "maintel/make_comcam_bias.py",
            "maintel/make_comcam_calibrations.py",
            "maintel/make_lsstcam_calibrations.py",
            "auxtel/make_latiss_calibrations.py",
        ):
            executable = archive.getinfo(f"lsst/ts/calibscripts/data/scripts/{name}")
            assert (
                executable.external_attr >> 16
            ) & 0o111, f"the ScriptQueue executable {name} must be executable"
    package = "lsst/ts/calibscripts/"
    for required in (
        "schemas/make_comcam_bias.yaml",
        "schemas/make_comcam_calibrations.yaml",
        "schemas/make_latiss_calibrations.yaml",
        "schemas/make_lsstcam_calibrations.yaml",
        "configs/make_comcam_bias_simulation.yaml",
        "configs/make_comcam_bias_summit.yaml",
        "configs/make_comcam_calibrations_simulation.yaml",
        "sim/cp/cp_pipe/pipelines/LSSTComCam/cpBias.yaml",
        "sim/cp/cp_verify/pipelines/LSSTComCam/verifyBias.yaml",
        "simsal/xml/data/Script.yaml",
        "report/figures.py",
        "cli/run_make_comcam_bias.py",
        "cli/run_calib_script.py",
        "cli/registry.py",
    ):
        assert package + required in names, required
    assert not any("tests/" in n or n.startswith("doc/") for n in names)


def test_installed_copy_is_used(venv: dict) -> None:
    code = "import lsst.ts.calibscripts as m, lsst.daf.butler as b; print(m.__file__); print(b.__file__)"
    ours, butler = run([str(venv["python"]), "-c", code], env=venv["env"]).stdout.split()
    assert pathlib.Path(ours).is_relative_to(venv["site"]), ours
    assert not pathlib.Path(ours).is_relative_to(ROOT)
    assert not pathlib.Path(butler).is_relative_to(venv["root"])  # dependencies come from this environment


def test_schema_from_installed_entry_point(venv: dict, tmp_path: pathlib.Path) -> None:
    result = run(
        [str(venv["root"] / "bin" / "run_make_comcam_bias"), "--schema"], env=venv["env"], cwd=tmp_path
    )
    assert yaml.safe_load(result.stdout) == load_schema()


SHORT_REHEARSAL = "calib_collection: LSSTComCam/calib/daily\nn_bias: 2\ndetectors: [0, 8]\nn_processes: 1\n"
"""A short configuration: 3 frames, 2 detectors."""


STAGES = ("preflight", "take_biases", "wait_ingest", "cp_bias", "verify_bias", "judge", "certify", "summary")


def test_simulated_run_from_installed_copy(venv: dict, tmp_path: pathlib.Path) -> None:
    """A simulated run from the installed copy's console command, to DONE, with the report.

    The run ends DONE with exit code 0, follows the stages in order,
    certifies every detector and draws the pictures, at their sizes, beside
    the summary.
    """
    from lsst.daf.butler import Butler
    from lsst.ts.calibscripts import report
    from PIL import Image

    repo = tmp_path / "sim_observatory" / "repo"
    reports = tmp_path / "calib_reports"
    (tmp_path / "config.yaml").write_text(SHORT_REHEARSAL)
    args = [str(venv["root"] / "bin" / "run_make_comcam_bias"), "config.yaml"]
    args += ["--report-dir", "calib_reports", "--simulate", "--runner", "inprocess", "--time-scale", "0.01"]
    result = subprocess.run(
        args,
        env=venv["env"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert result.stdout.rstrip().endswith("Final state: DONE"), output
    assert "\r" not in result.stdout  # not a terminal: no redrawn status line
    assert (repo / "butler.yaml").is_file()
    # Stage lines come from the script's log (at INFO) or from the command (quieter levels).
    found = [re.search(rf"Stage \d(/8)? {stage}:", result.stdout) for stage in STAGES]
    positions = [match.start() if match else -1 for match in found]
    assert -1 not in positions and positions == sorted(positions), positions  # followed in order
    (summary_path,) = reports.glob("*.yaml")
    summary = yaml.safe_load(summary_path.read_text())
    assert summary["repo"] == str(repo)
    assert summary["outcome"] in ("done", "DONE")
    assert f"Run report in {reports}" in result.stdout
    # The script drew the pictures beside its summary, from the simulated repository's files.
    pictures = sorted(p.name for p in reports.glob("*.png"))
    assert len(pictures) == 3, pictures
    for kind, size in (
        ("master_bias_mosaic", report.MOSAIC_SIZE),
        ("verification_map", report.VERIFICATION_SIZE),
        ("noise_vs_nominal", report.NOISE_SIZE),
    ):
        path = reports / f"{summary_path.stem}_{kind}.png"
        with Image.open(path) as image:
            assert image.size == size, path
        assert path.name in result.stdout
    # The master biases are certified in the simulated repository.
    butler = Butler.from_config(str(repo))
    try:
        refs = butler.query_datasets(
            "bias", collections="LSSTComCam/calib/daily", find_first=False, explain=False
        )
    finally:
        butler.close()
    assert sorted(int(ref.dataId["detector"]) for ref in refs) == [0, 8]
