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

"""Mock OCPS (indexed; LSSTComCam = 2): runs pipeline jobs through a `JobRunner`.

Configuration, as a salobj configurable CSC and dm_OCPS: at ``start`` the
mock reads ``_init.yaml`` (``url``, ``poll_interval``, ``output_glob``),
then its site file ``_summit.yaml`` (``instance`` = the instrument of its
SAL index, ``butler`` = its repository, ``input_collection`` =
``<instance>/raw/all``), then the ``configurationOverride`` if one is
given (``LATISS.yaml``, ``LSSTComCam.yaml`` or ``LSSTCam.yaml``, each
setting that instance, its own butler and input collection). Settings whose
``instance`` is not that of the SAL index are refused: ``start`` fails
with "configuration instance ... does not match CSC index ..." and the CSC
stays in STANDBY. On success it publishes ``configurationApplied`` with
``configurations`` = the files read, e.g. ``_init.yaml,_summit.yaml``.
Every job runs on the configured ``butler``, whatever a script thinks
its repository is.
"""

from __future__ import annotations

__all__ = [
    "ExecuteRecord",
    "JobRecord",
    "OCPSCsc",
    "OcpsSettings",
    "EXIT_ABORTED",
    "EXIT_COMPLETED",
    "EXIT_FAILED",
]

import asyncio
import dataclasses
import datetime
import json
import pathlib
import typing
import uuid

from ...sal import OCPSIndex, State, salobj
from ..faults import JobAction, OcpsFaults
from ..interfaces import JobOutcome, JobPhase, JobRequest, JobRunner
from ..runners.scripted import ScriptedRunner, run_scripted_job
from ..timing import Timing
from .base import SimCsc

EXIT_COMPLETED = 0
EXIT_FAILED = 1
EXIT_ABORTED = 255
JOB_LOG_NAME = "ocps.log"
"""Name of a job's log in its output directory (as uws_scripts ``pipetask.sh``)."""
EXECUTE_TIMEOUT = 600.0
"""``timeout`` of the in-progress ack of ``execute`` (as dm_OCPS)."""
POLL_INTERVAL = 1.0
"""Simulated seconds between two status polls of a job by ``execute``: an
aborted job is noticed by its ``execute`` at most this long after
``abort_job``."""

SITE = "summit"
"""The mock's site (``LSST_SITE``): its site file is ``_summit.yaml``."""
CONFIG_URL = "file:///sim/ts_config_ocs/OCPS/v3"
"""URL of the mock's configuration repository (``configurationApplied.url``)."""
CONFIG_SCHEMA_VERSION = "v3"
"""Configuration schema version (dm_OCPS schema v3 names the instance)."""
UWS_URL = "http://uws.sim/api/v1"
"""``url`` of the UWS execution service in ``_init.yaml``."""
INSTRUMENTS = tuple(index.name for index in OCPSIndex if index.name != "RA")
"""Instruments with an OCPS instance; each has an override ``<instrument>.yaml``."""


@dataclasses.dataclass(frozen=True)
class OcpsSettings:
    """The configuration an OCPS applied (dm_OCPS schema v3 fields).

    Attributes
    ----------
    instance : `str`
        The instrument the settings are for (must match the SAL index).
    butler : `str`
        Repository every job runs on (``BUTLER_REPO``).
    input_collection : `str`
        Input collection given as ``-i`` before a job's own options.
    output_glob : `str`
        Dataset types retrieved into the job's output directory.
    url : `str`
        The UWS execution service.
    poll_interval : `float`
        Seconds between two status polls of a job.
    """

    instance: str
    butler: str
    input_collection: str
    output_glob: str = "*"
    url: str = UWS_URL
    poll_interval: float = POLL_INTERVAL


def _iso_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")


@dataclasses.dataclass
class ExecuteRecord:
    """One ``execute`` command as OCPS received it.

    Attributes
    ----------
    pipeline, version, config, data_query, prereq_jobs, output_dataset_types : `str`
        The command fields, verbatim.
    private_seqNum : `int`
        The command's sequence number (the UWS ``runId``).
    private_identity : `str`
        Who sent it (e.g. ``Script:17``).
    request : `JobRequest` or `None`
        The job built from it (None if it was rejected).
    rejected : `str`
        Why it was rejected (empty if accepted).
    """

    pipeline: str
    version: str
    config: str
    data_query: str
    prereq_jobs: str
    output_dataset_types: str
    private_seqNum: int
    private_identity: str
    request: JobRequest | None = None
    rejected: str = ""


@dataclasses.dataclass
class JobRecord:
    """One job and how it ended.

    Attributes
    ----------
    request : `JobRequest`
        The job.
    creation_time : `str`
        ISO time the job was created.
    start_time, end_time : `str` or `None`
        ISO times the job started and ended.
    phase : `str`
        UWS phase: ``queued`` when created, ``executing``, then
        ``completed``, ``error`` or ``aborted``.
    exit_code : `int` or `None`
        The exit code that ended the job: that of its first ``job_result``
        (255 for an aborted job; None while running).
    result : `str`
        The ``result`` JSON of that first ``job_result`` (empty while running).
    submission : `str`
        The execution service's answer to the job's submission (the UWS
        ``PUT``): the job document as created, phase ``queued``, no
        ``results``. Every ``job_result`` of ``execute`` carries it, as
        dm_OCPS does.
    error_message : `str`
        Why the job did not complete (empty if it did or still runs).
    outcome : `JobOutcome` or `None`
        What the runner reported.
    results : `list` [`tuple` [`int`, `str`]]
        Every ``job_result`` written for the job, in order, as
        (exit_code, result): one for a job that ended by itself; for an
        aborted job (255, ...) from ``abort_job`` and then (1, ...) from its
        ``execute``.
    """

    request: JobRequest
    creation_time: str
    start_time: str | None = None
    end_time: str | None = None
    phase: str = "queued"
    exit_code: int | None = None
    result: str = ""
    submission: str = ""
    error_message: str = ""
    outcome: JobOutcome | None = None
    results: list[tuple[int, str]] = dataclasses.field(default_factory=list)
    output_glob: str = "*"
    task: asyncio.Task | None = dataclasses.field(default=None, repr=False)
    finished: asyncio.Future | None = dataclasses.field(default=None, repr=False)

    def results_entries(self) -> list[dict[str, str]]:
        """UWS ``results``: the job's log ``ocps.log`` first (if any), then its output files."""
        entries = []
        if self.outcome is not None and self.outcome.log_path:
            entries.append(
                {"id": JOB_LOG_NAME, "uri": pathlib.Path(self.outcome.log_path).absolute().as_uri()}
            )
        if self.outcome is not None:
            entries.extend(self.outcome.results)
        return entries

    def final_document(self) -> dict[str, typing.Any]:
        """The job document as the execution service has it now (the UWS ``GET``).

        Once the job ended, its phase is final and its ``results`` start
        with the job's ``ocps.log``. OCPS does not send this document; it is
        the mock's own record of the job.
        """
        return self.uws_document(error_message=self.error_message)

    def uws_document(self, error_message: str = "") -> dict[str, typing.Any]:
        """Return the UWS job document of this job, as it stands."""
        duration = None
        if self.start_time is not None and self.end_time is not None:
            duration = (
                datetime.datetime.fromisoformat(self.end_time)
                - datetime.datetime.fromisoformat(self.start_time)
            ).total_seconds()
        request = self.request
        environment = [
            {"name": "JOB_ID", "value": request.job_id},
            {"name": "IMAGE_TAG", "value": request.version},
            {"name": "PIPELINE_URL", "value": request.pipeline},
            {"name": "BUTLER_REPO", "value": request.butler_repo},
            {"name": "RUN_OPTIONS", "value": f"-i {request.default_input} {request.config}".strip()},
            {"name": "OUTPUT_GLOB", "value": request.output_dataset_types or self.output_glob},
            {"name": "DATA_QUERY", "value": request.data_query},
        ]
        return {
            "jobId": request.job_id,
            "runId": request.run_id,
            "ownerId": "",
            "phase": self.phase,
            "creationTime": self.creation_time,
            "startTime": self.start_time,
            "endTime": self.end_time,
            "executionDuration": duration,
            "destruction": None,
            "parameters": {
                "command": "cd $JOB_SOURCE_DIR && bash bin/pipetask.sh",
                "environment": environment,
            },
            "results": self.results_entries(),
            "errorSummary": {"message": error_message},
            "jobInfo": {},
        }


class OCPSCsc(SimCsc):
    """Mock OCPS:2.

    ``start`` configures it as described in the module docstring.
    ``execute`` is rejected unless ENABLED; it waits for ``prereq_jobs``,
    creates the job (the UWS ``PUT``, whose answer is the job document with
    phase ``queued`` and no ``results``: `JobRecord.submission`),
    acknowledges ``CMD_INPROGRESS`` (timeout 600 s) with
    ``result='{"job_id": "<32 hex>"}'``, runs the job through the job runner
    on the configured butler and writes ``job_result(job_id, exit_code,
    result)`` (0 completed, 1 error) before the final ``CMD_COMPLETE``. As
    dm_OCPS since late 2022, ``result`` is the submission answer, not the
    final document: its phase is stale and it names no log; ``exit_code``
    is the verdict. The job's log is ``ocps.log`` in its output directory
    (``<log_dir>/<job_id>/out``); the final document, with the log first in
    its ``results``, is in the mock's records (`JobRecord.final_document`).
    Jobs run concurrently. ``abort_job(job_id)`` stops a running job (the
    UWS ``DELETE``, answered with the job document in phase ``aborted``),
    writes ``job_result(exit_code=255)`` with that answer and completes
    (unknown or finished job: ``CMD_FAILED``). As in dm_OCPS, the aborted
    job's own ``execute`` then notices at its next status poll
    (`POLL_INTERVAL`) that the phase is ``aborted``, writes a second
    ``job_result(exit_code=1)`` with the submission answer, and ends
    ``CMD_COMPLETE``.

    Parameters
    ----------
    index : `int`, optional
        SAL index (2 = LSSTComCam).
    initial_state : `State`, optional
        Initial summary state.
    job_runner : `JobRunner`, optional
        Runs the jobs (default: a `ScriptedRunner` that succeeds).
    butler_repo : `str`, optional
        The ``butler`` of this OCPS's own configuration (site file and the
        override named after its instrument).
    timing : `Timing`, optional
        Time scale (for scripted jobs).
    faults : `OcpsFaults`, optional
        Injected faults; `OcpsFaults.configuration_override` is the override
        given at ``start`` when the CSC starts in DISABLED or ENABLED.

    Attributes
    ----------
    executes : `list` [`ExecuteRecord`]
        Every ``execute`` received while running, in order.
    jobs : `dict` [`str`, `JobRecord`]
        Every job created, by job id (a job is created before ``execute``
        is acknowledged in progress).
    settings : `OcpsSettings` or `None`
        The configuration applied (None before a successful ``start``).
    applied_files : `list` [`str`]
        The configuration files read by the last successful ``start``.
    start_refusal : `str`
        Why the last ``start`` failed (empty if it did not).
    in_progress_ack_gate : `asyncio.Event` or `None`
        Test control: if set, ``execute`` waits for it after creating the
        job and before the in-progress ack that carries the job id.
    job_result_gate : `asyncio.Event` or `None`
        Test control: if set, a job that ended waits for it before its
        ``job_result`` is written (``JobRecord.outcome`` is already set).
    """

    def __init__(
        self,
        index: int = int(OCPSIndex.LSSTComCam),
        initial_state: State = State.ENABLED,
        job_runner: JobRunner | None = None,
        butler_repo: str = "",
        timing: Timing | None = None,
        faults: OcpsFaults | None = None,
    ) -> None:
        self.timing = timing or Timing()
        self.faults = faults or OcpsFaults()
        self.job_runner: JobRunner = job_runner or ScriptedRunner(time_scale=self.timing.time_scale)
        self.butler_repo = butler_repo
        self.executes: list[ExecuteRecord] = []
        self.jobs: dict[str, JobRecord] = {}
        self.settings: OcpsSettings | None = None
        self.applied_files: list[str] = []
        self.start_refusal = ""
        self.in_progress_ack_gate: asyncio.Event | None = None
        self.job_result_gate: asyncio.Event | None = None
        self._execute_count = 0
        super().__init__(
            name="OCPS",
            index=index,
            initial_state=initial_state,
            override=self.faults.configuration_override,
        )
        self.cmd_execute.allow_multiple_callbacks = True

    # --- configuration (as a salobj ConfigurableCsc and dm_OCPS) --------------------------
    @property
    def own_instance(self) -> str:
        """The instrument of this OCPS's SAL index."""
        try:
            return OCPSIndex(self.salinfo.index).name
        except ValueError:
            return f"index {self.salinfo.index}"

    def configuration_files(self) -> dict[str, dict[str, typing.Any]]:
        """The configuration repository: file name -> the settings it sets."""
        files: dict[str, dict[str, typing.Any]] = {
            "_init.yaml": {"url": UWS_URL, "poll_interval": POLL_INTERVAL, "output_glob": "*"},
            f"_{SITE}.yaml": {
                "instance": self.own_instance,
                "butler": self.butler_repo,
                "input_collection": f"{self.own_instance}/raw/all",
            },
        }
        for instrument in INSTRUMENTS:
            files[f"{instrument}.yaml"] = {
                "instance": instrument,
                "butler": self.butler_repo if instrument == self.own_instance else f"/repo/{instrument}",
                "input_collection": f"{instrument}/raw/all",
            }
        return files

    def read_configuration(self, override: str) -> tuple[list[str], OcpsSettings]:
        """Read ``_init.yaml``, the site file and ``override``; check the instance.

        Raises
        ------
        salobj.ExpectedError
            Unknown or invalid override, or settings for another instance.
        """
        files = self.configuration_files()
        if override.startswith("_"):
            raise salobj.ExpectedError(f"configurationOverride {override!r} may not start with '_'")
        read = ["_init.yaml", f"_{SITE}.yaml"]
        if override:
            if override not in files:
                available = ", ".join(name for name in files if not name.startswith("_"))
                raise salobj.ExpectedError(
                    f"configurationOverride {override!r} not found in {CONFIG_URL}; available: {available}"
                )
            read.append(override)
        values: dict[str, typing.Any] = {}
        for name in read:
            values.update(files[name])
        settings = OcpsSettings(**values)
        if self.faults.check_instance and settings.instance != self.own_instance:
            raise salobj.ExpectedError(
                f"configuration instance {settings.instance} does not match CSC index {self.salinfo.index}"
            )
        return read, settings

    async def start(self) -> None:
        await super().start()
        overrides = ",".join(name for name in self.configuration_files() if not name.startswith("_"))
        await self.evt_configurationsAvailable.set_write(
            overrides=overrides, version=self.version, url=CONFIG_URL, schemaVersion=CONFIG_SCHEMA_VERSION
        )

    async def start_phase2(self) -> None:
        """Go to the initial state; a refused configuration leaves the CSC in STANDBY."""
        try:
            await super().start_phase2()
        except salobj.ExpectedError as e:
            self.log.error(f"Could not go to the initial state {self._initial_state!r}: {e}")

    async def begin_start(self, data: salobj.type_hints.BaseMsgType) -> None:
        """Configure from the files and ``configurationOverride``; publish configurationApplied."""
        await super().begin_start(data)
        try:
            files, settings = self.read_configuration(str(data.configurationOverride))
        except salobj.ExpectedError as e:
            self.start_refusal = str(e)
            raise
        self.start_refusal = ""
        self.settings = settings
        self.applied_files = files
        await self.evt_configurationApplied.set_write(
            configurations=",".join(files),
            version=self.version,
            url=CONFIG_URL,
            schemaVersion=CONFIG_SCHEMA_VERSION,
            otherInfo="",
            force_output=True,
        )

    @property
    def instrument(self) -> str:
        """The instance of the applied settings."""
        return self.settings.instance if self.settings is not None else self.own_instance

    @property
    def default_input(self) -> str:
        """Input collection prepended to every job's ``-i``."""
        return self.settings.input_collection if self.settings is not None else ""

    async def do_execute(self, data: salobj.type_hints.BaseMsgType) -> None:
        """Run one pipeline job."""
        record = ExecuteRecord(
            pipeline=data.pipeline,
            version=data.version,
            config=data.config,
            data_query=data.data_query,
            prereq_jobs=data.prereq_jobs,
            output_dataset_types=data.output_dataset_types,
            private_seqNum=data.private_seqNum,
            private_identity=data.private_identity,
        )
        self.executes.append(record)
        try:
            self.assert_enabled("execute")
            reason = self.faults.reject_reason
            if reason is not None:
                raise salobj.ExpectedError(reason)
            self._execute_count += 1
            job_number = self._execute_count
            if job_number == self.faults.fault_on_job:
                report = f"Simulated OCPS back-end failure on job {job_number}"
                await self.fault(code=2, report=report)
                raise salobj.ExpectedError(report)
            if not data.pipeline.strip():
                raise salobj.ExpectedError("pipeline must not be blank")
            settings = self.settings
            if settings is None:
                raise salobj.ExpectedError("execute not allowed: OCPS is not configured")
        except salobj.ExpectedError as e:
            record.rejected = str(e)
            raise

        prereq_ids = [job_id.strip() for job_id in data.prereq_jobs.split(",") if job_id.strip()]
        prereq_problem = await self._wait_for_prereqs(prereq_ids)

        request = JobRequest(
            job_id=uuid.uuid4().hex,
            run_id=str(data.private_seqNum),
            pipeline=data.pipeline,
            version=data.version,
            config=data.config,
            data_query=data.data_query,
            prereq_jobs=data.prereq_jobs,
            output_dataset_types=data.output_dataset_types,
            butler_repo=settings.butler,
            default_input=settings.input_collection,
        )
        record.request = request
        job = JobRecord(request=request, creation_time=_iso_now(), output_glob=settings.output_glob)
        job.finished = asyncio.get_running_loop().create_future()
        # The UWS PUT answers with the job as created; dm_OCPS reports that answer.
        job.submission = json.dumps(job.uws_document())
        self.jobs[request.job_id] = job
        if self.in_progress_ack_gate is not None:
            await self.in_progress_ack_gate.wait()
        await self.cmd_execute.ack_in_progress(
            data, timeout=EXECUTE_TIMEOUT, result=json.dumps({"job_id": request.job_id})
        )
        job.phase = "executing"
        job.start_time = _iso_now()
        job.task = asyncio.create_task(self._run_job(job, job_number, prereq_problem))
        supervisor = self.run_in_background(self._supervise(job))
        try:
            await asyncio.shield(job.finished)
        except asyncio.CancelledError:
            job.task.cancel()
            supervisor.cancel()
            raise

    async def _wait_for_prereqs(self, prereq_ids: list[str]) -> str:
        """Wait for prerequisite jobs; return why one failed, or ""."""
        for job_id in prereq_ids:
            prereq = self.jobs.get(job_id)
            if prereq is None:
                return f"prerequisite job {job_id} is unknown"
            assert prereq.finished is not None
            await asyncio.shield(prereq.finished)
            if prereq.exit_code != EXIT_COMPLETED:
                return f"prerequisite job {job_id} ended with exit_code {prereq.exit_code}"
        return ""

    async def _run_job(self, job: JobRecord, job_number: int, prereq_problem: str) -> JobOutcome:
        if prereq_problem:
            return JobOutcome(phase=JobPhase.ERROR, error_message=prereq_problem)
        script = self.faults.script_for(job_number, job.request.pipeline)
        if script.action is JobAction.RUN:
            return await self.job_runner.run(job.request)
        # An injected outcome writes its ocps.log where the runner keeps its jobs' logs.
        return await run_scripted_job(
            script,
            job.request,
            default_duration=10.0,
            time_scale=self.timing.time_scale,
            log_dir=getattr(self.job_runner, "log_dir", None),
        )

    async def _write_job_result(self, job: JobRecord, exit_code: int, result: str) -> None:
        """Write one ``job_result`` of ``job`` and record it."""
        if job.exit_code is None:
            job.exit_code = exit_code
            job.result = result
        job.results.append((exit_code, result))
        await self.evt_job_result.set_write(
            job_id=job.request.job_id, exit_code=exit_code, result=result, force_output=True
        )

    async def _supervise(self, job: JobRecord) -> None:
        """The poll loop of ``execute``: write the job's ``job_result`` when it ends.

        Then release ``execute`` (``CMD_COMPLETE``). A job stopped by
        ``abort_job`` (which already wrote the exit_code 255 result) is seen
        at the next poll, in phase ``aborted``, and reported with exit_code 1.
        """
        assert job.task is not None and job.finished is not None
        try:
            try:
                outcome = await job.task
            except asyncio.CancelledError:
                if not job.task.cancelled():
                    raise
                await self.timing.sleep(POLL_INTERVAL)
                job.phase = "aborted"
                job.error_message = job.error_message or "Job aborted"
                if job.end_time is None:
                    job.end_time = _iso_now()
                await self._write_job_result(job, EXIT_FAILED, job.submission)
                return
            except Exception as e:
                self.log.exception(f"Job runner failed on job {job.request.job_id}")
                outcome = JobOutcome(phase=JobPhase.ERROR, error_message=f"Job runner failed: {e!r}")
                job.phase = "error"
                exit_code = EXIT_FAILED
                message = outcome.error_message
                job.outcome = outcome
            else:
                job.outcome = outcome
                completed = JobPhase(outcome.phase) is JobPhase.COMPLETED
                job.phase = "completed" if completed else "error"
                exit_code = EXIT_COMPLETED if completed else EXIT_FAILED
                message = outcome.error_message
            job.error_message = message
            job.end_time = _iso_now()
            if self.job_result_gate is not None:
                await self.job_result_gate.wait()
            # dm_OCPS reports the submission answer; the final phase and results stay on the service.
            await self._write_job_result(job, exit_code, job.submission)
        finally:
            if not job.finished.done():
                job.finished.set_result(None)

    async def do_abort_job(self, data: salobj.type_hints.BaseMsgType) -> None:
        """Abort a running job: write its ``job_result`` with exit_code 255.

        The command ends without waiting for the job's ``execute``, which
        reports the job again (exit_code 1, phase ``aborted``) at its next
        poll.
        """
        self.assert_enabled("abort_job")
        job = self.jobs.get(data.job_id)
        if job is None:
            raise salobj.ExpectedError(f"Unknown job_id {data.job_id!r}")
        if job.task is None or job.task.done() or job.exit_code is not None:
            raise salobj.ExpectedError(f"Job {data.job_id} is not running (phase {job.phase})")
        # The UWS DELETE: the back end stops the job and answers with its document.
        job.phase = "aborted"
        job.error_message = "Job aborted"
        job.end_time = _iso_now()
        await self._write_job_result(job, EXIT_ABORTED, json.dumps(job.final_document()))
        job.task.cancel()

    async def close_tasks(self) -> None:
        for job in self.jobs.values():
            if job.task is not None and not job.task.done():
                job.task.cancel()
        await super().close_tasks()
