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

"""SIGINT/SIGTERM handling shared by BaseCsc and BaseScript.

Like ts_salobj, a CSC or script installs SIGINT and SIGTERM handlers on
the event loop when it is constructed. In addition, so that a stuck
process can still be stopped: a handler removes itself when it runs (a
second signal has its default effect), and the handlers are removed when
the object that installed them closes.
"""

from __future__ import annotations

__all__ = ["install_signal_handlers", "remove_signal_handlers"]

import asyncio
import signal
import typing
import weakref

_SIGNALS = (signal.SIGINT, signal.SIGTERM)

# Event loop: the object whose handlers are installed on it.
_owners: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, typing.Any] = weakref.WeakKeyDictionary()


def install_signal_handlers(owner: typing.Any, handler: typing.Callable[[], None]) -> None:
    """Make SIGINT and SIGTERM call ``handler`` (once) in the running loop.

    Does nothing if signals cannot be handled here (not the main thread).

    Parameters
    ----------
    owner : `object`
        The object installing the handlers (for `remove_signal_handlers`).
    handler : callable
        Function to call, with no arguments.
    """
    loop = asyncio.get_running_loop()

    def handle_once() -> None:
        _remove(loop)
        handler()

    try:
        for sig in _SIGNALS:
            loop.add_signal_handler(sig, handle_once)
    except (RuntimeError, ValueError, NotImplementedError):
        return
    _owners[loop] = owner


def _remove(loop: asyncio.AbstractEventLoop) -> None:
    _owners.pop(loop, None)
    if loop.is_closed():
        return
    for sig in _SIGNALS:
        try:
            loop.remove_signal_handler(sig)
        except (RuntimeError, ValueError, NotImplementedError):
            pass


def remove_signal_handlers(owner: typing.Any) -> None:
    """Remove the handlers ``owner`` installed, if they are still the loop's handlers.

    Parameters
    ----------
    owner : `object`
        The object that installed the handlers.
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    if _owners.get(loop) is owner:
        _remove(loop)
