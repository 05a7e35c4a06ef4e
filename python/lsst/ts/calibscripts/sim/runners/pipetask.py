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

"""OCPS job runner that executes the real ``pipetask``, as the OCPS back end does.

The command is the one of the OCPS back end's ``pipetask.sh``, with
``RUN_OPTIONS = "-i <default_input> " + config``::

    pipetask --long-log run -p <pipeline> -b <repo> -o u/ocps/<job_id> \\
        -i <default_input> <config...> --output-run u/ocps/<job_id>/run -d <data_query>

* exec-style (`asyncio.create_subprocess_exec`), never a shell; the
  ``config`` string is split with `shlex.split`;
* the pipeline location is passed verbatim (``${CP_PIPE_DIR}/...``):
  ``pipetask`` expands it itself (lsst.resources turns ``${X_DIR}/`` into a
  location resolved through the ``X_DIR`` environment variable); the
  subprocess environment carries ``CP_PIPE_DIR``/``CP_VERIFY_DIR`` from
  `os.environ`, defaulting to `lsst.ts.calibscripts.sim.cp.pipeline_env`;
* ``-j``: the real back end passes ``-j N`` through. With ``processes``
  (default 1) this runner rewrites every ``-j``/``--processes`` value of the
  config to that number, because ctrl_mpexec spawns a fresh interpreter per
  quantum (about 1.5 s each), which makes ``-j 8`` many times slower than
  ``-j 1`` for the simulation's small quanta; ``processes=None`` passes the
  config through untouched;
* stdout and stderr go to the job's ``ocps.log`` in its output directory
  ``<log_dir>/<job_id>/out``; a nonzero exit code gives `JobPhase.ERROR` with the tail of
  that log as the error message;
* on success the results are the datasets of ``u/ocps/<job_id>/run``
  matching ``output_dataset_types`` (all when empty);
* cancelling `PipetaskRunner.run` terminates the process group (SIGTERM,
  then SIGKILL after ``terminate_timeout``), waits for it and re-raises.
"""

from __future__ import annotations

__all__ = ["PipetaskRunner", "build_command", "find_pipetask"]

import asyncio
import contextlib
import os
import shlex
import shutil
import signal
import sys
import typing

from ..interfaces import JobOutcome, JobPhase, JobRequest
from ._common import job_collections, job_paths, log_tail, output_results, runner_env


def find_pipetask() -> str:
    """Return the ``pipetask`` executable of this Python environment."""
    candidate = os.path.join(os.path.dirname(sys.executable), "pipetask")
    if os.access(candidate, os.X_OK):
        return candidate
    found = shutil.which("pipetask")
    if found is None:
        raise FileNotFoundError("pipetask executable not found (is lsst-ctrl-mpexec installed?)")
    return found


def _rewrite_processes(args: list[str], processes: int) -> list[str]:
    """Replace the value of every ``-j``/``--processes`` option."""
    out: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ("-j", "--processes"):
            out.extend([arg, str(processes)])
            i += 2
            continue
        if arg.startswith("--processes="):
            out.append(f"--processes={processes}")
        elif arg.startswith("-j") and arg[2:].isdigit():
            out.append(f"-j{processes}")
        else:
            out.append(arg)
        i += 1
    return out


def build_command(
    request: JobRequest, repo: str, pipetask: str = "pipetask", processes: int | None = 1
) -> list[str]:
    """Return the argument vector of the OCPS ``pipetask run`` for a job.

    Parameters
    ----------
    request : `JobRequest`
        The job.
    repo : `str`
        Butler repository (when the request has no ``butler_repo``).
    pipetask : `str`
        Executable.
    processes : `int` or `None`
        Forced ``-j`` value, or `None` to keep the config's.

    Returns
    -------
    argv : `list` [`str`]
        Arguments for `asyncio.create_subprocess_exec`.
    """
    output, run = job_collections(request.job_id)
    run_options = (["-i", request.default_input] if request.default_input else []) + shlex.split(
        request.config
    )
    if processes is not None:
        run_options = _rewrite_processes(run_options, processes)
    return [
        pipetask,
        "--long-log",
        "run",
        "-p",
        request.pipeline,
        "-b",
        request.butler_repo or repo,
        "-o",
        output,
        *run_options,
        "--output-run",
        run,
        "-d",
        request.data_query,
    ]


class PipetaskRunner:
    """Run OCPS jobs with the real ``pipetask`` in a subprocess.

    Parameters
    ----------
    repo : `str`, optional
        Butler repository, used when a request has no ``butler_repo``.
    log_dir : `str`, optional
        Folder of the job directories ``<job_id>/out/ocps.log`` (created if
        needed); default ``<repo>_ocps_logs`` beside the job's repository.
    processes : `int` or `None`
        ``-j`` forced on every job (default 1), or `None` to pass the
        config's ``-j`` through.
    pipetask : `str`, optional
        Executable; default the one of this Python environment.
    env : `~collections.abc.Mapping` [`str`, `str`], optional
        Subprocess environment; default (read at each job) `os.environ` on
        top of `lsst.ts.calibscripts.sim.cp.pipeline_env`.
    terminate_timeout : `float`
        Seconds between SIGTERM and SIGKILL on cancellation.
    """

    def __init__(
        self,
        repo: str | None = None,
        log_dir: str | None = None,
        processes: int | None = 1,
        pipetask: str | None = None,
        env: typing.Mapping[str, str] | None = None,
        terminate_timeout: float = 5.0,
    ) -> None:
        self.repo = os.fspath(repo) if repo is not None else None
        self.log_dir = os.fspath(log_dir) if log_dir is not None else None
        self.processes = processes
        self.pipetask = pipetask or find_pipetask()
        self.env = dict(env) if env is not None else None
        self.terminate_timeout = terminate_timeout

    async def run(self, request: JobRequest) -> JobOutcome:
        """Run one job; cancelling kills the pipetask process group."""
        try:
            repo, log_path = job_paths(self.repo, self.log_dir, request.butler_repo, request.job_id)
        except (ValueError, OSError) as e:
            return JobOutcome(phase=JobPhase.ERROR, error_message=str(e))
        argv = build_command(request, repo, self.pipetask, self.processes)
        with open(log_path, "wb") as log_file:
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log_file,
                stderr=asyncio.subprocess.STDOUT,
                env=runner_env(self.env),
                start_new_session=True,
            )
            try:
                returncode = await process.wait()
            except asyncio.CancelledError:
                await self._stop(process)
                raise
        if returncode != 0:
            message = log_tail(log_path) or f"pipetask exited with code {returncode}"
            return JobOutcome(phase=JobPhase.ERROR, error_message=message, log_path=log_path)
        _, run = job_collections(request.job_id)
        results = await asyncio.to_thread(self._results, repo, run, request.output_dataset_types)
        return JobOutcome(phase=JobPhase.COMPLETED, results=results, log_path=log_path)

    async def _stop(self, process: asyncio.subprocess.Process) -> None:
        """Terminate, then kill, the job's process group and reap it."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
            try:
                await asyncio.wait_for(asyncio.shield(process.wait()), self.terminate_timeout)
                return
            except asyncio.TimeoutError:
                continue
        await process.wait()

    def _results(self, repo: str, run: str, glob: str) -> list[dict[str, str]]:
        """Query the job's output datasets (worker thread)."""
        from lsst.daf.butler import Butler

        butler = Butler.from_config(repo, writeable=False)
        try:
            return output_results(butler, run, glob)
        finally:
            butler.close()
