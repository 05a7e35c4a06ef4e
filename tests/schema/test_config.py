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

"""`lsst.ts.calibscripts.calib.config`: the checks the schema cannot make."""

import dataclasses
import types

import pytest
from lsst.ts.calibscripts.calib.config import (
    BiasConfig,
    ConfigError,
    make_config,
    parse_collections,
    parse_detectors,
    parse_pipetask_options,
    parse_tai_date,
)


def base(**kwargs: object) -> dict:
    return {"calib_collection": "LSSTComCam/calib/daily", **kwargs}


def test_defaults_and_namespace_input() -> None:
    config = make_config(types.SimpleNamespace(**base()))
    assert config == make_config(base())
    assert isinstance(config, BiasConfig)
    assert config.calib_collection == "LSSTComCam/calib/daily"
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.n_bias = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("(0,1,2,3,4,5,6,7,8)", tuple(range(9))),
        ("(0)", (0,)),
        ("(4,)", (4,)),
        ("0, 3 ,5", (0, 3, 5)),
        ("(0..8)", tuple(range(9))),
        ("(0..2, 7)", (0, 1, 2, 7)),
        ([8, 1], (1, 8)),
    ],
)
def test_parse_detectors(text: object, expected: tuple) -> None:
    assert parse_detectors(text) == expected


@pytest.mark.parametrize(
    "text, words",
    [
        ("(0,9)", "outside 0..8"),
        ("(1,1)", "repeated"),
        ("(0..3,2)", "repeated"),
        ("(5..2)", "reversed"),
        ("(a)", "cannot read"),
        ("()", "cannot read"),
        ([True], "not an integer"),
        (3, "neither a list"),
    ],
)
def test_parse_detectors_rejects(text: object, words: str) -> None:
    with pytest.raises(ConfigError, match=words) as info:
        parse_detectors(text)
    assert str(info.value).startswith("detectors: ")
    assert info.value.option == "detectors"


def test_parse_collections() -> None:
    assert parse_collections("a/b, c", "x") == ("a/b", "c")
    assert parse_collections(["a/b", " c "], "x") == ("a/b", "c")
    for bad, words in [
        ("a,,b", "empty"),
        ("a b", "whitespace"),
        (["a", "a"], "repeated"),
        ([], "no collection"),
    ]:
        with pytest.raises(ConfigError, match=words) as info:
            parse_collections(bad, "input_collections_bias")
        assert str(info.value).startswith("input_collections_bias: ")


def test_parse_pipetask_options() -> None:
    assert parse_pipetask_options("-c isr:doDefect=False  -c a:b=1", "o") == (
        "-c",
        "isr:doDefect=False",
        "-c",
        "a:b=1",
    )
    assert parse_pipetask_options(["-c", "isr:doDefect=False"], "o") == ("-c", "isr:doDefect=False")
    assert parse_pipetask_options("", "o") == ()
    with pytest.raises(ConfigError, match="whitespace"):
        parse_pipetask_options(["-c isr:doDefect=False"], "config_options_bias")
    for reserved in ("-j 4", "-i other", "--output-run=x", "-d exposure=1"):
        with pytest.raises(ConfigError, match="set by the script") as info:
            parse_pipetask_options(reserved, "config_options_verify")
        assert info.value.option == "config_options_verify"


@pytest.mark.parametrize(
    "text, isot",
    [
        ("2026-11-25", "2026-11-25T00:00:00.000"),
        ("2026-11-25T12:30", "2026-11-25T12:30:00.000"),
        ("2026-11-25 12:30:05.25", "2026-11-25T12:30:05.250"),
        ("1950-01-01", "1950-01-01T00:00:00.000"),
    ],
)
def test_parse_tai_date(text: str, isot: str) -> None:
    assert parse_tai_date(text, "d") == isot


@pytest.mark.parametrize(
    "text", ["2026-13-01", "2026-02-30", "yesterday", "2026/11/25", "2026-11-25T25:00", ""]
)
def test_parse_tai_date_rejects(text: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_tai_date(text, "certify_calib_begin_date")
    assert str(info.value).startswith("certify_calib_begin_date: ")


@pytest.mark.parametrize(
    "kwargs, option, words",
    [
        (
            dict(certify_calib_begin_date="2026-11-26", certify_calib_end_date="2026-11-25"),
            "certify_calib_end_date",
            "not after",
        ),
        (
            dict(certify_calib_begin_date="2026-11-25", certify_calib_end_date="2026-11-25"),
            "certify_calib_end_date",
            "not after",
        ),
        (dict(certify_calib_begin_date="2026-11-25"), "certify_calib_end_date", "give both"),
        (dict(certify_calib_end_date="2026-11-25"), "certify_calib_begin_date", "give both"),
        (dict(calib_collection="a calib"), "calib_collection", "whitespace"),
        (dict(calib_collection=" "), "calib_collection", "empty"),
        (dict(input_collections_verify="x, y z"), "input_collections_verify", "whitespace"),
        (dict(detectors="(0,10)"), "detectors", "outside"),
        (dict(n_verify_bias=2, do_verify=False), "n_verify_bias", "do_verify is false"),
        (dict(bias_job_id="abc"), "bias_job_id", "needs exposure_ids"),
        (dict(bias_job_id="a b", exposure_ids=[2026112500001]), "bias_job_id", "not an OCPS job id"),
        (dict(exposure_ids=[2026112500001], n_verify_bias=1), "exposure_ids", "none to combine"),
        (dict(exposure_ids=[2026133100001]), "exposure_ids", "valid day_obs"),
        (dict(exposure_ids=[2026112500000]), "exposure_ids", "sequence number 0"),
        (dict(exposure_ids=[202611250001]), "exposure_ids", "13-digit"),
        (dict(exposure_ids=[2026112500001, 2026112500001]), "exposure_ids", "repeated"),
        (
            dict(bias_job_id="j1", exposure_ids=[2026112500001], do_verify=False, do_certify=False),
            "bias_job_id",
            "nothing to do",
        ),
        (dict(repo=""), "repo", "empty"),
        (dict(n_bias=1), "n_verify_bias", "compares the bias with itself"),
        (dict(exposure_ids=[2026112500001]), "n_verify_bias", "compares the bias with itself"),
        (dict(oods_timeout=0), "oods_timeout", "> 0"),
        (dict(frame_timeout=0), "frame_timeout", "> 0"),
        (dict(nBias=3), "nBias", "unknown option"),
        # OCPS passes options through a shell variable: quotes would reach pipetask literally.
        (dict(config_options_bias="-c isr:doDefect='False'"), "config_options_bias", "literally"),
        (dict(config_options_verify=["-c", 'a:b="x"']), "config_options_verify", "without quotes"),
        (dict(config_options_bias="-c a:b=c\\d"), "config_options_bias", "literally"),
        (dict(input_collections_bias="LSSTComCam/calib,u/x'y"), "input_collections_bias", "quotes"),
        # daf_butler reads * ? [ ] as wildcards.
        (dict(calib_collection="LSSTComCam/calib/*"), "calib_collection", "wildcards"),
        (dict(input_collections_verify=["a[1]"]), "input_collections_verify", "wildcards"),
        # The camera's keyValueMap separates entries with commas.
        (dict(reason="daily, imageType: FLAT"), "reason", "keyValueMap"),
        (dict(program="BLOCK-1,2"), "program", "comma"),
    ],
)
def test_make_config_rejects(kwargs: dict, option: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words) as info:
        make_config(base(**kwargs))
    assert info.value.option == option
    assert str(info.value).startswith(f"{option}: ")


@pytest.mark.parametrize(
    "kwargs, first_words",
    [
        (dict(repo=" "), "repo: ' ' is empty"),
        (dict(oods_timeout=-1), "oods_timeout: -1 is not > 0"),
        (dict(bias_job_id="abc"), "bias_job_id: 'abc' given without exposure_ids"),
        (dict(n_bias=1), "n_verify_bias: 0 with a single combined frame"),
        (dict(certify_calib_end_date="2026-11-25"), "certify_calib_begin_date: not given, but"),
        (dict(reason="a,b"), "reason: 'a,b' contains a comma"),
        (dict(config_options_bias="-c 'x'"), "config_options_bias: \"'x'\" contains '"),
    ],
)
def test_make_config_error_names_option_and_value_first(kwargs: dict, first_words: str) -> None:
    with pytest.raises(ConfigError) as info:
        make_config(base(**kwargs))
    assert str(info.value).startswith(first_words), str(info.value)


def test_report_dir_default_from_schema_is_absolute_under_home(monkeypatch, tmp_path) -> None:
    """The default report folder is the schema's, in the user's home, made absolute."""
    from lsst.ts.calibscripts.calib.config import schema_defaults

    monkeypatch.setenv("HOME", str(tmp_path))
    assert schema_defaults()["report_dir"] == "~/calib_reports"
    assert make_config(base()).report_dir == str(tmp_path / "calib_reports")
    monkeypatch.chdir(tmp_path)
    assert make_config(base(report_dir="reports")).report_dir == str(tmp_path / "reports")
    assert make_config(base(report_dir="")).report_dir == ""


def test_make_config_requires_calib_collection() -> None:
    with pytest.raises(ConfigError, match="calib_collection: required"):
        make_config({"n_bias": 3})


def test_single_frame_needs_independent_verification_or_none() -> None:
    assert make_config(base(n_bias=1, n_verify_bias=1)).n_frames_to_take == 3
    assert make_config(base(n_bias=1, do_verify=False)).n_frames_to_take == 2
    assert make_config(base(exposure_ids=[2026112500001, 2026112500002], n_verify_bias=1)).exposure_ids


def test_resume_options() -> None:
    ids = [2026112500003, 2026112500004, 2026112500005]
    config = make_config(base(exposure_ids=ids, n_verify_bias=1, bias_job_id="0123abcd"))
    assert config.exposure_ids == tuple(ids)
    assert not config.takes_frames and not config.runs_bias_job
    assert config.n_frames_to_take == 0
    config = make_config(base(n_bias=3, n_discard_bias=2, n_verify_bias=4))
    assert config.takes_frames and config.runs_bias_job
    assert config.n_frames_to_take == 9


def test_dates_normalised() -> None:
    config = make_config(
        base(certify_calib_begin_date="2026-11-25", certify_calib_end_date="2026-11-25T06:00:00.5")
    )
    assert config.certify_calib_begin_date == "2026-11-25T00:00:00.000"
    assert config.certify_calib_end_date == "2026-11-25T06:00:00.500"


def test_day_obs_validity_range() -> None:
    from lsst.ts.calibscripts.calib.config import day_obs_validity_range

    assert day_obs_validity_range([2026112500003, 2026112500004]) == (
        "2026-11-25T12:00:00.000",
        "2026-11-26T12:00:00.000",
    )
    # Across a day_obs rollover the later day_obs wins; month end rolls over.
    assert day_obs_validity_range([2026113000099, 2026120100001]) == (
        "2026-12-01T12:00:00.000",
        "2026-12-02T12:00:00.000",
    )
    with pytest.raises(ValueError, match="no exposure id"):
        day_obs_validity_range([])


def test_every_default_comes_from_the_schema(monkeypatch) -> None:
    """BiasConfig has no defaults of its own: a changed schema default is the config's default."""
    from lsst.ts.calibscripts.calib import config as bias_config

    assert all(f.default is dataclasses.MISSING for f in dataclasses.fields(BiasConfig))
    defaults = {**bias_config.schema_defaults(), "n_bias": 7, "report_dir": ""}
    monkeypatch.setattr(bias_config, "schema_defaults", lambda: dict(defaults))
    config = make_config(base())
    assert config.n_bias == 7 and config.report_dir == ""


def test_frame_timeout_default_and_value() -> None:
    from lsst.ts.calibscripts.schemas import load_schema

    prop = load_schema()["properties"]["frame_timeout"]
    assert prop["default"] == make_config(base()).frame_timeout == 240
    assert "endReadout" in prop["description"]
    assert make_config(base(frame_timeout=12)).frame_timeout == 12.0
    assert isinstance(make_config(base(frame_timeout=12)).frame_timeout, float)


def test_schema_validator_names_the_option_and_forwards_the_rest() -> None:
    from lsst.ts.calibscripts.calib.config import SchemaValidator
    from lsst.ts.calibscripts.sal import salobj
    from lsst.ts.calibscripts.schemas import load_schema

    inner = salobj.DefaultingValidator(load_schema())
    validator = SchemaValidator(inner)
    assert validator.schema is inner.schema
    assert validator.validate(base())["n_bias"] == 20
    cases = [
        (base(n_bias=0), "n_bias: 0 is less than the minimum of 1"),
        (base(exposure_ids=[1]), "exposure_ids: item [0]: 1 is less than the minimum of 2020010100001"),
        (
            base(exposure_ids=[9999123100001]),
            "exposure_ids: item [0]: 9999123100001 is greater than the maximum of 2099123199999",
        ),
        ({}, "calib_collection: required option missing"),
        (base(nBias=1), "nBias: unknown option"),
        ("text", "configuration: text is not a dict"),
        (base(detectors=[0, 9]), "detectors: [0, 9] is not valid under any of the given schemas (closest: "),
    ]
    for config, first_words in cases:
        with pytest.raises(ConfigError) as info:
            validator.validate(config)
        assert str(info.value).startswith(first_words), str(info.value)
