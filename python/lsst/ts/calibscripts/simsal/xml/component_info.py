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

"""Interface definitions of the simulated SAL components, loaded from YAML.

Each component is described by ``data/<name>.yaml`` (its own topics and the
generic groups it adds) and ``data/SALGenerics.yaml`` (the generic topics).
`ComponentInfo` turns that into `TopicInfo` objects, each of which makes
one dataclass per topic (the topic's ``DataType``), shared by every user.
"""

from __future__ import annotations

__all__ = [
    "PRIVATE_FIELDS",
    "AVRO_TYPES",
    "FieldInfo",
    "TopicInfo",
    "ComponentInfo",
    "get_component_names",
    "get_component_info",
]

import dataclasses
import functools
import importlib.resources
import typing

import yaml

#: Private fields of every message, with their Python types.
PRIVATE_FIELDS: dict[str, type] = {
    "private_sndStamp": float,
    "private_rcvStamp": float,
    "private_efdStamp": float,
    "private_kafkaStamp": float,
    "private_seqNum": int,
    "private_revCode": str,
    "private_identity": str,
    "private_origin": int,
}

#: Avro type of each ts_xml field type, as ts_xml maps them: "long" is
#: 32 bits in ts_xml (IDL), "long long" and "unsigned int" are 64 bits.
AVRO_TYPES: dict[str, str] = {
    "boolean": "boolean",
    "byte": "int",
    "short": "int",
    "int": "int",
    "long": "int",
    "unsigned short": "int",
    "long long": "long",
    "unsigned int": "long",
    "unsigned long": "long",
    "float": "float",
    "double": "double",
    "string": "string",
}

_PYTHON_TYPES: dict[str, type] = {
    "boolean": bool,
    "int": int,
    "long": int,
    "float": float,
    "double": float,
    "string": str,
}

_SAL_TYPES: dict[str, type] = {sal_type: _PYTHON_TYPES[avro] for sal_type, avro in AVRO_TYPES.items()}

_ACKCMD_FIELDS: dict[str, str] = {
    "ack": "int",
    "error": "int",
    "result": "string",
    "identity": "string",
    "origin": "int",
    "cmdtype": "int",
    "timeout": "double",
}

_DATA_PACKAGE = "lsst.ts.calibscripts.simsal.xml.data"


@dataclasses.dataclass(frozen=True)
class FieldInfo:
    """One field of a topic.

    Parameters
    ----------
    name : `str`
        Field name.
    sal_type : `str`
        SAL type name, e.g. ``double``.
    count : `int`
        Number of elements: 1 for a scalar (strings are always scalars).
    """

    name: str
    sal_type: str
    count: int = 1

    @property
    def python_type(self) -> type:
        """The Python type of one element."""
        return _SAL_TYPES[self.sal_type]

    @property
    def avro_type(self) -> str:
        """The Avro type of one element: boolean, int, long, float, double or string."""
        return AVRO_TYPES[self.sal_type]

    @property
    def is_array(self) -> bool:
        """Is this an array field?"""
        return self.count > 1

    def make_default(self) -> typing.Any:
        """Return the default value of the field."""
        default = self.python_type()
        if self.is_array:
            return [default] * self.count
        return default

    @classmethod
    def from_spec(cls, name: str, spec: str) -> FieldInfo:
        """Parse a field specification such as ``double`` or ``int[9]``.

        Parameters
        ----------
        name : `str`
            Field name.
        spec : `str`
            Type, optionally followed by ``[count]``.

        Returns
        -------
        field_info : `FieldInfo`
            The parsed field.

        Raises
        ------
        ValueError
            If the type is unknown or the count is not a positive integer.
        """
        spec = " ".join(spec.split())
        count = 1
        if spec.endswith("]"):
            base, _, count_str = spec[:-1].partition("[")
            spec = base.strip()
            count = int(count_str)
            if count < 1:
                raise ValueError(f"Field {name}: count must be positive in {spec!r}")
        if spec not in _SAL_TYPES:
            raise ValueError(f"Field {name}: unknown SAL type {spec!r}")
        if spec == "string":
            count = 1
        return cls(name=name, sal_type=spec, count=count)


class TopicInfo:
    """Information about one topic of a component.

    Parameters
    ----------
    component_name : `str`
        SAL component name.
    indexed : `bool`
        Is the component indexed (messages have a ``salIndex`` field)?
    kind : `str`
        ``command``, ``event``, ``telemetry`` or ``ackcmd``.
    name : `str`
        Topic name without prefix, e.g. ``summaryState``.
    fields : `dict` [`str`, `str`]
        Field name: SAL type specification.
    """

    _PREFIXES = {"command": ("cmd_", "command_"), "event": ("evt_", "logevent_"), "telemetry": ("tel_", "")}

    def __init__(
        self, component_name: str, indexed: bool, kind: str, name: str, fields: dict[str, str]
    ) -> None:
        self.component_name = component_name
        self.indexed = indexed
        self.kind = kind
        self.name = name
        if kind == "ackcmd":
            self.attr_name = "ack_ackcmd"
            self.sal_name = "ackcmd"
        else:
            attr_prefix, sal_prefix = self._PREFIXES[kind]
            self.attr_name = attr_prefix + name
            self.sal_name = sal_prefix + name
        self.fields: dict[str, FieldInfo] = {}
        for field_name, spec in (fields or {}).items():
            if field_name in PRIVATE_FIELDS or field_name == "salIndex":
                raise ValueError(f"{component_name}.{self.sal_name}: reserved field name {field_name}")
            self.fields[field_name] = FieldInfo.from_spec(field_name, str(spec))
        self._data_type: type | None = None

    @property
    def array_fields(self) -> tuple[str, ...]:
        """Names of the array fields."""
        return tuple(name for name, info in self.fields.items() if info.is_array)

    def make_dataclass(self) -> type:
        """Return the dataclass for this topic (made once, then cached).

        Every field has a default; private fields come first, then
        ``salIndex`` for indexed components, then the topic's fields.
        """
        if self._data_type is None:
            field_list: list[tuple[str, type, typing.Any]] = []
            for name, ptype in PRIVATE_FIELDS.items():
                field_list.append((name, ptype, dataclasses.field(default=ptype())))
            if self.indexed:
                field_list.append(("salIndex", int, dataclasses.field(default=0)))
            for name, info in self.fields.items():
                if info.is_array:
                    default = info.make_default()
                    field_list.append(
                        (name, list, dataclasses.field(default_factory=functools.partial(list, default)))
                    )
                else:
                    field_list.append(
                        (name, info.python_type, dataclasses.field(default=info.make_default()))
                    )
            data_type = dataclasses.make_dataclass(self.attr_name, field_list)
            data_type.__module__ = __name__
            data_type.__qualname__ = f"{self.component_name}.{self.attr_name}"
            self._data_type = data_type
        return self._data_type

    def __repr__(self) -> str:
        return f"TopicInfo({self.component_name}.{self.sal_name})"


class ComponentInfo:
    """Information about one SAL component: index support and topics.

    Use `get_component_info` to get a cached instance.

    Parameters
    ----------
    name : `str`
        SAL component name.
    topic_subname : `str`, optional
        Accepted for compatibility with ts_xml; the definitions do not
        depend on it.

    Raises
    ------
    ValueError
        If there is no such component.
    """

    def __init__(self, name: str, topic_subname: str = "") -> None:
        definitions = _load_component_definitions()
        if name not in definitions:
            raise ValueError(f"No such component {name}")
        spec = definitions[name]
        generics = _load_generics()
        self.name = name
        self.indexed: bool = bool(spec.get("indexed", False))
        self.index_enumeration: dict[str, int] = dict(spec.get("index_enumeration") or {})
        self.generics: tuple[str, ...] = tuple(spec.get("generics") or ())
        topic_specs: dict[str, dict[str, dict[str, str]]] = {"command": {}, "event": {}, "telemetry": {}}
        kind_keys = {"commands": "command", "events": "event", "telemetry": "telemetry"}
        for group_name in ("mandatory",) + self.generics:
            if group_name not in generics:
                raise ValueError(f"Component {name}: unknown generics group {group_name!r}")
            for key, kind in kind_keys.items():
                topic_specs[kind].update(generics[group_name].get(key) or {})
        for key, kind in kind_keys.items():
            for topic_name, fields in (spec.get(key) or {}).items():
                if topic_name in topic_specs[kind]:
                    raise ValueError(f"Component {name}: {kind} {topic_name} is defined twice")
                topic_specs[kind][topic_name] = fields or {}
        self.topics: dict[str, TopicInfo] = {}
        for kind in ("command", "event", "telemetry"):
            for topic_name in sorted(topic_specs[kind]):
                info = TopicInfo(name, self.indexed, kind, topic_name, topic_specs[kind][topic_name])
                self.topics[info.attr_name] = info
        if self.command_names:
            ack_info = TopicInfo(name, self.indexed, "ackcmd", "ackcmd", _ACKCMD_FIELDS)
            self.topics[ack_info.attr_name] = ack_info

    def _names(self, kind: str) -> tuple[str, ...]:
        return tuple(sorted(info.name for info in self.topics.values() if info.kind == kind))

    @property
    def command_names(self) -> tuple[str, ...]:
        """Command names without prefix, sorted."""
        return self._names("command")

    @property
    def event_names(self) -> tuple[str, ...]:
        """Event names without prefix, sorted."""
        return self._names("event")

    @property
    def telemetry_names(self) -> tuple[str, ...]:
        """Telemetry topic names, sorted."""
        return self._names("telemetry")

    def __repr__(self) -> str:
        return f"ComponentInfo({self.name})"


@functools.cache
def _load_generics() -> dict[str, dict[str, dict[str, dict[str, str]]]]:
    text = importlib.resources.files(_DATA_PACKAGE).joinpath("SALGenerics.yaml").read_text()
    return yaml.safe_load(text)


@functools.cache
def _load_component_definitions() -> dict[str, dict[str, typing.Any]]:
    definitions: dict[str, dict[str, typing.Any]] = {}
    for entry in importlib.resources.files(_DATA_PACKAGE).iterdir():
        if not entry.name.endswith(".yaml") or entry.name == "SALGenerics.yaml":
            continue
        spec = yaml.safe_load(entry.read_text())
        name = spec["name"]
        if entry.name != f"{name}.yaml":
            raise ValueError(f"{entry.name} defines component {name}; file and component names must match")
        definitions[name] = spec
    return definitions


def get_component_names() -> tuple[str, ...]:
    """Return the names of all defined SAL components, sorted."""
    return tuple(sorted(_load_component_definitions()))


@functools.cache
def get_component_info(name: str) -> ComponentInfo:
    """Return the (cached) `ComponentInfo` for a component.

    Parameters
    ----------
    name : `str`
        SAL component name.

    Raises
    ------
    ValueError
        If there is no such component.
    """
    return ComponentInfo(name)
