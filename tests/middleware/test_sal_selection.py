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

import pathlib
import subprocess
import sys
import types

import pytest
from lsst.ts.calibscripts import sal


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


def test_tests_run_on_the_simulated_sal() -> None:
    assert sal.BACKEND is sal.Backend.SIM
    assert sal.salobj.__name__ == "lsst.ts.calibscripts.simsal.salobj"


def test_no_real_stack_here_means_auto_is_sim() -> None:
    # The real stack cannot be installed here, so auto must fall back to sim.
    problem = sal.real_stack_problem()
    assert problem is not None
    assert sal.select_backend("auto") is sal.Backend.SIM
    assert sal.select_backend("") is sal.Backend.SIM
    assert sal.select_backend("SIM") is sal.Backend.SIM


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
    assert sal.select_backend("auto") is sal.Backend.SIM


def test_kafka_era_without_ts_xml_is_not_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    _install_fake_real_stack(monkeypatch, kafka_era=True, with_xml=False)
    problem = sal.real_stack_problem()
    assert problem is not None and "lsst.ts.xml" in problem


def test_kafka_era_stack_is_selected(monkeypatch: pytest.MonkeyPatch) -> None:
    _install_fake_real_stack(monkeypatch, kafka_era=True, with_xml=True)
    assert sal.real_stack_problem() is None
    assert sal.select_backend("auto") is sal.Backend.REAL
    assert sal.select_backend("real") is sal.Backend.REAL
    # An explicit sim still wins.
    assert sal.select_backend("sim") is sal.Backend.SIM


def test_environment_variable_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(sal.BACKEND_ENV_VAR, "real")
    with pytest.raises(ImportError):
        sal.select_backend()
    monkeypatch.setenv(sal.BACKEND_ENV_VAR, "sim")
    assert sal.select_backend() is sal.Backend.SIM


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
