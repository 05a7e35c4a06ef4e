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

"""The run summary: what the procedure did, for the log and a YAML report.

The script fills one `RunSummary` as it goes (``mark_done`` after each
stage, ``add_job``/``set_verdict``/``set_certification`` as results come),
calls `RunSummary.finish` with the outcome, fixes the report's full path with
`RunSummary.plan_report` (the reason and the pictures need it), writes the
YAML report with `RunSummary.write` (blocking file I/O: use
``await asyncio.to_thread(summary.write, report_dir)``) and logs
`RunSummary.to_text`. ``report_files`` lists every file the run wrote.

On failure, `RunSummary.what_was_done` is the "already done" part of the
Script's FAILED reason, e.g. ``"already done: 5 bias(es) taken
(2026112500001..2026112500005); cp_bias job 1f2e... completed (u/ocps/1f2e...);
nothing certified"`` so the operator knows what to resume from.

Public API
----------
`RunSummary` (dataclass), `JobRecord` (dataclass), `Outcome` (enum:
RUNNING, DONE, FAILED, STOPPED), `report_file_name`.
"""

from __future__ import annotations

__all__ = ["JobRecord", "Outcome", "RunSummary", "report_file_name"]

import dataclasses
import enum
import os
import re
import tempfile
import typing

import yaml

from ..cameras import COMCAM
from .stages import Stage, TypeStage


class Outcome(str, enum.Enum):
    """How the run ended."""

    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    STOPPED = "stopped"


@dataclasses.dataclass
class JobRecord:
    """One OCPS job the script started."""

    name: str
    """``cp_bias`` or ``verify_bias``."""
    job_id: str | None = None
    pipeline: str = ""
    config: str = ""
    data_query: str = ""
    exit_code: int | None = None
    outcome: str | None = None
    """How the job ended, from ``exit_code``: ``completed``, ``failed`` or ``aborted``
    (None while unfinished)."""
    submitted_phase: str | None = None
    """The execution service's phase of the job at submission, as OCPS reports it
    (``queued``, ``pending``): not how the job ended."""
    output_collection: str | None = None
    output_run: str | None = None
    error: str = ""
    aborted: bool = False

    @property
    def succeeded(self) -> bool:
        return self.exit_code == 0

    def describe(self) -> str:
        """One line, e.g. ``cp_bias job abc completed (exit_code 0) -> u/ocps/abc``."""
        if self.job_id is None:
            return f"{self.name} job not started"
        if self.aborted:
            state = "aborted"
        elif self.exit_code is None:
            state = "unfinished"
        elif self.exit_code == 0:
            state = "completed"
        else:
            state = f"failed (exit_code {self.exit_code})"
        text = f"{self.name} job {self.job_id} {state}"
        if self.output_collection:
            text += f" -> {self.output_collection}"
        if self.error:
            text += f": {self.error}"
        return text


def _id_range(ids: list[int]) -> str:
    if not ids:
        return "none"
    if len(ids) <= 3:
        return ", ".join(str(i) for i in ids)
    return f"{ids[0]}..{ids[-1]}"


def report_file_name(script: str, started: str, salindex: int | None) -> str:
    """File name of a report: ``<script>_<started compact>[_<index>].yaml``."""
    stamp = re.sub(r"[^0-9T]", "", started)[:15] or "unknown"
    suffix = f"_{salindex}" if salindex is not None else ""
    return f"{script}_{stamp}{suffix}.yaml"


@dataclasses.dataclass
class RunSummary:
    """Everything the run did; see the module docstring."""

    script: str = "MakeComCamBias"
    calib_type: str = "bias"
    """The calibration type made (``bias``, ``dark``, ``flat``)."""
    salindex: int | None = None
    group_id: str = ""
    instrument: str = COMCAM.instrument
    repo: str = ""
    detectors: list[int] = dataclasses.field(default_factory=list)
    calib_collection: str = ""
    started: str = ""
    """ISO TAI."""
    finished: str = ""
    outcome: Outcome = Outcome.RUNNING
    reason: str = ""
    failed_stage: str | None = None
    stages_completed: list[str] = dataclasses.field(default_factory=list)
    exposures_taken: list[int] = dataclasses.field(default_factory=list)
    exposures_discarded: list[int] = dataclasses.field(default_factory=list)
    exposures_combined: list[int] = dataclasses.field(default_factory=list)
    exposures_verify: list[int] = dataclasses.field(default_factory=list)
    ingest_problems: list[str] = dataclasses.field(default_factory=list)
    jobs: list[JobRecord] = dataclasses.field(default_factory=list)
    verdict: dict[str, typing.Any] | None = None
    verdict_text: str = ""
    certification: dict[str, typing.Any] | None = None
    certification_text: str = ""
    bias_collection: str = ""
    """Collection of the master bias when it comes from an earlier job (resume)."""
    report_path: str | None = None
    """The YAML summary's full path (set by `write` or `plan_report`)."""
    report_files: list[str] = dataclasses.field(default_factory=list)
    """Full path of every file this run wrote (summary and pictures)."""

    # --- filling -----------------------------------------------------------
    def mark_done(self, stage: "Stage | TypeStage") -> None:
        """Record that ``stage`` completed."""
        if stage.value not in self.stages_completed:
            self.stages_completed.append(stage.value)

    def add_job(self, record: JobRecord) -> JobRecord:
        """Add (or replace, by name) an OCPS job record and return it."""
        self.jobs = [job for job in self.jobs if job.name != record.name] + [record]
        return record

    def job(self, name: str) -> JobRecord | None:
        """The job record called ``name``, if any."""
        return next((job for job in self.jobs if job.name == name), None)

    def set_verdict(self, verdict: typing.Any) -> None:
        """Record a `~lsst.ts.calibscripts.calib.verification.Verdict`."""
        self.verdict = verdict.to_dict()
        self.verdict_text = verdict.summary()

    def set_certification(self, result: typing.Any) -> None:
        """Record a `~lsst.ts.calibscripts.calib.butler_ops.CertificationResult`."""
        self.certification = result.to_dict()
        self.certification_text = result.describe()

    def finish(
        self,
        outcome: Outcome,
        reason: str = "",
        failed_stage: "Stage | TypeStage | None" = None,
        finished: str = "",
    ) -> None:
        """Record how the run ended."""
        self.outcome = Outcome(outcome)
        self.reason = reason
        self.failed_stage = failed_stage.value if failed_stage is not None else None
        self.finished = finished

    # --- reading -----------------------------------------------------------
    @property
    def certified_detectors(self) -> list[int]:
        if not self.certification:
            return []
        entries = self.certification.get("certified", []) + self.certification.get("already_certified", [])
        return sorted(int(e["detector"]) for e in entries)

    def what_was_done(self) -> str:
        """The "already done" text for a FAILED/STOPPED reason."""
        parts: list[str] = []
        if self.exposures_taken:
            many = self.calib_type + ("(es)" if self.calib_type.endswith("s") else "(s)")
            text = f"{len(self.exposures_taken)} {many} taken ({_id_range(self.exposures_taken)})"
            if self.exposures_discarded:
                text += f", {len(self.exposures_discarded)} of them discarded"
            parts.append(text)
        else:
            parts.append(f"no {self.calib_type} taken")
        if Stage.WAIT_INGEST.value in self.stages_completed:
            n_used = len(set(self.exposures_combined) | set(self.exposures_verify))
            parts.append(
                f"the {n_used} exposure(s) used ingested"
                + (" (discarded frames not awaited)" if self.exposures_discarded else "")
            )
        for job in self.jobs:
            parts.append(job.describe())
        if self.verdict:
            parts.append(f"verification {self.verdict.get('outcome')}")
        if self.certified_detectors:
            cert = self.certification or {}
            parts.append(
                f"certified detector(s) {self.certified_detectors} in {cert.get('calib_collection')} "
                f"[{cert.get('begin')}, {cert.get('end')})"
            )
        else:
            parts.append("nothing certified")
        return "already done: " + "; ".join(parts)

    def to_dict(self) -> dict[str, typing.Any]:
        """Plain data (YAML-safe)."""
        data = dataclasses.asdict(self)
        data["outcome"] = self.outcome.value
        data["exposures_taken"] = [int(i) for i in self.exposures_taken]
        data["exposures_discarded"] = [int(i) for i in self.exposures_discarded]
        data["exposures_combined"] = [int(i) for i in self.exposures_combined]
        data["exposures_verify"] = [int(i) for i in self.exposures_verify]
        data["certified_detectors"] = self.certified_detectors
        data["what_was_done"] = self.what_was_done()
        return data

    def to_yaml(self) -> str:
        """The report as YAML text."""
        return yaml.safe_dump(self.to_dict(), sort_keys=False, default_flow_style=False, width=110)

    def to_text(self) -> str:
        """A multi-line, log-friendly summary."""
        lines = [
            f"{self.script} summary: {self.outcome.value.upper()}"
            + (f" — {self.reason}" if self.reason else "")
        ]
        if self.group_id:
            lines.append(f"  group id: {self.group_id}")
        lines.append(f"  detectors: {self.detectors}")
        lines.append(f"  exposures taken: {len(self.exposures_taken)} {self.exposures_taken}")
        if self.exposures_discarded:
            lines.append(f"  discarded: {self.exposures_discarded}")
        if self.exposures_combined:
            lines.append(f"  combined: {self.exposures_combined}")
        if self.exposures_verify and self.exposures_verify != self.exposures_combined:
            lines.append(f"  verified on: {self.exposures_verify}")
        for problem in self.ingest_problems:
            lines.append(f"  ingest: {problem}")
        for job in self.jobs:
            lines.append(f"  {job.describe()}")
        if self.verdict_text:
            lines.append("  " + self.verdict_text.replace("\n", "\n  "))
        if self.certification_text:
            lines.append(f"  {self.certification_text}")
        elif Stage.CERTIFY.value not in self.stages_completed:
            lines.append("  nothing certified")
        lines.append(f"  stages completed: {', '.join(self.stages_completed) or 'none'}")
        if self.failed_stage:
            lines.append(f"  failed at: {self.failed_stage}")
        if self.report_files:
            lines.append("  report files: " + ", ".join(self.report_files))
        elif self.report_path:
            lines.append(f"  report: {self.report_path}")
        return "\n".join(lines)

    def plan_report(self, report_dir: str | os.PathLike[str]) -> str:
        """Set and return the full path `write` will write to in ``report_dir`` (no I/O)."""
        folder = os.path.abspath(os.fspath(report_dir))
        self.report_path = os.path.join(folder, report_file_name(self.script, self.started, self.salindex))
        return self.report_path

    def write(self, report_dir: str | os.PathLike[str]) -> str:
        """Write the YAML report into ``report_dir`` (created if needed); blocking.

        The file is written atomically (temporary file then rename). Sets
        and returns ``report_path`` (a full path) and lists it first in
        ``report_files``.
        """
        path = self.plan_report(report_dir)
        folder = os.path.dirname(path)
        os.makedirs(folder, exist_ok=True)
        if path not in self.report_files:
            self.report_files.insert(0, path)
        text = self.to_yaml()
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".report-", suffix=".yaml")
        try:
            with os.fdopen(fd, "w") as stream:
                stream.write(text)
            # mkstemp makes the file private; a report is for every operator.
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
            os.replace(tmp, path)
        except BaseException:
            if path in self.report_files:
                self.report_files.remove(path)
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return path
