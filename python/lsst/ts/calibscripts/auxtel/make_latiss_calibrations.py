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

"""MakeLATISSCalibrations: LATISS biases, darks and flats in one run.

The procedure is the camera-generic
`~lsst.ts.calibscripts.calib.script.BaseMakeCalibrations`: configure makes
the plan (``schemas/make_latiss_calibrations.yaml``), run checks the CSCs
once (ATCamera, ATSpectrograph, ATHeaderService, ATOODS, OCPS:1 and the
repository) and that the spectrograph's wheels hold the flats' filter and
grating, then takes bias, dark and flat frames of the one detector
(``RXX_S00``) in that order while each type's processing (cpBias, cpDark,
cpFlat and their verification through OCPS:1, judgement, certification)
runs as soon as its frames are in. Just before the first flat the filter
and grating are put in the beam through the LATISS group (ATSpectrograph
``changeFilter``/``changeDisperser``, together) and what ATSpectrograph
then reports is checked; a change that fails or does not end fails the
flats only. The flat is certified under the physical filter
``FILTER~GRATING`` (``SDSSr_65mm~empty``).

Unlike upstream's LATISS script, the filter and grating are set only when
flats are taken (biases and darks are closed-shutter frames), both are
required for flats, they must be names of the spectrograph's wheels, and
the spectrograph's report is checked before the first flat.

Checkpoints: ``preflight`` (the wheels are checked there), then
``<type>:<stage>``, with ``flat:set_filter`` before the spectrograph moves.
"""

from __future__ import annotations

__all__ = ["MakeLATISSCalibrations", "check_grating", "spectrograph_names"]

import asyncio
import functools
import typing

from ..calib.aio import wait_within
from ..calib.config import ConfigError
from ..calib.plan import MODE_TYPES
from ..calib.procedure import describe_error
from ..calib.script import BaseMakeCalibrations, FilterNotSet
from ..cameras import LATISS
from ..sal import salobj

SCHEMA_NAME = "make_latiss_calibrations.yaml"

POSITION_REPORT_GRACE = 5.0
"""Seconds the reported filter and grating may lag the end of their change (s)."""

POSITION_POLL_INTERVAL = 0.02
"""Seconds between two reads of the reported positions while they lag (s)."""

DESCRIPTION = (
    "Take LATISS biases, darks and flats; build each calibration through OCPS:1 "
    "(cpBias, cpDark on this run's bias, cpFlat on this run's bias and dark), verify and certify it."
)

HELP = """Options are described in the configuration schema (--schema).
Minimal configuration:
    script_mode: BIAS_DARK_FLAT
    filter: SDSSr_65mm
    grating: empty_1
    generate_calibrations: true
    calib_collection: LATISS/calib/daily
"""


@functools.cache
def spectrograph_names(option: str) -> tuple[str, ...]:
    """The names the schema's ``filter`` or ``grating`` option accepts (the ATSpectrograph wheels)."""
    from ..schemas import load_schema

    for alternative in load_schema(SCHEMA_NAME)["properties"][option]["anyOf"]:
        if "enum" in alternative:
            return tuple(alternative["enum"])
    raise RuntimeError(f"{SCHEMA_NAME}: {option} lists no names")  # pragma: no cover


def check_grating(config: typing.Any) -> str | None:
    """Check the ``grating`` option against ``script_mode``, as ``filter`` is.

    Parameters
    ----------
    config : `types.SimpleNamespace` or `dict`
        The configuration after schema validation (defaults filled).

    Returns
    -------
    grating : `str` or `None`
        The grating of the flats; None when no flat is taken.

    Raises
    ------
    ConfigError
        Not given while flats are taken, given while none are, or not a
        grating of the disperser wheel (the message lists the gratings).
    """
    values = dict(config) if isinstance(config, typing.Mapping) else dict(vars(config))
    script_mode = values.get("script_mode")
    grating = values.get("grating")
    takes_flats = "FLAT" in MODE_TYPES.get(str(script_mode), ())
    gratings = spectrograph_names("grating")
    if grating is None:
        if takes_flats:
            raise ConfigError(
                "grating",
                f"not given, but script_mode {script_mode} takes flats; give one of {', '.join(gratings)} "
                "(empty_1 for no disperser)",
            )
        return None
    if not isinstance(grating, str) or grating not in gratings:
        raise ConfigError(
            "grating", f"{grating!r} is not a LATISS grating; give one of {', '.join(gratings)}"
        )
    if not takes_flats:
        raise ConfigError(
            "grating",
            f"{grating!r} given, but script_mode {script_mode} takes no flats (biases and darks are taken "
            "with the shutter closed); leave grating out or choose a mode with FLAT",
        )
    return grating


class MakeLATISSCalibrations(BaseMakeCalibrations):
    """Take, build, verify and certify LATISS biases, darks and flats.

    Parameters
    ----------
    index : `int`
        The Script SAL index.
    """

    camera = LATISS
    """The camera: LATISS (OCPS:1, ATOODS, filter and grating through ATSpectrograph)."""
    schema_name = SCHEMA_NAME
    """The configuration schema."""

    def __init__(self, index: int = 1) -> None:
        super().__init__(index=index, descr=DESCRIPTION, help=HELP)
        self.grating: str | None = None

    async def configure(self, config: typing.Any) -> None:
        """Check the grating with the mode, then make the plan (see the base class).

        Raises
        ------
        ConfigError
            Naming the option (``grating``, ``filter``, ...).
        """
        grating = check_grating(config)
        await super().configure(config)
        self.grating = grating

    def plan_text(self) -> str:
        """The base plan text, with the flats' grating and physical filter."""
        text = super().plan_text()
        flat_filters = [t.filter for t in self.require_plan().types if t.filter]
        if flat_filters and self.grating is not None:
            physical = self.camera.physical_filter(flat_filters[0], self.grating)
            text += f"; flats through grating {self.grating} (physical filter {physical})"
        return text

    def butler_physical_filter(self, filter_name: str) -> str:
        """The flats' butler ``physical_filter``: ``FILTER~GRATING`` (the configured grating)."""
        return self.camera.physical_filter(filter_name, self.grating)

    def set_metadata(self, metadata: typing.Any) -> None:
        """As the base class; the filters are the flats' physical filter ``FILTER~GRATING``."""
        super().set_metadata(metadata)
        flat_filters = [t.filter for t in self.require_plan().types if t.filter]
        if flat_filters and self.grating is not None and hasattr(metadata, "filters"):
            metadata.filters = self.camera.physical_filter(flat_filters[0], self.grating)

    async def check_filter(self, physical_filter: str) -> None:
        """Before any frame: check that the spectrograph's wheels hold the flats' filter and grating.

        The base class calls this at preflight. Nothing moves yet: the
        filter and grating are put in the beam just before the first flat
        (`set_filter`), so a change that fails costs only the flats and the
        bias and dark are still built and certified.

        Raises
        ------
        FilterNotSet
            ATSpectrograph does not report its wheels, or they do not hold
            the filter or grating; the message lists what they hold.
        """
        component = self.camera.filter_component
        try:
            filters, gratings, _ = await self.group.get_available_instrument_setup()
        except (asyncio.TimeoutError, salobj.AckError, RuntimeError) as e:
            raise FilterNotSet(
                f"{component} reports no filter and grating names (settingsAppliedValues): "
                f"{describe_error(e)}; check that {component} is running; no frame was taken"
            ) from e
        missing = [
            f"{kind} {name!r} (the {kind} wheel holds {', '.join(names)})"
            for kind, name, names in (
                ("filter", physical_filter, filters),
                ("grating", self.grating, gratings),
            )
            if name not in names
        ]
        if missing:
            raise FilterNotSet(
                f"{component} has no {' and no '.join(missing)}; choose what is installed or change the "
                "wheel; no frame was taken"
            )

    async def set_filter(self, physical_filter: str) -> None:
        """Put the flats' filter and grating in the beam through ATSpectrograph and check both.

        The base class calls it just before the first flat, after checkpoint
        ``flat:set_filter``; what it raises fails the flats only.

        Both changes are sent together through the LATISS group
        (``setup_instrument(filter=..., grating=...)``); then the filter and
        grating ATSpectrograph reports must be the ones asked for.

        Parameters
        ----------
        physical_filter : `str`
            The filter (a name of the filter wheel; the grating is
            ``self.grating``).

        Raises
        ------
        FilterNotSet
            A change was refused, failed or did not end in time, or
            ATSpectrograph reports another filter or grating; the message
            names ATSpectrograph, what was asked for and what is in the beam.
        """
        component = self.camera.filter_component
        grating = self.grating
        asked = f"filter {physical_filter} and grating {grating}"
        timeout = self.camera.filter_change_timeout * 2
        try:
            await wait_within(self.group.setup_instrument(filter=physical_filter, grating=grating), timeout)
            current_filter, current_grating = await self.reported_setup((physical_filter, grating))
        except asyncio.TimeoutError:
            raise FilterNotSet(
                f"{asked} not in the beam within {timeout:g} s through {component}; {await self.in_beam()}; "
                f"check {component}; no flat was taken"
            ) from None
        except (salobj.AckError, RuntimeError) as e:
            raise FilterNotSet(
                f"{asked} could not be set through {component}: {describe_error(e)}; "
                f"{await self.in_beam()}; no flat was taken"
            ) from e
        if (current_filter, current_grating) != (physical_filter, grating):
            raise FilterNotSet(
                f"{component} reports filter {current_filter!r} and grating {current_grating!r} in the beam "
                f"after setting {asked}; no flat was taken"
            )
        self.log.info(
            f"Filter {physical_filter} and grating {grating} in the beam ({component}); the flats' "
            f"physical filter is {self.camera.physical_filter(physical_filter, grating)}"
        )

    async def reported_setup(self, wanted: tuple[str, str | None]) -> tuple[str, str]:
        """The filter and grating ATSpectrograph reports, once they are ``wanted`` or after a grace.

        The reported positions are events, the end of the change is a
        command acknowledgement: different topics, which the middleware may
        deliver in either order. So the report is read again for up to
        `POSITION_REPORT_GRACE` seconds after the change ended before it is
        taken as what is in the beam.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + POSITION_REPORT_GRACE
        while True:
            current_filter, current_grating, _ = await self.group.get_setup()
            if (current_filter, current_grating) == wanted or loop.time() >= deadline:
                return current_filter, current_grating
            await asyncio.sleep(POSITION_POLL_INTERVAL)

    async def in_beam(self) -> str:
        """What ATSpectrograph last reported in the beam, as text for an error message."""
        component = self.camera.filter_component
        try:
            current_filter, current_grating, _ = await self.group.get_setup()
        except (asyncio.TimeoutError, salobj.AckError, RuntimeError) as e:
            return f"{component} reports no filter or grating position ({describe_error(e)})"
        text = f"{component} reports filter {current_filter} and grating {current_grating} in the beam"
        spectrograph = self.group.rem.atspectrograph
        moving = [
            f"the {kind} wheel reports not in position"
            for kind, topic in (
                ("filter", spectrograph.evt_filterInPosition),
                ("grating", spectrograph.evt_disperserInPosition),
            )
            if (sample := topic.get()) is not None and not sample.inPosition
        ]
        return text + (f" ({', '.join(moving)})" if moving else "")
