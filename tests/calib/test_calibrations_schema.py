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


"""The MakeComCamCalibrations configuration schema as shipped."""

from __future__ import annotations

import typing

import jsonschema
import pytest
from lsst.ts.calibscripts.calib.plan import MODE_TYPES, SCHEMA_NAME, comcam_filters, make_plan
from lsst.ts.calibscripts.sal import salobj
from lsst.ts.calibscripts.schemas import MAKE_COMCAM_BIAS_SCHEMA, load_schema
from lsst.ts.calibscripts.sim.data.camera_model import PHYSICAL_FILTERS

# The bias script's operational options that apply to every type: same name, type and default.
SHARED_WITH_BIAS = [
    "n_bias",
    "n_discard_bias",
    "detectors",
    "input_collections_bias",
    "calib_collection",
    "repo",
    "n_processes",
    "pipeline_bias",
    "config_options_bias",
    "job_timeout",
    "do_verify",
    "do_certify",
    "number_verification_tests_threshold_bias",
    "certify_on_verification_failure",
    "supersede",
    "certify_calib_begin_date",
    "certify_calib_end_date",
    "max_counter_archiver_check",
    "frame_timeout",
    "oods_timeout",
    "reason",
    "program",
    "note",
    "report_dir",
]

# Upstream's options (BaseMakeCalibrations + the ComCam subclass) kept by name, with upstream's defaults.
UPSTREAM_DEFAULTS = {
    "n_bias": 20,
    "n_discard_bias": 1,
    "n_dark": 22,
    "n_discard_dark": 1,
    "exp_times_dark": [5, 5, 5, 5, 5, 15, 15] + [30] * 16,
    "n_flat": 20,
    "n_discard_flat": 1,
    "exp_times_flat": 5,
    "wait_between_exposures": 0,
    "generate_calibrations": False,
    "do_verify": True,
    "number_verification_tests_threshold_bias": 8,
    "number_verification_tests_threshold_dark": 8,
    "number_verification_tests_threshold_flat": 8,
    "n_processes": 8,
    "oods_timeout": 120,
    "filter": None,
    "input_collections_bias": "LSSTComCam/calib",
    "input_collections_dark": "LSSTComCam/calib",
    "input_collections_flat": "LSSTComCam/calib",
    "input_collections_verify_bias": "LSSTComCam/calib",
    "input_collections_verify_dark": "LSSTComCam/calib",
    "input_collections_verify_flat": "LSSTComCam/calib",
}


@pytest.fixture(scope="module")
def schema() -> dict[str, typing.Any]:
    return load_schema(SCHEMA_NAME)


def validate(config: dict[str, typing.Any]) -> dict[str, typing.Any]:
    return salobj.DefaultingValidator(load_schema(SCHEMA_NAME)).validate(config)


def test_schema_is_draft7_and_strict(schema: dict[str, typing.Any]) -> None:
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    jsonschema.Draft7Validator.check_schema(schema)
    assert schema["additionalProperties"] is False
    assert schema["required"] == ["script_mode", "calib_collection"]
    assert [name for name, prop in schema["properties"].items() if not prop.get("description")] == []


def test_script_modes(schema: dict[str, typing.Any]) -> None:
    assert schema["properties"]["script_mode"]["enum"] == list(MODE_TYPES)
    assert "default" not in schema["properties"]["script_mode"]


def test_upstream_names_and_defaults(schema: dict[str, typing.Any]) -> None:
    properties = schema["properties"]
    assert {name: properties[name].get("default") for name in UPSTREAM_DEFAULTS} == UPSTREAM_DEFAULTS
    # The default dark list pairs with 22 + 1 frames, as upstream's.
    assert len(properties["exp_times_dark"]["default"]) == 22 + 1


def test_operational_options_as_in_the_bias_schema(schema: dict[str, typing.Any]) -> None:
    bias = load_schema(MAKE_COMCAM_BIAS_SCHEMA)["properties"]
    mine = schema["properties"]
    for name in SHARED_WITH_BIAS:
        assert mine[name].get("default") == bias[name].get("default"), name
        for key in ("type", "anyOf", "minimum", "maximum", "exclusiveMinimum"):
            assert mine[name].get(key) == bias[name].get(key), (name, key)


def test_filters_are_the_comcam_filters(schema: dict[str, typing.Any]) -> None:
    assert set(comcam_filters()) == set(PHYSICAL_FILTERS)


def test_fixed_upstream_meanings_say_so(schema: dict[str, typing.Any]) -> None:
    properties = schema["properties"]
    for name in (
        "script_mode",
        "exp_times_dark",
        "filter",
        "generate_calibrations",
        "number_verification_tests_threshold_bias",
        "certify_calib_begin_date",
        "job_timeout",
    ):
        assert "upstream" in properties[name]["description"].lower(), name


@pytest.mark.parametrize("script_mode", list(MODE_TYPES))
def test_defaults_validate_and_make_a_plan(script_mode: str) -> None:
    config: dict[str, typing.Any] = {"script_mode": script_mode, "calib_collection": "LSSTComCam/calib/daily"}
    if "FLAT" in script_mode:
        config["filter"] = "g_01"
    filled = validate(config)
    assert filled["n_dark"] == 22
    plan = make_plan(filled)
    assert plan.calib_types == MODE_TYPES[script_mode]


@pytest.mark.parametrize(
    "bad",
    [
        {"script_mode": "PTC"},
        {"exp_times_dark": -5},
        {"exp_times_dark": [5, 0]},
        {"exp_times_flat": []},
        {"filter": 3},
        {"filter": "r"},
        {"n_dark": 0},
        {"n_discard_flat": -1},
        {"take_only": "yes"},
        {"n_verify_bias": 1},
        {"background_task_timeout": 30},
    ],
)
def test_schema_rejects(bad: dict[str, typing.Any]) -> None:
    config = {"script_mode": "BIAS_DARK_FLAT", "calib_collection": "c", "filter": "r_03", **bad}
    with pytest.raises(jsonschema.ValidationError):
        validate(config)


def test_schema_requires_script_mode() -> None:
    with pytest.raises(jsonschema.ValidationError, match="'script_mode' is a required property"):
        validate({"calib_collection": "c"})
