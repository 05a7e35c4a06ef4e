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

"""A group of Remotes, as ``lsst.ts.observatory.control.RemoteGroup`` (subset)."""

from __future__ import annotations

__all__ = ["RemoteGroup"]

import asyncio
import logging
import types
import typing
from collections.abc import Iterable, Mapping

from .. import salobj

ALL = None


class RemoteGroup:
    """A set of SAL components commanded together.

    Parameters
    ----------
    components : `list` [`str`]
        Component names, ``Name`` or ``Name:index`` (e.g. ``OCPS:2``).
    domain : `salobj.Domain`, optional
        Domain of the Remotes; one is created (and closed by `close`) if
        None.
    log : `logging.Logger`, optional
        Parent logger; the group logs to its child named after the class.
    intended_usage : `int`, optional
        Not used by this base class (every topic is read).
    concurrent_operation : `bool`, optional
        Accepted for compatibility.

    Notes
    -----
    As in ts_observatory_control: ``rem.<component>`` is the Remote of each
    component (name lower-cased, ``:`` replaced by ``_``); ``check.<component>``
    says whether state checks include it; ``start_task`` gathers the
    Remotes' start tasks; `assert_all_enabled` reads each checked
    component's ``summaryState`` (5 s timeout).
    """

    def __init__(
        self,
        components: list[str],
        domain: salobj.Domain | None = None,
        log: logging.Logger | None = None,
        intended_usage: int | None = None,
        concurrent_operation: bool = True,
    ) -> None:
        self.fast_timeout = 5.0
        self.long_timeout = 30.0
        self.long_long_timeout = 120.0
        if log is None:
            self.log = logging.getLogger(type(self).__name__)
        else:
            self.log = log.getChild(type(self).__name__)
        self._components = list(components)
        self._components_attr = [name.lower().replace(":", "_") for name in self._components]
        self._owns_domain = domain is None
        self._domain = salobj.Domain() if domain is None else domain
        self._concurrent_operation = concurrent_operation
        resources = self._resources(intended_usage)
        self.rem = types.SimpleNamespace()
        self.check = types.SimpleNamespace()
        for name, attr in zip(self._components, self._components_attr):
            if attr not in resources:
                setattr(self.rem, attr, None)
                setattr(self.check, attr, False)
                continue
            readonly, include = resources[attr]
            sal_name, index = salobj.name_to_name_index(name)
            remote = salobj.Remote(
                self._domain,
                sal_name,
                index if index != 0 else None,
                readonly=readonly,
                include=None if include is None else list(include),
            )
            setattr(self.rem, attr, remote)
            setattr(self.check, attr, True)
        remotes = [remote for remote in vars(self.rem).values() if remote is not None]
        self.start_task: asyncio.Future | None = (
            asyncio.gather(*[remote.start_task for remote in remotes]) if remotes else None
        )

    def _resources(self, intended_usage: int | None) -> Mapping[str, tuple[bool, Iterable[str] | None]]:
        """Return ``{component_attr: (readonly, include)}`` for a usage.

        The base class reads every topic of every component.
        """
        return {attr: (False, None) for attr in self._components_attr}

    @property
    def components(self) -> list[str]:
        """Component names, as given."""
        return list(self._components)

    @property
    def components_attr(self) -> list[str]:
        """Attribute names of the components in ``rem`` and ``check``."""
        return list(self._components_attr)

    async def _get_state(self, component_attr: str) -> salobj.State:
        remote = getattr(self.rem, component_attr)
        try:
            data = await remote.evt_summaryState.aget(timeout=self.fast_timeout)
        except asyncio.TimeoutError:
            raise asyncio.TimeoutError(
                f"Timeout getting summary state for {component_attr} "
                f"(no summaryState within {self.fast_timeout} s)."
            )
        return salobj.State(data.summaryState)

    async def assert_all_enabled(self, message: str = "") -> None:
        """Raise `AssertionError` unless every checked component is ENABLED.

        Parameters
        ----------
        message : `str`, optional
            Appended to the error message.

        Raises
        ------
        AssertionError
            If a checked component is not ENABLED.
        asyncio.TimeoutError
            If a component's summary state cannot be read in 5 s.
        """
        checked = [attr for attr in self._components_attr if getattr(self.check, attr)]
        states = await asyncio.gather(*[self._get_state(attr) for attr in checked])
        not_enabled = [attr for attr, state in zip(checked, states) if state != salobj.State.ENABLED]
        if not_enabled:
            raise AssertionError(f"The following components are not enabled: {not_enabled}. {message}")

    async def close(self) -> None:
        """Close the Remotes, and the Domain if the group created it."""
        for remote in vars(self.rem).values():
            if remote is not None:
                await remote.close()
        if self._owns_domain:
            await self._domain.close()

    async def __aenter__(self) -> typing.Self:
        if self.start_task is not None:
            await self.start_task
        return self

    async def __aexit__(self, *args: typing.Any) -> None:
        await self.close()
