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

"""Per-amplifier verification results gathered over the exposures of a run.

cp_verify writes one ``verify<Type>DetStats`` dict per (exposure, detector),
e.g. ``verifyBiasDetStats``::

    {"AMP": {"C10": {"MEAN": .., "NOISE": .., "CR_NOISE": .., "AMP_CORNER": ..}, ...},
     "METADATA": {"READ_NOISE_ADU": {"C10": .., ...}},
     "VERIFY": {"AMP": {"C10": {"MEAN": bool, "NOISE": bool, "CR_NOISE": bool,
                                "SUCCESS": bool, "READ_NOISE_CONSISTENT": bool}, ...}},
     "SUCCESS": bool, ...}

Darks have the same statistics and tests; flats have ``MEAN`` and ``NOISE``
per amplifier and the ``NOISE`` test (`TYPE_STATISTICS`, `TYPE_TESTS`).
`AmpVerification` turns a set of them into 9 x 16 arrays (detector id x
amplifier in `AMP_NAMES` order) that the pictures are drawn from.
"""

from __future__ import annotations

__all__ = [
    "AmpVerification",
    "STATISTICS",
    "TESTS",
    "TYPE_STATISTICS",
    "TYPE_TESTS",
    "collect_amp_verification",
]

import dataclasses
import typing

import numpy as np

from .layout import AMP_NAMES, DETECTOR_NAMES

#: Measured statistics drawn in the report (e-).
STATISTICS: tuple[str, ...] = ("MEAN", "NOISE", "CR_NOISE")

#: Verification tests drawn in the report (each decides SUCCESS).
TESTS: tuple[str, ...] = ("MEAN", "NOISE", "CR_NOISE")

#: Per-amplifier statistics drawn, by calibration type.
TYPE_STATISTICS: dict[str, tuple[str, ...]] = {
    "bias": STATISTICS,
    "dark": STATISTICS,
    "flat": ("MEAN", "NOISE"),
}

#: Per-amplifier tests drawn, by calibration type (cp_verify's amp-level tests).
TYPE_TESTS: dict[str, tuple[str, ...]] = {"bias": TESTS, "dark": TESTS, "flat": ("NOISE",)}


@dataclasses.dataclass
class AmpVerification:
    """Verification of every amplifier, combined over exposures.

    All arrays have shape (9, 16): detector id by amplifier (`AMP_NAMES`).

    Attributes
    ----------
    exposures : `list` [`int`]
        Exposure ids that contributed, sorted.
    values : `dict` [`str`, `numpy.ndarray`]
        Median over exposures of each statistic in `STATISTICS`; NaN where
        there is no measurement.
    n_measured : `numpy.ndarray`
        Number of exposures that measured each amplifier.
    n_failed : `dict` [`str`, `numpy.ndarray`]
        For each test in ``tests`` and ``SUCCESS``, the number of exposures
        in which it was False.
    tests : `tuple` [`str`, ...]
        The tests (default the bias tests, `TESTS`).
    """

    exposures: list[int]
    values: dict[str, np.ndarray]
    n_measured: np.ndarray
    n_failed: dict[str, np.ndarray]
    tests: tuple[str, ...] = TESTS

    @property
    def detectors_measured(self) -> list[int]:
        """Detector ids with at least one measured amplifier."""
        return [int(d) for d in np.nonzero(self.n_measured.sum(axis=1) > 0)[0]]

    def failures(self) -> list[str]:
        """Return ``"R22_S11 C10 NOISE (2/5)"`` strings for every failed test."""
        found = []
        for det in range(len(DETECTOR_NAMES)):
            for amp_index, amp in enumerate(AMP_NAMES):
                for test in self.tests:
                    count = int(self.n_failed[test][det, amp_index])
                    if count:
                        found.append(
                            f"{DETECTOR_NAMES[det]} {amp} {test} "
                            f"({count}/{int(self.n_measured[det, amp_index])})"
                        )
        return found


def collect_amp_verification(
    det_stats: typing.Iterable[tuple[int, int, typing.Mapping[str, typing.Any]]],
    statistics: typing.Sequence[str] = STATISTICS,
    tests: typing.Sequence[str] = TESTS,
) -> AmpVerification:
    """Combine ``verify<Type>DetStats`` dicts into per-amp arrays.

    Parameters
    ----------
    det_stats : iterable of (`int`, `int`, `dict`)
        (exposure id, detector id, ``verifyBiasDetStats`` content).
    statistics, tests : sequence of `str`, optional
        The amplifier statistics and tests to gather (default the bias's;
        `TYPE_STATISTICS` and `TYPE_TESTS` give each type's).

    Returns
    -------
    verification : `AmpVerification`
        Median statistics and failure counts per amplifier.
    """
    statistics, tests = tuple(statistics), tuple(tests)
    shape = (len(DETECTOR_NAMES), len(AMP_NAMES))
    samples: dict[str, list[list[list[float]]]] = {
        stat: [[[] for _ in AMP_NAMES] for _ in DETECTOR_NAMES] for stat in statistics
    }
    n_measured = np.zeros(shape, dtype=int)
    n_failed = {test: np.zeros(shape, dtype=int) for test in (*tests, "SUCCESS")}
    exposures: set[int] = set()
    for exposure, detector, stats in det_stats:
        if not 0 <= int(detector) < len(DETECTOR_NAMES):
            continue
        exposures.add(int(exposure))
        amp_stats = stats.get("AMP", {}) or {}
        amp_verify = (stats.get("VERIFY", {}) or {}).get("AMP", {}) or {}
        for amp_index, amp in enumerate(AMP_NAMES):
            measured = amp_stats.get(amp)
            verdict = amp_verify.get(amp)
            if measured is None and verdict is None:
                continue
            n_measured[detector, amp_index] += 1
            for stat in statistics:
                value = (measured or {}).get(stat)
                if value is not None:
                    samples[stat][detector][amp_index].append(float(value))
            for test in n_failed:
                if (verdict or {}).get(test) is False:
                    n_failed[test][detector, amp_index] += 1
    values = {}
    for stat in statistics:
        array = np.full(shape, np.nan)
        for det in range(shape[0]):
            for amp_index in range(shape[1]):
                found = [v for v in samples[stat][det][amp_index] if np.isfinite(v)]
                if found:
                    array[det, amp_index] = float(np.median(found))
        values[stat] = array
    return AmpVerification(
        exposures=sorted(exposures), values=values, n_measured=n_measured, n_failed=n_failed, tests=tests
    )
