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

"""Stand-in for the parts of ``lsst.ts.utils`` used here.

`current_tai` returns TAI as unix seconds (UTC unix time plus the current
TAI-UTC offset, 37 s since 2017), like ``lsst.ts.utils.current_tai``.
"""

from __future__ import annotations

__all__ = [
    "current_tai",
    "tai_from_utc_unix",
    "utc_from_tai_unix",
    "astropy_time_from_tai_unix",
    "index_generator",
    "make_done_future",
    "MAX_SAL_INDEX",
]

import asyncio
import collections.abc
import time
import typing
import warnings

if typing.TYPE_CHECKING:
    import astropy.time

#: The largest SAL index.
MAX_SAL_INDEX = 2**31 - 1

_SECONDS_PER_DAY = 86400.0

# Cache of the TAI-UTC offset: (UTC day number, offset in seconds).
_tai_offset_cache: tuple[int, float] | None = None


def _tai_minus_utc(utc_unix: float) -> float:
    """Return TAI - UTC in seconds at the given UTC unix time (cached per UTC day)."""
    global _tai_offset_cache
    day = int(utc_unix // _SECONDS_PER_DAY)
    cache = _tai_offset_cache
    if cache is not None and cache[0] == day:
        return cache[1]
    import astropy.time

    with warnings.catch_warnings():
        # An expired bundled leap-second table only warns; the offset is still right.
        warnings.simplefilter("ignore")
        # Use the start of the UTC day so that every time in the day agrees.
        day_start = astropy.time.Time(day * _SECONDS_PER_DAY, format="unix", scale="utc")
        offset = float(round(day_start.unix_tai - day_start.unix))
    _tai_offset_cache = (day, offset)
    return offset


def tai_from_utc_unix(utc_unix: float) -> float:
    """Convert UTC unix seconds to TAI unix seconds.

    Parameters
    ----------
    utc_unix : `float`
        UTC time as unix seconds (e.g. `time.time`).

    Returns
    -------
    tai : `float`
        TAI time as unix seconds.
    """
    return utc_unix + _tai_minus_utc(utc_unix)


def utc_from_tai_unix(tai_unix: float) -> float:
    """Convert TAI unix seconds to UTC unix seconds.

    Parameters
    ----------
    tai_unix : `float`
        TAI time as unix seconds.

    Returns
    -------
    utc : `float`
        UTC time as unix seconds (ambiguous within a leap second).
    """
    utc_guess = tai_unix - _tai_minus_utc(tai_unix)
    return tai_unix - _tai_minus_utc(utc_guess)


def astropy_time_from_tai_unix(tai_unix: float) -> astropy.time.Time:
    """Return an `astropy.time.Time` (scale TAI) for TAI unix seconds.

    Parameters
    ----------
    tai_unix : `float`
        TAI time as unix seconds.
    """
    import astropy.time

    utc = astropy.time.Time(utc_from_tai_unix(tai_unix), format="unix", scale="utc")
    return utc.tai


def current_tai() -> float:
    """Return the current TAI time as unix seconds."""
    return tai_from_utc_unix(time.time())


def index_generator(
    imin: int = 1, imax: int = MAX_SAL_INDEX, i0: int | None = None
) -> collections.abc.Generator[int, None, None]:
    """Yield successive integers from ``i0`` to ``imax``, then wrap to ``imin``.

    Parameters
    ----------
    imin : `int`, optional
        Smallest value.
    imax : `int`, optional
        Largest value.
    i0 : `int`, optional
        First value; defaults to ``imin``.

    Raises
    ------
    ValueError
        If ``imax <= imin`` or ``i0`` is outside ``[imin, imax]``.
    """
    if imax <= imin:
        raise ValueError(f"imin={imin} must be less than imax={imax}")
    if i0 is None:
        i0 = imin
    if not imin <= i0 <= imax:
        raise ValueError(f"i0={i0} must be in the range [{imin}, {imax}]")
    value = i0
    while True:
        yield value
        value = imin if value >= imax else value + 1


def make_done_future() -> asyncio.Future:
    """Return a future that is already done (with result None)."""
    future: asyncio.Future = asyncio.Future()
    future.set_result(None)
    return future
