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

"""Field type checks at write time, as the real SAL's Avro serialiser makes them.

The real ts_salobj 8 serialises every message with Avro against a schema
generated from ts_xml; a value that does not fit its field's type makes the
write fail (``TypeError: must be string on field emulatedImage``) and the
message is not sent. These checks follow the rules of the Avro validator
(fastavro), which are the strictest the serialiser applies:

* ``boolean``: only `bool` (not ``numpy.bool_``, not an int).
* ``int`` (ts_xml byte, short, int, long, unsigned short): an integral number
  (`int`, `enum.IntEnum`, numpy integers), never a `bool`, in the signed
  32-bit range.
* ``long`` (ts_xml long long, unsigned int): the same, in the signed 64-bit
  range.
* ``float``, ``double``: any real number, ints included, never a `bool`.
* ``string``: only `str` (or a subclass such as `enum.StrEnum`).
* A field with count > 1 is an array of exactly that many such items.

`check_value` returns the value as a reader receives it (plain `int`,
`float`, `str`, `bool`, or a `list` of them).
"""

from __future__ import annotations

__all__ = ["INT_RANGES", "check_value"]

import numbers
import typing

from ..xml.component_info import FieldInfo

#: Inclusive range of each Avro integer type.
INT_RANGES: dict[str, tuple[int, int]] = {
    "int": (-(2**31), 2**31 - 1),
    "long": (-(2**63), 2**63 - 1),
}


def _describe(value: typing.Any) -> str:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"


def _check_item(avro_type: str, value: typing.Any) -> tuple[typing.Any, str | None]:
    """Return (converted value, None) or (None, reason) for one item."""
    if avro_type == "boolean":
        if isinstance(value, bool):
            return bool(value), None
        return None, "must be boolean"
    if avro_type == "string":
        if isinstance(value, str):
            return str.__str__(value), None
        return None, "must be string"
    if isinstance(value, bool):
        return None, f"must be {avro_type}"
    if avro_type in INT_RANGES:
        if not isinstance(value, numbers.Integral):
            return None, f"must be {avro_type}"
        converted = int(value)
        low, high = INT_RANGES[avro_type]
        if not low <= converted <= high:
            return None, f"is out of range [{low}, {high}] of Avro {avro_type}"
        return converted, None
    if isinstance(value, numbers.Real):
        return float(value), None
    return None, f"must be {avro_type}"


def check_value(topic_name: str, field: FieldInfo, value: typing.Any) -> typing.Any:
    """Check that a value fits a field, and return it as it would be sent.

    Parameters
    ----------
    topic_name : `str`
        ``<component>.<sal topic name>``, for the error message.
    field : `FieldInfo`
        The field.
    value : `object`
        The value.

    Returns
    -------
    sent : `object`
        The value as readers receive it.

    Raises
    ------
    TypeError
        If the value (or an array item) is of the wrong type, e.g.
        ``must be string on field emulatedImage ...``.
    ValueError
        If an integer is out of range, or an array does not have exactly
        ``field.count`` items.
    """
    where = f"on field {field.name} of {topic_name} (ts_xml type {field.sal_type}"
    if field.is_array:
        where += f"[{field.count}]"
    where += ")"
    if field.is_array:
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
            raise TypeError(f"must be array {where}, not {_describe(value)}; the message was not sent")
        if len(value) != field.count:
            raise ValueError(
                f"must be array of {field.count} items {where}, not {len(value)} items; "
                "the message was not sent"
            )
        items = value
    else:
        items = (value,)
    converted: list[typing.Any] = []
    for item in items:
        result, reason = _check_item(field.avro_type, item)
        if reason is not None:
            error = ValueError if reason.startswith("is out of range") else TypeError
            raise error(f"{reason} {where}, not {_describe(item)}; the message was not sent")
        converted.append(result)
    return converted if field.is_array else converted[0]
