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

"""Example configurations of MakeComCamBias, shipped with the package.

* ``make_comcam_bias_simulation.yaml``: a short rehearsal on the simulated
  observatory (what ``run_make_comcam_bias --simulate`` uses when given no
  configuration file);
* ``make_comcam_bias_summit.yaml``: a typical summit configuration.
"""

__all__ = ["EXAMPLES", "SIMULATION_EXAMPLE", "SUMMIT_EXAMPLE", "example_path", "load_example_text"]

import importlib.resources
import typing

SIMULATION_EXAMPLE = "make_comcam_bias_simulation.yaml"
SUMMIT_EXAMPLE = "make_comcam_bias_summit.yaml"
EXAMPLES = (SIMULATION_EXAMPLE, SUMMIT_EXAMPLE)


def example_path(name: str = SIMULATION_EXAMPLE) -> typing.Any:
    """Return the shipped example file ``name`` (an importlib.resources Traversable).

    Raises
    ------
    FileNotFoundError
        If there is no such example.
    """
    path = importlib.resources.files(__name__).joinpath(name)
    if not path.is_file():
        raise FileNotFoundError(f"No example configuration {name!r}; examples: {', '.join(EXAMPLES)}")
    return path


def load_example_text(name: str = SIMULATION_EXAMPLE) -> str:
    """Return the text of a shipped example configuration."""
    return example_path(name).read_text(encoding="utf-8")
