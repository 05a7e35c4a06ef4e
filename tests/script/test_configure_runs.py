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

"""Property-based: every configuration ``configure`` accepts runs through every stage.

Each example draws a configuration over every option of the schema. If
``configure`` rejects it, the cause names the option first. If it accepts
it, the script runs on the simulated observatory (scripted OCPS jobs, fast
time scale) through every planned stage and ends DONE, or FAILED only
because the master bias failed verification; never on an unexpected error.

The jobs do no work, so the two butler reads of the script are stood in
for: the verification statistics (every verified exposure, with all
amplifiers of the drawn noisy detectors failing NOISE) and the
certification (the real validity-range parsing, no repository).
"""

import os
import typing
from unittest import mock

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from lsst.ts.calibscripts.calib import butler_ops, ocps
from lsst.ts.calibscripts.calib.naming import detector_name
from lsst.ts.calibscripts.maintel import MakeComCamBias
from lsst.ts.calibscripts.sal import ScriptState
from lsst.ts.calibscripts.schemas import load_schema

OPTIONS = set(load_schema()["properties"])
AMPS = [f"C{i}{j}" for i in (0, 1) for j in range(8)]

safe_words = st.text(alphabet="abcXYZ019_-./", min_size=1, max_size=10)
risky_words = st.text(alphabet="abcXYZ019_-.:/=,'\"*[ ", max_size=12)


def mostly(safe: st.SearchStrategy, risky: st.SearchStrategy) -> st.SearchStrategy:
    """``risky`` one time in ten, so that most examples pass configure and run."""
    return st.integers(0, 9).flatmap(lambda i: risky if i == 0 else safe)


words = mostly(safe_words, risky_words)
collections = mostly(
    st.one_of(
        st.sampled_from(
            ["LSSTComCam/calib", "u/someone/calib,LSSTComCam/calib", ["LSSTComCam/calib", "u/x"]]
        ),
        safe_words,
        st.lists(safe_words, min_size=1, max_size=2, unique=True),
    ),
    st.one_of(risky_words, st.lists(risky_words, max_size=2)),
)
options = mostly(
    st.one_of(
        st.sampled_from(["", "-c verifyBiasApply:doVignette=False", "--no-versions"]),
        st.lists(safe_words.map(lambda w: f"-c {w}:x=1"), max_size=2).map(" ".join),
    ),
    st.one_of(risky_words, st.lists(risky_words, max_size=3)),
)
dates = st.sampled_from(
    [
        (None, None),
        ("2026-11-25", "2026-11-26"),
        ("2026-11-25T12:00", "2026-11-26T12:00:00.5"),
        ("1900-01-01", "9999-12-31"),
        ("0001-01-01", "0002-01-01"),
        ("2026-11-25", None),
    ]
)
timeouts = st.one_of(st.floats(min_value=5, max_value=1e12), st.just(float("inf")))
run_configs = st.fixed_dictionaries(
    {
        "n_bias": st.integers(1, 4),
        "n_discard_bias": st.integers(0, 2),
        "n_verify_bias": st.integers(0, 2),
        "detectors": st.one_of(
            st.lists(st.integers(0, 8), min_size=1, max_size=9, unique=True),
            st.sampled_from(["(0..8)", "(0,2)", "4", "(3,)", " ( 1 .. 2 ) "]),
        ),
        "input_collections_bias": collections,
        "input_collections_verify": collections,
        "calib_collection": mostly(st.sampled_from(["LSSTComCam/calib/daily", "u/a.b/c-1"]), risky_words),
        "n_processes": st.integers(1, 256),
        "pipeline_bias": st.sampled_from(["${CP_PIPE_DIR}/pipelines/LSSTComCam/cpBias.yaml", "x.yaml"]),
        "config_options_bias": options,
        "config_options_verify": options,
        "job_timeout": timeouts,
        "frame_timeout": timeouts,
        "oods_timeout": timeouts,
        "do_verify": st.booleans(),
        "do_certify": st.booleans(),
        "number_verification_tests_threshold_bias": st.integers(0, 40),
        "certify_on_verification_failure": st.booleans(),
        "supersede": st.booleans(),
        "max_counter_archiver_check": st.integers(1, 2000),
        "reason": words,
        "program": words,
        "note": st.text(max_size=20),
        "report_dir": st.sampled_from(["<tmp>", ""]),
    },
    optional={
        "resume": st.tuples(
            st.sampled_from(["exposures", "bias_job"]),
            st.sampled_from([2026112500010, 2020010100001, 2099123100001, 9999123100001, 1000010100001]),
        ),
        "dates": dates,
    },
)
drawn = st.tuples(run_configs, st.lists(st.integers(0, 8), max_size=3, unique=True))


def to_config(drawn_config: dict[str, typing.Any], report_dir: str) -> dict[str, typing.Any]:
    """The script configuration of a drawn example."""
    config = dict(drawn_config)
    resume, first_id = config.pop("resume", (None, 0))
    begin, end = config.pop("dates", (None, None))
    config["certify_calib_begin_date"] = begin
    config["certify_calib_end_date"] = end
    if resume is not None:
        n_ids = config["n_bias"] + config["n_verify_bias"]
        config["exposure_ids"] = [first_id + i for i in range(n_ids)]
    if resume == "bias_job":
        config["bias_job_id"] = "0123abcd"
    if config["report_dir"] == "<tmp>":
        config["report_dir"] = report_dir
    return config


class StandInButler:
    """The script's butler calls, without a repository."""

    def __init__(self, noisy: list[int]) -> None:
        self.noisy = noisy
        self.script: MakeComCamBias | None = None
        self.checked: list[str] = []
        self.opened: list[str] = []

    def read_verify_stats(self, repo: str, collections: typing.Sequence[str]) -> dict[typing.Any, typing.Any]:
        assert self.script is not None
        config = self.script.require_config()
        failures = [
            f"{detector_name(d)} {amp} NOISE" for d in config.detectors if d in self.noisy for amp in AMPS
        ]
        stats: dict[typing.Any, typing.Any] = {
            exposure: {"SUCCESS": not failures, "FAILURES": failures}
            for exposure in self.script.summary.exposures_verify
        }
        stats["SUCCESS"] = not failures
        return stats

    def check_repo(self, repo: str) -> None:
        """``repo`` opens as a butler repository (its own tests cover the refusal)."""
        self.opened.append(repo)

    def check_output_in_repo(self, repo: str, result: typing.Any, ocps_name: str = "OCPS") -> None:
        """The bias job's output is in ``repo`` (its own tests cover the refusal)."""
        self.checked.append(result.output_collection)

    def certify_biases(
        self,
        repo: str,
        run: str,
        calib_collection: str,
        detectors: typing.Iterable[int],
        begin: str,
        end: str,
        supersede: bool = False,
    ) -> butler_ops.CertificationResult:
        t_begin, t_end = butler_ops.parse_validity_range(begin, end)
        return butler_ops.CertificationResult(
            calib_collection=calib_collection,
            source_run=run,
            dataset_type="bias",
            begin=butler_ops.format_time(t_begin, "-inf"),
            end=butler_ops.format_time(t_end, "+inf"),
            certified=[butler_ops.CertifiedBias(d, f"id{d}", run) for d in detectors],
            already_certified=[],
            superseded=[],
            collection_created=True,
        )


async def configure_only(index: int, config: dict[str, typing.Any]) -> tuple[ScriptState, str, list[str]]:
    """Configure a script; return its state, reason and planned stages."""
    script = MakeComCamBias(index=index)
    try:
        await script.start_task
        data = script.cmd_configure.DataType()
        data.config = yaml.safe_dump(config)
        try:
            await script.do_configure(data)
        except Exception:
            pass
        state = ScriptState(script.state.state)
        stages = [s.value for s in script.planned_stages()] if state == ScriptState.CONFIGURED else []
        return state, script.state.reason, stages
    finally:
        await script.close()


_index = iter(range(50000, 60000))

THRESHOLD_ZERO = {
    "n_bias": 2,
    "n_discard_bias": 1,
    "n_verify_bias": 0,
    "detectors": [0, 1],
    "input_collections_bias": "LSSTComCam/calib",
    "input_collections_verify": "LSSTComCam/calib",
    "calib_collection": "LSSTComCam/calib/daily",
    "n_processes": 1,
    "pipeline_bias": "x.yaml",
    "config_options_bias": "",
    "config_options_verify": "",
    "job_timeout": 60.0,
    "frame_timeout": 60.0,
    "oods_timeout": 60.0,
    "do_verify": True,
    "do_certify": True,
    "number_verification_tests_threshold_bias": 0,
    "certify_on_verification_failure": False,
    "supersede": False,
    "max_counter_archiver_check": 10,
    "reason": "",
    "program": "",
    "note": "",
    "report_dir": "<tmp>",
}


@settings(
    max_examples=7,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(drawn)
@example((THRESHOLD_ZERO, []))
@example(({**THRESHOLD_ZERO, "config_options_bias": "-c isr:doDefect='False'"}, []))
@example(({**THRESHOLD_ZERO, "reason": "daily, imageType: FLAT"}, []))
@example(({**THRESHOLD_ZERO, "number_verification_tests_threshold_bias": 1, "do_certify": False}, [0, 1]))
@example(
    (
        {
            **THRESHOLD_ZERO,
            "number_verification_tests_threshold_bias": 8,
            "resume": ("bias_job", 9999123100001),
        },
        [],
    )
)
async def test_every_accepted_configuration_runs(run_bias, drawn_example) -> None:
    drawn_config, noisy = drawn_example
    report_dir = os.path.join(run_bias.tmp_path, f"own_reports_{next(_index)}")
    config = {"repo": "/repo/LSSTComCam", **to_config(drawn_config, report_dir)}
    state, reason, stages = await configure_only(next(_index), config)
    if state == ScriptState.CONFIGURE_FAILED:
        cause = reason.split(") failed: ", 1)[1]
        option = cause.split(":", 1)[0]
        assert option in OPTIONS | {"configuration"}, cause
        return
    assert state == ScriptState.CONFIGURED, (config, state, reason)

    butler = StandInButler(noisy)

    async def keep_script(run: typing.Any) -> None:
        butler.script = run.script

    with (
        mock.patch.object(butler_ops, "read_verify_stats", butler.read_verify_stats),
        mock.patch.object(butler_ops, "certify_biases", butler.certify_biases),
        mock.patch.object(ocps, "check_output_in_repo", butler.check_output_in_repo),
        mock.patch.object(butler_ops, "check_repo", butler.check_repo),
    ):
        run = await run_bias(config, use_repo=False, runner="scripted", during=keep_script)
    assert "unexpected" not in run.reason and "Traceback" not in run.reason, run.reason
    # repo is opened in preflight only when the run reads or certifies in it.
    assert butler.opened == ([config["repo"]] if config["do_verify"] or config["do_certify"] else [])
    summary = run.script.summary
    if run.state == ScriptState.FAILED:
        # The only failure a fault-free observatory leaves: the verdict on the data.
        assert run.reason.startswith("Error in run: judge failed: the master bias failed verification"), (
            config,
            run.reason,
        )
        assert noisy and config["do_verify"]
        if not config["do_certify"]:
            assert "certify_on_verification_failure" not in run.reason
        assert summary.failed_stage == "judge"
    else:
        assert run.state == ScriptState.DONE, (config, run.reason)
        assert summary.stages_completed == stages
    if config["report_dir"]:
        assert summary.report_path is not None and summary.report_path.startswith(report_dir)
        assert summary.report_path in run.reason
        with open(summary.report_path) as stream:
            assert yaml.safe_load(stream)["outcome"] == summary.outcome.value
    else:
        assert summary.report_files == [] and not os.path.exists(report_dir)
