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

"""Basic salobj names: errors, index helpers and host identification."""

from __future__ import annotations

__all__ = [
    "AckError",
    "AckTimeoutError",
    "ExpectedError",
    "WildcardIndexError",
    "MAX_SAL_INDEX",
    "LOCAL_HOST",
    "get_user_host",
    "name_to_name_index",
]

import getpass
import re
import socket

from ..utils import MAX_SAL_INDEX
from ..xml.sal_enums import SalRetCode
from ..xml.type_hints import AckCmdDataType

#: The IP address of the local host.
LOCAL_HOST = "127.0.0.1"

_NAME_INDEX_RE = re.compile(r"^([a-zA-Z][_A-Za-z0-9]*)(:(\d+|\*))?$")


class ExpectedError(Exception):
    """An error that does not merit a logged traceback (e.g. a command not allowed in this state)."""


class WildcardIndexError(ValueError):
    """A ``name:*`` specification was given where a specific index is needed."""


def _format_ackcmd(ackcmd: AckCmdDataType) -> str:
    try:
        ack = SalRetCode(ackcmd.ack)
    except ValueError:
        ack = ackcmd.ack
    return (
        f"ackcmd private_seqNum={ackcmd.private_seqNum}, ack={ack!r}, "
        f"error={ackcmd.error}, result={ackcmd.result!r}"
    )


class AckError(Exception):
    """A command failed: the final acknowledgement was not ``CMD_COMPLETE``.

    Parameters
    ----------
    msg : `str`
        Error message.
    ackcmd : ``AckCmdType``
        The command acknowledgement that caused the error.
    """

    def __init__(self, msg: str, ackcmd: AckCmdDataType) -> None:
        super().__init__(msg)
        self.msg = msg
        self.ackcmd = ackcmd

    def __str__(self) -> str:
        return f"msg={self.msg!r}, ackcmd=({_format_ackcmd(self.ackcmd)})"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self})"


class AckTimeoutError(AckError):
    """Timed out waiting for a command acknowledgement.

    ``ackcmd`` is the last acknowledgement seen, or a synthesised
    ``CMD_NOACK`` one if none was seen.
    """


def get_user_host() -> str:
    """Return ``user@host`` for this process."""
    try:
        user = getpass.getuser()
    except Exception:
        user = "unknown"
    return f"{user}@{socket.getfqdn()}"


def name_to_name_index(name: str) -> tuple[str, int]:
    """Split ``"Name"`` or ``"Name:index"`` into name and index.

    Parameters
    ----------
    name : `str`
        SAL component name, optionally followed by ``:`` and an index.

    Returns
    -------
    name_index : `tuple` [`str`, `int`]
        Component name and index (0 if no index given).

    Raises
    ------
    ValueError
        If ``name`` is not of the right form.
    WildcardIndexError
        If the index is ``*``.
    """
    match = _NAME_INDEX_RE.match(name)
    if match is None:
        raise ValueError(f"name={name!r} is not of the form 'name' or 'name:index'")
    component, _, index_str = match.groups()
    if index_str is None:
        return component, 0
    if index_str == "*":
        raise WildcardIndexError(f"name={name!r} has a wildcard index")
    return component, int(index_str)
