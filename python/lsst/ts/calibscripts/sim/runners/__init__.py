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

"""OCPS job runners of the simulated observatory.

``inprocess`` (`InProcessRunner`) and ``pipetask`` (`PipetaskRunner`)
execute the same pipelines into the same ``u/ocps/<job_id>`` collections;
`make_runner` picks one by name. Submodules are imported on demand.
"""

__all__ = ["make_runner"]

import typing

if typing.TYPE_CHECKING:
    from ..interfaces import JobRunner


def make_runner(
    kind: str, repo: str | None = None, log_dir: str | None = None, **kwargs: typing.Any
) -> "JobRunner":
    """Return a job runner.

    Parameters
    ----------
    kind : `str`
        ``"inprocess"`` or ``"pipetask"``.
    repo : `str`, optional
        Butler repository (else each request's ``butler_repo``).
    log_dir : `str`, optional
        Folder for per-job logs (else ``<repo>_ocps_logs``).
    **kwargs
        Passed to the runner's constructor.

    Returns
    -------
    runner : `lsst.ts.calibscripts.sim.interfaces.JobRunner`
        The runner.
    """
    if kind == "inprocess":
        from .inprocess import InProcessRunner

        return InProcessRunner(repo, log_dir, **kwargs)
    if kind == "pipetask":
        from .pipetask import PipetaskRunner

        return PipetaskRunner(repo, log_dir, **kwargs)
    raise ValueError(f"Unknown runner kind {kind!r}; expected 'inprocess' or 'pipetask'")
