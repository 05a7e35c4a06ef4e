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

"""The package's SAL scripts, as the command line runs them: one registry.

Each `ScriptEntry` names a script (its ScriptQueue file name without
``.py``), the class that implements it and how to simulate its observatory.
The camera is the class's own (``camera``), so that the simulated
observatory, the progress display and ``--fail-job`` follow it. Adding a
camera's script is one line in `SCRIPTS`, e.g.::

    ScriptEntry("make_lsstcam_calibrations", "maintel.make_lsstcam_calibrations:MakeLSSTCamCalibrations"),

with its shipped example ``configs/make_lsstcam_calibrations_simulation.yaml``
for ``--simulate`` without a configuration file.

Public API
----------
`ScriptEntry`, `SCRIPTS`, `get_script`, `script_names`.
"""

from __future__ import annotations

__all__ = ["SCRIPTS", "ScriptEntry", "get_script", "script_names"]

import dataclasses
import importlib
import typing

from .simulation import SimulationSettings, job_pipelines, observatory_options

if typing.TYPE_CHECKING:
    from ..calib.types import CalibTypeSpec
    from ..cameras import CameraProfile

ObservatoryBuilder = typing.Callable[[SimulationSettings, "CameraProfile"], typing.Any]
"""Makes the `~lsst.ts.calibscripts.sim.observatory.ObservatoryOptions` of a simulated run."""

PACKAGE = "lsst.ts.calibscripts"


@dataclasses.dataclass(frozen=True)
class ScriptEntry:
    """One script the command line can run.

    Parameters
    ----------
    name : `str`
        The script's name: its ScriptQueue file without ``.py``
        (``make_comcam_bias``).
    target : `str`
        ``module:Class`` of the script, the module relative to
        ``lsst.ts.calibscripts`` (imported only when used).
    simulation_example : `str`, optional
        Shipped example configuration (`lsst.ts.calibscripts.configs`) used by
        ``--simulate`` without a configuration file; default
        ``<name>_simulation.yaml``.
    observatory : callable, optional
        Makes the simulated observatory's options from the command line's
        simulation settings and the camera (default
        `~lsst.ts.calibscripts.cli.simulation.observatory_options`).
    """

    name: str
    target: str
    simulation_example: str = ""
    observatory: ObservatoryBuilder = observatory_options

    def load(self) -> type:
        """Import and return the script class."""
        module_name, _, class_name = self.target.partition(":")
        module = importlib.import_module(f"{PACKAGE}.{module_name}")
        return getattr(module, class_name)

    @property
    def class_name(self) -> str:
        """The script class's name (``MakeComCamBias``)."""
        return self.target.partition(":")[2]

    @property
    def camera(self) -> CameraProfile:
        """The camera the script drives (the class's ``camera``)."""
        return self.load().camera  # type: ignore[attr-defined]

    @property
    def example(self) -> str:
        """The shipped example configuration of ``--simulate``."""
        return self.simulation_example or f"{self.name}_simulation.yaml"

    def calib_types(self) -> tuple[CalibTypeSpec, ...]:
        """The calibration types the script can make: its ``spec``, or every type."""
        from ..calib.types import CALIB_TYPES

        spec = getattr(self.load(), "spec", None)
        return (spec,) if spec is not None else tuple(CALIB_TYPES.values())

    def job_pipelines(self) -> dict[str, str]:
        """``--fail-job`` choices: job name -> pipeline name (``cp_bias`` -> ``cpBias``)."""
        return job_pipelines(self.calib_types())


SCRIPTS: dict[str, ScriptEntry] = {
    entry.name: entry
    for entry in (
        ScriptEntry("make_comcam_bias", "maintel.make_comcam_bias:MakeComCamBias"),
        ScriptEntry("make_comcam_calibrations", "maintel.make_comcam_calibrations:MakeComCamCalibrations"),
        ScriptEntry("make_lsstcam_calibrations", "maintel.make_lsstcam_calibrations:MakeLSSTCamCalibrations"),
        ScriptEntry("make_latiss_calibrations", "auxtel.make_latiss_calibrations:MakeLATISSCalibrations"),
    )
}
"""Every script the command line runs, by name."""


def script_names() -> tuple[str, ...]:
    """The names of the registered scripts."""
    return tuple(SCRIPTS)


def get_script(name: str) -> ScriptEntry:
    """The entry of script ``name``.

    Raises
    ------
    KeyError
        Unknown script; the message lists the known ones.
    """
    try:
        return SCRIPTS[name]
    except KeyError:
        raise KeyError(f"No script {name!r}; scripts: {', '.join(SCRIPTS)}") from None
