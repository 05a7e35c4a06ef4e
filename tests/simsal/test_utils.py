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

"""The lsst.ts.utils stand-in."""

import asyncio
import time

import astropy.time
import pytest
from lsst.ts.calibscripts.simsal import utils


def test_current_tai() -> None:
    before = time.time()
    tai = utils.current_tai()
    after = time.time()
    now = astropy.time.Time(before, format="unix", scale="utc")
    offset = now.unix_tai - now.unix
    assert offset == pytest.approx(37.0)
    assert before + offset <= tai <= after + offset


def test_index_generator() -> None:
    gen = utils.index_generator(imin=3, imax=5)
    assert [next(gen) for _ in range(5)] == [3, 4, 5, 3, 4]
    gen = utils.index_generator(imin=1, imax=10, i0=9)
    assert [next(gen) for _ in range(3)] == [9, 10, 1]
    with pytest.raises(ValueError):
        next(utils.index_generator(imin=5, imax=5))
    with pytest.raises(ValueError):
        next(utils.index_generator(imin=1, imax=5, i0=7))


async def test_make_done_future() -> None:
    future = utils.make_done_future()
    assert isinstance(future, asyncio.Future)
    assert future.done() and future.result() is None


def test_tai_conversions() -> None:
    tai = utils.current_tai()
    utc = utils.utc_from_tai_unix(tai)
    assert tai - utc == pytest.approx(37.0)
    assert utils.tai_from_utc_unix(utc) == pytest.approx(tai)
    as_time = utils.astropy_time_from_tai_unix(tai)
    assert as_time.scale == "tai"
    assert as_time.utc.unix == pytest.approx(utc, abs=1e-5)
    # Between the 2015 and 2017 leap seconds the offset was 36 s.
    assert utils.tai_from_utc_unix(1.45e9) - 1.45e9 == pytest.approx(36.0)
