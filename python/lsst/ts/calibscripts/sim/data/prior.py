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

"""Certified calibrations of a past night, as a summit repository holds them.

A run that only verifies its new frames (``generate_calibrations: false``)
or builds on calibrations it does not build (a ``DARK``, ``FLAT`` or
``DARK_FLAT`` run) needs certified calibrations in its input collections.
A new simulated repository has none; `seed_prior_calibrations` makes them
the way they are made at the summit: it takes frames of a past night
(`PRIOR_DAY_OBS`) with the simulated camera's data model, ingests them,
runs the stand-in cpBias, cpDark (with that bias) and cpFlat (with both,
once per filter) in process, and certifies the masters into the camera's
``<instrument>/calib/unbounded`` with an unbounded validity range
(``<instrument>/calib`` chains it). What is already certified there for
every detector asked is not made again, so a reused repository is seeded
once.
"""

from __future__ import annotations

__all__ = [
    "PRIOR_DAY_OBS",
    "PRIOR_FRAMES",
    "PriorCalibrationError",
    "PriorCalibrations",
    "missing_prior_calibrations",
    "seed_prior_calibrations",
]

import asyncio
import dataclasses
import logging
import os
import tempfile
import typing
import uuid

from lsst.daf.butler import Butler, DatasetRef
from lsst.daf.butler.registry import MissingCollectionError

from ...cameras import COMCAM, CameraProfile
from ...errors import CalibScriptsError
from ..interfaces import ImageInfo, JobPhase, JobRequest
from ..runners._common import default_log_dir, job_collections
from ..runners.inprocess import InProcessRunner
from . import dataplane, frames, repo
from .options import DataOptions

PRIOR_DAY_OBS = 20000101
"""The night of the prior calibrations' frames: long past, so that their exposures never meet a
run's."""

PRIOR_FIRST_SEQ_NUM = 90001
"""The first sequence number of those frames. A simulated frame's noise is drawn from its sequence
number and detector, not its date: numbered as a run's frames are, from 1, a prior frame would be a
copy of the run's frame of the same number, and a run that verifies its frames against the prior
masters would verify frames that are in them."""

PRIOR_GROUP_ID = "prior-calibrations"
"""Group id of those frames."""

PRIOR_FRAMES: dict[str, tuple[int, float]] = {"bias": (20, 0.0), "dark": (20, 30.0), "flat": (20, 5.0)}
"""Frames per calibration (dataset type): how many, and their exposure time (s). Twenty, as the
calibration scripts take by default: a frame verified against a master of n frames has sqrt(1 + 1/n)
times its own noise, 1.025 here, under cp_verify's 1.05 (from 3 frames, 1.15 fails)."""

_IMAGE_TYPES = {"bias": "BIAS", "dark": "DARK", "flat": "FLAT"}
_PIPELINES = {"bias": "cpBias", "dark": "cpDark", "flat": "cpFlat"}
_BUILT_ON = {"bias": (), "dark": ("bias",), "flat": ("bias", "dark")}


class PriorCalibrationError(CalibScriptsError, RuntimeError):
    """A prior calibration could not be made (its job failed)."""


@dataclasses.dataclass(frozen=True)
class PriorCalibrations:
    """What `seed_prior_calibrations` found and made.

    Attributes
    ----------
    collection : `str`
        The CALIBRATION collection they are certified in.
    made : `dict` [`str`, `str`]
        Calibration made (``bias``, ``dark``, ``flat:<physical_filter>``) →
        the RUN of its masters.
    present : `tuple` [`str`]
        Calibrations already certified there for every detector (not made).
    detectors : `dict` [`str`, `list` [`int`]]
        Calibration made → the detectors it was made for (those that lacked
        it).
    """

    collection: str
    made: dict[str, str]
    present: tuple[str, ...]
    detectors: dict[str, list[int]] = dataclasses.field(default_factory=dict)

    def describe(self) -> str:
        """One line for the observatory's log."""
        made = ", ".join(f"{key} (detector(s) {self.detectors.get(key, '?')})" for key in self.made)
        present = ", ".join(self.present) or "none"
        return f"prior calibrations in {self.collection}: made {made or 'none'}; already there {present}"


def _key(dataset_type: str, physical_filter: str | None) -> str:
    return dataset_type if physical_filter is None else f"{dataset_type}:{physical_filter}"


def missing_prior_calibrations(
    butler: Butler,
    camera: CameraProfile,
    detectors: typing.Sequence[int],
    physical_filters: typing.Sequence[str],
) -> dict[str, list[int]]:
    """The calibrations not certified in ``<instrument>/calib/unbounded``, and for which detectors.

    Parameters
    ----------
    butler : `lsst.daf.butler.Butler`
        The repository.
    camera : `CameraProfile`
        Its camera.
    detectors : sequence of `int`
        The detectors that need them.
    physical_filters : sequence of `str`
        The filters that need a flat (butler ``physical_filter`` names).

    Returns
    -------
    missing : `dict` [`str`, `list` [`int`]]
        ``bias``, ``dark``, ``flat:<physical_filter>`` (in that order) → the
        detectors that lack it; a calibration every detector has is left out.
    """
    collection = repo.camera_collections(camera)[2]
    wanted = [("bias", None), ("dark", None)] + [("flat", name) for name in physical_filters]
    missing: dict[str, list[int]] = {}
    for dataset_type, physical_filter in wanted:
        where = "physical_filter = pf" if physical_filter is not None else ""
        bind = {"pf": physical_filter} if physical_filter is not None else {}
        try:
            refs = butler.registry.queryDatasets(
                dataset_type,
                collections=collection,
                instrument=camera.instrument,
                where=where,
                bind=bind,
                findFirst=False,
            )
            found = {int(ref.dataId["detector"]) for ref in refs}
        except MissingCollectionError:
            found = set()
        lacking = sorted(set(detectors) - found)
        if lacking:
            missing[_key(dataset_type, physical_filter)] = lacking
    return missing


def _images(
    camera: CameraProfile,
    wanted: dict[str, list[int]],
    first_seq_num: int,
    n_frames: int | None,
) -> dict[str, list[ImageInfo]]:
    """The frames of each calibration to make (of the detectors that lack it), numbered from
    ``first_seq_num``."""
    images: dict[str, list[ImageInfo]] = {}
    seq_num = first_seq_num
    for key, detectors in wanted.items():
        dataset_type, _, physical_filter = key.partition(":")
        default_n, exp_time = PRIOR_FRAMES[dataset_type]
        images[key] = []
        for _ in range(default_n if n_frames is None else n_frames):
            images[key].append(
                frames.make_image_info(
                    PRIOR_DAY_OBS,
                    seq_num,
                    detectors=detectors,
                    image_type=_IMAGE_TYPES[dataset_type],
                    exp_time=exp_time,
                    group_id=PRIOR_GROUP_ID,
                    physical_filter=physical_filter or None,
                    camera=camera,
                )
            )
            seq_num += 1
    return images


def _plan(
    butler: Butler, camera: CameraProfile, detectors: tuple[int, ...], filters: tuple[str, ...]
) -> tuple[dict[str, list[int]], list[str], int]:
    """(missing calibrations and their detectors, present ones, the next free sequence number of
    `PRIOR_DAY_OBS`)."""
    missing = missing_prior_calibrations(butler, camera, detectors, filters)
    everything = ["bias", "dark"] + [_key("flat", name) for name in filters]
    present = [key for key in everything if key not in missing]
    records = butler.registry.queryDimensionRecords(
        "exposure", instrument=camera.instrument, where=f"exposure.day_obs = {PRIOR_DAY_OBS}"
    )
    last = max((int(record.seq_num) for record in records), default=0)
    return missing, present, max(last + 1, PRIOR_FIRST_SEQ_NUM)


def _take(path: str, images: list[ImageInfo], options: DataOptions) -> list[DatasetRef]:
    """Write and ingest the raws of ``images`` (blocking), staged beside the repository."""
    with tempfile.TemporaryDirectory(prefix="sim_prior_", dir=os.path.dirname(path)) as staging:
        return dataplane.ingest_raws(path, frames.write_frames(staging, images, options), transfer="move")


def _prune(path: str, refs: list[DatasetRef]) -> None:
    """Remove datasets from the repository and its datastore (blocking)."""
    if not refs:
        return
    with repo.registry_lock(path):
        butler = repo.open_butler(path, writeable=True)
        try:
            butler.pruneDatasets(refs, disassociate=True, unstore=True, purge=True)
        finally:
            butler.close()


def _leftover_raws(butler: Butler, camera: CameraProfile) -> list[DatasetRef]:
    """Raws of `PRIOR_DAY_OBS` still in the repository: a seeding stopped before it pruned them."""
    return list(
        butler.registry.queryDatasets(
            "raw",
            collections=repo.camera_collections(camera)[0],
            instrument=camera.instrument,
            where=f"exposure.day_obs = {PRIOR_DAY_OBS}",
        )
    )


def _certify_and_prune(path: str, run: str, collection: str, dataset_type: str) -> None:
    """Certify the masters of ``run`` into ``collection``, valid at all times; then remove the
    job's other products, per exposure, which nothing reads again (blocking).

    A full-size frame is 32 MB per detector, its processed copies more: twenty per calibration
    would otherwise stay in the repository for good.
    """
    with repo.registry_lock(path):
        butler = repo.open_butler(path, writeable=True)
        try:
            repo.certify_calibs(butler, run, collection, dataset_type, None, None)
            products = [
                ref
                for ref in butler.registry.queryDatasets(..., collections=run)
                if ref.datasetType.name != dataset_type
            ]
            butler.pruneDatasets(products, disassociate=True, unstore=True, purge=True)
        finally:
            butler.close()


def _query(camera: CameraProfile, detectors: typing.Sequence[int], images: list[ImageInfo]) -> str:
    return (
        f"instrument='{camera.instrument}' AND detector IN ({', '.join(map(str, detectors))}) "
        f"AND exposure IN ({', '.join(str(image.exposure_id) for image in images)})"
    )


async def seed_prior_calibrations(
    repo_path: str | os.PathLike[str],
    camera: CameraProfile = COMCAM,
    physical_filters: typing.Iterable[str] | None = None,
    detectors: typing.Iterable[int] | None = None,
    data: DataOptions | None = None,
    log_dir: str | None = None,
    log: logging.Logger | None = None,
    n_frames: int | None = None,
) -> PriorCalibrations:
    """Make and certify the bias, dark and flats a repository lacks.

    The stand-in pipelines' folders must be in `os.environ` (``CP_PIPE_DIR``,
    `lsst.ts.calibscripts.sim.cp.pipeline_env`), as `SimulatedObservatory`
    sets them: a pipeline's imports are expanded from it.

    Parameters
    ----------
    repo_path : `str`
        Butler repository (created if missing).
    camera : `CameraProfile`
        The camera.
    physical_filters : iterable of `str`, optional
        Filters that get a flat (butler ``physical_filter`` names, for
        LATISS ``FILTER~GRATING``); default the camera's default filter.
    detectors : iterable of `int`, optional
        Detectors; default the camera's default detectors.
    data : `DataOptions`, optional
        Frame options (geometry, read noise...); default `DataOptions`.
    log_dir : `str`, optional
        Folder of the jobs' logs; default ``<repo>_ocps_logs``.
    log : `logging.Logger`, optional
        Logger.
    n_frames : `int`, optional
        Frames per calibration; default `PRIOR_FRAMES`'s (tests take fewer).

    Returns
    -------
    prior : `PriorCalibrations`
        What was made, and what was there already.

    Raises
    ------
    ValueError
        A filter or detector the camera does not have, or ``n_frames`` < 2.
    PriorCalibrationError
        A job failed; the message names it and its log.
    """
    log = log or logging.getLogger(__name__)
    if n_frames is not None and n_frames < 2:
        raise ValueError(f"n_frames={n_frames}: a master is combined from 2 frames or more")
    filters = tuple(dict.fromkeys(physical_filters or (camera.physical_filter(),)))
    for name in filters:
        camera.physical_filter_band(name)  # raises ValueError naming the camera's filters
    dets = tuple(sorted(set(camera.default_detectors if detectors is None else detectors)))
    for detector in dets:
        camera.detector(detector)  # raises ValueError for a detector the camera does not have
    path = await asyncio.to_thread(repo.add_camera, repo_path, camera)
    collection = repo.camera_collections(camera)[2]

    def plan() -> tuple[dict[str, list[int]], list[str], int, list[DatasetRef]]:
        butler = repo.open_butler(path, writeable=False)
        try:
            return (*_plan(butler, camera, dets, filters), _leftover_raws(butler, camera))
        finally:
            butler.close()

    missing, present, first_seq_num, leftovers = await asyncio.to_thread(plan)
    await asyncio.to_thread(_prune, path, leftovers)
    if not missing:
        return PriorCalibrations(collection=collection, made={}, present=tuple(present))
    log.info("Making the prior calibrations %s of %s in %s", missing, camera.instrument, path)
    images = _images(camera, missing, first_seq_num, n_frames)
    options = data or DataOptions(instrument=camera.instrument)
    runner = InProcessRunner(path, log_dir or default_log_dir(path))
    made: dict[str, str] = {}
    # A master a later one is built on: this seeding's RUN, else what the chain holds.
    built_runs: dict[str, str] = {}
    for key, key_detectors in missing.items():
        dataset_type = key.partition(":")[0]
        raws = await asyncio.to_thread(_take, path, images[key], options)
        try:
            made[key] = await _make(runner, path, camera, key, key_detectors, images[key], built_runs)
        finally:
            # The frames are read by this one job only (a stop or a failure included).
            await asyncio.to_thread(_prune, path, raws)
        built_runs[dataset_type] = made[key]
    prior = PriorCalibrations(collection=collection, made=made, present=tuple(present), detectors=missing)
    log.info("%s", prior.describe())
    return prior


async def _make(
    runner: InProcessRunner,
    path: str,
    camera: CameraProfile,
    key: str,
    detectors: list[int],
    images: list[ImageInfo],
    built_runs: dict[str, str],
) -> str:
    """Run the job that makes one calibration from its raws; certify its masters; return their RUN."""
    dataset_type = key.partition(":")[0]
    raw_run, calib_chain, collection = repo.camera_collections(camera)
    inputs = [built_runs[name] for name in _BUILT_ON[dataset_type] if name in built_runs] + [calib_chain]
    request = JobRequest(
        job_id=uuid.uuid4().hex,
        run_id="0",
        pipeline=f"${{CP_PIPE_DIR}}/pipelines/{camera.instrument}/{_PIPELINES[dataset_type]}.yaml",
        version="",
        config=f"-j 8 -i {','.join(inputs)} --register-dataset-types",
        data_query=_query(camera, detectors, images),
        butler_repo=path,
        default_input=raw_run,
    )
    outcome = await runner.run(request)
    run = job_collections(request.job_id)[1]
    if outcome.phase is not JobPhase.COMPLETED:
        raise PriorCalibrationError(
            f"The prior {key} of {camera.instrument} could not be made: job {request.job_id} failed "
            f"(log {outcome.log_path}): {outcome.error_message}"
        )
    await asyncio.to_thread(_certify_and_prune, path, run, collection, dataset_type)
    return run
