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

"""OCPS job runner that hands each job to BPS (``bps submit`` with the parsl plugin).

The third pipeline runner beside `~.pipetask.PipetaskRunner` and
`~.inprocess.InProcessRunner`: same pipelines, same ``u/ocps/<job_id>``
collections, but the quanta are run by a BPS workflow, as a site that
sends OCPS work to a batch system would (the site class chooses where the
jobs run: this machine, Slurm, HTCondor, PanDA).

For each job the runner writes ``<log_dir>/<job_id>/bps/submit.yaml``
(`build_submit_config`) and runs ``bps submit`` on it, exec-style, in a new
session, with its output in the job's ``ocps.log``:

* ``payload``: ``butlerConfig`` = the job's repository, ``inCollection``
  = ``-i <default_input>`` then the ``-i`` of the job's ``config``,
  ``dataQuery`` = the job's query, ``output`` = ``u/ocps/<job_id>`` and
  ``outputRun`` = ``u/ocps/<job_id>/run`` (BPS's own default would be
  ``u/<operator>/<payloadName>/<timestamp>``); ``-c``/``-C`` of the
  ``config`` go to the quantum-graph step; ``-j`` and the other flags are
  accepted and ignored (parallelism is the site's ``cores``; dataset types
  are registered by BPS's final job);
* ``submitPath`` = ``<log_dir>/<job_id>/bps/submit``, and parsl's run
  directory beside it: one folder per job id, so two submissions in the
  same second never share a submit directory; the per-quantum logs are in
  ``submit/logs/<task label>/``;
* the subprocess environment (never this process's `os.environ`) gets the
  EUPS-style ``CTRL_MPEXEC_DIR`` and ``DAF_BUTLER_DIR`` that BPS's default
  commands use (``${CTRL_MPEXEC_DIR}/bin/pipetask``,
  ``${DAF_BUTLER_DIR}/bin/butler``), both the prefix of this Python
  environment;
* the default site is `~.bps_site.ThreadPoolSite` (threads of the submit
  process, ``cores`` of them); ``site_config`` (a mapping or a BPS YAML
  file) replaces it, e.g. with a batch system's site.

``bps submit`` exits 0 even when quanta failed (its final job registers
what was produced). So after it the runner runs ``pipetask report`` on the
job's quantum graph (`build_report_command`) and fails the job (ERROR, OCPS
exit_code 1) when a quantum failed or was not run (`failed_quanta`), with
the reason at the end of ``ocps.log`` and in the error message.

Cancelling `BpsRunner.run` (``abort_job``) signals every process of the
submit's session (``bps submit``, its parsl threads' shells and their
``pipetask run-qbb``; SIGTERM, then SIGKILL after ``terminate_timeout``),
waits until none is left, then removes the job's ``u/ocps/<job_id>``
collections if BPS's final job had begun to register them, and re-raises.
"""

from __future__ import annotations

__all__ = [
    "BpsRunner",
    "DEFAULT_SITE",
    "QuantumFailure",
    "build_report_command",
    "build_submit_command",
    "build_submit_config",
    "failed_quanta",
    "remove_job_outputs",
    "find_executable",
    "session_pids",
    "stack_env",
    "stop_session",
]

import asyncio
import contextlib
import copy
import dataclasses
import glob
import os
import shlex
import signal
import sys
import typing

import yaml

from ..interfaces import JobOutcome, JobPhase, JobRequest
from ._common import (
    RunOptions,
    RunOptionsError,
    job_collections,
    job_paths,
    log_tail,
    output_results,
    resolve_pipeline,
    runner_env,
)

SITE_NAME = "ocps_local"
"""``computeSite`` of the default site."""

DEFAULT_SITE: dict[str, typing.Any] = {
    "wmsServiceClass": "lsst.ctrl.bps.parsl.ParslService",
    "computeSite": SITE_NAME,
    "site": {
        SITE_NAME: {
            "class": "lsst.ts.calibscripts.sim.runners.bps_site.ThreadPoolSite",
            "cores": 2,
            "retries": 0,
        }
    },
}
"""Where BPS runs the jobs unless ``site_config`` says otherwise: threads of the submit process."""

DIMENSION_CLUSTERING = "lsst.ctrl.bps.quantum_clustering_funcs.dimension_clustering"
OPERATOR = "ocps"
BPS_DIR_NAME = "bps"
SUBMIT_YAML = "submit.yaml"
REPORT_YAML = "report.yaml"
ERROR_CHARS = 400
"""Characters kept of each failed quantum's error in the job's error message."""


def find_executable(name: str) -> str:
    """The executable ``name`` of this Python environment (``bps``, ``pipetask``, ``butler``).

    Raises
    ------
    FileNotFoundError
        Not installed beside this interpreter.
    """
    candidate = os.path.join(os.path.dirname(sys.executable), name)
    if not os.access(candidate, os.X_OK):
        raise FileNotFoundError(
            f"{name} executable not found beside {sys.executable} "
            "(install the sim extra: lsst-ctrl-bps, lsst-ctrl-bps-parsl)"
        )
    return candidate


def stack_env(bin_dir: str) -> dict[str, str]:
    """EUPS-style product directories that BPS's default commands use.

    Parameters
    ----------
    bin_dir : `str`
        Folder of the ``pipetask`` and ``butler`` executables.

    Returns
    -------
    env : `dict` [`str`, `str`]
        ``CTRL_MPEXEC_DIR`` and ``DAF_BUTLER_DIR``, both the parent of
        ``bin_dir`` (BPS runs ``${CTRL_MPEXEC_DIR}/bin/pipetask`` and
        ``${DAF_BUTLER_DIR}/bin/butler``).
    """
    prefix = os.path.dirname(os.path.abspath(bin_dir))
    return {"CTRL_MPEXEC_DIR": prefix, "DAF_BUTLER_DIR": prefix}


def _merge(base: dict[str, typing.Any], extra: typing.Mapping[str, typing.Any]) -> dict[str, typing.Any]:
    """Deep-merge ``extra`` into a copy of ``base`` (mappings merged, other values replaced)."""
    merged = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, typing.Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def build_submit_config(
    request: JobRequest,
    repo: str,
    pipeline: str,
    job_dir: str,
    site_config: typing.Mapping[str, typing.Any] | None = None,
    cluster: typing.Mapping[str, typing.Any] | None = None,
    final_job_cpus: int = 1,
) -> dict[str, typing.Any]:
    """Return the BPS submit configuration of an OCPS job.

    Parameters
    ----------
    request : `JobRequest`
        The job.
    repo : `str`
        Its butler repository.
    pipeline : `str`
        The pipeline location, environment variables expanded.
    job_dir : `str`
        The job's BPS folder (submit directory and parsl run directory
        inside).
    site_config : `~collections.abc.Mapping`, optional
        BPS settings merged over `DEFAULT_SITE` (``wmsServiceClass``,
        ``computeSite``, ``site``, ``finalJob``, ...); the payload, the
        collections and the submit path are the job's and cannot be
        overridden.
    cluster : `~collections.abc.Mapping`, optional
        A BPS ``cluster`` section; given, the quanta are grouped with BPS's
        dimension clustering (e.g. one job per detector).
    final_job_cpus : `int`
        ``requestCpus`` of the final job (``butler aggregate-graph -j``).

    Returns
    -------
    config : `dict` [`str`, `typing.Any`]
        The submit YAML's content.

    Raises
    ------
    RunOptionsError
        The job's ``config`` has an option ``pipetask run`` rejects.
    """
    options = RunOptions.parse(request.default_input, request.config)
    output, run = job_collections(request.job_id)
    config = _merge(DEFAULT_SITE, {"finalJob": {"requestCpus": final_job_cpus}})
    config = _merge(config, site_config or {})
    compute_site = config["computeSite"]
    config.setdefault("site", {}).setdefault(compute_site, {})
    if "run_dir" not in config["site"][compute_site]:
        config["site"][compute_site]["run_dir"] = os.path.join(job_dir, "runinfo")
    if cluster:
        config["clusterAlgorithm"] = DIMENSION_CLUSTERING
        config["cluster"] = copy.deepcopy(dict(cluster))
    extra_qgraph = [*(f"--config={label}:{key}={value}" for label, key, value in options.config_overrides)]
    extra_qgraph += [f"--config-file={label}:{path}" for label, path in options.config_files]
    config.update(
        {
            "operator": OPERATOR,
            "pipelineYaml": pipeline,
            "submitPath": os.path.join(job_dir, "submit"),
            # The query is quoted for BPS's shlex.split of the quantum-graph command.
            "pipetaskDataQuery": "-d {dataQuery}",
            "extraQgraphOptions": shlex.join(extra_qgraph),
            "payload": {
                "payloadName": f"ocps_{request.job_id}",
                "butlerConfig": repo,
                "inCollection": ",".join(options.inputs),
                "dataQuery": shlex.quote(request.data_query),
                "output": output,
                "outputRun": run,
            },
        }
    )
    return config


def build_submit_command(bps: str, submit_yaml: str) -> list[str]:
    """Argument vector of ``bps submit`` (exec-style)."""
    return [bps, "submit", submit_yaml]


def build_report_command(pipetask: str, repo: str, qgraph: str, report_yaml: str) -> list[str]:
    """Argument vector of ``pipetask report`` writing its YAML summary of one quantum graph."""
    return [pipetask, "report", repo, qgraph, "--full-output-filename", report_yaml]


@dataclasses.dataclass(frozen=True)
class QuantumFailure:
    """Quanta of one task that did not succeed, from a ``pipetask report``.

    Attributes
    ----------
    task : `str`
        Task label.
    failed : `int`
        Quanta that ran and failed.
    blocked : `int`
        Quanta not run because an upstream quantum failed.
    missing : `int`
        Expected quanta with neither a success nor a failure recorded
        (e.g. never run).
    data_ids : `list` [`str`]
        Data ids of the failed quanta, when the report lists them.
    errors : `list` [`str`]
        The first error of each failed quantum (shortened), when listed.
    """

    task: str
    failed: int
    blocked: int
    missing: int
    data_ids: list[str] = dataclasses.field(default_factory=list)
    errors: list[str] = dataclasses.field(default_factory=list)

    def describe(self) -> str:
        """One line for the operator: counts, data ids and first errors."""
        counts = (
            (self.failed, "failed"),
            (self.blocked, "blocked by an upstream failure"),
            (self.missing, "not run"),
        )
        text = f"{self.task}: {', '.join(f'{n} {what}' for n, what in counts if n)}"
        if self.data_ids:
            text += f" ({'; '.join(self.data_ids)})"
        if self.errors:
            text += ": " + " | ".join(self.errors)
        return text


def _count(value: typing.Any) -> int:
    """A count in a report: an int, or the length of a list/mapping of data ids."""
    if isinstance(value, (list, dict)):
        return len(value)
    return int(value or 0)


def _shorten(text: str, limit: int = ERROR_CHARS) -> str:
    """``text`` cut to ``limit`` characters (with an ellipsis)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def failed_quanta(report: typing.Mapping[str, typing.Any]) -> list[QuantumFailure]:
    """Tasks with quanta that did not succeed, from ``pipetask report``'s YAML summary.

    Parameters
    ----------
    report : `~collections.abc.Mapping`
        The parsed ``--full-output-filename`` YAML of one quantum graph:
        task label -> ``{"outputs": ..., "failed_quanta": {...},
        "n_quanta_blocked": N, "n_succeeded": N, "n_expected": N, ...}``.

    Returns
    -------
    failures : `list` [`QuantumFailure`]
        One entry per task with a failed, blocked or missing quantum, in
        the report's order; empty when every expected quantum succeeded.

    Raises
    ------
    ValueError
        The report is empty or not a mapping of tasks.
    """
    if not isinstance(report, typing.Mapping) or not report:
        raise ValueError(f"pipetask report gave no task summary: {report!r}")
    failures = []
    for task, summary in report.items():
        if not isinstance(summary, typing.Mapping):
            raise ValueError(f"pipetask report entry for {task!r} is not a mapping: {summary!r}")
        failed_entries = summary.get("failed_quanta") or {}
        failed = _count(failed_entries)
        blocked = _count(summary.get("n_quanta_blocked", 0))
        expected = _count(summary.get("n_expected", 0))
        succeeded = _count(summary.get("n_succeeded", 0))
        missing = max(0, expected - succeeded - failed - blocked)
        if failed or blocked or missing:
            data_ids, errors = [], []
            if isinstance(failed_entries, typing.Mapping):
                for entry in failed_entries.values():
                    if not isinstance(entry, typing.Mapping):
                        continue
                    if entry.get("data_id"):
                        data_ids.append(", ".join(f"{k}={v}" for k, v in dict(entry["data_id"]).items()))
                    error = entry.get("error")
                    first = error[0] if isinstance(error, list) and error else error
                    if first:
                        errors.append(_shorten(" ".join(str(first).split())))
            failures.append(QuantumFailure(str(task), failed, blocked, missing, data_ids, errors))
    return failures


class BpsRunner:
    """Run OCPS jobs through BPS (``bps submit``, parsl plugin) in a subprocess.

    Parameters
    ----------
    repo : `str`, optional
        Butler repository, used when a request has no ``butler_repo``.
    log_dir : `str`, optional
        Folder of the job directories (``<job_id>/out/ocps.log`` and
        ``<job_id>/bps/``), created if needed; default ``<repo>_ocps_logs``
        beside the job's repository.
    site_config : `~collections.abc.Mapping` or `str`, optional
        BPS settings merged over `DEFAULT_SITE`: a mapping, or the path of
        a BPS YAML file (read now), e.g. ``computeSite`` and
        ``site.<name>`` of a batch system, or another ``wmsServiceClass``.
    cores : `int`, optional
        ``cores`` of the default site (threads running jobs at once).
    cluster : `~collections.abc.Mapping`, optional
        BPS ``cluster`` section (dimension clustering), e.g.
        ``{"perDetector": {"pipetasks": "cpBiasIsr,cpBiasCombine",
        "dimensions": "detector"}}``; default one quantum per BPS job.
    final_job_cpus : `int`
        ``requestCpus`` of BPS's final job (its ``-j``; BPS's default is 16).
    env : `~collections.abc.Mapping` [`str`, `str`], optional
        Subprocess environment; default (read at each job) `os.environ` on
        top of `lsst.ts.calibscripts.sim.cp.pipeline_env`. The EUPS-style
        variables are added to it unless it sets them.
    terminate_timeout : `float`
        Seconds between SIGTERM and SIGKILL on cancellation.

    Raises
    ------
    FileNotFoundError
        ``bps`` or ``pipetask`` is not installed in this environment, or
        ``site_config`` names a file that does not exist.
    ValueError
        ``site_config`` is not a mapping of BPS settings.
    """

    def __init__(
        self,
        repo: str | None = None,
        log_dir: str | None = None,
        site_config: typing.Mapping[str, typing.Any] | str | os.PathLike[str] | None = None,
        cores: int | None = None,
        cluster: typing.Mapping[str, typing.Any] | None = None,
        final_job_cpus: int = 1,
        env: typing.Mapping[str, str] | None = None,
        terminate_timeout: float = 5.0,
    ) -> None:
        self.repo = os.fspath(repo) if repo is not None else None
        self.log_dir = os.fspath(log_dir) if log_dir is not None else None
        self.bps = find_executable("bps")
        self.pipetask = find_executable("pipetask")
        self.site_config = self._read_site_config(site_config)
        if cores is not None:
            self.site_config = _merge(self.site_config, {"site": {SITE_NAME: {"cores": cores}}})
        self.cluster = dict(cluster) if cluster else None
        self.final_job_cpus = final_job_cpus
        self.env = dict(env) if env is not None else None
        self.terminate_timeout = terminate_timeout

    @staticmethod
    def _read_site_config(
        site_config: typing.Mapping[str, typing.Any] | str | os.PathLike[str] | None,
    ) -> dict[str, typing.Any]:
        if site_config is None:
            return {}
        if isinstance(site_config, typing.Mapping):
            return copy.deepcopy(dict(site_config))
        path = os.fspath(site_config)
        with open(path) as f:
            loaded = yaml.safe_load(f)
        if not isinstance(loaded, dict):
            raise ValueError(f"BPS site configuration {path} is not a mapping of BPS settings")
        return loaded

    def subprocess_env(self) -> dict[str, str]:
        """Environment of ``bps submit``: the job environment plus the EUPS-style variables."""
        env = runner_env(self.env)
        for key, value in stack_env(os.path.dirname(self.pipetask)).items():
            env.setdefault(key, value)
        return env

    async def run(self, request: JobRequest) -> JobOutcome:
        """Run one job through ``bps submit``; cancelling stops every process of the submission."""
        try:
            repo, log_path = job_paths(self.repo, self.log_dir, request.butler_repo, request.job_id)
        except (ValueError, OSError) as e:
            return JobOutcome(phase=JobPhase.ERROR, error_message=str(e))
        job_dir = os.path.join(os.path.dirname(os.path.dirname(log_path)), BPS_DIR_NAME)
        env = self.subprocess_env()
        try:
            pipeline = resolve_pipeline(request.pipeline, env)
            config = build_submit_config(
                request, repo, pipeline, job_dir, self.site_config, self.cluster, self.final_job_cpus
            )
            submit_yaml = await asyncio.to_thread(_write_yaml, job_dir, config)
        except (RunOptionsError, FileNotFoundError, OSError) as e:
            return await self._fail(log_path, str(e), mode="w")

        try:
            returncode = await self._run_logged(
                build_submit_command(self.bps, submit_yaml), log_path, "wb", env, job_dir
            )
        except asyncio.CancelledError:
            await asyncio.to_thread(remove_job_outputs, repo, request.job_id)
            raise
        if returncode != 0:
            message = log_tail(log_path) or f"bps submit exited with code {returncode}"
            return JobOutcome(phase=JobPhase.ERROR, error_message=message, log_path=log_path)

        problem = await self._check_quanta(repo, job_dir, log_path, env)
        if problem:
            return await self._fail(log_path, problem)
        _, run = job_collections(request.job_id)
        results = await asyncio.to_thread(self._results, repo, run, request.output_dataset_types)
        return JobOutcome(phase=JobPhase.COMPLETED, results=results, log_path=log_path)

    async def _run_logged(
        self, command: list[str], log_path: str, mode: str, env: dict[str, str], cwd: str
    ) -> int:
        """Run ``command`` in a session of its own, output to ``log_path``; its exit code.

        Cancelling stops the whole session (`stop_session`) before the
        cancellation goes on.
        """
        with open(log_path, mode) as log_file:
            process = await asyncio.create_subprocess_exec(
                *command,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log_file,
                stderr=asyncio.subprocess.STDOUT,
                env=env,
                cwd=cwd,
                start_new_session=True,
            )
            try:
                return await process.wait()
            except asyncio.CancelledError:
                await stop_session(process, self.terminate_timeout)
                raise

    async def _fail(self, log_path: str, reason: str, mode: str = "a") -> JobOutcome:
        """Write ``reason`` at the end of the job's log; the ERROR outcome."""
        await asyncio.to_thread(_write_text, log_path, f"ERROR: {reason}\n", mode)
        return JobOutcome(phase=JobPhase.ERROR, error_message=reason, log_path=log_path)

    async def _check_quanta(self, repo: str, job_dir: str, log_path: str, env: dict[str, str]) -> str:
        """Run ``pipetask report`` on the job's quantum graph; return why the job failed, or ""."""
        submit = os.path.join(job_dir, "submit")
        graphs = sorted(glob.glob(os.path.join(submit, "*.qg")))
        if len(graphs) != 1:
            return (
                f"bps submit exited 0 but left {len(graphs)} quantum graphs in {submit} (expected one); "
                "see the log above"
            )
        report_yaml = os.path.join(job_dir, REPORT_YAML)
        returncode = await self._run_logged(
            build_report_command(self.pipetask, repo, graphs[0], report_yaml), log_path, "ab", env, job_dir
        )
        if returncode != 0:
            return f"pipetask report on {graphs[0]} exited with code {returncode}; see the log above"
        try:
            report = await asyncio.to_thread(_read_yaml, report_yaml)
            failures = failed_quanta(report)
        except (OSError, ValueError, yaml.YAMLError) as e:
            return f"Could not read the pipetask report {report_yaml}: {e}"
        if not failures:
            return ""
        logs = os.path.join(submit, "logs")
        return (
            "bps submit exited 0 but quanta did not succeed: "
            + "; ".join(failure.describe() for failure in failures)
            + f". Per-quantum logs: {logs}"
        )

    def _results(self, repo: str, run: str, glob_: str) -> list[dict[str, str]]:
        """Query the job's output datasets (worker thread)."""
        from lsst.daf.butler import Butler

        butler = Butler.from_config(repo, writeable=False)
        try:
            return output_results(butler, run, glob_)
        finally:
            butler.close()


def remove_job_outputs(repo: str, job_id: str) -> bool:
    """Remove a job's ``u/ocps/<job_id>`` CHAINED and RUN collections and their datasets, if any.

    After an abort during BPS's final job, which registers the outputs,
    nothing of the job must stay registered.

    Parameters
    ----------
    repo : `str`
        Butler repository.
    job_id : `str`
        The job.

    Returns
    -------
    removed : `bool`
        True if there was something to remove.
    """
    from lsst.daf.butler import Butler, MissingCollectionError

    output, run = job_collections(job_id)
    removed = False
    butler = Butler.from_config(repo, writeable=True)
    try:
        with contextlib.suppress(MissingCollectionError):
            butler.collections.x_remove(output)
            removed = True
        with contextlib.suppress(MissingCollectionError):
            butler.collections.get_info(run)
            butler.removeRuns([run])
            removed = True
    finally:
        butler.close()
    return removed


async def stop_session(process: asyncio.subprocess.Process, terminate_timeout: float) -> None:
    """Stop every process of the session that ``process`` leads, and reap ``process``.

    SIGTERM to all of them, then SIGKILL to those left after
    ``terminate_timeout`` seconds; returns once ``process`` has exited and
    no other live process of its session is left (or after SIGKILL's
    timeout).

    Parameters
    ----------
    process : `asyncio.subprocess.Process`
        A process started with ``start_new_session=True``.
    terminate_timeout : `float`
        Seconds to wait after each signal.
    """
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGKILL):
        _signal_session(process.pid, sig)
        deadline = loop.time() + terminate_timeout
        while loop.time() < deadline:
            if process.returncode is None:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(asyncio.shield(process.wait()), 0.1)
            else:
                await asyncio.sleep(0.1)
            if process.returncode is not None and not session_pids(process.pid):
                return
    await process.wait()


def session_pids(session: int) -> list[int]:
    """Live (not zombie) processes of a session, from ``/proc``; empty where there is none."""
    pids = []
    with contextlib.suppress(OSError):
        entries = os.listdir("/proc")
        for entry in entries:
            if not entry.isdigit():
                continue
            pid = int(entry)
            try:
                if os.getsid(pid) != session:
                    continue
                with open(f"/proc/{pid}/stat") as f:
                    state = f.read().rpartition(")")[2].split()[0]
            except (OSError, IndexError):
                continue
            if state != "Z":
                pids.append(pid)
    return pids


def _signal_session(session: int, sig: int) -> None:
    """Send ``sig`` to the session's process group and to every other process of the session.

    The process group covers ``bps submit`` and the commands its threads
    run; the session also covers processes that moved to a group of their
    own (a parsl provider's ``setpgrp``).
    """
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(session, sig)
    for pid in session_pids(session):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def _write_yaml(job_dir: str, config: dict[str, typing.Any]) -> str:
    """Write the submit YAML in a new job folder; return its path."""
    os.makedirs(job_dir, exist_ok=True)
    path = os.path.join(job_dir, SUBMIT_YAML)
    with open(path, "w") as f:
        yaml.safe_dump(config, f, sort_keys=False)
    return path


def _write_text(path: str, text: str, mode: str) -> None:
    with open(path, mode) as f:
        f.write(text)


def _read_yaml(path: str) -> typing.Any:
    with open(path) as f:
        return yaml.safe_load(f)
