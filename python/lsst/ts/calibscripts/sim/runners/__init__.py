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

``scripted`` (`~.scripted.ScriptedRunner`: outcomes and durations as
scripted, no pipeline run), ``inprocess`` (`~.inprocess.InProcessRunner`),
``pipetask`` (`~.pipetask.PipetaskRunner`) and ``bps``
(`~.bps.BpsRunner`: ``bps submit`` with the parsl plugin); the last three
execute the same pipelines into the same ``u/ocps/<job_id>`` collections.

`RUNNERS` is the one registry of runner kinds: `make_runner` builds from
it, `lsst.ts.calibscripts.sim.observatory.ObservatoryOptions` checks
``runner`` against it and ``run_make_comcam_bias --runner`` offers the
kinds that run pipelines. Submodules are imported on demand.
"""

__all__ = ["RUNNERS", "RunnerKind", "make_runner", "pipeline_runner_names", "runner_class"]

import dataclasses
import importlib
import typing

if typing.TYPE_CHECKING:
    from ..interfaces import JobRunner


@dataclasses.dataclass(frozen=True)
class RunnerKind:
    """One kind of OCPS job runner.

    Attributes
    ----------
    name : `str`
        The name options and the command line use.
    module, class_name : `str`
        Where the runner class is (module relative to this package).
    runs_pipelines : `bool`
        True if it runs the pipelines on a butler repository (then its
        constructor takes ``(repo, log_dir, **kwargs)``); False for the
        scripted runner (``**kwargs`` only).
    description : `str`
        One line for help texts.
    """

    name: str
    module: str
    class_name: str
    runs_pipelines: bool
    description: str


RUNNERS: dict[str, RunnerKind] = {
    kind.name: kind
    for kind in (
        RunnerKind("scripted", ".scripted", "ScriptedRunner", False, "scripted outcomes, no pipeline run"),
        RunnerKind("inprocess", ".inprocess", "InProcessRunner", True, "pipelines run in this process"),
        RunnerKind("pipetask", ".pipetask", "PipetaskRunner", True, "the real pipetask command"),
        RunnerKind("bps", ".bps", "BpsRunner", True, "bps submit with the parsl plugin"),
    )
}
"""Every runner kind by name: the one registry."""


def pipeline_runner_names() -> tuple[str, ...]:
    """Names of the runner kinds that run pipelines (the command line's ``--runner`` choices)."""
    return tuple(name for name, kind in RUNNERS.items() if kind.runs_pipelines)


def runner_class(kind: str) -> type:
    """The runner class of a kind (its module imported now).

    Raises
    ------
    ValueError
        Unknown kind; the message lists the known ones.
    """
    try:
        entry = RUNNERS[kind]
    except KeyError:
        raise ValueError(f"Unknown runner kind {kind!r}; expected one of {', '.join(RUNNERS)}") from None
    return getattr(importlib.import_module(entry.module, __name__), entry.class_name)


def make_runner(
    kind: str, repo: str | None = None, log_dir: str | None = None, **kwargs: typing.Any
) -> "JobRunner":
    """Return a job runner.

    Parameters
    ----------
    kind : `str`
        A name in `RUNNERS`: ``"scripted"``, ``"inprocess"``, ``"pipetask"``
        or ``"bps"``.
    repo : `str`, optional
        Butler repository (else each request's ``butler_repo``); not used
        by the scripted runner.
    log_dir : `str`, optional
        Folder for per-job logs (else ``<repo>_ocps_logs``).
    **kwargs
        Passed to the runner's constructor.

    Returns
    -------
    runner : `lsst.ts.calibscripts.sim.interfaces.JobRunner`
        The runner.

    Raises
    ------
    ValueError
        Unknown kind.
    """
    cls = runner_class(kind)
    if RUNNERS[kind].runs_pipelines:
        return cls(repo, log_dir, **kwargs)
    if log_dir is not None:
        kwargs.setdefault("log_dir", log_dir)
    return cls(**kwargs)
