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

"""Pieces shared by the OCPS job runners.

`RunOptions` parses the subset of ``pipetask run`` options that OCPS jobs
carry in their ``config`` string (``-j``, ``-i``, ``-c``, ``-C``,
``--register-dataset-types``, ...), and `output_results` lists the
datasets a job wrote, as the UWS ``results`` entries.
"""

from __future__ import annotations

__all__ = [
    "JOB_LOG_NAME",
    "OCPS_COLLECTION_PREFIX",
    "RunOptions",
    "RunOptionsError",
    "job_collections",
    "log_tail",
    "output_results",
    "resolve_pipeline",
    "default_log_dir",
    "job_output_dir",
    "job_paths",
    "runner_env",
]

import dataclasses
import fnmatch
import os
import shlex
import string
import typing

from ...errors import CalibScriptsError

if typing.TYPE_CHECKING:
    from lsst.daf.butler import Butler, DatasetRef


OCPS_COLLECTION_PREFIX = "u/ocps"

# Flags (no value) that pipetask run accepts and the in-process runner can
# honour or safely ignore.
_FLAGS = {
    "--register-dataset-types",
    "--long-log",
    "--no-versions",
    "--skip-init-writes",
    "--init-only",
    "--fail-fast",
    "--clobber-outputs",
    "--extend-run",
    "--replace-run",
}


class RunOptionsError(CalibScriptsError, ValueError):
    """A ``config`` string that ``pipetask run`` would reject."""


@dataclasses.dataclass
class RunOptions:
    """``pipetask run`` options of an OCPS job.

    Attributes
    ----------
    inputs : `list` [`str`]
        Input collections in order (``-i`` values split on commas).
    processes : `int` or `None`
        ``-j`` value, if given.
    register_dataset_types : `bool`
        ``--register-dataset-types`` given.
    config_overrides : `list` [`tuple` [`str`, `str`, `str`]]
        ``-c label:key=value`` as (label, key, value).
    config_files : `list` [`tuple` [`str`, `str`]]
        ``-C label:path`` as (label, path).
    flags : `set` [`str`]
        Other flags given.
    """

    inputs: list[str] = dataclasses.field(default_factory=list)
    processes: int | None = None
    register_dataset_types: bool = False
    config_overrides: list[tuple[str, str, str]] = dataclasses.field(default_factory=list)
    config_files: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    flags: set[str] = dataclasses.field(default_factory=set)

    @classmethod
    def parse(cls, default_input: str, config: str) -> "RunOptions":
        """Parse ``-i <default_input> <config>`` the way pipetask would.

        Parameters
        ----------
        default_input : `str`
            The OCPS default input collection (may be empty).
        config : `str`
            The execute command's ``config`` string.

        Returns
        -------
        options : `RunOptions`
            The parsed options.

        Raises
        ------
        RunOptionsError
            Unknown option, missing or malformed value (click's wording).
        """
        args = (["-i", default_input] if default_input else []) + shlex.split(config)
        options = cls()
        i = 0

        def value(opt: str) -> str:
            nonlocal i
            if i + 1 >= len(args):
                raise RunOptionsError(f"Error: Option '{opt}' requires an argument.")
            i += 1
            return args[i]

        while i < len(args):
            arg = args[i]
            opt, eq, inline = arg.partition("=") if arg.startswith("--") else (arg, "", "")
            if opt in ("-i", "--input"):
                raw = inline if eq else value(opt)
                options.inputs.extend(c.strip() for c in raw.split(",") if c.strip())
            elif opt in ("-j", "--processes") or (opt.startswith("-j") and opt[2:].isdigit()):
                raw = opt[2:] if opt.startswith("-j") and len(opt) > 2 else (inline if eq else value(opt))
                try:
                    options.processes = int(raw)
                except ValueError:
                    raise RunOptionsError(
                        f"Error: Invalid value for '-j' / '--processes': '{raw}' is not a valid integer."
                    ) from None
            elif opt in ("-c", "--config"):
                raw = inline if eq else value(opt)
                label, sep, rest = raw.partition(":")
                key, sep2, val = rest.partition("=")
                if not sep or not sep2:
                    raise RunOptionsError(f"Error: Invalid value for '-c' / '--config': {raw!r}")
                options.config_overrides.append((label, key, val))
            elif opt in ("-C", "--config-file"):
                raw = inline if eq else value(opt)
                label, sep, path = raw.partition(":")
                if not sep:
                    raise RunOptionsError(f"Error: Invalid value for '-C' / '--config-file': {raw!r}")
                options.config_files.append((label, path))
            elif opt in _FLAGS:
                options.flags.add(opt)
                if opt == "--register-dataset-types":
                    options.register_dataset_types = True
            else:
                raise RunOptionsError(f"Error: No such option: {opt}")
            i += 1
        seen: set[str] = set()
        options.inputs = [c for c in options.inputs if not (c in seen or seen.add(c))]
        return options


def job_collections(job_id: str) -> tuple[str, str]:
    """Return the OCPS output (CHAINED) and run (RUN) collection names."""
    output = f"{OCPS_COLLECTION_PREFIX}/{job_id}"
    return output, f"{output}/run"


def resolve_pipeline(pipeline: str, env: typing.Mapping[str, str]) -> str:
    """Expand ``$VAR``/``${VAR}`` in a pipeline location as the OCPS shell would.

    Parameters
    ----------
    pipeline : `str`
        Pipeline location, e.g. ``${CP_PIPE_DIR}/pipelines/LSSTComCam/cpBias.yaml``
        (a ``#label`` subset suffix is kept).
    env : `~collections.abc.Mapping` [`str`, `str`]
        Environment.

    Returns
    -------
    location : `str`
        Expanded location.

    Raises
    ------
    FileNotFoundError
        A variable is undefined (pipetask fails the same way).
    """
    try:
        return string.Template(pipeline).substitute(env)
    except KeyError as e:
        raise FileNotFoundError(
            f"Pipeline location {pipeline!r} uses the undefined environment variable {e.args[0]}"
        ) from None


def output_results(
    butler: "Butler", run: str, glob: str = "", refs: typing.Iterable["DatasetRef"] | None = None
) -> list[dict[str, str]]:
    """UWS ``results`` entries for the datasets a job wrote.

    Parameters
    ----------
    butler : `lsst.daf.butler.Butler`
        Butler of the repository.
    run : `str`
        The job's RUN collection.
    glob : `str`
        Dataset type pattern(s) (``output_dataset_types``), comma separated;
        empty means all.
    refs : iterable of `lsst.daf.butler.DatasetRef`, optional
        The datasets the job wrote in ``run``, when the runner knows them
        (saves querying the registry, one query per dataset type); default:
        every dataset in ``run``.

    Returns
    -------
    results : `list` [`dict` [`str`, `str`]]
        ``{"id": <file name>, "uri": <file URI>}``, sorted by id.
    """
    patterns = [p.strip() for p in glob.split(",") if p.strip()] or ["*"]
    results = []
    if refs is None:
        refs = butler.registry.queryDatasets(..., collections=run, findFirst=False)
    for ref in refs:
        if not any(fnmatch.fnmatchcase(ref.datasetType.name, p) for p in patterns):
            continue
        uri = butler.getURI(ref)
        results.append({"id": os.path.basename(uri.path), "uri": str(uri)})
    results.sort(key=lambda r: r["id"])
    return results


def log_tail(path: str | os.PathLike[str], lines: int = 20, max_chars: int = 4000) -> str:
    """Last lines of a log file (the ``errorSummary`` message)."""
    try:
        with open(path, "r", errors="replace") as f:
            text = f.read()
    except OSError:
        return ""
    tail = "\n".join(text.rstrip().splitlines()[-lines:])
    return tail[-max_chars:]


def runner_env(env: typing.Mapping[str, str] | None) -> dict[str, str]:
    """Environment of a job: ``env`` if given, else `os.environ` over the simulated pipeline folders."""
    if env is not None:
        return dict(env)
    from ..cp import pipeline_env

    return {**pipeline_env(), **os.environ}


JOB_LOG_NAME = "ocps.log"
"""Name of a job's log in its output directory (as the OCPS back end's ``pipetask.sh``)."""


def job_output_dir(log_dir: str, job_id: str) -> str:
    """The output directory of a job: ``<log_dir>/<job_id>/out`` (the back end's ``JOB_OUTPUT_DIR``)."""
    return os.path.join(log_dir, job_id, "out")


def default_log_dir(repo: str) -> str:
    """Default folder of the job directories: ``<repo>_ocps_logs`` beside the repository."""
    return os.path.normpath(repo) + "_ocps_logs"


def job_paths(repo: str | None, log_dir: str | None, butler_repo: str, job_id: str) -> tuple[str, str]:
    """Repository and log file of a job.

    Parameters
    ----------
    repo : `str` or `None`
        The runner's repository, used when the request has none.
    log_dir : `str` or `None`
        The runner's folder of job directories; default ``<repo>_ocps_logs``
        beside the repository.
    butler_repo : `str`
        The request's ``butler_repo`` (the OCPS's configured butler; may be
        empty).
    job_id : `str`
        Job id.

    Returns
    -------
    repo, log_path : `str`
        Repository root and ``<log_dir>/<job_id>/out/ocps.log`` (folder
        created).

    Raises
    ------
    ValueError
        Neither the request nor the runner names a repository.
    """
    chosen = butler_repo or repo
    if not chosen:
        raise ValueError("No butler repository: the job request and the runner name none")
    folder = job_output_dir(log_dir or default_log_dir(chosen), job_id)
    os.makedirs(folder, exist_ok=True)
    return chosen, os.path.join(folder, JOB_LOG_NAME)
