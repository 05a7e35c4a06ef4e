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

"""A job runner that does no pipeline work: each job succeeds, fails, hangs or is slow as told.

Like a real job, a scripted one writes its ``ocps.log`` in its output
directory ``<log_dir>/<job_id>/out`` (``log_dir`` defaults to
``<butler>_ocps_logs`` beside the job's butler repository, if it exists; no
log without either), and
a job that succeeds on an existing butler repository leaves its (empty)
output collections there: RUN ``u/ocps/<job_id>/run`` and CHAINED
``u/ocps/<job_id>`` -> [run], as every completed OCPS job does.
"""

from __future__ import annotations

__all__ = ["ScriptedRunner"]

import asyncio
import datetime
import os
import typing
from collections.abc import Mapping, Sequence

from ... import butlers
from ..faults import JobAction, JobScript
from ..interfaces import JobOutcome, JobPhase, JobRequest
from ._common import JOB_LOG_NAME, default_log_dir, job_collections, job_output_dir

DEFAULT_DURATION = 10.0
"""Simulated seconds a scripted job takes (the dm_OCPS simulator takes ~10 s)."""

DEFAULT_SLOW_DURATION = 1200.0
"""Simulated seconds a SLOW job takes (longer than the script's usual wait)."""


class ScriptedRunner:
    """Run OCPS jobs without doing anything, ending each as scripted.

    Parameters
    ----------
    outcomes : `list` or `dict`, optional
        Behaviours (`JobScript`, `JobAction` or its name). A list applies
        to jobs in the order they are run (jobs beyond its end use
        ``default``); a dict maps a substring of the job's ``pipeline`` to a
        behaviour (first match wins).
    default : `JobScript`, `JobAction` or `str`, optional
        Behaviour of unscripted jobs (``succeed``).
    duration : `float`, optional
        Simulated seconds of a job whose script gives none.
    time_scale : `float`, optional
        Factor applied to every duration.
    log_dir : `str`, optional
        Folder of the job directories; default ``<butler>_ocps_logs``.

    Attributes
    ----------
    requests : `list` [`JobRequest`]
        Every request received, in order.

    Notes
    -----
    `JobAction.RUN` behaves as `JobAction.SUCCEED` here (there is nothing
    else to run). A HANG job waits until it is cancelled (aborted).
    """

    def __init__(
        self,
        outcomes: Sequence[JobScript | JobAction | str] | Mapping[str, JobScript | JobAction | str] = (),
        default: JobScript | JobAction | str = JobAction.SUCCEED,
        duration: float = DEFAULT_DURATION,
        time_scale: float = 1.0,
        log_dir: str | None = None,
    ) -> None:
        if time_scale <= 0:
            raise ValueError(f"time_scale={time_scale} must be > 0")
        if duration < 0:
            raise ValueError(f"duration={duration} must be >= 0")
        self._outcomes: typing.Any
        if isinstance(outcomes, Mapping):
            self._outcomes = {key: JobScript.coerce(value) for key, value in outcomes.items()}
        else:
            self._outcomes = [JobScript.coerce(value) for value in outcomes]
        self.default = JobScript.coerce(default)
        self.duration = duration
        self.time_scale = time_scale
        self.log_dir = log_dir
        self.requests: list[JobRequest] = []

    def script_for(self, request: JobRequest, job_number: int) -> JobScript:
        """Return the behaviour of a job.

        Parameters
        ----------
        request : `JobRequest`
            The job.
        job_number : `int`
            1-based order of the job among those this runner ran.
        """
        if isinstance(self._outcomes, dict):
            for key, script in self._outcomes.items():
                if key in request.pipeline:
                    return script
            return self.default
        if job_number <= len(self._outcomes):
            return self._outcomes[job_number - 1]
        return self.default

    async def run(self, request: JobRequest) -> JobOutcome:
        """Run one job as scripted.

        Parameters
        ----------
        request : `JobRequest`
            The job.

        Returns
        -------
        outcome : `JobOutcome`
            COMPLETED or ERROR as scripted.
        """
        self.requests.append(request)
        script = self.script_for(request, len(self.requests))
        return await run_scripted_job(
            script, request, default_duration=self.duration, time_scale=self.time_scale, log_dir=self.log_dir
        )


async def run_scripted_job(
    script: JobScript,
    request: JobRequest,
    default_duration: float,
    time_scale: float,
    log_dir: str | None = None,
) -> JobOutcome:
    """Wait as a scripted job would and return its outcome.

    Parameters
    ----------
    script : `JobScript`
        What the job does (RUN counts as SUCCEED).
    request : `JobRequest`
        The job.
    default_duration : `float`
        Simulated duration when the script gives none (not SLOW).
    time_scale : `float`
        Factor applied to the duration.
    log_dir : `str`, optional
        Folder of the job directories; default ``<butler>_ocps_logs``.

    Returns
    -------
    outcome : `JobOutcome`
        The outcome, with the job's ``ocps.log``; never returns for HANG
        (cancel it to abort).
    """
    if script.action is JobAction.HANG:
        await asyncio.Future()  # until cancelled
    if script.duration is not None:
        duration = script.duration
    elif script.action is JobAction.SLOW:
        duration = DEFAULT_SLOW_DURATION
    else:
        duration = default_duration
    await asyncio.sleep(duration * time_scale)
    if script.action is JobAction.FAIL:
        message = script.message or f"Job {request.job_id} failed (scripted failure of {request.pipeline})"
        outcome = JobOutcome(phase=JobPhase.ERROR, error_message=message)
    else:
        outcome = JobOutcome(phase=JobPhase.COMPLETED)
    return await asyncio.to_thread(_finish_job, request, outcome, log_dir)


def _finish_job(request: JobRequest, outcome: JobOutcome, log_dir: str | None) -> JobOutcome:
    """Write the job's log and, for a completed job, its collections (blocking)."""
    repo = request.butler_repo
    has_repo = bool(repo) and os.path.exists(os.path.join(repo, "butler.yaml"))
    if log_dir is None and has_repo:
        log_dir = default_log_dir(repo)
    if log_dir is not None:
        folder = job_output_dir(log_dir, request.job_id)
        os.makedirs(folder, exist_ok=True)
        outcome.log_path = os.path.join(folder, JOB_LOG_NAME)
        now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        lines = [
            f"{now} scripted job {request.job_id}: pipeline {request.pipeline}",
            f"butler {repo or '(none)'}; data query {request.data_query!r}",
        ]
        if outcome.phase is JobPhase.COMPLETED:
            lines.append("completed (scripted: no pipeline work)")
        else:
            lines.append(f"ERROR: {outcome.error_message}")
        with open(outcome.log_path, "w") as stream:
            stream.write("\n".join(lines) + "\n")
    if outcome.phase is JobPhase.COMPLETED and has_repo:
        from lsst.daf.butler import CollectionType

        output, run = job_collections(request.job_id)
        butler = butlers.open_butler(repo, writeable=True)
        try:
            butler.collections.register(run, CollectionType.RUN)
            butler.collections.register(output, CollectionType.CHAINED)
            butler.collections.redefine_chain(output, [run])
        finally:
            butler.close()
    return outcome
