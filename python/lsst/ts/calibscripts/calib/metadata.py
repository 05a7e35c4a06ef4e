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
    "estimate_duration",
]

import dataclasses
import math

from ..cameras import COMCAM
from .config import BiasConfig

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
