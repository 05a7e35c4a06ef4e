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

"""Configuration schemas shipped with the package.

A camera's calibration schema (``make_comcam_calibrations.yaml``) holds only
its camera's options and names the shared ones' file in
``x-common-properties`` (``make_calibrations_common.yaml``); `load_schema`
returns the merged schema (the shared options, then the camera's, which
win), so the shared options are written once for every camera.
"""

__all__ = [
    "COMMON_PROPERTIES_KEY",
    "MAKE_COMCAM_BIAS_SCHEMA",
    "load_schema",
    "load_schema_text",
    "merge_common",
]

import copy
import importlib.resources
import threading
import typing

import yaml

MAKE_COMCAM_BIAS_SCHEMA = "make_comcam_bias.yaml"

COMMON_PROPERTIES_KEY = "x-common-properties"
"""The key naming the file of shared options a schema adds its own to."""


def load_schema_text(name: str = MAKE_COMCAM_BIAS_SCHEMA) -> str:
    """Return the text of a schema shipped in this package.

    Parameters
    ----------
    name : `str`
        File name of the schema, e.g. ``make_comcam_bias.yaml``.

    Returns
    -------
    text : `str`
        The YAML text.
    """
    return importlib.resources.files(__name__).joinpath(name).read_text(encoding="utf-8")


def load_schema(name: str = MAKE_COMCAM_BIAS_SCHEMA) -> dict[str, typing.Any]:
    """Return a schema shipped in this package as a dict.

    Parameters
    ----------
    name : `str`
        File name of the schema, e.g. ``make_comcam_bias.yaml``.

    Returns
    -------
    schema : `dict`
        The parsed JSON schema, with the shared options of its
        ``x-common-properties`` file merged in (`merge_common`).
    """
    with _parsed_lock:
        parsed = _parsed.get(name)
        if parsed is None:
            parsed = _parsed[name] = merge_common(yaml.safe_load(load_schema_text(name)), load_schema)
        # The caller's own copy: a caller may change it (a validator adds defaults).
        return copy.deepcopy(parsed)


_parsed: dict[str, dict[str, typing.Any]] = {}
"""`load_schema`'s parsed schemas by name: the shipped files are parsed once per process
(each script parses its schema when it starts, a hundredth of a second of CPU)."""
_parsed_lock = threading.RLock()


def merge_common(
    schema: dict[str, typing.Any], load: typing.Callable[[str], dict[str, typing.Any]]
) -> dict[str, typing.Any]:
    """Merge the shared options of ``schema[COMMON_PROPERTIES_KEY]`` into ``schema``.

    Parameters
    ----------
    schema : `dict`
        A parsed schema; returned as is without ``x-common-properties``.
    load : callable
        Loads the named file of shared options (a schema with ``properties``).

    Returns
    -------
    schema : `dict`
        A schema without ``x-common-properties`` whose ``properties`` are
        the shared ones, then its own (its own win on a name clash).
    """
    if COMMON_PROPERTIES_KEY not in schema:
        return schema
    merged = {k: v for k, v in schema.items() if k != COMMON_PROPERTIES_KEY}
    common = load(schema[COMMON_PROPERTIES_KEY])
    merged["properties"] = {**common["properties"], **schema.get("properties", {})}
    return merged
