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

"""Base class of topics that are written: events, telemetry and (for remotes) commands."""

from __future__ import annotations

__all__ = ["WriteTopic", "SetWriteResult", "MAX_SEQ_NUM"]

import dataclasses
import math
import random
import time
import typing

from ... import utils
from .. import _avro, _bus
from .base_topic import BaseTopic

if typing.TYPE_CHECKING:
    from ..sal_info import SalInfo

#: Largest value of ``private_seqNum``.
MAX_SEQ_NUM = 2**31 - 1

#: Revision code stamped in ``private_revCode``.
REV_CODE = "simsal"


@dataclasses.dataclass
class SetWriteResult:
    """Result of `WriteTopic.set_write`.

    Attributes
    ----------
    did_change : `bool`
        Did ``set`` change any value?
    was_written : `bool`
        Was the message written?
    data : ``DataType``
        A copy of the data (as written, if written).
    """

    did_change: bool
    was_written: bool
    data: typing.Any


def _values_equal(old: typing.Any, new: typing.Any) -> bool:
    """Compare field values, treating NaN as equal to NaN (element-wise for lists)."""
    if isinstance(old, list) or isinstance(new, list):
        try:
            if len(old) != len(new):
                return False
        except TypeError:
            return False
        return all(_values_equal(a, b) for a, b in zip(old, new))
    if isinstance(old, float) and isinstance(new, float) and math.isnan(old) and math.isnan(new):
        return True
    try:
        return bool(old == new)
    except Exception:
        return False


class WriteTopic(BaseTopic):
    """A topic that can be written.

    Parameters
    ----------
    salinfo : `SalInfo`
        SAL component information.
    attr_name : `str`
        Topic attribute name, e.g. ``evt_summaryState``.
    min_seq_num, max_seq_num : `int`, optional
        Range of ``private_seqNum`` (wraps around).
    initial_seq_num : `int`, optional
        First ``private_seqNum``; random in the range if None.
    """

    #: Write on every `set_write` even if nothing changed (False for events).
    default_force_output = True

    # Stamp private_seqNum from this topic's counter? (Acks carry the command's.)
    _stamp_seq_num = True

    def __init__(
        self,
        *,
        salinfo: SalInfo,
        attr_name: str,
        min_seq_num: int = 1,
        max_seq_num: int = MAX_SEQ_NUM,
        initial_seq_num: int | None = None,
    ) -> None:
        super().__init__(salinfo=salinfo, attr_name=attr_name)
        if not 0 < min_seq_num < max_seq_num <= MAX_SEQ_NUM:
            raise ValueError(f"Invalid seq num range [{min_seq_num}, {max_seq_num}]")
        self.min_seq_num = min_seq_num
        self.max_seq_num = max_seq_num
        if initial_seq_num is None:
            initial_seq_num = random.randint(min_seq_num, max_seq_num)
        self._seq_num = initial_seq_num
        self.isopen = True
        self._has_data = False
        self._data = self.DataType()
        self._channel = salinfo._get_channel(self.topic_info)
        salinfo.add_writer(self)

    @property
    def data(self) -> typing.Any:
        """The data that the next ``write`` sends (do not replace its type)."""
        return self._data

    @data.setter
    def data(self, data: typing.Any) -> None:
        if not isinstance(data, self.DataType):
            raise TypeError(f"data={data!r} must be an instance of {self.DataType}")
        self._data = data
        self._has_data = True

    @property
    def has_data(self) -> bool:
        """Has data been set?"""
        return self._has_data

    def set(self, **kwargs: typing.Any) -> bool:
        """Set one or more fields of ``data``.

        A value of None leaves that field unchanged.

        Returns
        -------
        did_change : `bool`
            True if any value changed, or if this is the first ``set``.

        Raises
        ------
        AttributeError
            If a field name is not a field of this topic.
        TypeError
            If a value does not fit its field's type (see `_avro`); then
            nothing is set.
        ValueError
            If an integer is out of range or an array has the wrong number
            of items; then nothing is set.
        """
        bad = sorted(
            name
            for name in kwargs
            if name not in self._field_names and not (name == "salIndex" and self.salinfo.indexed)
        )
        if bad:
            raise AttributeError(f"{self.attr_name} has no fields {bad}")
        fields = self.topic_info.fields
        checked: dict[str, typing.Any] = {}
        for name, value in kwargs.items():
            if value is None:
                continue
            if name in self._array_fields and not isinstance(value, (str, bytes, list, tuple)):
                try:
                    value = list(value)
                except TypeError:
                    pass  # check_value says what is wrong
            if name in fields:
                _avro.check_value(self._topic_desc, fields[name], value)
            if name in self._array_fields:
                value = list(value)
            checked[name] = value
        did_change = not self._has_data
        data_dict = self._data.__dict__
        for name, value in checked.items():
            if not did_change and not _values_equal(data_dict[name], value):
                did_change = True
            data_dict[name] = value
        self._has_data = True
        return did_change

    async def set_write(self, *, force_output: bool | None = None, **kwargs: typing.Any) -> SetWriteResult:
        """Set fields and write the message if anything changed (or if forced).

        Parameters
        ----------
        force_output : `bool`, optional
            Write even if nothing changed? None means the class default
            (False for events, True otherwise).
        **kwargs
            Field values, as for `set`.

        Returns
        -------
        result : `SetWriteResult`
            What changed and what was written.
        """
        return self._set_write_now(force_output=force_output, **kwargs)

    async def write(self) -> typing.Any:
        """Write the current data and return a copy of what was written.

        Raises
        ------
        RuntimeError
            If the SalInfo is not running (not started, or closed).
        """
        return self._write_now()

    def _set_write_now(self, *, force_output: bool | None = None, **kwargs: typing.Any) -> SetWriteResult:
        did_change = self.set(**kwargs)
        if force_output is None:
            force_output = self.default_force_output
        if did_change or force_output:
            data = self._write_now()
            return SetWriteResult(did_change=did_change, was_written=True, data=data)
        return SetWriteResult(
            did_change=did_change, was_written=False, data=_bus.copy_message(self._data, self._array_fields)
        )

    def _next_seq_num(self) -> int:
        seq_num = self._seq_num
        self._seq_num = self.min_seq_num if seq_num >= self.max_seq_num else seq_num + 1
        return seq_num

    def _make_sent(self, data: typing.Any) -> typing.Any:
        """Return the message as readers see it: a copy with plain Python values.

        Like Avro serialization in the real SAL, this turns enums into ints,
        ints into floats for float fields, and so on, and refuses values that
        do not fit their field's type (see `_avro`).

        Raises
        ------
        TypeError
            If a value does not fit its field's type.
        ValueError
            If an integer is out of range or an array field does not have the
            right length.
        """
        sent = _bus.copy_message(data, ())
        values = sent.__dict__
        for name, info in self.topic_info.fields.items():
            values[name] = _avro.check_value(self._topic_desc, info, values[name])
        return sent

    def _write_now(self, data: typing.Any = None) -> typing.Any:
        """Stamp and publish ``data`` (default: ``self.data``); return a copy."""
        self.salinfo.assert_running()
        if data is None:
            data = self._data
        utc = time.time()
        tai = utils.tai_from_utc_unix(utc)
        data.private_sndStamp = tai
        data.private_efdStamp = utc
        data.private_kafkaStamp = tai
        data.private_revCode = REV_CODE
        data.private_origin = self.salinfo.domain.origin
        data.private_identity = self.salinfo.identity
        if self._stamp_seq_num:
            data.private_seqNum = self._next_seq_num()
        if self.salinfo.indexed and self.salinfo.index != 0:
            data.salIndex = self.salinfo.index
        self._channel.publish(self._make_sent(data))
        return _bus.copy_message(data, self._array_fields)

    async def close(self) -> None:
        """Stop writing. Idempotent."""
        self.isopen = False

    def basic_close(self) -> None:
        """Synchronous version of `close`."""
        self.isopen = False
