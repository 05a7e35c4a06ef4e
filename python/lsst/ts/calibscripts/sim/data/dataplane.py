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

"""`ButlerDataPlane`: raws written and ingested into a real butler repository.

The mock CCCamera calls `ButlerDataPlane.begin_image` right after
``endReadout``; it returns at once and a writer thread writes the raws of all
the image's detectors (one at a time) into the staging folder. The mock
CCOODS then awaits `ButlerDataPlane.ingest_image` once per image (or
`ButlerDataPlane.ingest` for one detector): it waits for those files, syncs
the image's day_obs/group/exposure records (once per image), ingests the
files into ``<instrument>/raw/all`` (the image's camera, registered in the
repository on its first image) in one butler call and returns
``(statusCode, description)`` by detector for ``imageInOODS``:

* ``(0, "file ingested")``;
* ``(1, "ingest failure: <cause>")`` — raw file missing or not written, already
  ingested, butler ingest error, or an injected fault;
* ``(2, "metadata failure: <cause>")`` — the exposure records could not be
  written (e.g. an exposure id reused with different values).

All butler work runs on one dedicated thread, under the repository's
`~.repo.registry_lock`, which serialises the SQLite registry writes with
other writers in the process; nothing blocks the event loop.

Sync helpers for tests and other parts of the simulation
--------------------------------------------------------
`ingest_raws` (repo, raw_files, transfer) -> list of refs
    Ingest raws written by `~.frames.write_bias_frames` (records included).
`seed_bias_repo` (repo, n_exposures, detectors, options, ...) -> list of ImageInfo
    Create/open a repository and fill ``LSSTComCam/raw/all`` with bias raws.
"""

from __future__ import annotations

__all__ = ["OodsStatus", "ButlerDataPlane", "ingest_raws", "seed_bias_repo"]

import asyncio
import concurrent.futures
import enum
import functools
import logging
import os
import tempfile
import typing

from lsst.daf.butler import Butler, DatasetRef, FileDataset
from lsst.daf.butler.registry import ConflictingDefinitionError

from ...cameras import COMCAM, CameraProfile, profile
from ..interfaces import ImageInfo
from . import camera_model, frames, repo
from .options import DataOptions


def _raw_name(image: ImageInfo, detector: int) -> str:
    """``<obs_id> <detector name>`` of one raw, as the image's camera names its detector."""
    return f"{image.obs_id} {profile(image.instrument).detector_name(detector)}"


class OodsStatus(enum.IntEnum):
    """CCOODS ``imageInOODS.statusCode`` values."""

    INGESTED = 0
    INGEST_FAILURE = 1
    METADATA_FAILURE = 2


class ButlerDataPlane:
    """A `~lsst.ts.calibscripts.sim.interfaces.DataPlane` backed by a butler.

    Parameters
    ----------
    options : `DataOptions`
        ``options.repo`` is required; it is created if missing (on first use
        or by `start`).
    log : `logging.Logger`, optional
        Logger.
    """

    def __init__(self, options: DataOptions, log: logging.Logger | None = None) -> None:
        if options.repo is None:
            raise ValueError("ButlerDataPlane needs DataOptions.repo")
        self.options = options
        self.repo: str = options.repo
        self.staging_dir = options.staging_path()
        self.log = log or logging.getLogger(type(self).__name__)
        self._writer = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="sim-raw-writer"
        )
        self._butler_thread = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="sim-butler"
        )
        self._files: dict[tuple[str, int], concurrent.futures.Future[str]] = {}
        self._registered: set[int] = set()
        self._cameras: set[str] = set()
        self._butler: Butler | None = None
        self._closed = False

    # DataPlane protocol

    def begin_image(self, image: ImageInfo) -> None:
        """Start writing the raws of ``image`` for all its detectors.

        Returns at once; the files are written in a background thread.
        """
        if self._closed:
            raise RuntimeError("ButlerDataPlane is closed")
        for detector in image.detectors:
            key = (image.obs_id, detector)
            self._files[key] = self._writer.submit(
                frames.write_raw, image, detector, self.staging_dir, self.options
            )

    async def ingest(self, image: ImageInfo, detector: int) -> tuple[int, str]:
        """Wait for one raw and ingest it; return (statusCode, description)."""
        name = _raw_name(image, detector)
        future = self._files.pop((image.obs_id, detector), None)
        path: str | None = None
        if future is not None:
            try:
                path = await asyncio.wrap_future(future)
            except Exception as e:
                self.log.warning("Writing raw %s failed: %r", name, e)
                return OodsStatus.INGEST_FAILURE, f"ingest failure: writing raw {name} failed: {e!r}"
        if self.options.ingest_fails(image.obs_id, detector):
            return OodsStatus.INGEST_FAILURE, f"ingest failure: {name}: simulated ingest fault"
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._butler_thread, self._ingest_blocking, image, detector, path)

    async def ingest_image(
        self, image: ImageInfo, detectors: typing.Sequence[int]
    ) -> dict[int, tuple[int, str]]:
        """Wait for the raws of ``detectors`` and ingest them in one butler call.

        Returns (statusCode, description) by detector, the same as `ingest`
        would give for each. If the one ingest fails, each raw is ingested
        on its own, so that every detector gets its own status.
        """
        results: dict[int, tuple[int, str]] = {}
        paths: dict[int, str | None] = {}
        for detector in detectors:
            name = _raw_name(image, detector)
            future = self._files.pop((image.obs_id, detector), None)
            path: str | None = None
            if future is not None:
                try:
                    path = await asyncio.wrap_future(future)
                except Exception as e:
                    self.log.warning("Writing raw %s failed: %r", name, e)
                    results[detector] = (
                        OodsStatus.INGEST_FAILURE,
                        f"ingest failure: writing raw {name} failed: {e!r}",
                    )
                    continue
            if self.options.ingest_fails(image.obs_id, detector):
                results[detector] = (
                    OodsStatus.INGEST_FAILURE,
                    f"ingest failure: {name}: simulated ingest fault",
                )
                continue
            paths[detector] = path
        if paths:
            loop = asyncio.get_running_loop()
            results.update(
                await loop.run_in_executor(self._butler_thread, self._ingest_image_blocking, image, paths)
            )
        return {detector: results[detector] for detector in detectors}

    # Other public methods

    async def start(self) -> None:
        """Create or open the repository now (otherwise on first ingest)."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._butler_thread, self._get_butler)

    async def close(self) -> None:
        """Drop raws not yet being written, then release the butler and threads."""
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        # Raws not started yet are dropped; the one being written completes.
        await loop.run_in_executor(
            None, functools.partial(self._writer.shutdown, wait=True, cancel_futures=True)
        )
        await loop.run_in_executor(self._butler_thread, self._close_butler)
        self._butler_thread.shutdown(wait=False)

    # Blocking work, on the butler thread only

    def _get_butler(self) -> Butler:
        if self._butler is None:
            self._butler = repo.open_repo(self.repo)
        return self._butler

    def _ensure_camera(self, butler: Butler, image: ImageInfo) -> None:
        """Register the image's camera in the repository, once (LSSTComCam always is)."""
        if image.instrument not in self._cameras:
            if image.instrument != COMCAM.instrument:
                repo.ensure_camera(butler, image.instrument)
            self._cameras.add(image.instrument)

    def _close_butler(self) -> None:
        if self._butler is not None:
            self._butler.close()
            self._butler = None

    def _ingest_blocking(self, image: ImageInfo, detector: int, path: str | None) -> tuple[int, str]:
        with repo.registry_lock(self.repo):
            return self._ingest_locked(image, detector, path)

    def _ingest_image_blocking(
        self, image: ImageInfo, paths: dict[int, str | None]
    ) -> dict[int, tuple[int, str]]:
        with repo.registry_lock(self.repo):
            try:
                butler = self._get_butler()
                self._ensure_camera(butler, image)
                if image.exposure_id not in self._registered:
                    repo.register_exposure(butler, image)
                    self._registered.add(image.exposure_id)
                expected = {
                    detector: path or os.path.join(self.staging_dir, frames.raw_filename(image, detector))
                    for detector, path in paths.items()
                }
                if not all(os.path.isfile(path) for path in expected.values()):
                    raise FileNotFoundError("a raw file is missing")
                datasets = [
                    FileDataset(
                        path=path, refs=[repo.raw_ref(butler, image, detector)], formatter=repo.FORMATTER_NAME
                    )
                    for detector, path in expected.items()
                ]
                butler.ingest(*datasets, transfer=self.options.transfer.value)
            except Exception:
                # One at a time, for each detector's own status (the batch
                # ingest is one transaction: nothing of it was ingested).
                return {
                    detector: self._ingest_locked(image, detector, path) for detector, path in paths.items()
                }
        return {detector: (OodsStatus.INGESTED, "file ingested") for detector in paths}

    def _ingest_locked(self, image: ImageInfo, detector: int, path: str | None) -> tuple[int, str]:
        name = _raw_name(image, detector)
        expected = path or os.path.join(self.staging_dir, frames.raw_filename(image, detector))
        try:
            butler = self._get_butler()
        except Exception as e:
            self.log.exception("Cannot open butler repository %s", self.repo)
            return (
                OodsStatus.INGEST_FAILURE,
                f"ingest failure: cannot open butler repository {self.repo}: {e!r}",
            )
        already = (
            OodsStatus.INGEST_FAILURE,
            f"ingest failure: {name} is already ingested in {repo.raw_run(image)}",
        )
        if not os.path.isfile(expected):
            if image.exposure_id in self._registered and repo.raw_exists(butler, image, detector):
                return already
            return OodsStatus.INGEST_FAILURE, f"ingest failure: raw file for {name} not found: {expected}"
        if image.exposure_id not in self._registered:
            try:
                self._ensure_camera(butler, image)
                repo.register_exposure(butler, image)
            except Exception as e:
                self.log.warning("Exposure records for %s failed: %r", image.obs_id, e)
                return OodsStatus.METADATA_FAILURE, f"metadata failure: {image.obs_id}: {e}"
            self._registered.add(image.exposure_id)
        try:
            repo.ingest_raw(butler, image, detector, expected, transfer=self.options.transfer.value)
        except ConflictingDefinitionError as e:
            if repo.raw_exists(butler, image, detector):
                return already
            return OodsStatus.INGEST_FAILURE, f"ingest failure: {name}: {type(e).__name__}: {e}"
        except Exception as e:
            self.log.warning("Ingest of %s failed: %r", name, e)
            return OodsStatus.INGEST_FAILURE, f"ingest failure: {name}: {type(e).__name__}: {e}"
        return OodsStatus.INGESTED, "file ingested"


def ingest_raws(
    repo_path: str | os.PathLike[str],
    raw_files: typing.Iterable[frames.RawFile],
    transfer: str = "move",
) -> list[DatasetRef]:
    """Ingest raws into ``<instrument>/raw/all`` in one call (blocking).

    Registers each image's camera (`repo.ensure_camera`) and syncs the
    exposure records of every image first. The repository must exist
    (`repo.create_or_open_repo`).
    """
    files = list(raw_files)
    with repo.registry_lock(repo_path):
        butler = repo.open_butler(os.fspath(repo_path), writeable=True)
        try:
            for instrument in sorted({raw.image.instrument for raw in files} - {COMCAM.instrument}):
                repo.ensure_camera(butler, instrument)
            seen: set[int] = set()
            for raw in files:
                if raw.image.exposure_id not in seen:
                    repo.register_exposure(butler, raw.image)
                    seen.add(raw.image.exposure_id)
            datasets = [
                FileDataset(
                    path=raw.path,
                    refs=[repo.raw_ref(butler, raw.image, raw.detector)],
                    formatter=repo.FORMATTER_NAME,
                )
                for raw in files
            ]
            if datasets:
                butler.ingest(*datasets, transfer=transfer)
            return [ref for dataset in datasets for ref in dataset.refs]
        finally:
            butler.close()


def seed_bias_repo(
    repo_path: str | os.PathLike[str],
    n_exposures: int,
    detectors: typing.Iterable[int] = camera_model.DETECTOR_IDS,
    options: DataOptions | None = None,
    *,
    day_obs: int = 20261125,
    first_seq_num: int = 1,
    group_id: str = "",
    camera: CameraProfile = COMCAM,
) -> list[ImageInfo]:
    """Create/open a repository and ingest ``n_exposures`` × ``detectors`` bias raws of ``camera``.

    Blocking. The raws are written to a temporary folder and moved into the
    datastore. Returns the images, in sequence order.
    """
    path = repo.create_or_open_repo(repo_path)
    dets = tuple(detectors)
    with tempfile.TemporaryDirectory(prefix="sim_raws_") as staging:
        written = frames.write_bias_frames(
            staging,
            n_exposures,
            dets,
            options,
            day_obs=day_obs,
            first_seq_num=first_seq_num,
            group_id=group_id,
            camera=camera,
        )
        ingest_raws(path, written, transfer="move")
    images: list[ImageInfo] = []
    for raw in written:
        if not images or images[-1].obs_id != raw.image.obs_id:
            images.append(raw.image)
    return images
