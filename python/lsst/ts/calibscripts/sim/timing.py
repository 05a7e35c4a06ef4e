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

"""Simulated time: real durations by default, all scaled by one factor.

Every delay of the simulated observatory (readout, ingest, job duration...)
is written here in real seconds, as at the summit, and multiplied by one
``time_scale`` when it is slept. Tests use e.g. ``time_scale=0.001`` so a
2 s readout takes 2 ms; the order of events never depends on the scale,
because each CSC sleeps its delays in sequence and orders its events itself.
"""

from __future__ import annotations

__all__ = ["SIM_DATE_ENV_VAR", "Timing", "day_obs_of", "simulated_clock", "tai_to_astropy"]

import asyncio
import dataclasses
import datetime
import os
import typing
from collections.abc import Callable

if typing.TYPE_CHECKING:
    import astropy.time

ROLLOVER_SECONDS = 12 * 60 * 60
"""day_obs is the TAI date of (time - 12 h) (obs_lsst, SITCOMTN-032)."""

SIM_DATE_ENV_VAR = "CALIBSCRIPTS_SIM_DATE"
"""Environment variable that sets the simulated observatory's date (YYYY-MM-DD)."""

SECONDS_PER_DAY = 24 * 60 * 60


@dataclasses.dataclass(frozen=True)
class Timing:
    """Durations of the simulated observatory, in real (unscaled) seconds.

    Attributes
    ----------
    time_scale : `float`
        Factor applied to every delay below when it is slept (> 0).
        1.0 is real time; tests use e.g. 0.001.
    readout_time : `float`
        CCCamera readout: ``startReadout`` to ``endReadout`` (ComCam: 2.0 s).
    readout_start_delay : `float`
        End of integration (and of the final takeImages ack) to
        ``startReadout``.
    end_of_image_telemetry_delay : `float`
        ``endReadout`` to ``endOfImageTelemetry`` ("typically ~300 ms").
    shutter_time : `float`
        Added to the integration of images taken with the shutter open
        (ts_observatory_control ComCam ``shutter_time``): half of it opens
        the shutter (``startShutterOpen`` to ``endShutterOpen``), half closes
        it (``startShutterClose`` to ``endShutterClose``).
    filter_change_time : `float`
        CCCamera ``setFilter`` to another filter: ``startSetFilter`` to
        ``endSetFilter`` (half unloading the old filter, half loading the
        new one). An estimate, within the 60 s ts_observatory_control's
        ComCam allows for a filter change.
    spectrograph_move_time : `float`
        ATSpectrograph ``changeFilter``, ``changeDisperser`` or
        ``moveLinearStage``: command to ``*InPosition`` true. An estimate,
        within the 30 s ts_observatory_control's LATISS allows.
    header_delay : `float`
        CCHeaderService: ``endOfImageTelemetry`` to ``largeFileObjectAvailable``.
    ingest_delay : `float`
        CCOODS: ``endReadout`` to the first ``imageInOODS`` of the image.
    ingest_detector_interval : `float`
        CCOODS: time between the ``imageInOODS`` events of consecutive
        detectors of one image (so the events of consecutive images
        interleave when this times 9 exceeds the time between images).
    """

    time_scale: float = 1.0
    readout_time: float = 2.0
    readout_start_delay: float = 0.05
    end_of_image_telemetry_delay: float = 0.3
    shutter_time: float = 1.0
    filter_change_time: float = 30.0
    spectrograph_move_time: float = 5.0
    header_delay: float = 0.5
    ingest_delay: float = 3.0
    ingest_detector_interval: float = 0.3

    def __post_init__(self) -> None:
        if not self.time_scale > 0:
            raise ValueError(f"time_scale={self.time_scale} must be > 0")
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value < 0:
                raise ValueError(f"{field.name}={value} must be >= 0")

    def scaled(self, seconds: float) -> float:
        """Return how long ``seconds`` of simulated time lasts in real time."""
        return max(0.0, seconds) * self.time_scale

    async def sleep(self, seconds: float) -> None:
        """Sleep ``seconds`` of simulated time (always yields to the loop)."""
        await asyncio.sleep(self.scaled(seconds))


def day_obs_of(tai: float) -> int:
    """Return the observing day (YYYYMMDD) of a TAI unix time.

    The day rolls over at 12:00 TAI: it is the TAI calendar date of
    ``tai - 12 h``.

    Parameters
    ----------
    tai : `float`
        TAI unix seconds (as `lsst.ts.utils.current_tai` returns).

    Returns
    -------
    day_obs : `int`
        e.g. 20261125.
    """
    shifted = datetime.datetime.fromtimestamp(tai - ROLLOVER_SECONDS, tz=datetime.timezone.utc)
    return int(shifted.strftime("%Y%m%d"))


def tai_to_astropy(tai: float) -> astropy.time.Time:
    """Return a TAI unix time as an `astropy.time.Time` in the TAI scale."""
    import astropy.time

    return astropy.time.Time(tai, format="unix_tai", scale="tai")


def simulated_clock(
    date: str | None = None, current_tai: Callable[[], float] | None = None
) -> Callable[[], float]:
    """Return the TAI clock of the simulated observatory.

    By default it is the real TAI clock. With a date (or the environment
    variable ``CALIBSCRIPTS_SIM_DATE``) it runs at the real rate and keeps the
    real time of day, shifted by whole days to that date, so the camera's
    ``day_obs``, image names and exposure ids are those of that date.

    Parameters
    ----------
    date : `str`, optional
        Simulated date as ``YYYY-MM-DD``; default the value of
        ``CALIBSCRIPTS_SIM_DATE`` if set and not empty, else the real date.
    current_tai : callable, optional
        The real TAI clock (default `lsst.ts.calibscripts.sal.current_tai`).

    Returns
    -------
    clock : callable
        Returns TAI unix seconds.

    Raises
    ------
    ValueError
        If the date is not a valid ``YYYY-MM-DD`` date; the message names
        where it came from.
    """
    if current_tai is None:
        from ..sal import current_tai
    assert current_tai is not None
    source = "date"
    if date is None:
        date = os.environ.get(SIM_DATE_ENV_VAR, "").strip()
        source = SIM_DATE_ENV_VAR
    if not date:
        return current_tai
    try:
        target = datetime.date.fromisoformat(date)
        if len(date) != 10:
            raise ValueError("not YYYY-MM-DD")
    except ValueError:
        raise ValueError(f"{source}={date!r} is not a date of the form YYYY-MM-DD") from None
    today = datetime.datetime.fromtimestamp(current_tai(), tz=datetime.timezone.utc).date()
    offset = (target - today).days * SECONDS_PER_DAY
    real_clock = current_tai

    def clock() -> float:
        return real_clock() + offset

    return clock
