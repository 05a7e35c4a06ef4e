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

"""Tests of the middleware selection module `lsst.ts.calibscripts.sal`."""

import os
import pathlib
import subprocess
import sys
import types

import pytest
from lsst.ts.calibscripts import sal

ROOT = pathlib.Path(__file__).resolve().parents[2]
PACKAGE_DIR = ROOT / "python" / "lsst" / "ts" / "calibscripts"
EXECUTABLE = PACKAGE_DIR / "data" / "scripts" / "maintel" / "make_comcam_bias.py"
CLI_WRAPPER = ROOT / "bin" / "run_make_comcam_bias.py"

no_real_salobj = pytest.mark.skipif(
    sal.real_salobj_installed(), reason="tests what happens where lsst.ts.salobj is not installed"
)


def _install_fake_real_stack(monkeypatch: pytest.MonkeyPatch, kafka_era: bool, with_xml: bool) -> None:
    """Put fake ``lsst.ts.salobj`` etc. modules in sys.modules."""
    fake_salobj = types.ModuleType("lsst.ts.salobj")
    if kafka_era:
        fake_salobj.set_test_topic_subname = lambda randomize=False: None  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "lsst.ts.salobj", fake_salobj)
    monkeypatch.setitem(sys.modules, "lsst.ts.utils", types.ModuleType("lsst.ts.utils"))
    if with_xml:
        monkeypatch.setitem(sys.modules, "lsst.ts.xml", types.ModuleType("lsst.ts.xml"))
        monkeypatch.setitem(sys.modules, "lsst.ts.xml.enums", types.ModuleType("lsst.ts.xml.enums"))
        monkeypatch.setitem(
            sys.modules, "lsst.ts.xml.enums.Script", types.ModuleType("lsst.ts.xml.enums.Script")
        )
    else:
        monkeypatch.setitem(sys.modules, "lsst.ts.xml", None)  # type: ignore[arg-type]


@pytest.mark.skipif(sal.REQUESTED != "sim", reason="the suite runs on the real SAL")
def test_tests_run_on_the_simulated_sal() -> None:
    assert sal.BACKEND is sal.Backend.SIM
    assert sal.salobj.__name__ == "lsst.ts.calibscripts.simsal.salobj"


@no_real_salobj
def test_no_real_stack_here_means_auto_is_sim() -> None:
    # The real stack cannot be installed here, so auto must fall back to sim.
    problem = sal.real_stack_problem()
    assert problem is not None
    assert sal.select_backend("auto") is sal.Backend.SIM
    assert sal.select_backend("") is sal.Backend.SIM
    assert sal.select_backend("SIM") is sal.Backend.SIM


@no_real_salobj
def test_forcing_real_without_the_stack_is_a_clear_error() -> None:
    with pytest.raises(ImportError, match="CALIBSCRIPTS_SAL=real but the real SAL stack is not usable"):
        sal.select_backend("real")


def test_bad_value_is_rejected() -> None:
    with pytest.raises(ValueError, match="not one of auto, real, sim"):
        sal.select_backend("kafka")


def test_dds_era_salobj_is_not_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    _install_fake_real_stack(monkeypatch, kafka_era=False, with_xml=True)
    problem = sal.real_stack_problem()
    assert problem is not None and "DDS-era" in problem
    # Installed but unusable: auto fails loudly instead of falling back to the simulation.
    assert sal.real_salobj_installed()
    with pytest.raises(ImportError, match="installed but the real SAL stack is not usable.*DDS-era"):
        sal.select_backend("auto")
    assert sal.select_backend("sim") is sal.Backend.SIM


def test_kafka_era_without_ts_xml_is_not_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    _install_fake_real_stack(monkeypatch, kafka_era=True, with_xml=False)
    problem = sal.real_stack_problem()
    assert problem is not None and "lsst.ts.xml" in problem
    with pytest.raises(ImportError, match="Refusing to fall back to the simulated SAL"):
        sal.select_backend("auto")


def test_kafka_era_stack_is_selected(monkeypatch: pytest.MonkeyPatch) -> None:
    _install_fake_real_stack(monkeypatch, kafka_era=True, with_xml=True)
    assert sal.real_stack_problem() is None
    assert sal.select_backend("auto") is sal.Backend.REAL
    assert sal.select_backend("real") is sal.Backend.REAL
    # An explicit sim still wins.
    assert sal.select_backend("sim") is sal.Backend.SIM


@no_real_salobj
def test_environment_variable_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(sal.BACKEND_ENV_VAR, "real")
    with pytest.raises(ImportError):
        sal.select_backend()
    monkeypatch.setenv(sal.BACKEND_ENV_VAR, "sim")
    assert sal.select_backend() is sal.Backend.SIM


@no_real_salobj
def test_importing_with_real_forced_fails_loudly() -> None:
    code = "import lsst.ts.calibscripts.sal"
    env = {"CALIBSCRIPTS_SAL": "real", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert proc.returncode != 0
    assert "CALIBSCRIPTS_SAL=real" in proc.stderr


def test_sal_names_are_exported() -> None:
    from lsst.ts.calibscripts.sal import OCPSIndex, SalRetCode, ScriptState, State, current_tai, salobj

    assert int(OCPSIndex.LSSTComCam) == 2
    assert int(ScriptState.CONFIGURE_FAILED) == 11
    assert int(State.ENABLED) == 2
    assert int(SalRetCode.CMD_INPROGRESS) == 301
    assert State is salobj.State
    # TAI is ahead of UTC by 37 s since 2017.
    import time

    assert 36.0 < current_tai() - time.time() < 38.0


def test_nothing_is_installed_under_real_stack_names() -> None:
    ts_dir = pathlib.Path(sal.__file__).parents[1]
    assert sorted(p.name for p in ts_dir.iterdir() if not p.name.startswith("__")) == ["calibscripts"]


def test_import_is_silent_and_does_not_import_heavy_packages() -> None:
    code = (
        "import sys; import lsst.ts.calibscripts.sal as s; "
        "names = ('lsst.daf.butler', 'lsst.pipe.base', 'numpy', 'matplotlib'); "
        "heavy = [m for m in names if m in sys.modules]; "
        "print(heavy)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env={"CALIBSCRIPTS_SAL": "sim", "LSST_TOPIC_SUBNAME": "test", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def _clean_env(**extra: str) -> dict[str, str]:
    """The environment without any CALIBSCRIPTS_* choice, plus ``extra``."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("CALIBSCRIPTS_")}
    env.pop("PYTHONPATH", None)
    env.update(extra)
    return env


def _fake_stack(root: pathlib.Path, salobj_source: str, with_xml: bool = True) -> pathlib.Path:
    """Write fake ``lsst.ts.salobj`` (and ts_xml, ts_utils) packages under ``root``; return root."""
    files = {"lsst/ts/salobj/__init__.py": salobj_source, "lsst/ts/utils/__init__.py": ""}
    if with_xml:
        files.update(
            {
                "lsst/ts/xml/__init__.py": "",
                "lsst/ts/xml/enums/__init__.py": "",
                "lsst/ts/xml/enums/Script.py": "",
            }
        )
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def _import_sal(pythonpath: pathlib.Path) -> subprocess.CompletedProcess:
    code = "import lsst.ts.calibscripts.sal as s; print(s.BACKEND.value)"
    return subprocess.run(
        [sys.executable, "-c", code],
        env=_clean_env(PYTHONPATH=str(pythonpath)),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    "salobj_source, with_xml, reason",
    [
        ("raise ImportError('confluent_kafka is missing')", True, "confluent_kafka is missing"),
        ("", True, "DDS-era"),
        ("def set_test_topic_subname(randomize=False):\n    pass\n", False, "lsst.ts.xml does not import"),
    ],
    ids=["broken", "dds-era", "no-ts-xml"],
)
@no_real_salobj
def test_auto_never_falls_back_where_salobj_is_installed(
    tmp_path: pathlib.Path, salobj_source: str, with_xml: bool, reason: str
) -> None:
    proc = _import_sal(_fake_stack(tmp_path, salobj_source, with_xml))
    assert proc.returncode != 0
    assert "ImportError: lsst.ts.salobj is installed but the real SAL stack is not usable" in proc.stderr
    assert reason in proc.stderr
    assert "CALIBSCRIPTS_SAL=sim" in proc.stderr


@no_real_salobj
def test_auto_uses_the_real_stack_where_it_imports(tmp_path: pathlib.Path) -> None:
    source = "State = SalRetCode = object\ndef set_test_topic_subname(randomize=False):\n    pass\n"
    _fake_stack(tmp_path, source)
    (tmp_path / "lsst/ts/utils/__init__.py").write_text("def current_tai():\n    return 0.0\n")
    (tmp_path / "lsst/ts/xml/enums/Script.py").write_text(
        "MetadataCoordSys = MetadataDome = MetadataRotSys = ScriptState = object\n"
    )
    proc = _import_sal(tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "real"


@pytest.mark.slow
@no_real_salobj
@pytest.mark.parametrize(
    "executable",
    [
        EXECUTABLE,
        EXECUTABLE.with_name("make_comcam_calibrations.py"),
        EXECUTABLE.parent.parent / "auxtel" / "make_latiss_calibrations.py",
    ],
)
def test_sal_script_executable_never_runs_on_the_simulated_bus(executable: pathlib.Path) -> None:
    name = executable.name
    folder = executable.parent.name
    for value in (None, "auto", ""):
        env = _clean_env() if value is None else _clean_env(CALIBSCRIPTS_SAL=value)
        proc = subprocess.run(
            [sys.executable, str(executable), "1"], env=env, capture_output=True, text=True, timeout=120
        )
        assert proc.returncode == 1, proc.stderr
        assert f"{name}: The SAL script {folder}/{name} needs the real SAL stack" in proc.stderr
        assert "lsst.ts.salobj does not import" in proc.stderr
        assert "run_make_comcam_bias --simulate" in proc.stderr and "CALIBSCRIPTS_SAL=sim" in proc.stderr
    # Asked for explicitly, the simulated SAL is used.
    proc = subprocess.run(
        [sys.executable, str(executable), "1", "--schema"],
        env=_clean_env(CALIBSCRIPTS_SAL="sim"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "$schema" in proc.stdout


@no_real_salobj
def test_command_line_without_simulate_never_runs_on_the_simulated_bus() -> None:
    proc = subprocess.run(
        [sys.executable, str(CLI_WRAPPER)], env=_clean_env(), capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 2, proc.stderr
    assert "run_make_comcam_bias without --simulate needs the real SAL stack" in proc.stderr
    # --schema needs no SAL at all.
    proc = subprocess.run(
        [sys.executable, str(CLI_WRAPPER), "--schema"],
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "$schema" in proc.stdout
