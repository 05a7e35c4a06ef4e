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

"""Example configurations of the package's scripts, shipped with the package.

* ``make_comcam_bias_simulation.yaml``: a short rehearsal of MakeComCamBias
  on the simulated observatory (what ``run_make_comcam_bias --simulate``
  uses when given no configuration file);
* ``make_comcam_bias_summit.yaml``: a typical summit configuration;
* ``make_comcam_calibrations_simulation.yaml``: a short ``BIAS_DARK_FLAT``
  rehearsal of MakeComCamCalibrations (``run_make_comcam_calibrations
  --simulate``).

A script's simulation example is ``<script name>_simulation.yaml``
(`lsst.ts.calibscripts.cli.registry`).
"""

__all__ = [
    "CALIBRATIONS_SIMULATION_EXAMPLE",
    "EXAMPLES",
    "SIMULATION_EXAMPLE",
    "SUMMIT_EXAMPLE",
    "example_names",
    "example_path",
    "load_example_text",
]

import importlib.resources
import typing

SIMULATION_EXAMPLE = "make_comcam_bias_simulation.yaml"
SUMMIT_EXAMPLE = "make_comcam_bias_summit.yaml"
EXAMPLES = (SIMULATION_EXAMPLE, SUMMIT_EXAMPLE)
"""The examples of MakeComCamBias."""
CALIBRATIONS_SIMULATION_EXAMPLE = "make_comcam_calibrations_simulation.yaml"


def example_names() -> list[str]:
    """Every shipped example configuration, of every script."""
    return sorted(p.name for p in importlib.resources.files(__name__).iterdir() if p.name.endswith(".yaml"))


def example_path(name: str = SIMULATION_EXAMPLE) -> typing.Any:
    """Return the shipped example file ``name`` (an importlib.resources Traversable).

    Raises
    ------
    FileNotFoundError
        If there is no such example.
    """
    path = importlib.resources.files(__name__).joinpath(name)
    if not path.is_file():
        raise FileNotFoundError(
            f"No example configuration {name!r}; examples: {', '.join(example_names())}"
        )
    return path


def load_example_text(name: str = SIMULATION_EXAMPLE) -> str:
    """Return the text of a shipped example configuration."""
    return example_path(name).read_text(encoding="utf-8")
