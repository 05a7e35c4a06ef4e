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

"""Synchronous daf_butler work of the procedure, meant for `asyncio.to_thread`.

Every function here blocks (registry queries, file reads, SQLite locks): call
them from async code as ``await asyncio.to_thread(read_verify_stats, ...)``.
``lsst.daf.butler`` is imported inside the functions, so importing this
module is cheap (the script's ``--schema`` stays fast).

Public API
----------
`check_repo(repo)`
    Open ``repo`` read-only as a butler repository; `RepoNotUsable` naming
    ``repo`` and what to fix if it cannot be opened.
`check_certified_inputs(repo, collections, dataset_types, detectors, needed_by=..., remedy=...)`
    `CertifiedInputsMissing` unless every collection exists and together
    they hold each dataset type for every detector
    (`calibration_detectors`: which do).
`read_verify_stats(repo, collections, instrument="LSSTComCam", dataset_type="verifyBiasStats")` -> `dict`
    Read the run-level verification statistics; `VerifyStatsNotFound` if absent.
`certify_biases(repo, run, calib_collection, detectors, timespan_begin, timespan_end, supersede=False, ...)`
    -> `CertificationResult`. Certify the ``bias`` datasets of ``run`` (the
    bias job's RUN ``u/ocps/<job_id>/run``; a CHAINED ``u/ocps/<job_id>`` is
    resolved to its first child, as ``butler certify-calibrations`` does) for
    ``detectors`` into the CALIBRATION collection ``calib_collection``
    (registered if missing) over ``[begin, end)`` (TAI). On a validity
    overlap with a *different* dataset it raises `CertificationConflict`
    naming every existing dataset (id, run, data id) and its range, and
    certifies nothing; with ``supersede=True`` it first decertifies the
    overlapping range for those detectors, in the same transaction.
    Re-certifying the same datasets over the same range is a no-op
    (reported as ``already_certified``), so a resumed run is idempotent.
`read_filter_stats(repo, collections, dataset_type, instrument)` -> {physical_filter: `dict`}
    Read per-filter run-level statistics (``verifyFlatStats``), every filter found.
`certify_calibs(repo, run, calib_collection, detectors, begin, end, supersede, instrument, dataset_type)`
    As `certify_biases` for any calibration dataset type; a dataset type with
    ``physical_filter`` (``flat``) is certified for every filter in ``run``,
    conflicts are then per (detector, physical_filter).
`list_certifications(repo, calib_collection, dataset_type="bias")` -> list of `ExistingCertification`
`parse_validity_range(begin, end)` -> (begin `Time` or None, end `Time` or None)
    ISO-8601 strings (or `astropy.time.Time`, or None for unbounded) read as
    TAI; dates outside daf_butler's representable range (1970-01-01 ..
    2100-01-01 TAI) become unbounded, as daf_butler itself would clamp them.

Errors: `CertificationError` (base, a `RuntimeError`), `CertificationConflict`
(``.conflicts``), `VerifyStatsNotFound`, `RepoNotUsable`, `CertifiedInputsMissing`.
"""

from __future__ import annotations

__all__ = [
    "CertificationConflict",
    "CertificationError",
    "CertificationResult",
    "CertifiedBias",
    "CertifiedDataset",
    "CertifiedInputsMissing",
    "ExistingCertification",
    "RepoNotUsable",
    "VerifyStatsNotFound",
    "certify_biases",
    "certify_calibs",
    "and_join",
    "calibration_detectors",
    "check_certified_inputs",
    "check_repo",
    "format_time",
    "list_certifications",
    "parse_validity_range",
    "read_filter_stats",
    "read_verify_stats",
]

import dataclasses
import typing

from .. import butlers
from ..cameras import COMCAM
from ..errors import CalibScriptsError
from .types import CALIB_TYPES, CalibType

if typing.TYPE_CHECKING:
    import astropy.time
    from lsst.daf.butler import Butler, DatasetRef, Timespan

DEFAULT_INSTRUMENT = COMCAM.instrument
DEFAULT_STATS_DATASET_TYPE = CALIB_TYPES[CalibType.BIAS].stats_dataset_type
"""``verifyBiasStats``: what `read_verify_stats` reads unless told otherwise."""
DEFAULT_CALIB_DATASET_TYPE = CALIB_TYPES[CalibType.BIAS].dataset_type
"""``bias``: what `certify_biases` certifies."""
_MIN_TAI = "1970-01-01T00:00:00"
_MAX_TAI = "2100-01-01T00:00:00"


class CertificationError(CalibScriptsError, RuntimeError):
    """Certification could not be done; nothing was certified."""


class CertificationConflict(CertificationError):
    """Existing certifications overlap the requested validity range.

    Attributes
    ----------
    conflicts : `list` [`ExistingCertification`]
        The existing certifications that overlap.
    """

    def __init__(self, message: str, conflicts: list["ExistingCertification"]) -> None:
        super().__init__(message)
        self.conflicts = conflicts


class VerifyStatsNotFound(CalibScriptsError, RuntimeError):
    """The verification statistics dataset is not in the collections."""


class CertifiedInputsMissing(CalibScriptsError, RuntimeError):
    """A job's input collection does not exist, or none holds a certified calibration the job reads."""


@dataclasses.dataclass(frozen=True)
class ExistingCertification:
    """One (dataset, validity range) association in a CALIBRATION collection."""

    dataset_id: str
    run: str
    data_id: dict[str, typing.Any]
    begin: str
    """ISO TAI, or ``-inf``."""
    end: str
    """ISO TAI, or ``+inf``."""

    @property
    def detector(self) -> int | None:
        value = self.data_id.get("detector")
        return int(value) if value is not None else None

    def describe(self) -> str:
        data_id = ", ".join(f"{k}={v}" for k, v in self.data_id.items())
        return f"dataset {self.dataset_id} ({data_id}) from run {self.run}, valid [{self.begin}, {self.end})"


@dataclasses.dataclass(frozen=True)
class CertifiedDataset:
    """One certified master calibration (a flat also has its physical filter)."""

    detector: int
    dataset_id: str
    run: str
    physical_filter: str | None = None

    def to_dict(self) -> dict[str, typing.Any]:
        """Plain data for the YAML report (``physical_filter`` only when there is one)."""
        data = dataclasses.asdict(self)
        if self.physical_filter is None:
            del data["physical_filter"]
        return data


CertifiedBias = CertifiedDataset
"""A certified bias (the name the bias procedure has always used)."""


@dataclasses.dataclass
class CertificationResult:
    """What `certify_biases` did."""

    calib_collection: str
    source_run: str
    dataset_type: str
    begin: str
    end: str
    certified: list[CertifiedDataset]
    """Newly certified datasets."""
    already_certified: list[CertifiedDataset]
    """Datasets that were already certified over exactly this range."""
    superseded: list[ExistingCertification]
    """Existing certifications whose overlapping range was decertified."""
    collection_created: bool

    @property
    def detectors(self) -> list[int]:
        """Every detector that now has the calibration certified over the range (once each)."""
        return sorted({b.detector for b in self.certified + self.already_certified})

    @property
    def physical_filters(self) -> list[str]:
        """The physical filters certified (flats; empty for other types)."""
        return sorted(
            {b.physical_filter for b in self.certified + self.already_certified if b.physical_filter}
        )

    def to_dict(self) -> dict[str, typing.Any]:
        """Plain data for the YAML report."""
        return {
            "calib_collection": self.calib_collection,
            "source_run": self.source_run,
            "dataset_type": self.dataset_type,
            "begin": self.begin,
            "end": self.end,
            "certified": [b.to_dict() for b in self.certified],
            "already_certified": [b.to_dict() for b in self.already_certified],
            "superseded": [dataclasses.asdict(s) for s in self.superseded],
            "collection_created": self.collection_created,
        }

    def describe(self) -> str:
        """One line for the log."""
        filters = f" and filter(s) {self.physical_filters}" if self.physical_filters else ""
        text = (
            f"Certified {self.dataset_type} for detector(s) {self.detectors}{filters} from {self.source_run} "
            f"into {self.calib_collection} valid [{self.begin}, {self.end})"
        )
        if self.already_certified:
            text += f"; {len(self.already_certified)} already certified"
        if self.superseded:
            text += f"; superseded {len(self.superseded)} overlapping range(s)"
        return text


def format_time(value: "astropy.time.Time | None", unbounded: str) -> str:
    """ISO TAI text of a time (millisecond precision), or ``unbounded`` for None."""
    import astropy.time

    if value is None:
        return unbounded
    return astropy.time.Time(value.tai, precision=3).isot


def _to_time(value: "str | astropy.time.Time | None", what: str) -> "astropy.time.Time | None":
    import astropy.time

    if value is None:
        return None
    if isinstance(value, astropy.time.Time):
        return value.tai
    if isinstance(value, str):
        if not value.strip():
            return None
        try:
            return astropy.time.Time(value.strip(), scale="tai")
        except ValueError as e:
            raise CertificationError(f"{what} {value!r} is not an ISO-8601 date/time: {e}") from None
    raise CertificationError(f"{what} must be an ISO-8601 string, not {value!r}")


def parse_validity_range(
    begin: "str | astropy.time.Time | None", end: "str | astropy.time.Time | None"
) -> tuple["astropy.time.Time | None", "astropy.time.Time | None"]:
    """Parse a validity range [begin, end) in TAI; None means unbounded.

    Raises
    ------
    CertificationError
        If a value does not parse or ``begin >= end``.
    """
    import astropy.time

    t_begin = _to_time(begin, "begin date")
    t_end = _to_time(end, "end date")
    if t_begin is not None and t_end is not None and t_begin >= t_end:
        raise CertificationError(
            f"validity range is empty: begin {t_begin.isot} is not before end {t_end.isot} (TAI)"
        )
    # Outside daf_butler's representable range means unbounded (it would clamp with a warning).
    if t_begin is not None and t_begin <= astropy.time.Time(_MIN_TAI, scale="tai"):
        t_begin = None
    if t_end is not None and t_end >= astropy.time.Time(_MAX_TAI, scale="tai"):
        t_end = None
    return t_begin, t_end


def _open(repo: str, writeable: bool) -> "Butler":
    """A butler of its own on ``repo``; the configuration is read once per process."""
    return butlers.open_butler(repo, writeable=writeable)


class RepoNotUsable(CalibScriptsError, RuntimeError):
    """``repo`` cannot be opened as a butler repository."""


def check_repo(repo: str) -> None:
    """Check that ``repo`` opens as a butler repository (blocking: call in a thread).

    Parameters
    ----------
    repo : `str`
        The script's ``repo`` (path or URI of a ``butler.yaml``).

    Raises
    ------
    RepoNotUsable
        ``repo`` cannot be opened; the message names it, daf_butler's error
        and what to fix.
    """
    try:
        butler = _open(repo, writeable=False)
    except Exception as e:
        raise RepoNotUsable(
            f"repo {repo!r} cannot be opened as a butler repository ({type(e).__name__}: {e}). "
            "Set repo to the butler repository OCPS:2 runs its jobs on (the butler of its "
            "configuration): the script reads verification statistics and certifies there. "
            "Or set do_verify and do_certify to false"
        ) from e
    butler.close()


def and_join(words: typing.Sequence[str]) -> str:
    """``bias``, ``bias and dark``, ``bias, dark and flat``: words for a message."""
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def calibration_detectors(
    butler: "Butler",
    collection: str,
    dataset_type: str,
    instrument: str = DEFAULT_INSTRUMENT,
    physical_filter: str | None = None,
    detectors: typing.Sequence[int] | None = None,
) -> set[int] | None:
    """The detectors with a ``dataset_type`` in ``collection`` (blocking).

    Parameters
    ----------
    butler : `lsst.daf.butler.Butler`
        An open butler.
    collection : `str`
        A CALIBRATION collection, or a CHAINED or RUN collection (searched
        as pipetask searches its inputs: a chain's children included).
    dataset_type : `str`
        ``bias``, ``dark`` or ``flat``.
    instrument : `str`
        Instrument name.
    physical_filter : `str`, optional
        Only datasets of this butler ``physical_filter`` (a ``flat``;
        LATISS: ``FILTER~GRATING``); default any.
    detectors : sequence of `int`, optional
        Only these detectors (default all).

    Returns
    -------
    detectors : `set` [`int`] or `None`
        Detector ids with at least one such dataset (any validity range);
        empty if the dataset type is not registered; `None` if
        ``collection`` does not exist.
    """
    from lsst.daf.butler import MissingCollectionError, MissingDatasetTypeError

    data_id = {"instrument": instrument}
    if physical_filter is not None:
        data_id["physical_filter"] = physical_filter
    where = ""
    if detectors:
        where = "detector IN (" + ", ".join(str(int(d)) for d in detectors) + ")"
    try:
        # One row per dataset and validity range of the detectors asked: no limit, so that a
        # long history cannot truncate the answer.
        refs = butler.query_datasets(
            dataset_type,
            collections=collection,
            data_id=data_id,
            where=where,
            find_first=False,
            explain=False,
            limit=None,
        )
    except MissingCollectionError:
        return None
    except MissingDatasetTypeError:
        return set()
    return {int(ref.dataId["detector"]) for ref in refs}


def check_certified_inputs(
    repo: str,
    collections: typing.Sequence[str],
    dataset_types: typing.Sequence[str],
    detectors: typing.Sequence[int],
    *,
    needed_by: str,
    remedy: str,
    instrument: str = DEFAULT_INSTRUMENT,
    physical_filters: typing.Mapping[str, str] | None = None,
) -> None:
    """Check that a job's input ``collections`` hold each ``dataset_types`` for every detector (blocking).

    The script calls it at preflight, before any frame, for the certified
    calibrations a type's job reads from its input collections (a DARK
    build's bias from ``calib_collection`` and ``input_collections_dark``;
    a verified flat's bias, dark and flat from
    ``input_collections_verify_flat``): without them, or with an input
    collection that does not exist, the job would fail only after the
    frames were taken, with pipetask's error in its log. The validity
    ranges are not checked here (the frames' times are not known yet; the
    job's calibration lookup checks them).

    Parameters
    ----------
    repo : `str`
        Butler repository.
    collections : sequence of `str`
        The job's input collections (as pipetask searches them).
    dataset_types : sequence of `str`
        The calibrations needed (``bias``, ``dark``).
    detectors : sequence of `int`
        The run's detectors.
    needed_by : `str`
        What needs them, for the message (``this run builds its darks on``).
    remedy : `str`
        What to do, for the message.
    instrument : `str`
        Instrument name.
    physical_filters : `dict` [`str`, `str`], optional
        The filter of a per-filter dataset type (``{"flat": "r_03"}``).

    Raises
    ------
    CertifiedInputsMissing
        A collection does not exist, or none holds a dataset type for some
        detectors; the message names the collections, the repository, the
        calibrations and detectors missing, what needs them and ``remedy``.
    """
    wanted = sorted({int(d) for d in detectors})
    filters = dict(physical_filters or {})
    found: dict[str, set[int]] = {dataset_type: set() for dataset_type in dataset_types}
    absent = []
    butler = _open(repo, writeable=False)
    try:
        for collection in collections:
            for dataset_type in dataset_types:
                in_collection = calibration_detectors(
                    butler, collection, dataset_type, instrument, filters.get(dataset_type), wanted
                )
                if in_collection is None:
                    absent.append(collection)
                    break
                found[dataset_type] |= in_collection
    finally:
        butler.close()
    needs = f"{needed_by} the certified {and_join(dataset_types)} of its inputs {list(collections)}"
    if absent:
        what = f"collection {absent[0]!r} does" if len(absent) == 1 else f"collections {absent} do"
        raise CertifiedInputsMissing(f"{what} not exist in repo {repo}: {needs}. {remedy}")
    problems = [
        f"no {dataset_type}"
        + (f" in {filters[dataset_type]}" if dataset_type in filters else "")
        + f" for detector(s) {missing}"
        for dataset_type in dataset_types
        if (missing := [d for d in wanted if d not in found[dataset_type]])
    ]
    if problems:
        raise CertifiedInputsMissing(f"{and_join(problems)} in repo {repo}: {needs}. {remedy}")


def read_verify_stats(
    repo: str,
    collections: str | typing.Sequence[str],
    instrument: str = DEFAULT_INSTRUMENT,
    dataset_type: str = DEFAULT_STATS_DATASET_TYPE,
) -> dict[typing.Any, typing.Any]:
    """Read the run-level verification statistics (blocking).

    Parameters
    ----------
    repo : `str`
        Butler repository (root or config URI).
    collections : `str` or sequence of `str`
        Where to look, e.g. ``u/ocps/<verify job id>``.
    instrument : `str`
        Instrument name.
    dataset_type : `str`
        ``verifyBiasStats``.

    Returns
    -------
    stats : `dict`
        The ``verifyBiasStats`` dictionary (a copy).

    Raises
    ------
    VerifyStatsNotFound
        If the collections or the dataset do not exist; the message names
        the repository, collections and dataset type.
    """
    from lsst.daf.butler import DatasetNotFoundError, MissingCollectionError, MissingDatasetTypeError

    search = [collections] if isinstance(collections, str) else list(collections)
    butler = _open(repo, writeable=False)
    try:
        try:
            value = butler.get(dataset_type, instrument=instrument, collections=search)
        except (DatasetNotFoundError, MissingCollectionError, MissingDatasetTypeError, LookupError) as e:
            raise VerifyStatsNotFound(
                f"No {dataset_type} for instrument {instrument} in collection(s) {search} of {repo}: {e}"
            ) from e
    finally:
        butler.close()
    return dict(value)


def read_filter_stats(
    repo: str,
    collections: str | typing.Sequence[str],
    dataset_type: str,
    instrument: str = DEFAULT_INSTRUMENT,
) -> dict[str, dict[typing.Any, typing.Any]]:
    """Read per-filter run-level statistics, e.g. ``verifyFlatStats`` (blocking).

    Parameters
    ----------
    repo : `str`
        Butler repository.
    collections : `str` or sequence of `str`
        Where to look.
    dataset_type : `str`
        A dataset type with dimensions ``{instrument, physical_filter}``.
    instrument : `str`
        Instrument name.

    Returns
    -------
    stats : `dict` [`str`, `dict`]
        The statistics of every physical filter found (copies).

    Raises
    ------
    VerifyStatsNotFound
        None found; the message names the repository, collections and dataset type.
    """
    from lsst.daf.butler import MissingCollectionError, MissingDatasetTypeError

    search = [collections] if isinstance(collections, str) else list(collections)
    butler = _open(repo, writeable=False)
    try:
        try:
            refs = butler.query_datasets(
                dataset_type, collections=search, instrument=instrument, find_first=True, explain=False
            )
        except (MissingCollectionError, MissingDatasetTypeError, LookupError) as e:
            raise VerifyStatsNotFound(
                f"No {dataset_type} for instrument {instrument} in collection(s) {search} of {repo}: {e}"
            ) from e
        if not refs:
            raise VerifyStatsNotFound(
                f"No {dataset_type} for instrument {instrument} in collection(s) {search} of {repo}"
            )
        return {str(ref.dataId["physical_filter"]): dict(butler.get(ref)) for ref in refs}
    finally:
        butler.close()


def _association_to_existing(ref: "DatasetRef", timespan: "Timespan") -> ExistingCertification:
    return ExistingCertification(
        dataset_id=str(ref.id),
        run=ref.run,
        data_id={k: ref.dataId[k] for k in ref.dataId.required},
        begin=format_time(timespan.begin, "-inf"),
        end=format_time(timespan.end, "+inf"),
    )


def list_certifications(
    repo: str, calib_collection: str, dataset_type: str = "bias"
) -> list[ExistingCertification]:
    """List the (dataset, validity range) associations of a CALIBRATION collection (blocking).

    An absent collection gives an empty list.
    """
    from lsst.daf.butler import MissingCollectionError

    butler = _open(repo, writeable=False)
    try:
        try:
            return [
                _association_to_existing(a.ref, a.timespan)
                for a in _associations(butler, calib_collection, dataset_type)
            ]
        except MissingCollectionError:
            return []
    finally:
        butler.close()


def _associations(butler: "Butler", calib_collection: str, dataset_type: str) -> list[typing.Any]:
    from lsst.daf.butler import CollectionType

    return [
        a
        for a in butler.registry.queryDatasetAssociations(
            dataset_type, collections=[calib_collection], collectionTypes={CollectionType.CALIBRATION}
        )
        if a.timespan is not None
    ]


def _resolve_source_run(butler: "Butler", run: str) -> str:
    from lsst.daf.butler import CollectionType, MissingCollectionError

    try:
        info = butler.collections.get_info(run)
    except MissingCollectionError:
        raise CertificationError(f"Input collection {run!r} does not exist") from None
    if info.type is CollectionType.CHAINED:
        if not info.children:
            raise CertificationError(f"Input collection {run!r} is an empty CHAINED collection")
        return _resolve_source_run(butler, info.children[0])
    if info.type is not CollectionType.RUN:
        raise CertificationError(f"Input collection {run!r} is a {info.type.name} collection, not a RUN")
    return run


def certify_calibs(
    repo: str,
    run: str,
    calib_collection: str,
    detectors: typing.Iterable[int],
    timespan_begin: "str | astropy.time.Time | None",
    timespan_end: "str | astropy.time.Time | None",
    supersede: bool = False,
    instrument: str = DEFAULT_INSTRUMENT,
    dataset_type: str = "bias",
) -> CertificationResult:
    """Certify the master calibrations of a RUN into a CALIBRATION collection (blocking).

    As ``butler certify-calibrations``: every ``dataset_type`` dataset of the
    RUN for ``detectors``; a dataset type with ``physical_filter`` among its
    dimensions (``flat``) is certified for every filter found in the RUN,
    and conflicts are then per (detector, physical_filter).

    Parameters
    ----------
    repo : `str`
        Butler repository (root or config URI); opened writeable.
    run : `str`
        The build job's RUN ``u/ocps/<job_id>/run`` (a CHAINED collection is
        resolved to its first child).
    calib_collection : `str`
        Target CALIBRATION collection; registered if missing.
    detectors : iterable of `int`
        Detectors to certify; every one must have a dataset in ``run`` (for
        each filter found, when per filter).
    timespan_begin, timespan_end : `str`, `astropy.time.Time` or `None`
        Validity range [begin, end), TAI; see `parse_validity_range`.
    supersede : `bool`
        On overlap with other certified datasets, decertify the overlapping
        range for those detectors first (instead of failing).
    instrument, dataset_type : `str`
        Butler instrument name and the calibration's dataset type
        (``bias``, ``dark``, ``flat``).

    Returns
    -------
    result : `CertificationResult`

    Raises
    ------
    CertificationError
        Bad range, missing input collection or datasets, or the target exists
        with another collection type. Nothing was certified.
    CertificationConflict
        Overlap with existing certifications and ``supersede`` is False.
        Nothing was certified.
    """
    from lsst.daf.butler import CollectionType, Timespan
    from lsst.daf.butler.registry import ConflictingDefinitionError

    wanted = sorted({int(d) for d in detectors})
    if not wanted:
        raise CertificationError("No detector to certify")
    t_begin, t_end = parse_validity_range(timespan_begin, timespan_end)
    timespan = Timespan(t_begin, t_end)
    begin_text, end_text = format_time(t_begin, "-inf"), format_time(t_end, "+inf")

    butler = _open(repo, writeable=True)
    try:
        source_run = _resolve_source_run(butler, run)
        per_filter = "physical_filter" in butler.get_dataset_type(dataset_type).dimensions.names

        def key_of(data_id: typing.Any) -> tuple[int, str | None]:
            return int(data_id["detector"]), (str(data_id["physical_filter"]) if per_filter else None)

        refs = butler.query_datasets(
            dataset_type, collections=source_run, instrument=instrument, find_first=True, explain=False
        )
        by_key = {key_of(ref.dataId): ref for ref in refs}
        filters = sorted({f for _, f in by_key if f is not None}) if per_filter else [None]
        found = sorted({d for d, _ in by_key})
        missing = [d for d in wanted if d not in found]
        missing += [
            f"{d} ({f})"
            for f in filters
            if f is not None
            for d in wanted
            if d in found and (d, f) not in by_key
        ]
        if missing or not by_key:
            raise CertificationError(
                f"No {dataset_type} in {source_run} for detector(s) {missing or wanted} (found detectors "
                f"{found}); nothing certified"
            )
        to_certify = {(d, f): by_key[(d, f)] for d in wanted for f in filters}

        collection_created = False
        try:
            info = butler.collections.get_info(calib_collection)
        except Exception:  # MissingCollectionError
            info = None
        if info is None:
            collection_created = butler.collections.register(calib_collection, CollectionType.CALIBRATION)
        elif info.type is not CollectionType.CALIBRATION:
            raise CertificationError(
                f"Cannot certify into {calib_collection!r}: it is a {info.type.name} collection, "
                "not CALIBRATION"
            )

        def certified(ref: typing.Any) -> CertifiedDataset:
            detector, physical_filter = key_of(ref.dataId)
            return CertifiedDataset(
                detector=detector, dataset_id=str(ref.id), run=ref.run, physical_filter=physical_filter
            )

        already: list[CertifiedDataset] = []
        conflicts: list[tuple[typing.Any, ExistingCertification]] = []
        for association in _associations(butler, calib_collection, dataset_type):
            ref = association.ref
            key = key_of(ref.dataId)
            if key not in to_certify or ref.dataId["instrument"] != instrument:
                continue
            if not association.timespan.overlaps(timespan):
                continue
            if ref.id == to_certify[key].id and association.timespan == timespan:
                already.append(certified(ref))
                continue
            conflicts.append((key, _association_to_existing(ref, association.timespan)))

        if conflicts and not supersede:
            raise CertificationConflict(
                _conflict_message(
                    calib_collection, dataset_type, begin_text, end_text, [c for _, c in conflicts]
                ),
                [c for _, c in conflicts],
            )

        already_keys = {(b.detector, b.physical_filter) for b in already}
        new_refs = [ref for key, ref in to_certify.items() if key not in already_keys]
        superseded = [c for _, c in conflicts]
        try:
            with butler.transaction():
                if conflicts:
                    data_ids = []
                    for detector, physical_filter in sorted({k for k, _ in conflicts}, key=str):
                        data_id: dict[str, typing.Any] = {"instrument": instrument, "detector": detector}
                        if physical_filter is not None:
                            data_id["physical_filter"] = physical_filter
                        data_ids.append(data_id)
                    butler.registry.decertify(calib_collection, dataset_type, timespan, dataIds=data_ids)
                if new_refs:
                    butler.registry.certify(calib_collection, new_refs, timespan)
        except ConflictingDefinitionError as e:
            # Someone certified an overlapping range since we looked.
            current = [
                _association_to_existing(a.ref, a.timespan)
                for a in _associations(butler, calib_collection, dataset_type)
                if key_of(a.ref.dataId) in to_certify and a.timespan.overlaps(timespan)
            ]
            raise CertificationConflict(
                _conflict_message(calib_collection, dataset_type, begin_text, end_text, current) + f" ({e})",
                current,
            ) from e
    finally:
        butler.close()

    return CertificationResult(
        calib_collection=calib_collection,
        source_run=source_run,
        dataset_type=dataset_type,
        begin=begin_text,
        end=end_text,
        certified=[certified(ref) for ref in new_refs],
        already_certified=already,
        superseded=superseded,
        collection_created=collection_created,
    )


def certify_biases(
    repo: str,
    run: str,
    calib_collection: str,
    detectors: typing.Iterable[int],
    timespan_begin: "str | astropy.time.Time | None",
    timespan_end: "str | astropy.time.Time | None",
    supersede: bool = False,
    instrument: str = DEFAULT_INSTRUMENT,
) -> CertificationResult:
    """Certify the master biases of a RUN: `certify_calibs` with ``dataset_type="bias"`` (blocking)."""
    return certify_calibs(
        repo,
        run,
        calib_collection,
        detectors,
        timespan_begin,
        timespan_end,
        supersede=supersede,
        instrument=instrument,
        dataset_type="bias",
    )


def _conflict_message(
    calib_collection: str,
    dataset_type: str,
    begin: str,
    end: str,
    conflicts: list[ExistingCertification],
) -> str:
    lines = [
        f"{len(conflicts)} existing {dataset_type} validity range(s) in {calib_collection} overlap "
        f"[{begin}, {end}); nothing certified:"
    ]
    lines += [f"  {c.describe()}" for c in conflicts]
    lines.append(
        "Choose a validity range that does not overlap, or set supersede: true to decertify the "
        "overlapping range first."
    )
    return "\n".join(lines)
