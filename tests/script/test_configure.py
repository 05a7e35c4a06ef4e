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

"""MakeComCamBias configure, metadata, description and executable."""

import os
import subprocess
import sys
import unittest

import yaml
from lsst.ts.calibscripts.calib.metadata import estimate_duration
from lsst.ts.calibscripts.data import get_scripts_dir
from lsst.ts.calibscripts.maintel import MakeComCamBias
from lsst.ts.calibscripts.sal import ScriptState, salobj
from lsst.ts.calibscripts.schemas import load_schema
from lsst.ts.calibscripts.testing import BaseScriptTestCase

EXECUTABLE = get_scripts_dir() / "maintel" / "make_comcam_bias.py"


class TestMakeComCamBiasConfigure(BaseScriptTestCase, unittest.IsolatedAsyncioTestCase):
    async def basic_make_script(self, index: int) -> list:
        self.script = MakeComCamBias(index=index)
        return [self.script]

    async def test_configure_defaults(self) -> None:
        async with self.make_script():
            await self.configure_script(calib_collection="LSSTComCam/calib/daily")
            config = self.script.bias_config
            assert config.n_bias == 20 and config.n_discard_bias == 1
            assert config.detectors == tuple(range(9))
            assert config.repo == "/repo/LSSTComCam"
            assert config.oods_timeout == 120 and config.max_counter_archiver_check == 1000
            assert config.frame_timeout == 240
            metadata = self.script.evt_metadata.data
            assert metadata.instrument == "LSSTComCam"
            assert metadata.nimages == 21
            assert metadata.duration == estimate_duration(config, self.script.comcam.read_out_time).total
            assert metadata.duration > 21 * self.script.comcam.read_out_time

    async def test_configure_seed_options(self) -> None:
        """The seed's options with their seed forms (text detectors, comma collections)."""
        async with self.make_script():
            await self.configure_script(
                n_bias=2,
                detectors="(0, 1, 2, 3, 4, 5, 6, 7, 8)",
                input_collections_bias="LSSTComCam/calib,u/someone/extra",
                input_collections_verify=["LSSTComCam/calib"],
                calib_collection="LSSTComCam/calib/u/someone/TEST",
                repo="/repo/main",
                n_processes=4,
                certify_calib_begin_date="2026-11-25",
                certify_calib_end_date="2026-11-26",
                max_counter_archiver_check=50,
                oods_timeout=60,
                frame_timeout=30,
            )
            config = self.script.bias_config
            assert config.n_bias == 2
            assert config.detectors == tuple(range(9))
            assert config.input_collections_bias == ("LSSTComCam/calib", "u/someone/extra")
            assert config.input_collections_verify == ("LSSTComCam/calib",)
            assert config.calib_collection == "LSSTComCam/calib/u/someone/TEST"
            assert config.repo == "/repo/main" and config.n_processes == 4
            assert config.certify_calib_begin_date == "2026-11-25T00:00:00.000"
            assert config.max_counter_archiver_check == 50 and config.oods_timeout == 60
            assert config.frame_timeout == 30
            assert self.script.evt_metadata.data.nimages == 3

    async def test_configure_resume_takes_no_image(self) -> None:
        async with self.make_script():
            await self.configure_script(
                calib_collection="c", exposure_ids=[2026112500002, 2026112500003], bias_job_id="abc123"
            )
            assert self.script.evt_metadata.data.nimages == 0
            assert self.script.planned_stages()[0].value == "preflight"
            assert [s.value for s in self.script.planned_stages()] == [
                "preflight",
                "verify_bias",
                "judge",
                "certify",
                "summary",
            ]

    async def check_bad(self, option: str, **config: object) -> None:
        async with self.make_script():
            with self.assertRaises(salobj.ExpectedError) as info:
                await self.configure_script(**config)
            assert self.script.state.state == ScriptState.CONFIGURE_FAILED
            # The message after the echoed configuration names the option.
            cause = str(info.exception).split(") failed: ", 1)[1]
            assert option in cause, cause
            assert self.script.state.reason.endswith(cause)

    async def test_bad_configs(self) -> None:
        cases = [
            ("calib_collection", {}),  # required
            ("no_such_option", {"calib_collection": "c", "no_such_option": 1}),
            ("n_bias", {"calib_collection": "c", "n_bias": "many"}),
            ("detectors", {"calib_collection": "c", "detectors": [0, 9]}),
            ("detectors", {"calib_collection": "c", "detectors": "(1,1)"}),
            ("detectors", {"calib_collection": "c", "detectors": "(0..9)"}),
            (
                "certify_calib_begin_date",
                {
                    "calib_collection": "c",
                    "certify_calib_begin_date": "x",
                    "certify_calib_end_date": "2026-01-01",
                },
            ),
            (
                "certify_calib_end_date",
                {
                    "calib_collection": "c",
                    "certify_calib_begin_date": "2026-02-01",
                    "certify_calib_end_date": "2026-01-01",
                },
            ),
            ("calib_collection", {"calib_collection": "my calib"}),
            ("input_collections_bias", {"calib_collection": "c", "input_collections_bias": "a,,b"}),
            ("bias_job_id", {"calib_collection": "c", "bias_job_id": "abc"}),
            ("n_verify_bias", {"calib_collection": "c", "n_verify_bias": 1, "do_verify": False}),
        ]
        for option, config in cases:
            with self.subTest(option=option, config=config):
                await self.check_bad(option, **config)

    async def test_cause_names_option_and_value_first(self) -> None:
        """Schema and ConfigError causes both start with "<option>: <bad value>".

        BaseScript prefixes the cause with ``config(<the YAML given>) failed: `` (the real
        ts_salobj does the same); what follows is the script's.
        """
        cases = [
            ({"calib_collection": "c", "n_bias": 0}, "n_bias: 0 is less than the minimum of 1"),
            (
                {"calib_collection": "c", "number_verification_tests_threshold_bias": 0},
                "number_verification_tests_threshold_bias: 0 is less than the minimum of 1",
            ),
            ({"calib_collection": "c", "n_bias": "many"}, "n_bias: 'many' is not of type 'integer'"),
            ({"calib_collection": "c", "no_such_option": 1}, "no_such_option: unknown option"),
            ({"n_bias": 3}, "calib_collection: required option missing"),
            ({"calib_collection": "c", "detectors": [0, 9]}, "detectors: [0, 9] is not valid"),
            ({"calib_collection": "c", "reason": "a, b"}, "reason: 'a, b' contains a comma"),
            (
                {"calib_collection": "c", "config_options_bias": "-c isr:doDefect='False'"},
                "config_options_bias: \"isr:doDefect='False'\" contains '",
            ),
        ]
        for config, first_words in cases:
            with self.subTest(config=config):
                async with self.make_script():
                    with self.assertRaises(salobj.ExpectedError):
                        await self.configure_script(**config)
                    assert self.script.state.state == ScriptState.CONFIGURE_FAILED
                    reason = self.script.state.reason
                    assert reason.startswith("config(")
                    cause = reason.split(") failed: ", 1)[1]
                    assert cause.startswith(first_words), cause
                    if config.get("detectors") == [0, 9]:
                        assert "item [1]: 9 is greater than the maximum of 8" in cause

    async def test_description_lists_remotes(self) -> None:
        async with self.make_script():
            description = self.script.evt_description.data
            assert description.classname == "MakeComCamBias"
            assert description.remotes.split(",") == [
                "CCCamera:0",
                "CCHeaderService:0",
                "CCOODS:0",
                "OCPS:2",
            ]

    async def test_executable(self) -> None:
        await self.check_executable(EXECUTABLE)
        assert oct(os.stat(EXECUTABLE).st_mode & 0o777) == "0o755"

    async def test_schema_option_is_fast(self) -> None:
        """``--schema`` prints the shipped schema and imports no butler, pipe_base or numpy."""
        code = (
            "import runpy, sys; sys.argv = [sys.argv[0], '1', '--schema'];"
            f"runpy.run_path({str(EXECUTABLE)!r}, run_name='__main__');"
            "heavy = [m for m in ('lsst.daf.butler', 'lsst.pipe.base', 'numpy') if m in sys.modules];"
            "print('HEAVY', heavy, file=sys.stderr)"
        )
        env = dict(os.environ, CALIBSCRIPTS_SAL="sim")
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
        )
        assert result.returncode == 0, result.stderr
        assert yaml.safe_load(result.stdout) == load_schema()
        assert "HEAVY []" in result.stderr, result.stderr
