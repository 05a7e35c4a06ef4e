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

"""Sphinx directive that renders a script's configuration schema as a table.

Usage in a ``.rst`` file (the path is relative to the repository root)::

    .. config-schema-table:: python/lsst/ts/calibscripts/schemas/make_comcam_bias.yaml

The table has one row per property with its type, default, whether it is
required and its description, read from the schema file at build time, so
the reference page cannot drift from the schema. A property without a
description, or a schema that does not parse, fails the build.
"""

from __future__ import annotations

import json
import os
import typing

import yaml
from docutils import nodes
from docutils.parsers.rst import Directive
from sphinx.application import Sphinx
from sphinx.errors import ExtensionError


def describe_type(spec: dict[str, typing.Any]) -> str:
    """Describe a property's JSON-schema type in words, e.g. ``integer >= 1``."""
    if "anyOf" in spec or "oneOf" in spec:
        return " or ".join(describe_type(option) for option in spec.get("anyOf", spec.get("oneOf", [])))
    kind = spec.get("type", "any")
    if isinstance(kind, list):
        text = " or ".join(str(k) for k in kind)
    else:
        text = str(kind)
    if kind == "array" and isinstance(spec.get("items"), dict):
        text = f"list of {describe_type(spec['items'])}"
    limits = []
    if "minimum" in spec:
        limits.append(f">= {spec['minimum']}")
    if "exclusiveMinimum" in spec:
        limits.append(f"> {spec['exclusiveMinimum']}")
    if "maximum" in spec:
        limits.append(f"<= {spec['maximum']}")
    if "enum" in spec:
        limits.append("one of " + ", ".join(json.dumps(v) for v in spec["enum"]))
    if limits:
        text += " (" + ", ".join(limits) + ")"
    return text


def describe_default(spec: dict[str, typing.Any], required: bool) -> str:
    """Return the default as YAML would be typed, or why there is none."""
    if "default" not in spec:
        return "(required)" if required else "(none)"
    return json.dumps(spec["default"])


def load_schema(path: str) -> dict[str, typing.Any]:
    """Load and check a schema file for the table."""
    with open(path, encoding="utf-8") as stream:
        schema = yaml.safe_load(stream)
    common = schema.get("x-common-properties") if isinstance(schema, dict) else None
    if common:
        # A camera's schema adds its options to a shared file (lsst.ts.calibscripts.schemas).
        shared = load_schema(os.path.join(os.path.dirname(path), common))
        schema = {k: v for k, v in schema.items() if k != "x-common-properties"}
        schema["properties"] = {**shared["properties"], **schema.get("properties", {})}
    if not isinstance(schema, dict) or not isinstance(schema.get("properties"), dict):
        raise ExtensionError(f"{path} is not an object schema with properties")
    for name, spec in schema["properties"].items():
        if not str(spec.get("description", "")).strip():
            raise ExtensionError(f"{path}: property {name!r} has no description")
    return schema


def schema_rows(schema: dict[str, typing.Any]) -> list[tuple[str, str, str, str]]:
    """Return (name, type, default, description) for every property, in schema order."""
    required = set(schema.get("required", []))
    rows = []
    for name, spec in schema["properties"].items():
        rows.append(
            (
                name,
                describe_type(spec),
                describe_default(spec, name in required),
                " ".join(str(spec["description"]).split()),
            )
        )
    return rows


class ConfigSchemaTable(Directive):
    """``.. config-schema-table:: <schema path relative to the repository root>``."""

    required_arguments = 1
    has_content = False

    def run(self) -> list[nodes.Node]:
        env = self.state.document.settings.env
        root = env.config.schema_table_root or env.srcdir
        path = os.path.normpath(os.path.join(root, self.arguments[0]))
        env.note_dependency(path)
        schema = load_schema(path)
        rows = schema_rows(schema)

        table = nodes.table(classes=["config-schema"])
        group = nodes.tgroup(cols=4)
        table += group
        for width in (18, 18, 16, 48):
            group += nodes.colspec(colwidth=width)
        head = nodes.thead()
        group += head
        head += self._row(("Option", "Type", "Default", "Description"), literal_first=False)
        body = nodes.tbody()
        group += body
        for row in rows:
            body += self._row(row, literal_first=True)

        intro = nodes.paragraph()
        intro += nodes.Text(f"{schema.get('title', 'Schema')}: ")
        intro += nodes.Text(" ".join(str(schema.get("description", "")).split()))
        extra = nodes.paragraph()
        required = schema.get("required", [])
        extra += nodes.Text(
            ("Required: " + ", ".join(required) + ". " if required else "No option is required. ")
            + (
                "Unknown options are rejected."
                if schema.get("additionalProperties") is False
                else "Unknown options are allowed."
            )
        )
        return [intro, table, extra]

    @staticmethod
    def _row(cells: typing.Sequence[str], literal_first: bool) -> nodes.row:
        row = nodes.row()
        for index, text in enumerate(cells):
            entry = nodes.entry()
            paragraph = nodes.paragraph()
            if index in (0, 2) and literal_first:
                paragraph += nodes.literal(text=text)
            else:
                paragraph += nodes.Text(text)
            entry += paragraph
            row += entry
        return row


def setup(app: Sphinx) -> dict[str, typing.Any]:
    app.add_config_value("schema_table_root", "", "env")
    app.add_directive("config-schema-table", ConfigSchemaTable)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
