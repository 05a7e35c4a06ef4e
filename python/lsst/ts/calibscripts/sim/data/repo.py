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

"""Create or open the simulated LSSTComCam butler repository.

Public API
----------
`create_or_open_repo` (path) -> `str`
    Create the repository if ``butler.yaml`` is missing (seeded with the
    ``SimExposure`` storage class and its astropy FITS formatter), then make
    sure it holds the LSSTComCam instrument, detectors 0..8, the ComCam
    physical filters (``u_02`` .. ``y_04``), the dataset types, the RUN ``LSSTComCam/raw/all`` and the CHAINED
    ``LSSTComCam/calib`` (→ CALIBRATION ``LSSTComCam/calib/unbounded``).
    Idempotent and safe to call on an existing repository.
`open_repo` (path) -> `lsst.daf.butler.Butler`
    The same, returning the writeable butler that set the repository up
    (one butler opened instead of two; the caller closes it).
`open_butler` (path, writeable=...) -> `lsst.daf.butler.Butler`
`registry_lock` (path) -> `threading.RLock`
    One lock per repository per process, held around registry writes.
`register_exposure` (butler, image)
    Insert (sync) the day_obs, group and exposure records of one
    `~lsst.ts.calibscripts.sim.interfaces.ImageInfo`, with timespans.
`exposure_record_values`, `exposure_timespan`
    The record contents `register_exposure` writes.
`raw_ref` (butler, image, detector) -> `lsst.daf.butler.DatasetRef`
    The ``raw`` ref of one (exposure, detector) in ``LSSTComCam/raw/all``.
`find_certified_bias` (repo, detector, time, collection=...) -> ref or `None`
    Find the bias certified for ``time`` (TAI) in a CALIBRATION/CHAINED
    collection, as a calibration lookup by timespan.
`certified_biases` (repo, collection=...) -> list of `CertifiedBias`
    Every bias validity range in a CALIBRATION collection (or in the
    CALIBRATION collections of a chain), for reports and tests.
`find_certified_calib` (repo, dataset_type, detector, time, ...)
    The same lookup for ``bias``, ``dark`` or ``flat`` (a flat per filter).
`certify_calibs` (repo, run, collection, dataset_type, begin, end) -> list of refs
    Certify every ``dataset_type`` dataset of a RUN into a CALIBRATION
    collection, as ``butler certify-calibrations`` does (all filters of a
    flat at once; conflicts are checked per detector and filter).

Constants: ``RAW_RUN``, ``CALIB_CHAIN``, ``CALIB_UNBOUNDED``, ``PHYSICAL_FILTER``
(the default filter), ``BAND``, ``DATASET_TYPES`` (name → (dimensions, storage class,
isCalibration)), and the storage class/formatter names from
`lsst.ts.calibscripts.sim.data.formatter`.

Dataset type definitions match the connections of the simulated cpBias,
cpDark, cpFlat, verifyBias, verifyDark and verifyFlat tasks, so
``pipetask --register-dataset-types`` finds them already registered with the
same definition.
"""

from __future__ import annotations

__all__ = [
    "RAW_RUN",
    "CALIB_CHAIN",
    "CALIB_UNBOUNDED",
    "PHYSICAL_FILTER",
    "BAND",
    "DATASET_TYPES",
    "STORAGE_CLASS",
    "FORMATTER_NAME",
    "seed_config",
    "create_or_open_repo",
    "open_repo",
    "open_butler",
    "registry_lock",
    "register_dataset_types",
    "exposure_timespan",
    "exposure_record_values",
    "register_exposure",
    "raw_ref",
    "raw_run",
    "add_camera",
    "ensure_camera",
    "sync_camera",
    "camera_collections",
    "raw_exists",
    "ingest_raw",
    "find_certified_bias",
    "CertifiedBias",
    "certified_biases",
    "find_certified_calib",
    "certify_calibs",
]

import dataclasses
import os
import threading
import typing

import astropy.time
import astropy.units as u
from lsst.daf.butler import (
    Butler,
    CollectionType,
    Config,
    DatasetRef,
    DatasetType,
    FileDataset,
    MissingCollectionError,
    Timespan,
)

from ... import butlers
from ...cameras import COMCAM, CameraProfile, DetectorKind, profile
from . import camera_model, frames
from .formatter import FORMATTER_NAME, STORAGE_CLASS

if typing.TYPE_CHECKING:
    from ..interfaces import ImageInfo

RAW_RUN = f"{COMCAM.instrument}/raw/all"
CALIB_CHAIN = f"{COMCAM.instrument}/calib"
CALIB_UNBOUNDED = f"{COMCAM.instrument}/calib/unbounded"
PHYSICAL_FILTER = camera_model.DEFAULT_PHYSICAL_FILTER
BAND = camera_model.filter_band(PHYSICAL_FILTER)

_EXP_DET = ("instrument", "exposure", "detector")

DATASET_TYPES: dict[str, tuple[tuple[str, ...], str, bool]] = {
    "raw": (("instrument", "exposure", "detector"), STORAGE_CLASS, False),
    "bias": (("instrument", "detector"), STORAGE_CLASS, True),
    "verifyBiasDetStats": (("instrument", "exposure", "detector"), "StructuredDataDict", False),
    "verifyBiasExpStats": (("instrument", "exposure"), "StructuredDataDict", False),
    "verifyBiasStats": (("instrument",), "StructuredDataDict", False),
    "dark": (("instrument", "detector"), STORAGE_CLASS, True),
    "flat": (("instrument", "detector", "physical_filter"), STORAGE_CLASS, True),
    "verifyDarkDetStats": (_EXP_DET, "StructuredDataDict", False),
    "verifyDarkExpStats": (("instrument", "exposure"), "StructuredDataDict", False),
    "verifyDarkStats": (("instrument",), "StructuredDataDict", False),
    "verifyFlatDetStats": (_EXP_DET, "StructuredDataDict", False),
    # cp_verify declares {instrument, exposure, physical_filter}: the same
    # dimensions, since an exposure implies its physical_filter.
    "verifyFlatExpStats": (("instrument", "exposure"), "StructuredDataDict", False),
    "verifyFlatStats": (("instrument", "physical_filter"), "StructuredDataDict", False),
}
"""Dataset types registered in every repository: name → (dimensions, storage
class, isCalibration)."""

_repo_locks: dict[str, threading.RLock] = {}
_repo_locks_guard = threading.Lock()


def registry_lock(path: str | os.PathLike[str]) -> threading.RLock:
    """Return this process's lock for registry writes to one repository.

    SQLite allows one writer at a time; threads of one process that write
    to the same repository (the data plane, in-process runners) should hold
    this re-entrant lock around their registry writes.
    """
    with _repo_locks_guard:
        return _repo_locks.setdefault(os.path.realpath(os.fspath(path)), threading.RLock())


def seed_config() -> Config:
    """Return the seed configuration of a new repository.

    It defines the ``SimExposure`` storage class (pytype
    `astropy.io.fits.HDUList`) and maps it to `HduListFitsFormatter`.
    """
    return Config(
        {
            "storageClasses": {STORAGE_CLASS: {"pytype": "astropy.io.fits.HDUList"}},
            "datastore": {"formatters": {STORAGE_CLASS: FORMATTER_NAME}},
        }
    )


def open_butler(repo: str, writeable: bool = True, **kwargs: typing.Any) -> Butler:
    """Open an existing repository.

    Parameters
    ----------
    repo : `str`
        Repository root (folder holding ``butler.yaml``).
    writeable : `bool`
        Open read-write.
    **kwargs
        Passed to `lsst.ts.calibscripts.butlers.open_butler` (``collections``,
        ``run``): the repository's configuration is read once per process.
    """
    return butlers.open_butler(repo, writeable=writeable, **kwargs)


def create_or_open_repo(path: str | os.PathLike[str]) -> str:
    """Create the simulated LSSTComCam repository if needed and set it up.

    Parameters
    ----------
    path : `str` or `os.PathLike`
        Repository root. Created (with parents) if missing.

    Returns
    -------
    repo : `str`
        The repository root as a string, usable as ``-b`` for ``pipetask``.

    Notes
    -----
    Blocking (1–2 s for a new repository): call it through
    `asyncio.to_thread` from async code.
    """
    repo = os.fspath(path)
    open_repo(repo).close()
    return repo


def open_repo(path: str | os.PathLike[str]) -> Butler:
    """`create_or_open_repo`, returning the writeable butler that set it up.

    One butler instead of two for a caller that goes on using the repository
    (opening one takes a tenth of a second). The caller closes it.
    """
    repo = os.fspath(path)
    with registry_lock(repo):
        if not os.path.exists(os.path.join(repo, "butler.yaml")):
            os.makedirs(repo, exist_ok=True)
            Butler.makeRepo(repo, config=seed_config())
        _check_storage_class(repo)
        butler = open_butler(repo, writeable=True)
        try:
            _sync_camera(butler)
            register_dataset_types(butler)
            _register_collections(butler)
        except BaseException:
            butler.close()
            raise
    return butler


def _check_storage_class(repo: str) -> None:
    """Fail with a clear message if the repository lacks ``SimExposure``."""
    config = Config(os.path.join(repo, "butler.yaml"))
    defined = STORAGE_CLASS in config.get("storageClasses", {})
    formatter = config.get(("datastore", "formatters", STORAGE_CLASS))
    if not defined or formatter != FORMATTER_NAME:
        raise RuntimeError(
            f"Repository {repo} does not define storage class {STORAGE_CLASS!r} with formatter "
            f"{FORMATTER_NAME}; it was not created by create_or_open_repo (seed config missing)."
        )


def _sync_camera(butler: Butler) -> None:
    """Insert the LSSTComCam instrument, detector and physical_filter records."""
    sync_camera(butler, COMCAM)


def sync_camera(butler: Butler, camera: CameraProfile) -> None:
    """Insert a camera's instrument, detector and physical_filter records (idempotent).

    Every detector of the profile with its obs_lsst purpose (``SCIENCE``,
    ``GUIDER``, ``WAVEFRONT``), raft and name in raft; every physical filter
    (LATISS: every ``FILTER~GRATING``) with its band.
    """
    purposes = {
        DetectorKind.SCIENCE: "SCIENCE",
        DetectorKind.GUIDER: "GUIDER",
        DetectorKind.WAVEFRONT: "WAVEFRONT",
    }
    records = {
        "instrument": [
            {
                "name": camera.instrument,
                "class_name": camera.instrument_class_name,
                "detector_max": max(camera.detector_ids) + 1,
                "visit_max": 30_000_000_000_000,
                "exposure_max": 30_000_000_000_000,
                "visit_system": 2,
            }
        ],
        "detector": [
            {
                "instrument": camera.instrument,
                "id": det.id,
                "full_name": det.name,
                "name_in_raft": det.sensor,
                "raft": det.raft,
                "purpose": purposes[det.kind],
            }
            for det in camera.detectors
        ],
        "physical_filter": [
            {"instrument": camera.instrument, "name": name, "band": band}
            for name, band in camera.physical_filter_bands
        ],
    }
    registry = butler.registry
    for element, rows in records.items():
        # One query for what is there (a repository opened again has it all), then a sync of
        # each record that is not there as given: it inserts it, or fails on a conflict.
        present = [
            record.toDict()
            for record in registry.queryDimensionRecords(element, instrument=camera.instrument)
        ]
        for row in rows:
            if row not in present:
                registry.syncDimensionData(element, row)


def camera_collections(camera: CameraProfile) -> tuple[str, str, str]:
    """(raw RUN, calibration CHAINED, its CALIBRATION child) of a camera, e.g. ``LSSTCam/raw/all``."""
    return (
        f"{camera.instrument}/raw/all",
        f"{camera.instrument}/calib",
        f"{camera.instrument}/calib/unbounded",
    )


def add_camera(repo: str | os.PathLike[str], camera: CameraProfile | str) -> str:
    """Register another camera in a repository made by `create_or_open_repo` (blocking; idempotent).

    Its instrument, detectors and physical filters (`sync_camera`), the
    dataset types, ``<instrument>/raw/all`` and the chain
    ``<instrument>/calib`` → ``<instrument>/calib/unbounded``.

    Returns
    -------
    repo : `str`
        The repository root.
    """
    camera = profile(camera) if isinstance(camera, str) else camera
    repo = create_or_open_repo(repo)
    with registry_lock(repo):
        butler = open_butler(repo, writeable=True)
        try:
            ensure_camera(butler, camera)
        finally:
            butler.close()
    return repo


def ensure_camera(butler: Butler, camera: CameraProfile | str) -> None:
    """`add_camera` on an open writeable butler (idempotent; hold `registry_lock`)."""
    camera = profile(camera) if isinstance(camera, str) else camera
    sync_camera(butler, camera)
    register_dataset_types(butler)
    _register_collections(butler, camera)


def register_dataset_types(butler: Butler) -> None:
    """Register the dataset types of `DATASET_TYPES` (idempotent).

    Raises
    ------
    lsst.daf.butler.registry.ConflictingDefinitionError
        If one is already registered with a different definition.
    """
    for name, (dimensions, storage_class, is_calibration) in DATASET_TYPES.items():
        dataset_type = DatasetType(
            name,
            dimensions,
            storage_class,
            universe=butler.dimensions,
            isCalibration=is_calibration,
        )
        butler.registry.registerDatasetType(dataset_type)


def _register_collections(butler: Butler, camera: CameraProfile = COMCAM) -> None:
    """Register a camera's raw RUN and calibration chain (idempotent)."""
    raw_run, calib_chain, calib_unbounded = camera_collections(camera)
    butler.collections.register(raw_run, CollectionType.RUN)
    butler.collections.register(calib_unbounded, CollectionType.CALIBRATION)
    created = butler.collections.register(calib_chain, CollectionType.CHAINED)
    if created or not butler.collections.get_info(calib_chain).children:
        butler.collections.redefine_chain(calib_chain, [calib_unbounded])


def exposure_timespan(image: ImageInfo) -> Timespan:
    """Return the exposure timespan ``[date_begin, date_end)`` (TAI).

    A zero-length exposure gets a 1 ns span so that it is never empty.
    """
    begin = image.date_begin.tai
    end = image.date_end.tai
    if end <= begin:
        end = begin + 1 * u.ns
    return Timespan(begin, end)


def _day_obs_timespan(day_obs: int) -> Timespan:
    """Return ``[day 12:00 TAI, next day 12:00 TAI)`` for a YYYYMMDD day_obs."""
    text = str(day_obs)
    begin = astropy.time.Time(f"{text[:4]}-{text[4:6]}-{text[6:]}T12:00:00", scale="tai")
    return Timespan(begin, begin + 1 * u.day)


def _group_name(image: ImageInfo) -> str:
    """Group record name: the image's group id, or its obs_id if it has none."""
    return image.group_id or image.obs_id


def exposure_record_values(image: ImageInfo) -> dict[str, dict[str, typing.Any]]:
    """Return the day_obs, group and exposure record values of an image."""
    instrument = image.instrument
    observation_type = image.image_type.lower() if image.image_type else "unknown"
    kvm = image.key_value_map
    return {
        "day_obs": {
            "instrument": instrument,
            "id": image.day_obs,
            "timespan": _day_obs_timespan(image.day_obs),
        },
        "group": {"instrument": instrument, "name": _group_name(image)},
        "exposure": {
            "instrument": instrument,
            "id": image.exposure_id,
            "obs_id": image.obs_id,
            "physical_filter": image.physical_filter,
            "group": _group_name(image),
            "day_obs": image.day_obs,
            "exposure_time": float(image.exp_time),
            "dark_time": frames.dark_time(image),
            "observation_type": observation_type,
            "observation_reason": kvm.get("reason", observation_type),
            "seq_num": image.seq_num,
            "seq_start": image.seq_num,
            "seq_end": image.seq_num,
            "target_name": "UNKNOWN",
            "science_program": kvm.get("program", "unknown"),
            "tracking_ra": None,
            "tracking_dec": None,
            "sky_angle": None,
            "azimuth": None,
            "zenith_angle": None,
            "has_simulated": True,
            "can_see_sky": False if observation_type in ("bias", "dark") else None,
            "timespan": exposure_timespan(image),
        },
    }


def register_exposure(butler: Butler, image: ImageInfo) -> None:
    """Sync the day_obs, group and exposure records of one image.

    Idempotent; raises `lsst.daf.butler.registry.ConflictingDefinitionError`
    if an exposure with the same id but different values exists. Callers in
    threads must serialise registry writes (SQLite).
    """
    values = exposure_record_values(image)
    with butler.transaction():
        for element in ("day_obs", "group", "exposure"):
            butler.registry.syncDimensionData(element, values[element])


def raw_run(image: ImageInfo) -> str:
    """The raw RUN of the image's camera, e.g. ``LSSTComCam/raw/all``."""
    return f"{image.instrument}/raw/all"


def raw_ref(butler: Butler, image: ImageInfo, detector: int) -> DatasetRef:
    """Return a new ``raw`` ref for (image, detector) in ``<instrument>/raw/all``."""
    raw_type = butler.get_dataset_type("raw")
    data_id = {"instrument": image.instrument, "exposure": image.exposure_id, "detector": detector}
    expanded = butler.registry.expandDataId(data_id, dimensions=raw_type.dimensions)
    return DatasetRef(raw_type, expanded, run=raw_run(image))


def raw_exists(butler: Butler, image: ImageInfo, detector: int) -> bool:
    """Return True if a ``raw`` of (image, detector) is in ``<instrument>/raw/all``."""
    try:
        ref = butler.find_dataset(
            "raw",
            instrument=image.instrument,
            exposure=image.exposure_id,
            detector=detector,
            collections=raw_run(image),
        )
    except LookupError:
        # The exposure record does not exist yet.
        return False
    return ref is not None


def ingest_raw(
    butler: Butler, image: ImageInfo, detector: int, path: str, transfer: str = "move"
) -> DatasetRef:
    """Ingest one raw file into ``LSSTComCam/raw/all`` (blocking).

    The exposure records must exist (`register_exposure`). ``transfer`` is a
    daf_butler transfer mode (``"move"``, ``"copy"``, ``"direct"``, ...).
    Returns the ingested ref.
    """
    ref = raw_ref(butler, image, detector)
    butler.ingest(FileDataset(path=path, refs=[ref], formatter=FORMATTER_NAME), transfer=transfer)
    return ref


def find_certified_calib(
    repo: str | Butler,
    dataset_type: str,
    detector: int,
    time: astropy.time.Time,
    physical_filter: str | None = None,
    collection: str = CALIB_CHAIN,
) -> DatasetRef | None:
    """Find the calibration (``bias``, ``dark``, ``flat``) certified for ``time``.

    Parameters
    ----------
    repo : `str` or `lsst.daf.butler.Butler`
        Repository root, or an open butler.
    dataset_type : `str`
        ``bias``, ``dark`` or ``flat``.
    detector : `int`
        Detector id 0..8.
    time : `astropy.time.Time`
        Instant to look up (converted to TAI).
    physical_filter : `str`, optional
        Required for a ``flat`` (one of its dimensions); ignored otherwise.
    collection : `str`
        CALIBRATION collection, or a CHAINED collection that contains one.

    Returns
    -------
    ref : `lsst.daf.butler.DatasetRef` or `None`
        The certified dataset, or `None` if none is valid at ``time`` (or the
        collection does not exist).
    """
    butler = repo if isinstance(repo, Butler) else open_butler(repo, writeable=False)
    try:
        t = time.tai
        data_id: dict[str, typing.Any] = {"instrument": camera_model.INSTRUMENT, "detector": detector}
        if "physical_filter" in butler.get_dataset_type(dataset_type).dimensions.names:
            if physical_filter is None:
                raise ValueError(f"Looking up a {dataset_type!r} needs its physical_filter")
            data_id["physical_filter"] = physical_filter
        try:
            return butler.find_dataset(dataset_type, data_id, collections=collection, timespan=Timespan(t, t))
        except MissingCollectionError:
            return None
    finally:
        if butler is not repo:
            butler.close()


def find_certified_bias(
    repo: str | Butler,
    detector: int,
    time: astropy.time.Time,
    collection: str = CALIB_CHAIN,
) -> DatasetRef | None:
    """Find the ``bias`` certified for ``time`` on one detector.

    `find_certified_calib` for ``bias``: `None` if none is valid at ``time``
    or the collection does not exist.
    """
    return find_certified_calib(repo, "bias", detector, time, collection=collection)


def certify_calibs(
    repo: str | Butler,
    run: str,
    collection: str,
    dataset_type: str,
    begin: astropy.time.Time | None,
    end: astropy.time.Time | None,
) -> list[DatasetRef]:
    """Certify every ``dataset_type`` dataset of ``run`` into ``collection``.

    What ``butler certify-calibrations <repo> <run> <collection> <type>
    --begin-date ... --end-date ...`` does: the CALIBRATION collection is
    created if missing, and all the datasets (for a ``flat``, of every
    physical filter) get the validity range ``[begin, end)`` (TAI; `None` is
    unbounded).

    Returns
    -------
    refs : `list` [`lsst.daf.butler.DatasetRef`]
        The certified datasets.

    Raises
    ------
    lsst.daf.butler.registry.ConflictingDefinitionError
        A dataset of the same type and data ID (detector, and filter for a
        flat) is already certified for an overlapping range.
    LookupError
        ``run`` holds no ``dataset_type``.
    """
    butler = repo if isinstance(repo, Butler) else open_butler(repo, writeable=True)
    try:
        refs = list(butler.registry.queryDatasets(dataset_type, collections=run))
        if not refs:
            raise LookupError(f"No {dataset_type!r} dataset in collection {run!r} to certify")
        timespan = Timespan(begin.tai if begin is not None else None, end.tai if end is not None else None)
        butler.registry.registerCollection(collection, CollectionType.CALIBRATION)
        butler.registry.certify(collection, refs, timespan)
        return refs
    finally:
        if butler is not repo:
            butler.close()


@dataclasses.dataclass(frozen=True)
class CertifiedBias:
    """One certification of a bias: which dataset, where, and when valid.

    Attributes
    ----------
    detector : `int`
        Detector id.
    ref : `lsst.daf.butler.DatasetRef`
        The certified dataset (its ``run`` is where it was written).
    collection : `str`
        The CALIBRATION collection.
    timespan : `lsst.daf.butler.Timespan`
        Validity range ``[begin, end)`` (TAI); `None` bounds are unbounded.
    """

    detector: int
    ref: DatasetRef
    collection: str
    timespan: Timespan


def certified_biases(repo: str | Butler, collection: str = CALIB_CHAIN) -> list[CertifiedBias]:
    """List the bias certifications in a CALIBRATION or CHAINED collection.

    Returns an empty list if the collection does not exist. Sorted by
    collection, detector and validity start.
    """
    butler = repo if isinstance(repo, Butler) else open_butler(repo, writeable=False)
    try:
        try:
            calibs = [
                info.name
                for info in butler.collections.query_info(
                    collection, flatten_chains=True, collection_types={CollectionType.CALIBRATION}
                )
            ]
        except MissingCollectionError:
            return []
        if not calibs:
            return []
        found = [
            CertifiedBias(
                detector=int(assoc.ref.dataId["detector"]),
                ref=assoc.ref,
                collection=assoc.collection,
                timespan=assoc.timespan,
            )
            for assoc in butler.registry.queryDatasetAssociations(
                "bias", collections=calibs, collectionTypes={CollectionType.CALIBRATION}
            )
        ]
        begin_key = astropy.time.Time("1970-01-01", scale="tai")
        return sorted(
            found,
            key=lambda c: (c.collection, c.detector, (c.timespan.begin or begin_key).tai.mjd),
        )
    finally:
        if butler is not repo:
            butler.close()
