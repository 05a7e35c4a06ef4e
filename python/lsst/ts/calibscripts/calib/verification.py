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

"""The verdict on cp_verify's run-level statistics (``verifyBiasStats``, ``verifyDarkStats``,
``verifyFlatStats``), for any calibration type.

The input is the run-level dictionary that cp_verify's run merge writes
(dimensions ``{instrument}``, ``{instrument, physical_filter}`` for flats;
storage class ``StructuredDataDict``)::

    {2026112500012: {"SUCCESS": True},
     2026112500013: {"SUCCESS": False,
                     "FAILURES": ["R22_S11 C10 NOISE", "R22_S11 C10 CR_NOISE", "R22_S22 SCATTER"]},
     "SUCCESS": False}

Keys are integer exposure ids (numeric strings are accepted too) plus
``"SUCCESS"``; optional ``"RUN"``/``"VERIFY"`` blocks are ignored. A failure
string is ``"<detector> <amp> <TEST>"`` for an amplifier test (MEAN, NOISE,
CR_NOISE, AMP_CORNER, READ_NOISE_CONSISTENT, PROCESSING) or
``"<detector> <TEST>"`` for a detector-level test, or ``"<TEST>"`` for an
exposure-level one (the flat's focal-plane ``SCATTER``).

The counting rule
-----------------
It keeps the meaning of upstream's ``number_verification_tests_threshold_bias``
(default 8) and drops its off-by-one:

* ``threshold`` is a number of failing amplifier tests **of one test type
  per detector**. Multiplied by a majority of the detectors,
  ``n_detectors // 2 + 1``, it gives the per-exposure limit: an exposure
  *fails* when, for at least one test type, the number of failures of that
  type in the exposure is ``>= threshold * (n_detectors // 2 + 1)``. With 9
  detectors and ``threshold = 8`` the limit is 40 (for example the 16 amps
  of 3 detectors failing NOISE, 48, fails the exposure; 2 detectors, 32,
  do not).
* The verification *fails* when a strict majority of the exposures fail:
  failed exposures ``>= n_exposures // 2 + 1``, where ``n_exposures``
  counts exposures only. Upstream used ``len(verify_stats) // 2 + 1``,
  which also counts the ``"SUCCESS"`` key (and ``"RUN"``/``"VERIFY"``): for
  an odd number of exposures it needed one more failed exposure than a
  majority (5 exposures: 4 instead of 3; 20 exposures: 11 either way).
  This module counts exposures only.
* The type's tests (`~lsst.ts.calibscripts.calib.types.CalibTypeSpec.tests`)
  set the limit of a detector-level or exposure-level test it makes: a
  detector-level test (the flat's per-detector ``SCATTER``) fails the
  exposure when a majority of the detectors, ``n_detectors // 2 + 1``, fail
  it; an exposure-level test (the flat's focal-plane ``SCATTER``) fails the
  exposure on its own. Failures of any other test (all of the bias's and
  the dark's, which are amplifier tests) count with the amplifier limit
  above. The counts of detector and exposure tests are keyed
  ``"detector SCATTER"`` and ``"exposure SCATTER"``.
* An exposure that was expected (``expected_exposures``) but has no entry
  is counted as failed ("not verified"). No exposure at all fails the
  verification.

The `Verdict` also lists per-detector and per-amp failures so the operator
sees where the problem is, whatever the outcome; its summary names every
failing amplifier under its detector (the per-amplifier details are capped).

Public API
----------
`judge_verify_stats(verify_stats, n_detectors, threshold=8, expected_exposures=None, spec=BIAS)` -> `Verdict`
`merge_filter_stats(stats_by_filter)` -> one run-level dictionary from per-filter ones
`Verdict` (``outcome``, ``passed``, ``failed_exposures``, ``exposures``, thresholds,
``summary()`` multi-line text, ``to_dict()``), `VerdictOutcome`,
`ExposureVerdict`, `Failure`, `parse_failure`, `DEFAULT_THRESHOLD`.
"""

from __future__ import annotations

__all__ = [
    "DEFAULT_THRESHOLD",
    "ExposureVerdict",
    "Failure",
    "Verdict",
    "VerdictOutcome",
    "judge_verify_stats",
    "merge_filter_stats",
    "parse_failure",
]

import collections
import dataclasses
import enum
import typing

from .types import CALIB_TYPES, CalibType, CalibTypeSpec, VerifyLevel

DEFAULT_THRESHOLD = CALIB_TYPES[CalibType.BIAS].default_threshold

_TOP_LEVEL_KEYS = frozenset({"SUCCESS", "RUN", "VERIFY"})


class VerdictOutcome(str, enum.Enum):
    """Outcome of the verification."""

    PASSED = "passed"
    """Every exposure passed every test."""
    PASSED_WITH_FAILURES = "passed_with_failures"
    """Some tests failed, but fewer than the counting rule's limits."""
    FAILED = "failed"
    """A majority of the exposures failed (or nothing was verified)."""


@dataclasses.dataclass(frozen=True)
class Failure:
    """One failed test as cp_verify reports it."""

    detector: str
    amp: str | None
    test: str

    def __str__(self) -> str:
        return " ".join(part for part in (self.detector, self.amp, self.test) if part)


def parse_failure(text: str) -> Failure:
    """Parse ``"R22_S11 C10 NOISE"`` or ``"R22_S22 SCATTER"`` into a `Failure`.

    The test name is the last token, the detector the first (``"?"`` if the
    string has a single token) and the amplifier whatever is in between.
    """
    tokens = str(text).split()
    if not tokens:
        return Failure(detector="?", amp=None, test="?")
    if len(tokens) == 1:
        return Failure(detector="?", amp=None, test=tokens[0])
    amp = " ".join(tokens[1:-1]) or None
    return Failure(detector=tokens[0], amp=amp, test=tokens[-1])


@dataclasses.dataclass
class ExposureVerdict:
    """The verdict on one exposure."""

    exposure_id: int
    success: bool
    """cp_verify's ``SUCCESS`` for this exposure (False when not verified)."""
    failures: list[Failure]
    counts: dict[str, int]
    """Number of failures per test type."""
    failed: bool
    """True when some test type reached the per-exposure limit, or the
    exposure was not verified at all."""
    reason: str
    """Why it failed (empty when it did not)."""
    verified: bool = True

    def amp_failures_by_detector(self) -> dict[str, dict[str, list[str]]]:
        """``{detector: {amp or "-": [tests]}}`` for this exposure."""
        result: dict[str, dict[str, list[str]]] = {}
        for failure in self.failures:
            result.setdefault(failure.detector, {}).setdefault(failure.amp or "-", []).append(failure.test)
        return result


@dataclasses.dataclass
class Verdict:
    """The verdict on a verification run; see the module docstring for the rule."""

    outcome: VerdictOutcome
    stats_success: bool | None
    """The top-level ``SUCCESS`` of ``verifyBiasStats`` (None if absent)."""
    exposures: list[ExposureVerdict]
    threshold: int
    n_detectors: int
    per_exposure_limit: int
    """Failures of one test type at which an exposure fails."""
    max_failed_exposures: int
    """Failed exposures at which the verification fails."""
    stats_dataset_type: str = CALIB_TYPES[CalibType.BIAS].stats_dataset_type
    """The statistics judged (for the texts)."""

    @property
    def passed(self) -> bool:
        """True unless the outcome is FAILED (i.e. certification is allowed)."""
        return self.outcome is not VerdictOutcome.FAILED

    @property
    def failed_exposures(self) -> list[int]:
        """Ids of the exposures that failed."""
        return [e.exposure_id for e in self.exposures if e.failed]

    @property
    def n_exposures(self) -> int:
        return len(self.exposures)

    def counts_by_test(self) -> dict[str, int]:
        """Total failures per test type over all exposures."""
        total: collections.Counter[str] = collections.Counter()
        for exposure in self.exposures:
            total.update(exposure.counts)
        return dict(sorted(total.items()))

    def failures_by_detector(self) -> dict[str, dict[str, int]]:
        """``{detector: {test: count}}`` over all exposures (detector-level view)."""
        result: dict[str, collections.Counter[str]] = {}
        for exposure in self.exposures:
            for failure in exposure.failures:
                result.setdefault(failure.detector, collections.Counter())[failure.test] += 1
        return {det: dict(sorted(counts.items())) for det, counts in sorted(result.items())}

    def failing_amps_by_detector(self) -> dict[str, list[str]]:
        """``{detector: [amp, ...]}``: every amplifier with a failed test, under its detector."""
        result: dict[str, set[str]] = {}
        for exposure in self.exposures:
            for failure in exposure.failures:
                if failure.amp is not None:
                    result.setdefault(failure.detector, set()).add(failure.amp)
        return {det: sorted(amps) for det, amps in sorted(result.items())}

    def failures_by_amp(self) -> dict[str, dict[str, int]]:
        """``{"<detector> <amp>": {test: count}}`` over all exposures (amp-level view)."""
        result: dict[str, collections.Counter[str]] = {}
        for exposure in self.exposures:
            for failure in exposure.failures:
                if failure.amp is None:
                    continue
                result.setdefault(f"{failure.detector} {failure.amp}", collections.Counter())[
                    failure.test
                ] += 1
        return {key: dict(sorted(counts.items())) for key, counts in sorted(result.items())}

    def headline(self) -> str:
        """One line: the outcome and the key numbers."""
        n_failed = len(self.failed_exposures)
        if self.outcome is VerdictOutcome.PASSED:
            return f"Verification passed: all {self.n_exposures} exposure(s) passed every test."
        if self.outcome is VerdictOutcome.PASSED_WITH_FAILURES:
            return (
                f"Verification passed with failures: {n_failed} of {self.n_exposures} exposure(s) failed "
                f"(limit {self.max_failed_exposures}); {sum(self.counts_by_test().values())} failed test(s)."
            )
        if not self.exposures:
            return f"Verification failed: {self.stats_dataset_type} holds no exposure."
        return (
            f"Verification failed: {n_failed} of {self.n_exposures} exposure(s) failed, "
            f"reaching the limit of {self.max_failed_exposures}."
        )

    def summary(self, max_amps: int = 20) -> str:
        """A human-readable multi-line summary for the log and the report."""
        lines = [self.headline()]
        lines.append(
            f"Rule: an exposure fails when one test type has >= {self.per_exposure_limit} failures "
            f"(threshold {self.threshold} per detector x {self.n_detectors // 2 + 1} of "
            f"{self.n_detectors} detectors); verification fails when >= {self.max_failed_exposures} "
            f"of {self.n_exposures} exposures fail."
        )
        counts = self.counts_by_test()
        if counts:
            lines.append("Failures per test: " + ", ".join(f"{k}={v}" for k, v in counts.items()))
        for exposure in self.exposures:
            if exposure.failed:
                lines.append(f"  exposure {exposure.exposure_id}: FAILED ({exposure.reason})")
            elif exposure.failures:
                counts_text = ", ".join(f"{k}={v}" for k, v in sorted(exposure.counts.items()))
                lines.append(f"  exposure {exposure.exposure_id}: passed with failures ({counts_text})")
        # Every failing amplifier is named under its detector here, whatever
        # the cap on the per-amplifier details below.
        by_detector = self.failures_by_detector()
        amps_by_detector = self.failing_amps_by_detector()
        if by_detector:
            lines.append("Failures per detector:")
            for det, det_counts in by_detector.items():
                text = f"  {det}: " + ", ".join(f"{k}={v}" for k, v in det_counts.items())
                amps = amps_by_detector.get(det, [])
                if amps:
                    text += f"; {len(amps)} failing amp(s): " + " ".join(amps)
                lines.append(text)
        by_amp = self.failures_by_amp()
        if by_amp:
            lines.append("Failures per amplifier:")
            for n, (key, amp_counts) in enumerate(by_amp.items()):
                if n >= max_amps:
                    lines.append(f"  ... and {len(by_amp) - max_amps} more amplifier(s)")
                    break
                lines.append(f"  {key}: " + ", ".join(f"{k}={v}" for k, v in amp_counts.items()))
        return "\n".join(lines)

    def to_dict(self) -> dict[str, typing.Any]:
        """Plain data for the YAML report."""
        return {
            "outcome": self.outcome.value,
            "passed": self.passed,
            "stats_success": self.stats_success,
            "n_exposures": self.n_exposures,
            "failed_exposures": self.failed_exposures,
            "threshold": self.threshold,
            "n_detectors": self.n_detectors,
            "per_exposure_limit": self.per_exposure_limit,
            "max_failed_exposures": self.max_failed_exposures,
            "failures_per_test": self.counts_by_test(),
            "failures_per_detector": self.failures_by_detector(),
            "failures_per_amp": self.failures_by_amp(),
            "failing_amps_per_detector": self.failing_amps_by_detector(),
            "headline": self.headline(),
        }


def _exposure_key(key: typing.Any) -> int | None:
    """Return the exposure id of a run-level statistics key, or None for other keys."""
    if isinstance(key, bool):
        return None
    if isinstance(key, int):
        return key
    if isinstance(key, str) and key.strip().isdigit():
        return int(key.strip())
    return None


def _limit(failure: Failure, spec: CalibTypeSpec, amp_limit: int, n_detectors: int) -> tuple[str, int]:
    """The count key of a failure and the count at which it fails its exposure."""
    if failure.amp is None and failure.detector == "?" and spec.test(failure.test, VerifyLevel.EXPOSURE):
        return f"exposure {failure.test}", 1
    if failure.amp is None and failure.detector != "?" and spec.test(failure.test, VerifyLevel.DETECTOR):
        return f"detector {failure.test}", n_detectors // 2 + 1
    return failure.test, amp_limit


def judge_verify_stats(
    verify_stats: typing.Mapping[typing.Any, typing.Any],
    n_detectors: int,
    threshold: int = DEFAULT_THRESHOLD,
    expected_exposures: typing.Iterable[int] | None = None,
    spec: CalibTypeSpec = CALIB_TYPES[CalibType.BIAS],
) -> Verdict:
    """Judge run-level verification statistics with the counting rule of the module docstring.

    Parameters
    ----------
    verify_stats : `~collections.abc.Mapping`
        The run-level statistics (``verifyBiasStats``; for flats, see
        `merge_filter_stats`).
    n_detectors : `int`
        Number of detectors that were verified (>= 1).
    threshold : `int`, optional
        Failures of one amplifier test type per detector (>= 1), upstream's
        ``number_verification_tests_threshold_<type>``.
    expected_exposures : iterable of `int`, optional
        The exposures that were verified; any without an entry counts as
        failed ("not verified").
    spec : `~lsst.ts.calibscripts.calib.types.CalibTypeSpec`, optional
        The calibration type (default bias): its detector- and
        exposure-level tests and its statistics dataset type.

    Returns
    -------
    verdict : `Verdict`

    Raises
    ------
    ValueError
        If ``n_detectors`` or ``threshold`` is < 1, or ``verify_stats`` is not
        a mapping.
    """
    what = spec.stats_dataset_type
    if not isinstance(verify_stats, typing.Mapping):
        raise ValueError(f"{what} must be a mapping, not {type(verify_stats).__name__}")
    if n_detectors < 1:
        raise ValueError(f"n_detectors={n_detectors} must be >= 1")
    if threshold < 1:
        raise ValueError(f"threshold={threshold} must be >= 1")
    per_exposure_limit = threshold * (n_detectors // 2 + 1)

    exposures: dict[int, ExposureVerdict] = {}
    for key, value in verify_stats.items():
        exposure_id = _exposure_key(key)
        if exposure_id is None:
            continue
        value = value if isinstance(value, typing.Mapping) else {}
        failures = [parse_failure(text) for text in (value.get("FAILURES") or [])]
        limits: dict[str, int] = {}
        counter: collections.Counter[str] = collections.Counter()
        for failure in failures:
            label, limit = _limit(failure, spec, per_exposure_limit, n_detectors)
            limits[label] = limit
            counter[label] += 1
        counts = dict(counter)
        success = value.get("SUCCESS") is True
        over = sorted(label for label, count in counts.items() if count >= limits[label])
        reasons = [f"{label} failed {counts[label]} times (limit {limits[label]})" for label in over]
        if not success and not failures:
            # SUCCESS False with nothing listed: cp_verify could not judge it.
            reasons.append("SUCCESS is False with no failure listed")
        exposures[exposure_id] = ExposureVerdict(
            exposure_id=exposure_id,
            success=success,
            failures=failures,
            counts=counts,
            failed=bool(reasons),
            reason="; ".join(reasons),
        )
    for exposure_id in expected_exposures or ():
        exposure_id = int(exposure_id)
        if exposure_id not in exposures:
            exposures[exposure_id] = ExposureVerdict(
                exposure_id=exposure_id,
                success=False,
                failures=[],
                counts={},
                failed=True,
                reason=f"not verified: no entry in {what}",
                verified=False,
            )

    ordered = [exposures[k] for k in sorted(exposures)]
    max_failed_exposures = len(ordered) // 2 + 1
    n_failed = sum(1 for e in ordered if e.failed)
    if not ordered or n_failed >= max_failed_exposures:
        outcome = VerdictOutcome.FAILED
    elif n_failed or any(e.failures or not e.success for e in ordered):
        outcome = VerdictOutcome.PASSED_WITH_FAILURES
    else:
        outcome = VerdictOutcome.PASSED
    stats_success = verify_stats.get("SUCCESS")
    return Verdict(
        outcome=outcome,
        stats_success=stats_success if isinstance(stats_success, bool) else None,
        exposures=ordered,
        threshold=threshold,
        n_detectors=n_detectors,
        per_exposure_limit=per_exposure_limit,
        max_failed_exposures=max_failed_exposures,
        stats_dataset_type=what,
    )


def merge_filter_stats(
    stats_by_filter: typing.Mapping[str, typing.Mapping[typing.Any, typing.Any]],
) -> dict[typing.Any, typing.Any]:
    """Merge per-filter run-level statistics (``verifyFlatStats`` per physical_filter) into one.

    Exposure ids are unique across filters, so the exposures are put side by
    side; the top-level ``SUCCESS`` is True only if every filter's is.

    Raises
    ------
    ValueError
        An exposure appears under two filters.
    """
    merged: dict[typing.Any, typing.Any] = {}
    success = True
    for physical_filter, stats in stats_by_filter.items():
        for key, value in stats.items():
            exposure_id = _exposure_key(key)
            if exposure_id is None:
                continue
            if exposure_id in merged:
                raise ValueError(
                    f"exposure {exposure_id} appears under two filters (second: {physical_filter})"
                )
            merged[exposure_id] = value
        success = success and stats.get("SUCCESS") is True
    merged["SUCCESS"] = success
    return merged
