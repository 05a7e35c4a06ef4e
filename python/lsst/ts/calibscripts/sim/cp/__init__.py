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

"""cp_pipe and cp_verify stand-ins for biases, darks and flats (numpy algorithms, PipelineTasks).

`pipeline_env` gives ``CP_PIPE_DIR`` and ``CP_VERIFY_DIR`` for the pipeline
folders shipped here, so ``${CP_PIPE_DIR}/pipelines/LSSTComCam/cpBias.yaml``
(``cpDark.yaml``, ``cpFlat.yaml``) and
``${CP_VERIFY_DIR}/pipelines/LSSTComCam/verifyBias.yaml`` (``verifyDark.yaml``,
``verifyFlat.yaml``) resolve as at the summit. Submodules are imported on
demand (``tasks`` and ``calib_tasks`` need pipe_base).
"""

__all__ = ["pipeline_env"]

import os


def pipeline_env() -> dict[str, str]:
    """Return ``{"CP_PIPE_DIR": ..., "CP_VERIFY_DIR": ...}`` for the simulated pipelines."""
    here = os.path.dirname(os.path.abspath(__file__))
    return {
        "CP_PIPE_DIR": os.path.join(here, "cp_pipe"),
        "CP_VERIFY_DIR": os.path.join(here, "cp_verify"),
    }
