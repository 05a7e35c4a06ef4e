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

"""MakeLSSTCamCalibrations: LSSTCam biases, darks and flats in one run.

The procedure is the camera-generic
`~lsst.ts.calibscripts.calib.script.BaseMakeCalibrations` with the LSSTCam
profile: configure makes the plan (``schemas/make_lsstcam_calibrations.yaml``;
detectors by id or name, the 189 science sensors by default), run checks the
CSCs once (MTCamera, MTHeaderService, MTOODS, OCPS:3 and the repository),
checks that the flats' filter is in the beam, then takes bias, dark and flat
frames in that order while each type's processing (cpBias, cpDark, cpFlat
and their verification through OCPS:3, judgement, certification) runs as
soon as its frames are in.

What LSSTCam adds, as upstream does: right before the first flat the dome
components are checked (`MakeLSSTCamCalibrations.check_before_frames`):
MTDomeTrajectory must be ENABLED (it publishes the vignetting state) and
MTDome DISABLED or ENABLED. Otherwise the flats are refused before any flat
frame, with the component, its state and what to do; the biases and darks
already taken are processed and kept. ``ignore`` skips a component.
"""

from __future__ import annotations

__all__ = ["DOME_REQUIREMENTS", "DomeNotReady", "MakeLSSTCamCalibrations"]

import asyncio
import typing

from ..calib.plan import TypePlan
from ..calib.script import BaseMakeCalibrations
from ..cameras import LSSTCAM
from ..errors import CalibScriptsError
from ..sal import State, salobj

DESCRIPTION = (
    "Take LSSTCam biases, darks and flats; build each calibration through OCPS:3 "
    "(cpBias, cpDark on this run's bias, cpFlat on this run's bias and dark), verify and certify it."
)

HELP = """Options are described in the configuration schema (--schema).
Minimal configuration:
    script_mode: BIAS_DARK_FLAT
    filter: r_57
    generate_calibrations: true
    calib_collection: LSSTCam/calib/daily
Detectors default to the 189 science sensors (0..188); e.g. detectors: [94, "R00_SG0"].
"""

DOME_REQUIREMENTS: dict[str, tuple[tuple[State, ...], str]] = {
    "MTDomeTrajectory": ((State.ENABLED,), "it publishes the vignetting state the flats are labelled with"),
    "MTDome": ((State.DISABLED, State.ENABLED), "it publishes the dome position the vignetting depends on"),
}
"""Component -> (states allowed before flats, why), as upstream checks them."""

DOME_STATE_TIMEOUT = 10.0
"""Seconds to wait for a dome component's ``summaryState`` before the flats."""


class DomeNotReady(CalibScriptsError, salobj.ExpectedError):
    """A dome component is not in the state the flats need; the message names it."""


class MakeLSSTCamCalibrations(BaseMakeCalibrations):
    """Take, build, verify and certify LSSTCam biases, darks and flats.

    Parameters
    ----------
    index : `int`
        The Script SAL index.
    """

    camera = LSSTCAM
    """The camera: LSSTCam (OCPS:3, MTOODS, filter through MTCamera)."""
    schema_name = "make_lsstcam_calibrations.yaml"
    """The configuration schema."""

    def __init__(self, index: int = 1) -> None:
        super().__init__(index=index, descr=DESCRIPTION, help=HELP)
        self.dome_remotes: dict[str, typing.Any] = {
            name: salobj.Remote(domain=self.domain, name=name, include=["summaryState"], readonly=True)
            for name in DOME_REQUIREMENTS
        }
        self.dome_checked: tuple[str, ...] = tuple(DOME_REQUIREMENTS)

    async def configure(self, config: typing.Any) -> None:
        """Make the plan; keep the dome components checked before flats (all but ``ignore``)."""
        await super().configure(config)
        ignore = [str(name).strip() for name in _option(config, "ignore", [])]
        ignored = {name.lower() for name in ignore}
        self.dome_checked = tuple(name for name in DOME_REQUIREMENTS if name.lower() not in ignored)
        skipped = [name for name in DOME_REQUIREMENTS if name not in self.dome_checked]
        if skipped:
            self.log.warning(f"Not checked before the flats (ignore): {', '.join(skipped)}")
        known = {name.lower() for name in DOME_REQUIREMENTS}
        others = [name for name in ignore if name.lower() not in known]
        if others:
            self.log.info(
                f"ignore: {', '.join(others)} not checked by this script in any case "
                f"(it checks only {', '.join(DOME_REQUIREMENTS)} before the flats)"
            )

    async def check_filter(self, physical_filter: str) -> None:
        """At preflight: the flats' filter must already be in the beam.

        Changing the LSSTCam filter needs the telescope stopped and the
        rotator parked, which this script does not do; the LSSTCam group
        refuses the change otherwise. Setting the filter now, before any
        frame, is nothing when it is in the beam and fails the run at once
        when it is not (rather than after the biases and darks).
        """
        await self.set_filter(physical_filter)

    async def check_before_frames(self, type_plan: TypePlan) -> None:
        """Before the first flat: the dome components in the states upstream requires.

        Raises
        ------
        DomeNotReady
            A checked component is in another state, or published no
            ``summaryState`` within `DOME_STATE_TIMEOUT`; the message names
            each, its state, the states needed and what to do.
        """
        if type_plan.calib_type != "FLAT" or not self.dome_checked:
            return
        problems = await self.dome_problems()
        if problems:
            earlier = [
                t.calib_type.lower() + "es" if t.calib_type == "BIAS" else t.calib_type.lower() + "s"
                for t in self.require_plan().types
                if t.calib_type != "FLAT"
            ]
            kept = f"; the {' and '.join(earlier)} of this run are kept" if earlier else ""
            raise DomeNotReady(
                "flats refused before the first flat frame: "
                + "; ".join(problems)
                + ". Bring the component(s) to the state needed (or, if the dome truly does not matter, "
                f"list them in ignore), then take the flats with script_mode FLAT{kept}"
            )
        self.log.info(f"Before the flats: {', '.join(self.dome_checked)} in the states needed")

    async def dome_problems(self) -> list[str]:
        """What is wrong with each checked dome component (empty when all are ready)."""

        async def state_of(name: str) -> State | None:
            try:
                data = await self.dome_remotes[name].evt_summaryState.aget(timeout=DOME_STATE_TIMEOUT)
            except asyncio.TimeoutError:
                return None
            return State(data.summaryState)

        states = await asyncio.gather(*(state_of(name) for name in self.dome_checked))
        problems = []
        for name, state in zip(self.dome_checked, states):
            allowed, why = DOME_REQUIREMENTS[name]
            needed = " or ".join(s.name for s in allowed)
            if state is None:
                problems.append(
                    f"{name} published no summaryState within {DOME_STATE_TIMEOUT:g} s "
                    f"(is it running?); it must be {needed} ({why})"
                )
            elif state not in allowed:
                problems.append(f"{name} is {state.name}; it must be {needed} ({why})")
        return problems

    async def preflight(self) -> None:
        """The base preflight; with flats planned, warn at once if the dome would refuse them."""
        await super().preflight()
        plan = self.require_plan()
        if any(t.calib_type == "FLAT" for t in plan.types) and self.dome_checked:
            problems = await self.dome_problems()
            if problems:
                self.log.warning(
                    "The flats will be refused unless this changes before them: " + "; ".join(problems)
                )


def _option(config: typing.Any, name: str, default: typing.Any) -> typing.Any:
    """One option of a configuration given as a namespace (as configure gets it) or a dict."""
    if isinstance(config, dict):
        return config.get(name, default)
    return getattr(config, name, default)
