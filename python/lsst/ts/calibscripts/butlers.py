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

"""Butler opens that read a repository's configuration once per process.

Opening a daf_butler repository with `lsst.daf.butler.Butler.from_config`
parses its configuration (a dozen YAML files) and builds the registry's
table schemas: about a tenth of a second of CPU, and most of what a quick
read or a certification costs. `open_butler` opens each repository (per
``writeable``) once per process and hands out
`~lsst.daf.butler.Butler.clone` copies of that first butler. A clone shares
the parsed configuration, the table schemas and the connection pool, and has
its own registry caches and defaults; daf_butler guarantees that it sees
every change made to the repository before it was made (by this process or
another: a job's output collections, a new certification), exactly as a
butler opened afresh would.

The first butler is kept per (repository, ``writeable``, process) and, for
a repository on a local file system, per identity of its ``butler.yaml`` and
registry file, so a repository deleted and made again at the same path is
opened afresh. At most `MAX_OPEN` are kept; the oldest is closed first.
Opening is blocking: call it in a worker thread from async code.

This module imports nothing from the rest of the package.

Public API
----------
`open_butler` (repo, writeable=..., collections=..., run=...)
    a butler on ``repo`` (the caller closes it).
`forget_open_butlers` ()
    close the kept butlers (the next open parses the configuration again).
"""

from __future__ import annotations

__all__ = ["MAX_OPEN", "open_butler", "forget_open_butlers"]

import collections
import os
import threading
import typing

if typing.TYPE_CHECKING:
    from lsst.daf.butler import Butler

MAX_OPEN = 8
"""How many first butlers a process keeps (each holds a connection pool)."""

_REGISTRY_FILE = "gen3.sqlite3"
"""The registry file of a local repository (daf_butler's default)."""

_Key = tuple[typing.Hashable, ...]

_lock = threading.Lock()
_kept: collections.OrderedDict[_Key, Butler] = collections.OrderedDict()


def _file_identity(path: str) -> tuple[int, int] | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return (stat.st_dev, stat.st_ino)


def _key(repo: str, writeable: bool) -> _Key:
    """Where a kept butler may be reused: same repository, mode, process and files."""
    root = repo
    if os.path.isfile(repo):
        root = os.path.dirname(repo)
        config = repo
    else:
        config = os.path.join(repo, "butler.yaml")
    identity = (_file_identity(config), _file_identity(os.path.join(root, _REGISTRY_FILE)))
    return (os.getpid(), repo, writeable, identity)


def open_butler(
    repo: str,
    writeable: bool = False,
    *,
    collections: typing.Any = None,
    run: str | None = None,
) -> Butler:
    """Open ``repo``, reading its configuration only the first time in this process.

    Parameters
    ----------
    repo : `str`
        Repository root, ``butler.yaml`` or any label `Butler.from_config`
        accepts.
    writeable : `bool`
        Open read-write.
    collections : `str` or sequence of `str`, optional
        Default collections of the returned butler.
    run : `str`, optional
        Default output run of the returned butler.

    Returns
    -------
    butler : `lsst.daf.butler.Butler`
        A butler of its own (a clone of the one first opened); the caller
        closes it, which leaves the kept one open.

    Raises
    ------
    Exception
        Whatever `Butler.from_config` raises when ``repo`` cannot be opened
        (nothing is kept then).
    """
    from lsst.daf.butler import Butler

    key = _key(repo, writeable)
    with _lock:
        first = _kept.get(key)
        if first is not None:
            _kept.move_to_end(key)
    if first is None:
        opened = Butler.from_config(repo, writeable=writeable)
        with _lock:
            first = _kept.setdefault(key, opened)
            evicted = [_kept.popitem(last=False)[1] for _ in range(len(_kept) - MAX_OPEN)]
        if first is not opened:
            evicted.append(opened)
        for butler in evicted:
            butler.close()
    with _lock:
        clone_args: dict[str, typing.Any] = {"run": run}
        if collections is not None:
            clone_args["collections"] = collections
        return first.clone(**clone_args)


def forget_open_butlers() -> None:
    """Close every kept butler; the next `open_butler` of a repository opens it afresh."""
    with _lock:
        kept = list(_kept.values())
        _kept.clear()
    for butler in kept:
        butler.close()
