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

"""The simulated observatory: mock CSCs, data plane and job runners.

``from lsst.ts.calibscripts.sim import SimulatedObservatory, ObservatoryOptions``.
Importing this package is light: the fault options and the contracts are
plain dataclasses; `SimulatedObservatory` (and with it the SAL) is imported
on first use, the data plane only when a repository is asked for.
"""

__all__ = [
    "CameraFaults",
    "HeaderServiceFaults",
    "JobAction",
    "JobScript",
    "ObservatoryOptions",
    "OcpsFaults",
    "OodsFaults",
    "ScriptedRunner",
    "SimulatedObservatory",
    "Timing",
]

import typing

from .faults import CameraFaults, HeaderServiceFaults, JobAction, JobScript, OcpsFaults, OodsFaults
from .timing import Timing

if typing.TYPE_CHECKING:
    from .observatory import ObservatoryOptions, SimulatedObservatory
    from .runners.scripted import ScriptedRunner


def __getattr__(name: str) -> typing.Any:
    if name in ("ObservatoryOptions", "SimulatedObservatory"):
        from . import observatory

        return getattr(observatory, name)
    if name == "ScriptedRunner":
        from .runners.scripted import ScriptedRunner

        return ScriptedRunner
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
