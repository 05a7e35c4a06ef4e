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

"""The MakeComCamBias configuration schema as shipped."""

import copy
import pathlib

import jsonschema
import pytest
import yaml
from lsst.ts.calibscripts.calib.config import ALL_DETECTORS, make_config
from lsst.ts.calibscripts.schemas import load_schema, load_schema_text

SEED_OPTIONS = {
    "n_bias": 20,
    "detectors": list(ALL_DETECTORS),
    "input_collections_bias": "LSSTComCam/calib",
    "input_collections_verify": "LSSTComCam/calib",
    "calib_collection": None,
    "repo": "/repo/LSSTComCam",
    "n_processes": 8,
    "certify_calib_begin_date": None,
    "certify_calib_end_date": None,
    "max_counter_archiver_check": 1000,
    "oods_timeout": 120,
}


def fill_defaults(schema: dict, config: dict) -> dict:
    """Fill top-level defaults the way salobj's DefaultingValidator does."""
    result = copy.deepcopy(config)
    for name, prop in schema["properties"].items():
        if name not in result and "default" in prop:
            result[name] = copy.deepcopy(prop["default"])
    return result


@pytest.fixture(scope="module")
def schema() -> dict:
    return load_schema()


def test_schema_is_draft7(schema: dict) -> None:
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    jsonschema.Draft7Validator.check_schema(schema)


def test_every_property_has_a_description(schema: dict) -> None:
    missing = [name for name, prop in schema["properties"].items() if not prop.get("description")]
    assert missing == []
    assert "descriptor" not in load_schema_text()


def test_additional_properties_false_and_required(schema: dict) -> None:
    assert schema["additionalProperties"] is False
    assert schema["required"] == ["calib_collection"]
    validator = jsonschema.Draft7Validator(schema)
    errors = [e.message for e in validator.iter_errors({})]
    assert any("'calib_collection' is a required property" in m for m in errors)
    errors = [e.message for e in validator.iter_errors({"calib_collection": "c", "nBias": 3})]
    assert any("'nBias' was unexpected" in m for m in errors)


def test_seed_options_keep_names_and_defaults(schema: dict) -> None:
    props = schema["properties"]
    for name, default in SEED_OPTIONS.items():
        assert name in props, name
        if default is not None:
            assert props[name]["default"] == default, name
    assert "calib_collection" not in schema.get("default", {})


def test_defaults_are_valid_and_make_a_config(schema: dict) -> None:
    config = fill_defaults(schema, {"calib_collection": "LSSTComCam/calib/daily"})
    jsonschema.Draft7Validator(schema).validate(config)
    bias_config = make_config(config)
    assert bias_config.n_bias == 20
    assert bias_config.n_discard_bias == 1
    assert bias_config.n_verify_bias == 0
    assert bias_config.detectors == ALL_DETECTORS
    assert bias_config.input_collections_bias == ("LSSTComCam/calib",)
    assert bias_config.pipeline_bias == "${CP_PIPE_DIR}/pipelines/LSSTComCam/cpBias.yaml"
    assert bias_config.pipeline_verify == "${CP_VERIFY_DIR}/pipelines/LSSTComCam/verifyBias.yaml"
    assert bias_config.number_verification_tests_threshold_bias == 8
    assert not bias_config.certify_on_verification_failure
    assert not bias_config.supersede
    assert bias_config.do_verify and bias_config.do_certify
    assert bias_config.n_frames_to_take == 21


@pytest.mark.parametrize(
    "detectors",
    ["(0,1,2,3,4,5,6,7,8)", "(0, 1, 2)", "(0)", "(0..8)", [0, 4, 8]],
)
def test_detector_forms_accepted_by_schema(schema: dict, detectors: object) -> None:
    config = fill_defaults(schema, {"calib_collection": "c", "detectors": detectors})
    jsonschema.Draft7Validator(schema).validate(config)


@pytest.mark.parametrize(
    "bad",
    [
        {"detectors": [0, 0]},
        {"detectors": [9]},
        {"detectors": []},
        {"detectors": "zero"},
        {"n_bias": 0},
        {"n_bias": "3"},
        {"input_collections_bias": ""},
        {"exposure_ids": [12]},
        {"oods_timeout": 0},
        {"frame_timeout": 0},
        {"frame_timeout": -5},
        {"calib_collection": ""},
    ],
)
def test_schema_rejects(schema: dict, bad: dict) -> None:
    config = fill_defaults(schema, {"calib_collection": "c", **bad})
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(schema).validate(config)


def test_top_level_link_points_at_packaged_schema() -> None:
    root = pathlib.Path(__file__).resolve().parents[2]
    link = root / "schemas" / "make_comcam_bias.yaml"
    assert link.is_symlink()
    assert yaml.safe_load(link.read_text()) == load_schema()


def test_each_schema_file_is_parsed_once_and_every_caller_gets_its_own_copy(monkeypatch) -> None:
    from lsst.ts.calibscripts import schemas

    parsed: list[str] = []
    real = yaml.safe_load

    def counting(text: str) -> object:
        parsed.append(text)
        return real(text)

    monkeypatch.setattr(schemas, "_parsed", {})
    monkeypatch.setattr(schemas.yaml, "safe_load", counting)
    first = load_schema("make_comcam_calibrations.yaml")
    assert len(parsed) == 2  # the camera's file and its shared options' file
    first["properties"].clear()  # a caller changing its copy
    second = load_schema("make_comcam_calibrations.yaml")
    assert len(parsed) == 2
    assert second["properties"] and second == real(yaml.safe_dump(second))
    assert "n_bias" in second["properties"] and "n_bias" in load_schema()["properties"]
    assert len(parsed) == 3  # the bias schema is a file of its own
