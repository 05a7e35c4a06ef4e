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

"""Contracts between the simulated observatory's control plane and data plane.

The control plane (mock CSCs) knows nothing about FITS files or butlers; it
calls a `DataPlane` when images are read out and ingested, and a `JobRunner`
when OCPS executes a job. The data plane (``lsst.ts.calibscripts.sim.data``,
``lsst.ts.calibscripts.sim.runners``) implements them for real.
"""

from __future__ import annotations

__all__ = ["DataPlane", "ImageInfo", "JobOutcome", "JobPhase", "JobRequest", "JobRunner", "NullDataPlane"]

import dataclasses
import enum
import typing

from .data.camera_model import DEFAULT_PHYSICAL_FILTER, INSTRUMENT

if typing.TYPE_CHECKING:
    import astropy.time


@dataclasses.dataclass(frozen=True)
class ImageInfo:
    """One camera image (exposure) as the mock CCCamera produced it.

    Attributes
    ----------
    obs_id : `str`
        Image name, e.g. ``CC_O_20261125_000001``.
    exposure_id : `int`
        Butler exposure id, e.g. ``2026112500001``.
    day_obs : `int`
        Observing day as YYYYMMDD (12:00 TAI rollover).
    seq_num : `int`
        Sequence number within the day.
    group_id : `str`
        Group id from the keyValueMap (``groupId``), may be empty.
    image_type : `str`
        ``imageType`` from the keyValueMap, e.g. ``BIAS``.
    exp_time : `float`
        Requested exposure time (s).
    date_begin, date_end : `astropy.time.Time`
        Start and end of integration, TAI.
    detectors : `tuple` [`int`, ...]
        Detector ids read out (0..8).
    key_value_map : `dict` [`str`, `str`]
        The parsed keyValueMap of ``takeImages``.
    physical_filter : `str`
        Filter in the beam (``FILTER`` header, exposure record), e.g.
        ``r_03``.
    instrument : `str`
        Butler instrument of the camera that took it (``LSSTComCam``,
        ``LSSTCam``, ``LATISS``): the data plane makes and registers its
        raws with that camera's profile.
    """

    obs_id: str
    exposure_id: int
    day_obs: int
    seq_num: int
    group_id: str
    image_type: str
    exp_time: float
    date_begin: "astropy.time.Time"
    date_end: "astropy.time.Time"
    detectors: tuple[int, ...]
    key_value_map: dict[str, str] = dataclasses.field(default_factory=dict)
    physical_filter: str = DEFAULT_PHYSICAL_FILTER
    instrument: str = INSTRUMENT


@typing.runtime_checkable
class DataPlane(typing.Protocol):
    """What the mock camera and OODS call to make and ingest data."""

    def begin_image(self, image: ImageInfo) -> None:
        """Start writing the raw files of an image that was just read out.

        Must return at once (the work runs off the event loop); `ingest`
        waits for it.
        """
        ...

    async def ingest(self, image: ImageInfo, detector: int) -> tuple[int, str]:
        """Ingest one (image, detector) raw and return (statusCode, description).

        statusCode 0 means ingested; nonzero values are those CCOODS
        publishes for a failure, with a description that says why.
        """
        ...

    async def ingest_image(
        self, image: ImageInfo, detectors: typing.Sequence[int]
    ) -> dict[int, tuple[int, str]]:
        """Ingest the raws of several detectors of one image together.

        Returns (statusCode, description) by detector, as `ingest` would
        for each. CCOODS calls this once per image with the detectors it
        ingests, then publishes one event per detector.
        """
        ...


class NullDataPlane:
    """A data plane that makes no files; every ingest succeeds."""

    def begin_image(self, image: ImageInfo) -> None:
        pass

    async def ingest(self, image: ImageInfo, detector: int) -> tuple[int, str]:
        return 0, "Ingested (no data plane)"

    async def ingest_image(
        self, image: ImageInfo, detectors: typing.Sequence[int]
    ) -> dict[int, tuple[int, str]]:
        """Call `ingest` for each detector in turn."""
        return {detector: await self.ingest(image, detector) for detector in detectors}


class JobPhase(str, enum.Enum):
    """Final UWS phases a runner may report."""

    COMPLETED = "completed"
    ERROR = "error"


@dataclasses.dataclass(frozen=True)
class JobRequest:
    """One OCPS ``execute`` as the back end receives it.

    Attributes
    ----------
    job_id : `str`
        32 hex characters (uuid4().hex).
    run_id : `str`
        ``str(private_seqNum)`` of the execute command.
    pipeline, version, config, data_query, prereq_jobs, output_dataset_types : `str`
        The execute command's fields, verbatim.
    butler_repo : `str`
        The OCPS instance's butler repository.
    default_input : `str`
        The OCPS instance's default input collection, prepended as
        ``-i <default_input>`` before ``config`` (``LSSTComCam/raw/all``).
    """

    job_id: str
    run_id: str
    pipeline: str
    version: str
    config: str
    data_query: str
    prereq_jobs: str = ""
    output_dataset_types: str = ""
    butler_repo: str = ""
    default_input: str = "LSSTComCam/raw/all"


@dataclasses.dataclass
class JobOutcome:
    """What a runner reports when a job ends (not aborted).

    Attributes
    ----------
    phase : `JobPhase`
        COMPLETED (OCPS exit_code 0) or ERROR (exit_code 1).
    results : `list` [`dict` [`str`, `str`]]
        UWS ``results`` entries, ``{"id": ..., "uri": ...}``.
    error_message : `str`
        Empty when completed; otherwise the reason, e.g. the tail of the
        pipetask log. Goes into the UWS ``errorSummary.message``.
    log_path : `str` or `None`
        The job's log file, if any.
    """

    phase: JobPhase
    results: list[dict[str, str]] = dataclasses.field(default_factory=list)
    error_message: str = ""
    log_path: str | None = None


@typing.runtime_checkable
class JobRunner(typing.Protocol):
    """Runs OCPS jobs. Cancelling `run` must stop the job (abort)."""

    async def run(self, request: JobRequest) -> JobOutcome:
        """Run one job to completion and report its outcome."""
        ...
