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

"""The Domain: the set of SalInfos sharing one identity and origin."""

from __future__ import annotations

__all__ = ["Domain"]

import asyncio
import functools
import os
import types
import typing
import weakref

from .base import get_user_host

if typing.TYPE_CHECKING:
    from .sal_info import SalInfo


@functools.cache
def _cached_user_host() -> str:
    return get_user_host()


class Domain:
    """Container of `SalInfo` objects.

    Attributes
    ----------
    origin : `int`
        Process ID, stamped as ``private_origin`` on every message.
    user_host : `str`
        ``user@host``.
    default_identity : `str`
        Identity given to new SalInfos (``private_identity`` of what they
        write). A `Controller` sets it to its ``name_index``.
    salinfo_set : `weakref.WeakSet` [`SalInfo`]
        The SalInfos of this domain.
    isopen : `bool`
        Is the domain open?
    """

    def __init__(self) -> None:
        self.origin = os.getpid()
        self.user_host = _cached_user_host()
        self.default_identity = self.user_host
        self.isopen = True
        self.salinfo_set: weakref.WeakSet[SalInfo] = weakref.WeakSet()
        self._done_task: asyncio.Future | None = None

    @property
    def done_task(self) -> asyncio.Future:
        """A future that is done when the domain is closed."""
        if self._done_task is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                loop = asyncio.get_event_loop_policy().get_event_loop()
            self._done_task = loop.create_future()
            if not self.isopen:
                self._done_task.set_result(None)
        return self._done_task

    def add_salinfo(self, salinfo: SalInfo) -> None:
        """Add a SalInfo (called by SalInfo)."""
        if not self.isopen:
            raise RuntimeError("Domain is closed")
        self.salinfo_set.add(salinfo)

    def remove_salinfo(self, salinfo: SalInfo) -> bool:
        """Remove a SalInfo; return True if it was present."""
        if salinfo in self.salinfo_set:
            self.salinfo_set.remove(salinfo)
            return True
        return False

    def basic_close(self) -> None:
        """Close every SalInfo, synchronously. Idempotent."""
        was_open = self.isopen
        self.isopen = False
        for salinfo in list(self.salinfo_set):
            salinfo.basic_close()
        if was_open and self._done_task is not None and not self._done_task.done():
            self._done_task.set_result(None)

    async def close(self) -> None:
        """Close every SalInfo. Idempotent."""
        if not self.isopen:
            return
        self.isopen = False
        for salinfo in list(self.salinfo_set):
            await salinfo.close()
        if self._done_task is not None and not self._done_task.done():
            self._done_task.set_result(None)

    async def __aenter__(self) -> Domain:
        return self

    async def __aexit__(
        self,
        type: type[BaseException] | None,
        value: BaseException | None,
        traceback: types.TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"Domain(origin={self.origin}, default_identity={self.default_identity!r})"
