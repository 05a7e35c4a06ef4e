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

"""OCPS jobs and CSC preflight checks.

`OcpsJobClient` wraps a ``Remote(domain, "OCPS", index=2)`` and runs one
pipeline job at a time per call (several calls may run concurrently):

1. ``cmd_execute.set_start(wait_done=False, ...)``; then, while the ack is
   not a ``CMD_INPROGRESS`` whose ``result`` JSON holds ``job_id``,
   ``next_ackcmd(ack, wait_done=False)`` (a legacy ``CMD_ACK`` first is
   tolerated). A failed ack raises `JobSubmitError` with the ack text
   (e.g. "execute not allowed in state=DISABLED").
2. The job id is registered as *active* (see `abort_unfinished`) and
   reported through ``on_job_id``. The submission runs as its own task: if
   the caller is cancelled (a stop) before the job id arrives, the job id
   is still registered when it comes, because OCPS has already created the
   job, and `abort_unfinished` waits for it and aborts that job.
3. It waits, under one overall ``job_timeout``, for the ``job_result``
   with that job id and for the final ack. ``job_result`` events are taken
   by a callback installed once per client (`start`) and kept by job id, so
   a result that arrives before the final ack (dm_OCPS writes it before
   ``CMD_COMPLETE``), before anybody waits, or while another job runs is
   never lost or stolen; a stale historical result has another job id and
   is ignored. The match is on the SAL field ``job_id``; if it is blank,
   the result JSON's ``jobId``. A final ack that arrives before
   ``next_ackcmd`` can be called (salobj forgets finished commands) is not
   an error: the ``job_result`` decides. After the final ack, a
   ``job_result`` not yet seen gets ``result_grace`` seconds; a failed
   final ack with no ``job_result`` raises `JobFailed`, a missing
   ``job_result`` `JobTimeout`; in both cases, and on the overall timeout,
   the job stays *active* so that `abort_unfinished` aborts it.
4. The job is judged by ``exit_code`` only (0 completed, 1 failed, 255
   aborted): dm_OCPS fills ``result`` with the execution service's answer
   to the job's submission, whose ``phase`` is still ``queued`` or
   ``pending`` and which lists no results. That phase is kept only as the
   "phase at submission", never shown as the job's outcome. A job that did
   not complete is described by its job id, its exit code, what the
   execution service said (``errorSummary.message`` and the phase at
   submission of the result JSON, or its text) and where its log is: the
   ``results`` entry whose URI ends in ``.log`` if the result has one, else
   ``ocps.log`` in the job's output directory on the execution service. An
   aborted job gets two results from dm_OCPS: ``exit_code`` 255 from
   ``abort_job``, then ``exit_code`` 1 from its own ``execute``; the first
   result of a job is the one kept.
5. `abort_unfinished` (at the end of a stopped or failed run) waits for
   job ids still to come, then reports every active job with its
   ``job_result``: a job that ended at the moment of the stop is reported
   as it ended, the others are aborted and reported with their 255 result.

Public API
----------
`OcpsJobClient(remote, log=None, job_timeout=None, ack_timeout=60, result_grace=10)`
    `OcpsJobClient.make(domain, index=OCPSIndex.LSSTComCam)`, ``await start()``,
    ``await run_job(name, pipeline, config, data_query, ...)`` -> `JobResult`
    (raises `JobFailed`/`JobTimeout`/`JobSubmitError`), ``active_jobs``, ``has_result(job_id)``,
    ``await abort_unfinished()`` -> `list` [`AbortOutcome`], ``pending_submissions``, ``close()``.
`JobResult`
    ``job_id, exit_code, outcome`` (``completed``/``failed``/``aborted``, from
    ``exit_code``), ``submitted_phase``, ``error_message, output_collection``
    (``u/ocps/<job_id>``), ``output_run`` (``u/ocps/<job_id>/run``),
    ``log_path``, ``log_location``, ``butler_repo`` (``BUTLER_REPO`` of the
    UWS parameters, if reported), ``result`` (parsed JSON), ``final_ack``,
    ``describe()``, ``failure_detail()``.
`OcpsError` (base), `JobSubmitError`, `JobFailed` (``.result``), `JobTimeout`, `RepoMismatch`.
`check_enabled(remotes, timeout=5)` -> `dict` [`str`, `State`]
    raises `CscNotReady` naming every CSC that is not ENABLED (with its
    state, or "no summaryState" if none was seen within ``timeout``).
`check_ocps_configuration(remote, instrument="LSSTComCam", timeout=5, log=None)`
    -> `AppliedConfiguration` or `None`: logs ``configurationApplied``;
    raises `CscNotReady` only if an applied file is named after another
    instrument (e.g. ``LATISS.yaml``).
`check_output_in_repo(repo, result, ocps_name)` (blocking)
    raises `RepoMismatch` unless ``u/ocps/<job_id>`` is in ``repo``.
`component_name(remote)` -> ``"OCPS:2"``.
"""

from __future__ import annotations

__all__ = [
    "AbortOutcome",
    "AppliedConfiguration",
    "CscNotReady",
    "JobFailed",
    "JobOutcome",
    "JobResult",
    "JobSubmitError",
    "JobTimeout",
    "OcpsError",
    "OcpsJobClient",
    "RepoMismatch",
    "check_enabled",
    "check_ocps_configuration",
    "check_output_in_repo",
    "component_name",
    "output_collection",
    "output_run",
]

import asyncio
import dataclasses
import enum
import json
import logging
import re
import typing

from .. import butlers
from ..errors import CalibScriptsError
from ..sal import OCPSIndex, SalRetCode, State, salobj
from .aio import wait_within
from .config import schema_defaults

EXIT_COMPLETED = 0
EXIT_FAILED = 1
EXIT_ABORTED = 255
DEFAULT_ACK_TIMEOUT = 60.0
#: After the final CMD_COMPLETE, how long to wait for a job_result not yet seen.
RESULT_GRACE = 10.0
#: Name of a job's log in its output directory on the execution service.
JOB_LOG_NAME = "ocps.log"
#: Longest result text quoted in a message when the result has no phase or errorSummary.
MAX_RESULT_TEXT = 300


#: Instruments with an OCPS instance (the OCPS SAL indices that are instruments).
INSTRUMENTS = tuple(index.name for index in OCPSIndex if index.name != "RA")


def output_collection(job_id: str) -> str:
    """The CHAINED output collection of an OCPS job: ``u/ocps/<job_id>``."""
    return f"u/ocps/{job_id}"


def output_run(job_id: str) -> str:
    """The RUN collection of an OCPS job: ``u/ocps/<job_id>/run``."""
    return f"u/ocps/{job_id}/run"


def component_name(remote: typing.Any) -> str:
    """``Name`` or ``Name:index`` of a Remote."""
    salinfo = getattr(remote, "salinfo", None)
    name_index = getattr(salinfo, "name_index", None)
    if name_index:
        return str(name_index)
    name = getattr(salinfo, "name", None) or type(remote).__name__
    index = getattr(salinfo, "index", 0)
    return f"{name}:{index}" if index else str(name)


# --- errors ----------------------------------------------------------------
class OcpsError(CalibScriptsError, RuntimeError):
    """An OCPS job could not be run or did not succeed."""


class JobSubmitError(OcpsError):
    """OCPS refused ``execute`` or gave no job id."""


class JobOutcome(str, enum.Enum):
    """How an OCPS job ended, from its ``job_result.exit_code``."""

    COMPLETED = "completed"
    FAILED = "failed"
    ABORTED = "aborted"


@dataclasses.dataclass
class JobResult:
    """How an OCPS job ended (from its ``job_result``).

    Attributes
    ----------
    name : `str`
        What the job is (``cp_bias``, ``verify_bias``).
    job_id : `str`
        The job id.
    exit_code : `int`
        The verdict: 0 completed, 255 aborted, anything else failed.
    submitted_phase : `str` or `None`
        The ``phase`` of the result JSON: the execution service's phase of
        the job when it was submitted (``queued``, ``pending``), not how it
        ended. None for ``abort_job``'s result (exit_code 255), which
        carries the answer to the job's deletion instead.
    error_message : `str`
        ``errorSummary.message`` of the result JSON (or what the command
        said when no ``job_result`` came).
    result : `dict` or `None`
        The parsed result JSON.
    raw_result : `str`
        The result text.
    final_ack : `str`
        The final ack of ``execute``.
    log_path : `str` or `None`
        The log URI the result names, if any.
    """

    name: str
    job_id: str
    exit_code: int
    submitted_phase: str | None
    error_message: str
    result: dict[str, typing.Any] | None
    raw_result: str
    final_ack: str
    log_path: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.exit_code == EXIT_COMPLETED

    @property
    def aborted(self) -> bool:
        """True for ``abort_job``'s result (exit_code 255)."""
        return self.exit_code == EXIT_ABORTED

    @property
    def outcome(self) -> JobOutcome:
        """How the job ended, from ``exit_code`` alone."""
        if self.succeeded:
            return JobOutcome.COMPLETED
        return JobOutcome.ABORTED if self.aborted else JobOutcome.FAILED

    @property
    def output_collection(self) -> str:
        return output_collection(self.job_id)

    @property
    def output_run(self) -> str:
        return output_run(self.job_id)

    @property
    def log_location(self) -> str:
        """Where the job's log is: the URI the result names, else where to look for it."""
        if self.log_path:
            return self.log_path
        return f"{JOB_LOG_NAME} in the output directory of job {self.job_id} on the OCPS execution service"

    @property
    def butler_repo(self) -> str | None:
        """The repository the job ran on (``BUTLER_REPO`` of the UWS job parameters), if reported."""
        parameters = self.result.get("parameters") if self.result else None
        environment = parameters.get("environment") if isinstance(parameters, dict) else None
        for entry in environment if isinstance(environment, list) else []:
            if isinstance(entry, dict) and entry.get("name") == "BUTLER_REPO" and entry.get("value"):
                return str(entry["value"])
        return None

    def service_report(self) -> str:
        """What the execution service said about the job (from the ``job_result`` JSON)."""
        if self.result is None and not self.raw_result and self.error_message:
            return self.error_message  # no job_result: what the command said
        at_submission = (
            f"phase at submission {self.submitted_phase!r}" if self.submitted_phase is not None else ""
        )
        if self.error_message:
            return f"errorSummary {self.error_message!r}" + (f" ({at_submission})" if at_submission else "")
        if at_submission:
            return f"no error summary ({at_submission})"
        text = self.raw_result.strip()
        if not text:
            return "nothing (empty result)"
        if len(text) > MAX_RESULT_TEXT:
            text = text[:MAX_RESULT_TEXT] + "..."
        return f"result {text}"

    def failure_detail(self) -> str:
        """Why a job did not complete and where to look: service report and log."""
        return f"execution service said: {self.service_report()}; log: {self.log_location}"

    def describe(self) -> str:
        """One line for the log and the failure reason."""
        if self.succeeded:
            return f"{self.name} job {self.job_id} completed (exit_code 0); output {self.output_collection}"
        if self.aborted:
            state = f"was aborted (exit_code {self.exit_code})"
        else:
            state = f"failed (exit_code {self.exit_code})"
        return f"{self.name} job {self.job_id} {state}; {self.failure_detail()}"


class JobFailed(OcpsError):
    """The job ended with a nonzero exit code (``.result``)."""

    def __init__(self, result: JobResult) -> None:
        super().__init__(result.describe())
        self.result = result


class JobTimeout(OcpsError):
    """The job did not end in time; it is still active (abort it)."""

    def __init__(self, message: str, job_id: str) -> None:
        super().__init__(message)
        self.job_id = job_id


class CscNotReady(CalibScriptsError, RuntimeError):
    """One or more CSCs are not ready; the message names each and why.

    Attributes
    ----------
    problems : `dict` [`str`, `str`]
        Component name -> what is wrong.
    """

    def __init__(self, message: str, problems: dict[str, str]) -> None:
        super().__init__(message)
        self.problems = problems


@dataclasses.dataclass(frozen=True)
class AbortOutcome:
    """How a job left unfinished by its caller ended, from `OcpsJobClient.abort_unfinished`.

    Attributes
    ----------
    name : `str`
        What the job is (``cp_bias``, ``verify_bias``).
    job_id : `str`
        The job id; empty if OCPS never reported it.
    ok : `bool`
        True if ``abort_job`` was sent and accepted.
    message : `str`
        What happened (the ``abort_job`` ack, or why no abort was sent).
    result : `JobResult` or `None`
        The job's ``job_result``, if it arrived: that of the abort (255) or,
        for a job that ended by itself meanwhile, its own.
    """

    name: str
    job_id: str
    ok: bool
    message: str
    result: JobResult | None = None


@dataclasses.dataclass
class _ActiveJob:
    name: str
    job_id: str


# --- job client ------------------------------------------------------------
class OcpsJobClient:
    """Run OCPS jobs through one Remote; see the module docstring.

    Parameters
    ----------
    remote : `salobj.Remote`
        ``Remote(domain, "OCPS", index=2)``, not used by anything else for
        ``evt_job_result`` (this client installs its callback).
    log : `logging.Logger`, optional
    job_timeout : `float`
        Default overall time limit of a job (s), from ``execute`` to result.
    ack_timeout : `float`
        Time limit (s) for OCPS to acknowledge ``execute`` with a job id and
        ``abort_job``.
    result_grace : `float`
        After the final ack of ``execute``, how long (s) to wait for a
        ``job_result`` not yet seen.
    """

    def __init__(
        self,
        remote: typing.Any,
        log: logging.Logger | None = None,
        job_timeout: float | None = None,
        ack_timeout: float = DEFAULT_ACK_TIMEOUT,
        result_grace: float = RESULT_GRACE,
    ) -> None:
        self.remote = remote
        self.result_grace = result_grace
        self.log = log or logging.getLogger(__name__)
        self.job_timeout = float(schema_defaults()["job_timeout"]) if job_timeout is None else job_timeout
        self.ack_timeout = ack_timeout
        self.name = component_name(remote)
        self._results: dict[str, typing.Any] = {}
        self._result_waiters: dict[str, asyncio.Future] = {}
        self._active: dict[str, _ActiveJob] = {}
        # execute commands sent whose job id is not known yet: task -> job name.
        self._pending: dict[asyncio.Future, str] = {}
        self._started = False

    @classmethod
    def make(
        cls, domain: typing.Any, index: int = OCPSIndex.LSSTComCam, **kwargs: typing.Any
    ) -> "OcpsJobClient":
        """Create the Remote (``OCPS:<index>``) and the client; then ``await client.start()``."""
        remote = salobj.Remote(
            domain,
            "OCPS",
            index=int(index),
            include=["summaryState", "configurationApplied", "job_result", "heartbeat", "logMessage"],
        )
        return cls(remote, **kwargs)

    async def start(self) -> None:
        """Wait for the Remote to start and install the ``job_result`` callback."""
        start_task = getattr(self.remote, "start_task", None)
        if start_task is not None:
            await start_task
        if not self._started:
            # Setting a callback flushes the queue (stale historical results go).
            self.remote.evt_job_result.callback = self._on_job_result
            self._started = True

    def close(self) -> None:
        """Remove the callback (does not close the Remote)."""
        if self._started:
            self.remote.evt_job_result.callback = None
            self._started = False
        for future in self._result_waiters.values():
            if not future.done():
                future.cancel()

    @property
    def active_jobs(self) -> dict[str, str]:
        """Jobs started and not known to have ended: job id -> name."""
        return {job_id: job.name for job_id, job in self._active.items()}

    def has_result(self, job_id: str) -> bool:
        """True if a ``job_result`` of that job has arrived."""
        return job_id in self._results

    async def _on_job_result(self, data: typing.Any) -> None:
        job_id = str(getattr(data, "job_id", "") or "")
        parsed = _parse_json(getattr(data, "result", ""))
        json_id = str(parsed.get("jobId", "")) if isinstance(parsed, dict) else ""
        if not job_id:
            job_id = json_id
        elif json_id and json_id != job_id:
            self.log.warning("job_result for job_id=%s carries jobId=%s in its result JSON", job_id, json_id)
        if not job_id:
            self.log.warning("job_result with no job id ignored: %s", getattr(data, "result", ""))
            return
        first = self._results.get(job_id)
        if first is not None:
            # dm_OCPS reports an aborted job twice (255 from abort_job, then 1 from execute).
            self.log.debug(
                "Later job_result for job %s (exit_code %s) ignored; kept exit_code %s",
                job_id,
                getattr(data, "exit_code", None),
                getattr(first, "exit_code", None),
            )
            return
        self._results[job_id] = data
        waiter = self._result_waiters.get(job_id)
        if waiter is not None and not waiter.done():
            waiter.set_result(data)

    def _result_future(self, job_id: str) -> asyncio.Future:
        future = self._result_waiters.get(job_id)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._result_waiters[job_id] = future
            if job_id in self._results:
                future.set_result(self._results[job_id])
        return future

    @property
    def pending_submissions(self) -> list[str]:
        """Names of the jobs whose ``execute`` was sent and whose job id is not known yet."""
        return list(self._pending.values())

    async def submit(
        self,
        name: str,
        pipeline: str,
        config: str,
        data_query: str,
        version: str = "",
        prereq_jobs: str = "",
        output_dataset_types: str = "",
    ) -> tuple[str, typing.Any]:
        """Send ``execute`` and return (job id, the in-progress ack); the job is then active.

        If the caller is cancelled before the job id arrives, the submission
        goes on: OCPS may already have created the job, so its id is
        registered as active when it arrives and `abort_unfinished` aborts it.

        Raises
        ------
        JobSubmitError
            OCPS rejected the command, never acknowledged it, or completed it
            without a job id.
        """
        if not self._started:
            await self.start()
        task = asyncio.ensure_future(
            self._submit(name, pipeline, config, data_query, version, prereq_jobs, output_dataset_types)
        )
        self._pending[task] = name
        task.add_done_callback(self._submission_done)
        return await asyncio.shield(task)

    def _submission_done(self, task: asyncio.Future) -> None:
        self._pending.pop(task, None)
        if not task.cancelled():
            # Retrieved here so that an orphaned submission's error is not reported as never retrieved.
            task.exception()

    async def _submit(
        self,
        name: str,
        pipeline: str,
        config: str,
        data_query: str,
        version: str,
        prereq_jobs: str,
        output_dataset_types: str,
    ) -> tuple[str, typing.Any]:
        """Send ``execute`` and wait for the job id; see `submit`."""
        cmd = self.remote.cmd_execute
        fields = dict(
            pipeline=pipeline,
            version=version,
            config=config,
            data_query=data_query,
        )
        if prereq_jobs or output_dataset_types:
            fields.update(prereq_jobs=prereq_jobs, output_dataset_types=output_dataset_types)
        try:
            ack = await cmd.set_start(wait_done=False, timeout=self.ack_timeout, **fields)
            while True:
                job_id = _job_id_from_ack(ack)
                if ack.ack == SalRetCode.CMD_INPROGRESS and job_id:
                    break
                if ack.ack == SalRetCode.CMD_COMPLETE:
                    raise JobSubmitError(
                        f"{self.name} completed execute for {name} without reporting a job id "
                        f"(ack result {ack.result!r})"
                    )
                self.log.debug("%s execute ack %s %r; waiting for the job id", self.name, ack.ack, ack.result)
                ack = await cmd.next_ackcmd(ack, timeout=self.ack_timeout, wait_done=False)
        except salobj.AckTimeoutError as e:
            raise JobSubmitError(
                f"{self.name} did not acknowledge execute for {name} within {self.ack_timeout:g} s "
                f"(is {self.name} running?): {e.ackcmd.result}"
            ) from e
        except salobj.AckError as e:
            raise JobSubmitError(
                f"{self.name} rejected execute for {name}: {_ack_code_name(e.ackcmd.ack)} {e.ackcmd.result}"
            ) from e
        self._active[job_id] = _ActiveJob(name=name, job_id=job_id)
        self._result_future(job_id)
        self.log.info("%s started %s job %s (output %s)", self.name, name, job_id, output_collection(job_id))
        return job_id, ack

    async def wait_job(
        self, name: str, job_id: str, ack: typing.Any, timeout: float | None = None
    ) -> JobResult:
        """Wait for the result of a submitted job; see `run_job`."""
        loop = asyncio.get_running_loop()
        timeout = self.job_timeout if timeout is None else timeout
        deadline = loop.time() + timeout
        result_future = self._result_future(job_id)
        final_ack_text = ""
        ack_task = asyncio.ensure_future(self._final_ack(ack, timeout))
        try:
            pending: set[asyncio.Future] = {result_future, ack_task}
            while not result_future.done():
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise JobTimeout(
                        f"{name} job {job_id} on {self.name} did not end within {timeout:g} s; "
                        "it is still running (it is aborted at cleanup)",
                        job_id,
                    )
                done, pending = await asyncio.wait(
                    pending, timeout=remaining, return_when=asyncio.FIRST_COMPLETED
                )
                if ack_task in done:
                    status, final_ack_text = ack_task.result()
                    if status == "failed":
                        # The command failed after the job started; give the result a moment.
                        try:
                            await wait_within(asyncio.shield(result_future), self.result_grace)
                        except asyncio.TimeoutError:
                            # Left active: the job may still run on the back end (aborted at cleanup).
                            raise JobFailed(
                                JobResult(
                                    name=name,
                                    job_id=job_id,
                                    exit_code=EXIT_FAILED,
                                    submitted_phase=None,
                                    error_message=f"execute ended with {final_ack_text} and no job_result",
                                    result=None,
                                    raw_result="",
                                    final_ack=final_ack_text,
                                )
                            ) from None
                    elif status == "done" and not result_future.done():
                        try:
                            await wait_within(asyncio.shield(result_future), self.result_grace)
                        except asyncio.TimeoutError:
                            raise JobTimeout(
                                f"{self.name} ended execute for {name} job {job_id} ({final_ack_text}) but "
                                f"no job_result for it arrived within {self.result_grace:g} s; the job is "
                                "left to be aborted at cleanup",
                                job_id,
                            ) from None
                    # "silent": no final ack yet; the job_result and the deadline decide.
            data = result_future.result()
            if not ack_task.done():
                # The result decides; the final ack (sent right after it) is only informative.
                done, _ = await asyncio.wait({ack_task}, timeout=1.0)
                if done:
                    _, final_ack_text = ack_task.result()
        finally:
            if not ack_task.done():
                ack_task.cancel()
        self._active.pop(job_id, None)
        self._result_waiters.pop(job_id, None)
        result = _make_job_result(name, job_id, data, final_ack_text)
        log = self.log.info if result.succeeded else self.log.error
        log("%s", result.describe())
        return result

    async def _final_ack(self, ack: typing.Any, timeout: float) -> tuple[str, str]:
        """Wait for the final ack of ``execute``: (status, text).

        status is ``"done"`` (CMD_COMPLETE, or finished before we could ask:
        salobj forgets finished commands), ``"failed"`` (a failed final ack)
        or ``"silent"`` (no final ack in time: not a verdict on the job).
        """
        try:
            final = await self.remote.cmd_execute.next_ackcmd(
                ack, timeout=timeout + RESULT_GRACE, wait_done=True
            )
        except salobj.AckTimeoutError as e:
            return "silent", f"no final ack ({e.ackcmd.result})"
        except salobj.AckError as e:
            return "failed", f"{_ack_code_name(e.ackcmd.ack)} {e.ackcmd.result}".strip()
        except RuntimeError:
            return "done", "final ack already received"
        return "done", f"{_ack_code_name(final.ack)} {final.result}".strip()

    async def run_job(
        self,
        name: str,
        pipeline: str,
        config: str,
        data_query: str,
        version: str = "",
        prereq_jobs: str = "",
        output_dataset_types: str = "",
        timeout: float | None = None,
        on_job_id: typing.Callable[[str], typing.Any] | None = None,
        raise_on_failure: bool = True,
    ) -> JobResult:
        """Run one job to its end.

        Parameters
        ----------
        name : `str`
            What the job is, for messages (``cp_bias``, ``verify_bias``).
        pipeline, config, data_query, version, prereq_jobs, output_dataset_types : `str`
            The ``execute`` fields.
        timeout : `float`, optional
            Overall limit (s) from the job id to its result; default
            ``job_timeout``.
        on_job_id : callable, optional
            Called with the job id as soon as it is known (may be async).
        raise_on_failure : `bool`
            Raise `JobFailed` for a nonzero exit code (else return the result).

        Raises
        ------
        JobSubmitError, JobFailed, JobTimeout
        """
        job_id, ack = await self.submit(
            name, pipeline, config, data_query, version, prereq_jobs, output_dataset_types
        )
        if on_job_id is not None:
            maybe = on_job_id(job_id)
            if asyncio.iscoroutine(maybe):
                await maybe
        result = await self.wait_job(name, job_id, ack, timeout)
        if raise_on_failure and not result.succeeded:
            raise JobFailed(result)
        return result

    async def abort_unfinished(
        self, timeout: float | None = None, names: typing.Collection[str] | None = None
    ) -> list[AbortOutcome]:
        """Abort every job started and not known to have ended; never raises.

        First, ``execute`` commands whose job id has not arrived yet are
        given up to ``timeout`` to report it (OCPS has created those jobs).
        Then, for each active job: if its ``job_result`` has arrived, it is
        reported as it is (no abort); otherwise ``abort_job`` is sent and
        its ``job_result`` (255, or its own if it ended meanwhile) is awaited
        for ``result_grace`` seconds. Each job is forgotten afterwards,
        whatever the outcome; failures are in the returned list and the log.

        Parameters
        ----------
        timeout : `float`, optional
            Time limit (s) for each wait for an ack; default ``ack_timeout``.
        names : collection of `str`, optional
            Only the jobs of these names (e.g. ``cp_dark``, ``verify_dark``:
            one calibration type's jobs while the others go on); default all.

        Returns
        -------
        outcomes : `list` [`AbortOutcome`]
            One per job (also those that had ended and those whose job id
            never arrived).
        """
        timeout = self.ack_timeout if timeout is None else timeout
        outcomes: list[AbortOutcome] = []
        pending = {task: name for task, name in self._pending.items() if names is None or name in names}
        if pending:
            _, late = await asyncio.wait(set(pending), timeout=timeout)
            for task in late:
                task.cancel()
                self._pending.pop(task, None)
                message = f"{self.name} reported no job id for execute within {timeout:g} s; nothing to abort"
                self.log.error("%s job: %s", pending[task], message)
                outcomes.append(AbortOutcome(pending[task], "", False, message))
        for job_id, job in list(self._active.items()):
            if names is not None and job.name not in names:
                continue
            outcomes.append(await self._abort_one(job, timeout))
            self._active.pop(job_id, None)
        return outcomes

    async def _abort_one(self, job: _ActiveJob, timeout: float) -> AbortOutcome:
        """Abort one active job unless it has ended; see `abort_unfinished`."""
        job_id = job.job_id
        data = self._results.get(job_id)
        if data is not None:
            result = _make_job_result(job.name, job_id, data, "")
            self.log.info("%s job %s had ended before it could be aborted", job.name, job_id)
            return AbortOutcome(job.name, job_id, False, "ended before it could be aborted", result)
        ok = False
        try:
            ack = await self.remote.cmd_abort_job.set_start(job_id=job_id, timeout=timeout)
            ok = True
            message = f"{_ack_code_name(ack.ack)} {ack.result}".strip()
            self.log.warning("Aborted %s job %s on %s", job.name, job_id, self.name)
        except salobj.AckError as e:
            message = f"{_ack_code_name(e.ackcmd.ack)} {e.ackcmd.result}".strip()
            self.log.error("Could not abort %s job %s on %s: %s", job.name, job_id, self.name, message)
        except Exception as e:
            message = repr(e)
            self.log.exception("Could not abort %s job %s on %s", job.name, job_id, self.name)
        # abort_job writes the job's job_result (255); a job that ended meanwhile has its own.
        # Different topics: the result may come after the ack.
        future = self._result_future(job_id)
        try:
            data = await wait_within(asyncio.shield(future), self.result_grace)
        except asyncio.TimeoutError:
            data = None
        self._result_waiters.pop(job_id, None)
        result = None if data is None else _make_job_result(job.name, job_id, data, "")
        if result is not None and not ok:
            self.log.info("%s", result.describe())
        return AbortOutcome(job.name, job_id, ok, message, result)


def _ack_code_name(code: typing.Any) -> str:
    try:
        return SalRetCode(code).name
    except ValueError:
        return str(code)


def _parse_json(text: typing.Any) -> typing.Any:
    if not isinstance(text, str) or not text.strip():
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _job_id_from_ack(ack: typing.Any) -> str:
    parsed = _parse_json(getattr(ack, "result", ""))
    if isinstance(parsed, dict):
        value = parsed.get("job_id")
        if value:
            return str(value)
    return ""


def _log_path(parsed: dict[str, typing.Any]) -> str | None:
    for entry in parsed.get("results") or []:
        if isinstance(entry, dict):
            uri = str(entry.get("uri", ""))
            if uri.endswith(".log"):
                return uri
    job_info = parsed.get("jobInfo")
    if isinstance(job_info, dict) and job_info.get("log"):
        return str(job_info["log"])
    return None


def _make_job_result(name: str, job_id: str, data: typing.Any, final_ack: str) -> JobResult:
    raw = str(getattr(data, "result", "") or "")
    parsed = _parse_json(raw)
    result = parsed if isinstance(parsed, dict) else None
    exit_code = int(getattr(data, "exit_code", EXIT_FAILED))
    # abort_job's result (255) carries the answer to the UWS DELETE, not the submission.
    submitted_phase = (
        str(result["phase"])
        if result and result.get("phase") is not None and exit_code != EXIT_ABORTED
        else None
    )
    error_message = ""
    log_path = None
    if result:
        summary = result.get("errorSummary")
        if isinstance(summary, dict):
            error_message = str(summary.get("message") or "")
        elif summary:
            error_message = str(summary)
        log_path = _log_path(result)
    return JobResult(
        name=name,
        job_id=job_id,
        exit_code=exit_code,
        submitted_phase=submitted_phase,
        error_message=error_message,
        result=result,
        raw_result=raw,
        final_ack=final_ack,
        log_path=log_path,
    )


# --- preflight -------------------------------------------------------------
SUMMARY_STATE_TIMEOUT = 5.0
"""Seconds `check_enabled` waits for a CSC's ``summaryState`` by default."""


async def check_enabled(
    remotes: typing.Sequence[typing.Any], timeout: float | None = None
) -> dict[str, State]:
    """Check that every Remote's CSC is ENABLED.

    Parameters
    ----------
    remotes : `list` [`lsst.ts.salobj.Remote`]
        The CSCs to check.
    timeout : `float`, optional
        Seconds to wait for each ``summaryState``; default
        `SUMMARY_STATE_TIMEOUT`.

    Returns
    -------
    states : `dict` [`str`, `State`]
        Component name -> summary state (all ENABLED).

    Raises
    ------
    CscNotReady
        Naming every CSC that is not ENABLED with its state, or that
        published no ``summaryState`` within ``timeout`` (not running?).
    """

    if timeout is None:
        timeout = SUMMARY_STATE_TIMEOUT

    async def get_state(remote: typing.Any) -> State | None:
        try:
            data = await remote.evt_summaryState.aget(timeout=timeout)
        except asyncio.TimeoutError:
            return None
        return State(data.summaryState)

    states = await asyncio.gather(*(get_state(r) for r in remotes))
    result: dict[str, State] = {}
    problems: dict[str, str] = {}
    for remote, state in zip(remotes, states):
        name = component_name(remote)
        if state is None:
            problems[name] = f"no summaryState within {timeout:g} s (is it running?)"
        else:
            result[name] = state
            if state != State.ENABLED:
                problems[name] = f"{state.name} (must be ENABLED)"
    if problems:
        raise CscNotReady("Not ready: " + "; ".join(f"{n}: {t}" for n, t in problems.items()), problems)
    return result


@dataclasses.dataclass(frozen=True)
class AppliedConfiguration:
    """What an OCPS's ``configurationApplied`` says.

    Attributes
    ----------
    configurations : `str`
        Comma-separated configuration files read, e.g.
        ``_init.yaml,_summit.yaml`` (plus the ``start`` override, if any).
    version, url, schema_version : `str`
        Version and URL of the configuration repository; schema version.
    """

    configurations: str
    version: str
    url: str
    schema_version: str

    @property
    def files(self) -> list[str]:
        """The configuration file names, without folders."""
        return [item.strip().rsplit("/", 1)[-1] for item in self.configurations.split(",") if item.strip()]

    def named_instruments(self) -> set[str]:
        """Instruments (OCPS instances) that a configuration file is named after.

        A file is named after an instrument when a word of its name (split
        on anything but letters and digits) is the instrument's name, in any
        case: ``LATISS.yaml``, ``lsstcam_summit.yaml``. Files whose name
        starts with ``_`` (``_init.yaml``, ``_<site>.yaml``) are shared and
        name none.
        """
        instruments = {name.lower(): name for name in INSTRUMENTS}
        named = set()
        for file in self.files:
            if file.startswith("_"):
                continue
            for word in re.split(r"[^A-Za-z0-9]+", file.lower()):
                if word in instruments:
                    named.add(instruments[word])
        return named

    def describe(self) -> str:
        return (
            f"configurations={self.configurations!r}, version={self.version!r}, url={self.url!r}, "
            f"schemaVersion={self.schema_version!r}"
        )


async def check_ocps_configuration(
    remote: typing.Any,
    instrument: str = "LSSTComCam",
    timeout: float = 5.0,
    log: logging.Logger | None = None,
) -> AppliedConfiguration | None:
    """Check that OCPS's applied configuration names no other instrument.

    A configurable CSC publishes in ``configurationApplied.configurations``
    the files it read: ``_init.yaml``, ``_<site>.yaml`` if present and the
    override given at ``start``, if any; OCPS refuses at ``start`` settings
    for another instance than its own. So an ENABLED OCPS:2 (see
    `check_enabled`) is set up for LSSTComCam, whatever its files are
    called; this check only rejects an applied override named after
    another instrument (e.g. ``LATISS.yaml``), and logs what
    ``configurationApplied`` says.

    Returns
    -------
    applied : `AppliedConfiguration` or `None`
        What was applied; None if no ``configurationApplied`` was seen within
        ``timeout`` (logged as a warning; ENABLED is the requirement).

    Raises
    ------
    CscNotReady
        The applied configuration names another instrument.
    """
    log = log or logging.getLogger(__name__)
    name = component_name(remote)
    try:
        data = await remote.evt_configurationApplied.aget(timeout=timeout)
    except asyncio.TimeoutError:
        log.warning(
            "%s published no configurationApplied within %g s; relying on its ENABLED state", name, timeout
        )
        return None
    applied = AppliedConfiguration(
        configurations=str(data.configurations),
        version=str(getattr(data, "version", "")),
        url=str(getattr(data, "url", "")),
        schema_version=str(getattr(data, "schemaVersion", "")),
    )
    log.info("%s configurationApplied: %s", name, applied.describe())
    others = sorted(applied.named_instruments() - {instrument})
    if others:
        raise CscNotReady(
            f"{name} applied configuration {applied.configurations!r}, named after {', '.join(others)}, "
            f"not {instrument}: its jobs would use that instrument's settings (butler, input collection). "
            f"Restart {name} (standby, then start) without that override, or with one for {instrument}",
            {name: f"configured with {applied.configurations!r}"},
        )
    return applied


# --- repository --------------------------------------------------------------
class RepoMismatch(OcpsError):
    """An OCPS job's output is not in the script's repository."""


def check_output_in_repo(repo: str, result: JobResult, ocps_name: str = "OCPS") -> None:
    """Check that a completed job's output collection is in ``repo`` (blocking: call in a thread).

    OCPS runs every job on its own configured butler; the script reads and
    certifies in its ``repo``. They must be the same repository.

    Parameters
    ----------
    repo : `str`
        The script's repository.
    result : `JobResult`
        The completed job (its ``butler_repo`` is used in the message when
        the result reports it).
    ocps_name : `str`
        ``OCPS:2``, for the message.

    Raises
    ------
    RepoMismatch
        ``repo`` cannot be opened or has no ``u/ocps/<job_id>`` collection.
    """
    from lsst.daf.butler import MissingCollectionError

    collection = result.output_collection
    ocps_butler = result.butler_repo
    where = (
        f"its configured butler {ocps_butler!r}" if ocps_butler else f"the {ocps_name}'s configured butler"
    )
    fix = (
        f"the {result.name} job ran on {where}; {ocps_name} runs every job on that repository, and the "
        f"script reads verification statistics and certifies in repo. Set repo to "
        + (repr(ocps_butler) if ocps_butler else f"the butler of {ocps_name}'s configuration")
        + f" and resume with bias_job_id {result.job_id}"
    )
    try:
        butler = butlers.open_butler(repo, writeable=False)
    except Exception as e:
        raise RepoMismatch(f"cannot open repo {repo!r} to find {collection} ({e}); {fix}") from e
    try:
        try:
            butler.collections.get_info(collection)
        except MissingCollectionError:
            raise RepoMismatch(f"{collection} is not in repo {repo!r}: {fix}") from None
    finally:
        butler.close()
