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

"""Duration estimate of a MakeComCamBias run, for the Script metadata.

The estimate is frames x (readout + per-frame overhead), plus the time for
CCOODS to ingest the last frame, plus the estimated OCPS job times, plus a
few seconds for reading the verification statistics and certifying. The job
times scale with the number of (exposure, detector) pairs a job processes,
divided by the number of pipetask processes: upstream measured about 45 s
per 9-detector image for ISR + combine at ``-j 1`` (DM-30483), i.e. 5 s per
(exposure, detector).

Public API
----------
`DurationEstimate`
    the parts and their sum (`DurationEstimate.total`).
`estimate_duration`
    `BiasConfig` -> `DurationEstimate`.
`estimate_plan_duration`
    `~.plan.CalibrationPlan` -> `PlanDurationEstimate` (per type, with the
    processing of a type overlapping the take of the next).
"""

from __future__ import annotations

__all__ = [
    "CERTIFY_TIME",
    "FRAME_OVERHEAD",
    "INSTRUMENT",
    "JOB_STARTUP_TIME",
    "OODS_LATENCY",
    "PAIR_PROCESS_TIME",
    "READ_OUT_TIME",
    "DurationEstimate",
    "PlanDurationEstimate",
    "TypeDurationEstimate",
    "estimate_duration",
    "estimate_plan_duration",
]

import dataclasses
import math
import typing

from ..cameras import COMCAM
from .config import BiasConfig

if typing.TYPE_CHECKING:
    from .plan import CalibrationPlan

INSTRUMENT = COMCAM.instrument
"""Instrument name for the metadata and butler data ids."""

READ_OUT_TIME = COMCAM.read_out_time
"""ComCam readout time (s); ``ComCam.read_out_time``."""

FRAME_OVERHEAD = 3.0
"""Per-frame overhead beyond readout (s): readiness wait, commands, header."""

OODS_LATENCY = 15.0
"""Time from the last readout to its ingest (s)."""

JOB_STARTUP_TIME = 60.0
"""Fixed cost of one OCPS job (s): queueing, pipetask start-up, graph build."""

PAIR_PROCESS_TIME = 5.0
"""Processing time per (exposure, detector) at ``-j 1`` (s)."""

CERTIFY_TIME = 10.0
"""Reading the verification statistics and certifying (s)."""


@dataclasses.dataclass(frozen=True)
class DurationEstimate:
    """Estimated duration of each part of a run, in seconds."""

    camera: float
    ingest: float
    bias_job: float
    verify_job: float
    certify: float

    @property
    def total(self) -> float:
        """The sum of the parts (s)."""
        return self.camera + self.ingest + self.bias_job + self.verify_job + self.certify


def _job_time(n_exposures: int, n_detectors: int, n_processes: int) -> float:
    n_pairs = n_exposures * n_detectors
    return JOB_STARTUP_TIME + PAIR_PROCESS_TIME * math.ceil(n_pairs / max(1, min(n_processes, n_pairs)))


def estimate_duration(config: BiasConfig, read_out_time: float = READ_OUT_TIME) -> DurationEstimate:
    """Estimate how long a run with this configuration takes.

    Parameters
    ----------
    config : `BiasConfig`
        The configuration.
    read_out_time : `float`
        Camera readout time per frame (s).

    Returns
    -------
    estimate : `DurationEstimate`
        The parts; ``.total`` is the value for ``metadata.duration``.
    """
    n_frames = config.n_frames_to_take
    camera = n_frames * (read_out_time + FRAME_OVERHEAD)
    ingest = OODS_LATENCY if n_frames > 0 else 0.0
    n_det = len(config.detectors)
    if config.takes_frames:
        n_combined, n_verify_frames = config.n_bias, config.n_verify_bias
    else:
        n_verify_frames = config.n_verify_bias
        n_combined = len(config.exposure_ids) - n_verify_frames
    bias_job = _job_time(n_combined, n_det, config.n_processes) if config.runs_bias_job else 0.0
    verify_job = 0.0
    if config.do_verify:
        verify_job = _job_time(n_verify_frames or n_combined, n_det, config.n_processes)
    certify = CERTIFY_TIME if (config.do_verify or config.do_certify) else 0.0
    return DurationEstimate(
        camera=camera, ingest=ingest, bias_job=bias_job, verify_job=verify_job, certify=certify
    )


@dataclasses.dataclass(frozen=True)
class TypeDurationEstimate:
    """Estimated times of one calibration type of a sequence, in seconds.

    Attributes
    ----------
    calib_type : `str`
        ``"BIAS"``, ``"DARK"`` or ``"FLAT"``.
    camera : `float`
        Camera time: exposure times plus readout and overhead per frame.
    processing : `float`
        Ingest of the last frame, jobs, judgement and certification.
    start, end : `float`
        When the take starts and the processing ends, from the run's start.
    """

    calib_type: str
    camera: float
    processing: float
    start: float
    end: float


@dataclasses.dataclass(frozen=True)
class PlanDurationEstimate:
    """Estimated duration of a calibration sequence (`estimate_plan_duration`)."""

    types: tuple[TypeDurationEstimate, ...]
    filter_change: float

    @property
    def total(self) -> float:
        """When the last processing ends (s): the value for ``metadata.duration``."""
        return max((t.end for t in self.types), default=self.filter_change)


def estimate_plan_duration(
    plan: "CalibrationPlan", read_out_time: float = READ_OUT_TIME, filter_change_time: float = 60.0
) -> PlanDurationEstimate:
    """Estimate a sequence: serial takes, each type's processing after its take and its prerequisites'.

    Parameters
    ----------
    plan : `~.plan.CalibrationPlan`
        The plan.
    read_out_time : `float`
        Camera readout time per frame (s).
    filter_change_time : `float`
        Time to set the filter, when flats are taken (s).

    Returns
    -------
    estimate : `PlanDurationEstimate`
        Per type and in all.
    """
    n_det = len(plan.detectors)
    n_processes = int(plan.options.get("n_processes", 1))
    filter_change = filter_change_time if any(t.filter for t in plan.types) else 0.0
    clock = filter_change
    ends: dict[str, float] = {}
    estimates = []
    for type_plan in plan.types:
        exposing = 0.0 if type_plan.resumes else float(sum(type_plan.exp_times))
        camera = exposing + type_plan.n_frames_to_take * (read_out_time + FRAME_OVERHEAD)
        start = clock
        clock += camera
        processing = 0.0
        if type_plan.processes:
            processing = OODS_LATENCY
            if type_plan.builds:
                processing += _job_time(type_plan.n_frames, n_det, n_processes)
            if type_plan.do_verify:
                processing += _job_time(type_plan.n_frames, n_det, n_processes) + CERTIFY_TIME
            elif type_plan.do_certify:
                processing += CERTIFY_TIME
        begin = max([clock] + [ends[name] for name in type_plan.depends_on if name in ends])
        ends[type_plan.calib_type] = begin + processing
        estimates.append(
            TypeDurationEstimate(
                calib_type=type_plan.calib_type,
                camera=camera,
                processing=processing,
                start=start,
                end=begin + processing,
            )
        )
    return PlanDurationEstimate(types=tuple(estimates), filter_change=filter_change)
