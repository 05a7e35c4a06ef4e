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

"""Configuration schemas shipped with the package."""

__all__ = ["MAKE_COMCAM_BIAS_SCHEMA", "load_schema", "load_schema_text"]

import importlib.resources
import typing

import yaml

MAKE_COMCAM_BIAS_SCHEMA = "make_comcam_bias.yaml"


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
        The parsed JSON schema.
    """
    return yaml.safe_load(load_schema_text(name))
