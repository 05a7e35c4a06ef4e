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

"""Wait for CCOODS to ingest every (exposure, detector): the ``imageInOODS`` tracker.

CCOODS publishes one ``imageInOODS`` event per ingested file, i.e. per
(image, detector), with ``obsid`` (``CC_O_20261125_000012``), ``raft``
(``R22``), ``sensor`` (``S11``), ``statusCode`` (0 = ingested, >0 = failure)
and ``description``. A Remote's read queue holds only 100 events, so the
tracker must be installed as the topic's **callback before the first
exposure** (9 events per ComCam bias overflow the queue after 11 biases):
nothing is ever lost and nothing is read late.

Usage::

    tracker = IngestTracker(max_other_events=config.max_counter_archiver_check, log=self.log)
    tracker.install(comcam.rem.ccoods.evt_imageInOODS)   # before take_bias
    ids = await comcam.take_bias(n, ...)
    tracker.expect(ids, detectors)                       # or per image as ids become known
    report = await tracker.wait(timeout=config.oods_timeout)
    tracker.uninstall(comcam.rem.ccoods.evt_imageInOODS)

Install with `IngestTracker.install` (it assigns the bound coroutine method
`IngestTracker.callback`); do not assign the tracker object itself, since
salobj decides whether to await a callback with
`inspect.iscoroutinefunction`, which is False for an object with an async
``__call__`` in Python 3.11.

Rules
-----
* Pairs are keyed by (exposure id, detector id); the exposure id is parsed
  from ``obsid`` so ``CC_O_...`` and the camera's exposure ids match.
* A pair is *ingested* once any of its events has ``statusCode == 0``
  (duplicates are recorded, never double-counted; a success after a
  failure, i.e. a retry, counts as ingested). A pair whose events are all
  failures is *failed*, with its last code and description.
* A failure event for an expected image whose raft/sensor cannot be mapped
  to a detector (``R??``/``S??``/``undef``) is an *unattributed* failure of
  that image: it settles one still-pending pair of that image (reported as
  ``detector=None``).
* Events that arrive before `expect` are kept and count once the pair is
  expected.
* `wait` returns an `IngestReport` when every expected pair is ingested. It
  raises `IngestFailed` as soon as every pair has an outcome and some
  failed (naming each failed pair with code and description);
  `IngestTimeout` at the deadline (naming every missing pair and every
  failed one); `IngestGaveUp` when ``max_other_events`` consecutive events
  for other images arrived during the wait (upstream's
  ``max_counter_archiver_check``: the counter resets on every event for an
  expected image). Every error lists all the expected exposure ids
  (``exposure_ids``) so the run can be resumed from them.
* Each event costs O(1), however many pairs are pending (3,780 for 20
  LSSTCam biases): pairs and exposures are looked up in sets and dicts,
  and counters say when the wait is over; pairs are only sorted to report
  them (`missing`, `failed`, the errors).

Public API
----------
`IngestTracker` (``failures_of`` reports failures of exposures not
waited for), `IngestReport`, `PairOutcome`, `IngestError` (base, a
`RuntimeError`), `IngestFailed`, `IngestTimeout`, `IngestGaveUp`,
`compact_ids` (exact compact text of ids, ``a..b`` for consecutive runs).
"""

from __future__ import annotations

__all__ = [
    "IngestError",
    "IngestFailed",
    "IngestGaveUp",
    "IngestReport",
    "IngestTimeout",
    "IngestTracker",
    "PairOutcome",
    "compact_ids",
]

import asyncio
import contextlib
import dataclasses
import logging
import typing

from ..cameras import COMCAM, CameraProfile
from ..errors import CalibScriptsError
from .aio import wait_within
from .naming import camera_obs_id, obs_id_from_exposure_id, parse_obs_id

Pair = tuple[int, int]
ProgressCallback = typing.Callable[[int, int], None]


@dataclasses.dataclass(frozen=True)
class PairOutcome:
    """The last reported outcome of one (exposure, detector)."""

    exposure_id: int
    detector: int | None
    status_code: int
    description: str
    camera: CameraProfile = dataclasses.field(default=COMCAM, compare=False, repr=False)
    """The camera that names the image and the detector."""

    @property
    def obs_id(self) -> str:
        return camera_obs_id(self.exposure_id, self.camera)

    def describe(self) -> str:
        det = self.camera.detector_name(self.detector) if self.detector is not None else "unknown detector"
        return f"{self.obs_id} {det}: statusCode={self.status_code} {self.description!r}"


def compact_ids(ids: typing.Iterable[int]) -> str:
    """Exact, compact text of integer ids: runs of consecutive ids as ``a..b``."""
    values = sorted(set(int(i) for i in ids))
    runs: list[str] = []
    start = prev = None
    for value in values + [None]:  # type: ignore[list-item]
        if start is not None and (value is None or value != prev + 1):  # type: ignore[operator]
            runs.append(str(start) if start == prev else f"{start}..{prev}")
            start = None
        if value is not None:
            if start is None:
                start = value
            prev = value
    return ", ".join(runs)


def _describe_missing(
    pairs: typing.Iterable[Pair], all_detectors: set[int], max_items: int = 20, camera: CameraProfile = COMCAM
) -> str:
    by_exposure: dict[int, list[int]] = {}
    for exposure_id, detector in sorted(pairs):
        by_exposure.setdefault(exposure_id, []).append(detector)
    items = []
    for exposure_id, dets in by_exposure.items():
        if set(dets) == all_detectors and len(dets) > 1:
            items.append(f"{camera_obs_id(exposure_id, camera)} [all {len(dets)} detectors]")
        else:
            names = ", ".join(camera.detector_name(d) for d in dets)
            items.append(f"{camera_obs_id(exposure_id, camera)} [{names}]")
    if len(items) > max_items:
        items = items[:max_items] + [f"... and {len(items) - max_items} more image(s)"]
    return "; ".join(items)


class IngestError(CalibScriptsError, RuntimeError):
    """Not every (exposure, detector) was ingested.

    Attributes
    ----------
    missing : `list` [`tuple` [`int`, `int`]]
        (exposure id, detector) pairs with no event.
    failed : `list` [`PairOutcome`]
        Pairs that were reported with ``statusCode != 0`` (and never 0).
    exposure_ids : `list` [`int`]
        Every expected exposure id, for resuming.
    n_ingested, n_expected : `int`
    """

    def __init__(
        self,
        headline: str,
        missing: list[Pair],
        failed: list[PairOutcome],
        exposure_ids: list[int],
        n_ingested: int,
        n_expected: int,
        detectors: typing.Iterable[int] = (),
        camera: CameraProfile = COMCAM,
    ) -> None:
        self.missing = missing
        self.failed = failed
        self.exposure_ids = exposure_ids
        self.n_ingested = n_ingested
        self.n_expected = n_expected
        lines = [f"{headline}: {n_ingested} of {n_expected} (exposure, detector) pairs ingested."]
        if failed:
            lines.append(f"{len(failed)} failed: " + "; ".join(f.describe() for f in failed))
        if missing:
            lines.append(
                f"{len(missing)} missing: {_describe_missing(missing, set(detectors), camera=camera)}"
            )
        lines.append(f"Exposure ids taken ({len(exposure_ids)}): {compact_ids(exposure_ids)}")
        super().__init__("\n".join(lines))


class IngestFailed(IngestError):
    """Every pair was reported and at least one failed."""


class IngestTimeout(IngestError):
    """The deadline passed with pairs still missing."""


class IngestGaveUp(IngestError):
    """Too many consecutive events for other images while waiting."""


@dataclasses.dataclass
class IngestReport:
    """Success: every expected pair was ingested."""

    exposure_ids: list[int]
    detectors: list[int]
    n_events: int
    """imageInOODS events seen for the expected images (duplicates included)."""
    n_other_events: int
    """Events for other images (or with an unparseable obsid) seen while installed."""
    retried: list[PairOutcome]
    """Pairs that failed first and were ingested later."""


class IngestTracker:
    """Collect ``imageInOODS`` events and wait for the expected pairs.

    Parameters
    ----------
    max_other_events : `int`
        Give up after this many consecutive events for other images while
        waiting (upstream ``max_counter_archiver_check``, default 1000).
    log : `logging.Logger`, optional
        Logger for progress and anomalies.
    progress : callable, optional
        Called as ``progress(n_ingested, n_expected)`` whenever the number of
        ingested pairs changes (e.g. to update a CLI progress line). It must
        not block; exceptions are logged and ignored.
    camera : `~lsst.ts.calibscripts.cameras.CameraProfile`, optional
        The camera whose detectors the events name (``raft``, ``sensor``) and
        whose OODS publishes them; default LSSTComCam.
    """

    def __init__(
        self,
        max_other_events: int = 1000,
        log: logging.Logger | None = None,
        progress: ProgressCallback | None = None,
        camera: CameraProfile = COMCAM,
    ) -> None:
        if max_other_events < 1:
            raise ValueError(f"max_other_events={max_other_events} must be >= 1")
        self.max_other_events = max_other_events
        self.log = log or logging.getLogger(__name__)
        self.progress = progress
        self.camera = camera
        # Every event costs O(1): the sets and dicts below are only looked up
        # by key, and the counters say whether the wait is over; the pairs are
        # only walked (and sorted) to report them.
        self._expected: set[Pair] = set()
        self._expected_exposures: dict[int, None] = {}  # an ordered set
        self._ingested: set[Pair] = set()
        self._failures: dict[Pair, PairOutcome] = {}
        self._retried: dict[Pair, PairOutcome] = {}
        self._unattributed: dict[int, list[PairOutcome]] = {}
        self._events_by_exposure: dict[int, int] = {}
        self._n_ingested_expected = 0  # expected pairs ingested
        self._pending_by_exposure: dict[int, int] = {}  # expected pairs with no outcome, per exposure
        self._n_unsettled = 0  # pending pairs not settled by an unattributed failure, over all exposures
        self._n_other = 0  # events with an unparseable obsid
        self._consecutive_other = 0
        self._waiting = False
        self._changed = asyncio.Event()
        self._last_progress: tuple[int, int] | None = None

    # --- installing ------------------------------------------------------
    def install(self, topic: typing.Any) -> None:
        """Make this tracker the callback of ``topic`` (``evt_imageInOODS``)."""
        topic.callback = self.callback

    def uninstall(self, topic: typing.Any) -> None:
        """Remove the callback from ``topic`` if it is this tracker's."""
        if getattr(topic, "callback", None) == self.callback:
            topic.callback = None

    async def callback(self, data: typing.Any) -> None:
        """The ``imageInOODS`` callback: record one event."""
        self.record(data)

    # --- expectations ----------------------------------------------------
    def expect(self, exposures: typing.Iterable[int | str], detectors: typing.Iterable[int]) -> None:
        """Add expected pairs: every exposure (id or obs id) x every detector.

        May be called several times (e.g. once per image as it is read out).
        """
        dets = [int(d) for d in detectors]
        for d in dets:
            self.camera.detector_name(d)  # validates
        for exposure in exposures:
            exposure_id = parse_obs_id(exposure).exposure_id if isinstance(exposure, str) else int(exposure)
            obs_id_from_exposure_id(exposure_id)  # validates
            self._expected_exposures.setdefault(exposure_id, None)
            for d in dets:
                self._expect_pair((exposure_id, d))
        self._notify()

    def _expect_pair(self, pair: Pair) -> None:
        if pair in self._expected:
            return
        self._expected.add(pair)
        if pair in self._ingested:
            self._n_ingested_expected += 1
        elif pair not in self._failures:
            self._change_pending(pair[0], +1)

    def _unsettled_of(self, exposure_id: int) -> int:
        """Pending pairs of one exposure that no unattributed failure settles."""
        pending = self._pending_by_exposure.get(exposure_id, 0)
        return max(0, pending - len(self._unattributed.get(exposure_id, ())))

    def _change_pending(self, exposure_id: int, delta: int) -> None:
        before = self._unsettled_of(exposure_id)
        self._pending_by_exposure[exposure_id] = self._pending_by_exposure.get(exposure_id, 0) + delta
        self._n_unsettled += self._unsettled_of(exposure_id) - before

    # --- state ------------------------------------------------------------
    @property
    def waiting(self) -> bool:
        """True while `wait` runs (events for other images count only then)."""
        return self._waiting

    @property
    def n_expected(self) -> int:
        return len(self._expected)

    @property
    def n_ingested(self) -> int:
        return self._n_ingested_expected

    @property
    def exposure_ids(self) -> list[int]:
        return list(self._expected_exposures)

    def failed(self) -> list[PairOutcome]:
        """Expected pairs reported failed (and not ingested since), plus unattributed failures."""
        result = [outcome for pair, outcome in sorted(self._failures.items()) if pair in self._expected]
        for exposure_id in sorted(self._unattributed):
            if exposure_id in self._expected_exposures:
                result.extend(self._unattributed[exposure_id])
        return result

    def failures_of(self, exposure_ids: typing.Iterable[int]) -> list[PairOutcome]:
        """Failures seen so far for ``exposure_ids``, expected or not.

        For frames the run does not wait for (e.g. the discarded ones): a
        pair reported failed and not ingested since, plus failures that name
        no detector.

        Parameters
        ----------
        exposure_ids : iterable of `int`
            The exposures to look at.

        Returns
        -------
        failures : `list` [`PairOutcome`]
            In (exposure, detector) order.
        """
        wanted = {int(e) for e in exposure_ids}
        result = [outcome for (exp, _), outcome in sorted(self._failures.items()) if exp in wanted]
        for exposure_id in sorted(wanted):
            result.extend(self._unattributed.get(exposure_id, []))
        return result

    def missing(self) -> list[Pair]:
        """Expected pairs with no outcome yet (unattributed failures settle pending pairs)."""
        pending = sorted(self._expected - self._ingested - set(self._failures))
        result: list[Pair] = []
        by_exposure: dict[int, list[Pair]] = {}
        for pair in pending:
            by_exposure.setdefault(pair[0], []).append(pair)
        for exposure_id, pairs in by_exposure.items():
            n_settled = len(self._unattributed.get(exposure_id, []))
            result.extend(pairs[n_settled:])
        return result

    def is_complete(self) -> bool:
        """True when every expected pair is ingested."""
        return bool(self._expected) and self._n_ingested_expected == len(self._expected)

    def all_settled(self) -> bool:
        """True when every expected pair has an outcome (`missing` would be empty)."""
        return self._n_unsettled == 0

    # --- recording -------------------------------------------------------
    def record(self, data: typing.Any) -> None:
        """Record one ``imageInOODS`` sample (anything with its fields)."""
        obs_id = str(getattr(data, "obsid", ""))
        code = int(getattr(data, "statusCode", 0))
        description = str(getattr(data, "description", ""))
        try:
            exposure_id = parse_obs_id(obs_id).exposure_id
        except ValueError:
            self.log.debug("imageInOODS with an unparseable obsid %r", obs_id)
            self._n_other += 1
            self._record_other()
            return
        # Record every event, even for images not (yet) expected: expect() may come later.
        is_expected = exposure_id in self._expected_exposures
        warn = self.log.warning if is_expected else self.log.debug
        if is_expected:
            self._consecutive_other = 0
        else:
            self._record_other()
        self._events_by_exposure[exposure_id] = self._events_by_exposure.get(exposure_id, 0) + 1
        try:
            detector: int | None = self.camera.detector_from_raft_sensor(
                str(getattr(data, "raft", "")), str(getattr(data, "sensor", ""))
            )
        except ValueError:
            detector = None
        outcome = PairOutcome(exposure_id, detector, code, description, camera=self.camera)
        if detector is None:
            if code == 0:
                warn("imageInOODS reports %s ingested for an unknown detector; ignored", obs_id)
            else:
                warn("Ingest failure with no detector: %s", outcome.describe())
                before = self._unsettled_of(exposure_id)
                self._unattributed.setdefault(exposure_id, []).append(outcome)
                self._n_unsettled += self._unsettled_of(exposure_id) - before
        else:
            pair = (exposure_id, detector)
            expected = pair in self._expected
            if code == 0:
                if pair in self._ingested:
                    pass  # a duplicate
                else:
                    self._ingested.add(pair)
                    if pair in self._failures:
                        self._retried[pair] = self._failures.pop(pair)
                        self.log.info("%s ingested after an earlier failure", outcome.obs_id)
                    elif expected:
                        self._change_pending(exposure_id, -1)
                    if expected:
                        self._n_ingested_expected += 1
            elif pair in self._ingested:
                warn("Ingest failure after success ignored: %s", outcome.describe())
            else:
                warn("Ingest failure: %s", outcome.describe())
                if expected and pair not in self._failures:
                    self._change_pending(exposure_id, -1)
                self._failures[pair] = outcome
        self._notify()

    def _record_other(self) -> None:
        if self._waiting:
            self._consecutive_other += 1
            self._notify()

    def _notify(self) -> None:
        self._changed.set()
        if self.progress is not None and self._expected:
            current = (self.n_ingested, self.n_expected)
            if current != self._last_progress:
                self._last_progress = current
                try:
                    self.progress(*current)
                except Exception:
                    self.log.exception("Ingest progress callback failed")

    # --- waiting ---------------------------------------------------------
    def _error(self, cls: type[IngestError], headline: str) -> IngestError:
        return cls(
            headline,
            missing=self.missing(),
            failed=self.failed(),
            exposure_ids=self.exposure_ids,
            n_ingested=self.n_ingested,
            n_expected=self.n_expected,
            detectors={d for _, d in self._expected},
            camera=self.camera,
        )

    async def wait(self, timeout: float) -> IngestReport:
        """Wait until every expected pair is ingested; see the module rules.

        Parameters
        ----------
        timeout : `float`
            Seconds from now (one deadline for all pairs).

        Raises
        ------
        ValueError
            If nothing is expected.
        IngestFailed, IngestTimeout, IngestGaveUp
            See the module docstring.
        """
        if not self._expected:
            raise ValueError("IngestTracker.wait called before expect(): nothing to wait for")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        oods = self.camera.oods_component
        self._waiting = True
        self._consecutive_other = 0
        try:
            while True:
                self._changed.clear()
                if self.is_complete():
                    return IngestReport(
                        exposure_ids=self.exposure_ids,
                        detectors=sorted({d for _, d in self._expected}),
                        n_events=sum(self._events_by_exposure.get(e, 0) for e in self._expected_exposures),
                        n_other_events=self._n_other
                        + sum(
                            n
                            for e, n in self._events_by_exposure.items()
                            if e not in self._expected_exposures
                        ),
                        retried=[o for p, o in sorted(self._retried.items()) if p in self._expected],
                    )
                if self.all_settled():
                    raise self._error(IngestFailed, f"{oods} failed to ingest some images")
                if self._consecutive_other >= self.max_other_events:
                    raise self._error(
                        IngestGaveUp,
                        f"Gave up waiting for {oods} after {self.max_other_events} consecutive "
                        f"imageInOODS events for other images (max_counter_archiver_check="
                        f"{self.max_other_events})",
                    )
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise self._error(
                        IngestTimeout,
                        f"Timed out after {timeout:g} s waiting for {oods} to ingest the images",
                    )
                with contextlib.suppress(TimeoutError):
                    await wait_within(self._changed.wait(), remaining)
        finally:
            self._waiting = False
