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

"""`lsst.ts.calibscripts.calib.procedure`: one stage flow, any calibration type."""

import ast
import logging
import pathlib
import types
import typing

import pytest
from lsst.ts.calibscripts.calib import ocps, procedure
from lsst.ts.calibscripts.calib.config import make_config, schema_defaults
from lsst.ts.calibscripts.calib.procedure import CalibProcedure, TypeConfig
from lsst.ts.calibscripts.calib.types import CALIB_TYPES, CalibType

BIAS, DARK, FLAT = (CALIB_TYPES[t] for t in (CalibType.BIAS, CalibType.DARK, CalibType.FLAT))
PACKAGE = pathlib.Path(procedure.__file__).parents[1]


class FakeGroup:
    """Records the ts_observatory_control calls; returns one exposure id per call."""

    read_out_time = 2.0

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple, dict]] = []
        self.rem = types.SimpleNamespace()

    def __getattr__(self, name: str) -> typing.Any:
        if not name.startswith("take_"):
            raise AttributeError(name)

        async def take(*args: typing.Any, **kwargs: typing.Any) -> list[int]:
            self.calls.append((name, args, kwargs))
            return [2026112500001 + len(self.calls)]

        return take


def make_procedure(spec: typing.Any, **type_options: typing.Any) -> tuple[CalibProcedure, FakeGroup]:
    settings = make_config(
        {"calib_collection": "LSSTComCam/calib/daily", "detectors": [0, 4], "program": "P1"}
    )
    base = dict(
        n_combined=2,
        n_discard=1,
        n_verify=0,
        pipeline_build=spec.build_pipeline,
        pipeline_verify=spec.verify_pipeline,
        input_collections_build=("LSSTComCam/calib",),
        input_collections_verify=("LSSTComCam/calib",),
        config_options_build=(),
        config_options_verify=(),
        threshold=spec.default_threshold,
    )
    host = types.SimpleNamespace(log=logging.getLogger("test"), group_id="G1", state=None)
    group = FakeGroup()
    proc = CalibProcedure(
        host=host,
        spec=spec,
        settings=settings,
        type_config=TypeConfig(**{**base, **type_options}),
        group=group,
        ocps_remote=None,
        jobs=typing.cast(ocps.OcpsJobClient, None),
    )
    return proc, group


async def test_take_call_follows_the_type() -> None:
    bias, group = make_procedure(BIAS)
    await bias.take_call(1)
    assert group.calls == [("take_bias", (1,), dict(group_id="G1", reason=None, program="P1", note=None))]
    dark, group = make_procedure(DARK, exposure_times=(5.0, 15.0, 30.0))
    await dark.take_call(3)
    assert group.calls[0][:2] == ("take_darks", (30.0, 1))
    assert "filter" not in group.calls[0][2]
    flat, group = make_procedure(FLAT, exposure_times=(5.0,) * 3, physical_filter="g_01")
    await flat.take_call(2)
    assert group.calls[0][:2] == ("take_flats", (5.0, 1)) and group.calls[0][2]["filter"] == "g_01"
    short, _ = make_procedure(DARK, exposure_times=(5.0,))
    with pytest.raises(ValueError, match="exp_times_dark: 1 exposure time"):
        short.take_call(2)


def test_stages_and_plan_per_type() -> None:
    flat, _ = make_procedure(FLAT, exposure_times=(5.0,) * 3)
    assert [s.value for s in flat.planned_stages()] == [
        "preflight",
        "take_flats",
        "wait_ingest",
        "cp_flat",
        "verify_flat",
        "judge",
        "certify",
        "summary",
    ]
    assert flat.plan_text().startswith("take 3 flats (1 discarded, 2 combined, 0 for verification only)")
    assert "run cpFlat" in flat.plan_text()
    resumed, _ = make_procedure(DARK, exposure_ids=(2026112500002, 2026112500003), build_job_id="j1")
    assert [s.value for s in resumed.planned_stages()] == [
        "preflight",
        "verify_dark",
        "judge",
        "certify",
        "summary",
    ]


def test_build_job_request_puts_other_jobs_outputs_first() -> None:
    """cpDark reads this run's bias job output before the configured inputs."""
    dark, _ = make_procedure(DARK, extra_build_inputs=(ocps.output_collection("bias-job"),))
    record = dark.job_request(
        dark.spec.build_job_name,
        dark.config.pipeline_build,
        dark.config.extra_build_inputs + dark.config.input_collections_build,
        ("-c", "isr:doDefect=False"),
        [2026112500002, 2026112500003],
    )
    assert record.name == "cp_dark"
    assert record.config == (
        "-j 8 -i u/ocps/bias-job,LSSTComCam/calib --register-dataset-types -c isr:doDefect=False"
    )
    assert record.data_query == (
        "instrument='LSSTComCam' AND detector IN (0, 4) AND exposure IN (2026112500002, 2026112500003)"
    )


def test_resume_hint_names_the_type_job_option() -> None:
    dark, _ = make_procedure(DARK)
    dark.use_exposures([2026112500001, 2026112500002, 2026112500003], n_discard=1)
    dark.summary.add_job(dark.job_request("cp_dark", "p", ["c"], [], [2026112500002]))
    record = dark.summary.job("cp_dark")
    assert record is not None
    record.job_id, record.exit_code = "d1", 0
    assert dark.resume_hint().endswith("exposure_ids: [2026112500002, 2026112500003], dark_job_id: d1")


def test_type_config_reads_upstream_option_names() -> None:
    bias_config = make_config(
        {
            "calib_collection": "c",
            "n_bias": 3,
            "n_discard_bias": 2,
            "bias_job_id": "",
        }
    )
    config = TypeConfig.from_options(BIAS, bias_config)
    assert (config.n_combined, config.n_discard, config.n_verify) == (3, 2, 0)
    assert config.pipeline_build == bias_config.pipeline_bias
    assert config.input_collections_verify == bias_config.input_collections_verify
    upstream_dark = types.SimpleNamespace(
        n_dark=22,
        n_discard_dark=1,
        exp_times_dark=[5.0] * 5 + [15.0] * 2 + [30.0] * 16,
        pipeline_dark="cpDark.yaml",
        pipeline_verify_dark="verifyDark.yaml",
        input_collections_dark=["LSSTComCam/calib"],
        input_collections_verify_dark=["LSSTComCam/calib"],
        config_options_dark=[],
        config_options_verify_dark=[],
        number_verification_tests_threshold_dark=6,
        dark_job_id="",
    )
    dark = TypeConfig.from_options(DARK, upstream_dark, extra_build_inputs=("u/ocps/b1",))
    assert dark.n_frames_to_take == 23 and len(dark.exposure_times) == 23 and dark.threshold == 6
    assert dark.extra_build_inputs == ("u/ocps/b1",)
    flat = TypeConfig.from_options(
        FLAT,
        types.SimpleNamespace(
            **{k.replace("dark", "flat"): v for k, v in vars(upstream_dark).items()}, filter="r_03"
        ),
    )
    assert flat.physical_filter == "r_03"


def test_job_timeout_default_is_the_schema_default() -> None:
    client = ocps.OcpsJobClient(types.SimpleNamespace(salinfo=types.SimpleNamespace(name="OCPS", index=2)))
    assert client.job_timeout == float(schema_defaults()["job_timeout"])


def test_the_script_keeps_no_stage_of_its_own() -> None:
    """The stage flow lives in the engine: the script defines no stage method."""
    tree = ast.parse((PACKAGE / "maintel" / "make_comcam_bias.py").read_text())
    (cls,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "MakeComCamBias"]
    methods = {n.name for n in cls.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    assert not methods & {
        "preflight",
        "take_biases",
        "take_one_bias",
        "wait_for_ingest",
        "run_bias_job",
        "run_verify_job",
        "run_job",
        "judge_verification",
        "certify",
        "failure_reason",
        "report",
    }


async def test_lsstcam_frames_are_tracked_by_lsstcam_detector_names() -> None:
    import dataclasses

    from lsst.ts.calibscripts.cameras import LSSTCAM

    base, group = make_procedure(BIAS)
    detectors = (0, 100, LSSTCAM.detector_id("R00W_SW0"))
    proc = CalibProcedure(
        host=base.host,
        spec=BIAS,
        settings=dataclasses.replace(base.settings, detectors=detectors),
        type_config=base.config,
        group=group,
        ocps_remote=None,
        jobs=typing.cast(ocps.OcpsJobClient, None),
        camera=LSSTCAM,
    )
    group.rem.mtcamera = types.SimpleNamespace(evt_errorCode=types.SimpleNamespace(get=lambda: None))
    oods_topic = types.SimpleNamespace(callback=None)
    group.rem.mtoods = types.SimpleNamespace(evt_imageInOODS=oods_topic)
    await proc.take_frames()
    assert len(proc.summary.exposures_combined) == 2
    for exposure_id in proc.summary.exposures_combined:
        for detector in detectors:
            raft, sensor = LSSTCAM.raft_sensor(detector)
            await oods_topic.callback(
                types.SimpleNamespace(
                    obsid=LSSTCAM.obs_id(exposure_id // 100000, exposure_id % 100000),
                    raft=raft,
                    sensor=sensor,
                    statusCode=0,
                    description="file ingested",
                )
            )
    assert proc.ingest_tracker is not None and proc.ingest_tracker.is_complete()
