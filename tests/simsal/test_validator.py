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

"""DefaultingValidator: jsonschema Draft 7 with defaults."""

import jsonschema
import pytest
import yaml
from lsst.ts.calibscripts.simsal import salobj

SCHEMA = yaml.safe_load("""
    $schema: http://json-schema.org/draft-07/schema#
    type: object
    properties:
      n_bias:
        type: integer
        minimum: 1
        default: 20
      detectors:
        type: array
        items:
          type: integer
        default: [0, 1, 2]
      ocps:
        type: object
        properties:
          index:
            type: integer
            default: 2
          timeout:
            type: number
            default: 600
        additionalProperties: false
      note:
        type: string
    additionalProperties: false
    """)


def test_defaults_filled() -> None:
    validator = salobj.DefaultingValidator(SCHEMA)
    result = validator.validate({"note": "hello"})
    assert result == {
        "note": "hello",
        "n_bias": 20,
        "detectors": [0, 1, 2],
        "ocps": {"index": 2, "timeout": 600},
    }
    assert validator.validate(None)["n_bias"] == 20
    # Partial sub-objects get their missing defaults; the input is not modified.
    data = {"ocps": {"timeout": 5}}
    result = validator.validate(data)
    assert result["ocps"] == {"index": 2, "timeout": 5}
    assert data == {"ocps": {"timeout": 5}}
    # Defaults are copies.
    result["detectors"].append(99)
    assert validator.validate({})["detectors"] == [0, 1, 2]


def test_errors() -> None:
    validator = salobj.DefaultingValidator(SCHEMA)
    with pytest.raises(jsonschema.ValidationError) as exc_info:
        validator.validate({"no_such_arg": 1})
    assert exc_info.value.message == "Additional properties are not allowed ('no_such_arg' was unexpected)"
    with pytest.raises(jsonschema.ValidationError, match="'x' is not of type 'integer'"):
        validator.validate({"n_bias": "x"})
    with pytest.raises(jsonschema.ValidationError, match="0 is less than the minimum of 1"):
        validator.validate({"n_bias": 0})
    with pytest.raises(jsonschema.ValidationError, match="is not a dict"):
        validator.validate([1, 2])  # type: ignore[arg-type]
    with pytest.raises(jsonschema.SchemaError):
        salobj.DefaultingValidator({"type": "no_such_type"})
    assert salobj.StandardValidator is jsonschema.Draft7Validator
