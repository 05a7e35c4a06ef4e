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
   reported through ``on_job_id``.
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
4. The job is judged by ``exit_code`` (0 completed, 1 failed, 255 aborted),
   not by the result JSON's ``phase`` (dm_OCPS fills ``result`` from the
   submission response, whose phase is often still ``pending``).
   ``phase`` and ``errorSummary.message`` are reported. An aborted job gets
   two results from dm_OCPS: ``exit_code`` 255 from ``abort_job``, then
   ``exit_code`` 1 (phase ``aborted``) from its own ``execute``; the first
   result of a job is the one kept, and either one says "aborted".

Public API
----------
`OcpsJobClient(remote, log=None, job_timeout=3600, ack_timeout=60, result_grace=10)`
    `OcpsJobClient.make(domain, index=OCPSIndex.LSSTComCam)`, ``await start()``,
    ``await run_job(name, pipeline, config, data_query, ...)`` -> `JobResult`
    (raises `JobFailed`/`JobTimeout`/`JobSubmitError`), ``active_jobs``,
    ``await abort_unfinished()`` -> `list` [`AbortOutcome`], ``close()``.
`JobResult`
    ``job_id, exit_code, phase, error_message, output_collection``
    (``u/ocps/<job_id>``), ``output_run`` (``u/ocps/<job_id>/run``),
    ``log_path``, ``result`` (parsed JSON), ``final_ack``.
`OcpsError` (base), `JobSubmitError`, `JobFailed` (``.result``), `JobTimeout`.
`check_enabled(remotes, timeout=5)` -> `dict` [`str`, `State`]
    raises `CscNotReady` naming every CSC that is not ENABLED (with its
    state, or "no summaryState" if none was seen within ``timeout``).
`check_ocps_configuration(remote, instrument="LSSTComCam", timeout=5)` -> `str`
    raises `CscNotReady` unless ``configurationApplied.configurations``
    names ``instrument`` (e.g. ``LSSTComCam.yaml`` or ``LSSTComCam``).
`component_name(remote)` -> ``"OCPS:2"``.
"""

from __future__ import annotations

__all__ = [
    "AbortOutcome",
    "CscNotReady",
    "JobFailed",
    "JobResult",
    "JobSubmitError",
    "JobTimeout",
    "OcpsError",
    "OcpsJobClient",
    "check_enabled",
    "check_ocps_configuration",
    "component_name",
    "output_collection",
    "output_run",
]

import asyncio
import dataclasses
import json
import logging
import typing

from ..sal import OCPSIndex, SalRetCode, State, salobj

EXIT_COMPLETED = 0
EXIT_FAILED = 1
EXIT_ABORTED = 255
DEFAULT_JOB_TIMEOUT = 3600.0
DEFAULT_ACK_TIMEOUT = 60.0
#: After the final CMD_COMPLETE, how long to wait for a job_result not yet seen.
RESULT_GRACE = 10.0


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
class OcpsError(RuntimeError):
    """An OCPS job could not be run or did not succeed."""


class JobSubmitError(OcpsError):
    """OCPS refused ``execute`` or gave no job id."""


@dataclasses.dataclass
class JobResult:
    """How an OCPS job ended."""

    name: str
    job_id: str
    exit_code: int
    phase: str | None
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
        """True for ``abort_job``'s result (255) or ``execute``'s after an abort (phase aborted)."""
        return self.exit_code == EXIT_ABORTED or (not self.succeeded and self.phase == "aborted")

    @property
    def output_collection(self) -> str:
        return output_collection(self.job_id)

    @property
    def output_run(self) -> str:
        return output_run(self.job_id)

    def describe(self) -> str:
        """One line for the log."""
        if self.succeeded:
            state = "completed"
        elif self.aborted:
            state = f"was aborted (exit_code {self.exit_code})"
        else:
            state = f"failed (exit_code {self.exit_code})"
        text = f"{self.name} job {self.job_id} {state}"
        if self.phase:
            text += f", UWS phase {self.phase!r}"
        if self.error_message:
            text += f": {self.error_message}"
        if self.log_path:
            text += f"; log: {self.log_path}"
        if self.succeeded:
            text += f"; output {self.output_collection}"
        return text


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


class CscNotReady(RuntimeError):
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
    """What happened when `OcpsJobClient.abort_unfinished` aborted one job."""

    name: str
    job_id: str
    ok: bool
    message: str


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
        job_timeout: float = DEFAULT_JOB_TIMEOUT,
        ack_timeout: float = DEFAULT_ACK_TIMEOUT,
        result_grace: float = RESULT_GRACE,
    ) -> None:
        self.remote = remote
        self.result_grace = result_grace
        self.log = log or logging.getLogger(__name__)
        self.job_timeout = job_timeout
        self.ack_timeout = ack_timeout
        self.name = component_name(remote)
        self._results: dict[str, typing.Any] = {}
        self._result_waiters: dict[str, asyncio.Future] = {}
        self._active: dict[str, _ActiveJob] = {}
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

        Raises
        ------
        JobSubmitError
            OCPS rejected the command, never acknowledged it, or completed it
            without a job id.
        """
        if not self._started:
            await self.start()
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
                            await asyncio.wait_for(asyncio.shield(result_future), timeout=self.result_grace)
                        except asyncio.TimeoutError:
                            # Left active: the job may still run on the back end (aborted at cleanup).
                            raise JobFailed(
                                JobResult(
                                    name=name,
                                    job_id=job_id,
                                    exit_code=EXIT_FAILED,
                                    phase=None,
                                    error_message=f"execute ended with {final_ack_text} and no job_result",
                                    result=None,
                                    raw_result="",
                                    final_ack=final_ack_text,
                                )
                            ) from None
                    elif status == "done" and not result_future.done():
                        try:
                            await asyncio.wait_for(asyncio.shield(result_future), timeout=self.result_grace)
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

    async def abort_unfinished(self, timeout: float | None = None) -> list[AbortOutcome]:
        """Send ``abort_job`` for every active job; never raises.

        Each job is forgotten afterwards, whatever the outcome (an
        ``abort_job`` that fails is reported in the returned list and the
        log, e.g. because the job ended meanwhile).
        """
        timeout = self.ack_timeout if timeout is None else timeout
        outcomes: list[AbortOutcome] = []
        for job_id, job in list(self._active.items()):
            if job_id in self._results:
                self._active.pop(job_id, None)
                continue
            try:
                ack = await self.remote.cmd_abort_job.set_start(job_id=job_id, timeout=timeout)
                outcome = AbortOutcome(
                    job.name, job_id, True, f"{_ack_code_name(ack.ack)} {ack.result}".strip()
                )
                self.log.warning("Aborted %s job %s on %s", job.name, job_id, self.name)
            except salobj.AckError as e:
                outcome = AbortOutcome(
                    job.name, job_id, False, f"{_ack_code_name(e.ackcmd.ack)} {e.ackcmd.result}".strip()
                )
                self.log.error(
                    "Could not abort %s job %s on %s: %s", job.name, job_id, self.name, outcome.message
                )
            except Exception as e:
                outcome = AbortOutcome(job.name, job_id, False, repr(e))
                self.log.exception("Could not abort %s job %s on %s", job.name, job_id, self.name)
            self._active.pop(job_id, None)
            outcomes.append(outcome)
        return outcomes


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
    phase = str(result["phase"]) if result and result.get("phase") is not None else None
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
        exit_code=int(getattr(data, "exit_code", EXIT_FAILED)),
        phase=phase,
        error_message=error_message,
        result=result,
        raw_result=raw,
        final_ack=final_ack,
        log_path=log_path,
    )


# --- preflight -------------------------------------------------------------
async def check_enabled(remotes: typing.Sequence[typing.Any], timeout: float = 5.0) -> dict[str, State]:
    """Check that every Remote's CSC is ENABLED.

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


async def check_ocps_configuration(
    remote: typing.Any, instrument: str = "LSSTComCam", timeout: float = 5.0
) -> str:
    """Check that OCPS runs with the configuration of ``instrument``.

    ``configurationApplied.configurations`` is a comma-separated list of
    the configuration files applied (e.g. ``"_init.yaml,LSSTComCam.yaml"``);
    one of them, without folder and ``.yaml``/``.yml`` suffix, must be
    ``instrument``.

    Returns
    -------
    configurations : `str`
        The ``configurations`` text.

    Raises
    ------
    CscNotReady
        If no ``configurationApplied`` was seen within ``timeout``, or it does
        not name ``instrument``.
    """
    name = component_name(remote)
    try:
        data = await remote.evt_configurationApplied.aget(timeout=timeout)
    except asyncio.TimeoutError:
        raise CscNotReady(
            f"{name} published no configurationApplied within {timeout:g} s; cannot tell whether it is "
            f"configured for {instrument}",
            {name: "no configurationApplied"},
        ) from None
    configurations = str(data.configurations)
    names = []
    for item in configurations.split(","):
        item = item.strip().rsplit("/", 1)[-1]
        for suffix in (".yaml", ".yml"):
            if item.endswith(suffix):
                item = item[: -len(suffix)]
        if item:
            names.append(item)
    if instrument not in names:
        raise CscNotReady(
            f"{name} is configured with {configurations!r}, not for {instrument}; "
            f"restart it with the {instrument} configuration",
            {name: f"configured with {configurations!r}"},
        )
    return configurations
