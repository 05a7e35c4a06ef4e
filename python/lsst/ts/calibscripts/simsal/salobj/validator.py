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

"""Configuration validation with jsonschema Draft 7, filling in defaults."""

from __future__ import annotations

__all__ = ["StandardValidator", "DefaultingValidator"]

import copy
import typing

import jsonschema
import jsonschema.exceptions
import jsonschema.validators

#: The standard validator class.
StandardValidator = jsonschema.Draft7Validator


class DefaultingValidator:
    """Validate a configuration against a schema, filling in default values.

    Defaults are filled in for missing properties at the top level, and for
    properties of an object-valued property that is missing but whose own
    properties have defaults.

    Parameters
    ----------
    schema : `dict`
        The jsonschema.
    StandardValidatorClass : `type`, optional
        The jsonschema validator class.

    Raises
    ------
    jsonschema.exceptions.SchemaError
        If the schema is not valid.
    """

    def __init__(
        self, schema: dict[str, typing.Any], StandardValidatorClass: type = StandardValidator
    ) -> None:
        StandardValidatorClass.check_schema(schema)
        self.schema = schema
        self.final_validator = StandardValidatorClass(schema=schema)
        validate_properties = StandardValidatorClass.VALIDATORS["properties"]

        def set_defaults(
            validator: typing.Any, properties: dict[str, typing.Any], instance: typing.Any, schema: typing.Any
        ) -> typing.Iterator[jsonschema.exceptions.ValidationError]:
            if isinstance(instance, dict):
                for name, subschema in properties.items():
                    if not isinstance(subschema, dict) or name in instance:
                        continue
                    if "default" in subschema:
                        instance[name] = copy.deepcopy(subschema["default"])
                    elif subschema.get("type") == "object" and any(
                        isinstance(sub, dict) and "default" in sub
                        for sub in subschema.get("properties", {}).values()
                    ):
                        instance[name] = {}
            yield from validate_properties(validator, properties, instance, schema)

        DefaultsClass = jsonschema.validators.extend(StandardValidatorClass, {"properties": set_defaults})
        self.defaults_validator = DefaultsClass(schema=schema)

    def validate(self, data_dict: dict[str, typing.Any] | None) -> dict[str, typing.Any]:
        """Validate a configuration and return a copy with defaults filled in.

        Parameters
        ----------
        data_dict : `dict` or None
            The configuration; None is the same as ``{}``.

        Returns
        -------
        result : `dict`
            The validated configuration, with defaults.

        Raises
        ------
        jsonschema.exceptions.ValidationError
            If the configuration is not a dict or is not valid.
        """
        if data_dict is None:
            result: dict[str, typing.Any] = {}
        elif not isinstance(data_dict, dict):
            raise jsonschema.exceptions.ValidationError(f"{data_dict} is not a dict")
        else:
            result = copy.deepcopy(data_dict)
        self.defaults_validator.validate(result)
        self.final_validator.validate(result)
        return result
