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
`AmpVerification` turns a set of them into arrays of one row per detector
of the run (`~.layout.run_detectors`: all nine of LSSTComCam, LATISS's one,
the run's detectors of LSSTCam) by one column per amplifier in `AMP_NAMES`
order (16; a wavefront half CCD fills its first 8, ``C10`` .. ``C17``),
that the pictures are drawn from.
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

from ..cameras import COMCAM, CameraProfile
from .layout import AMP_NAMES, amp_names, run_detectors

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

    All arrays have shape (detectors, amplifiers): one row per detector of
    ``detectors`` by one column per amplifier in `AMP_NAMES` order (16, or
    8 if every detector is a wavefront half CCD); a detector's row is
    filled up to its own amplifiers (``amp_names``).

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
    detectors : `tuple` [`int`, ...]
        Detector id of each row (default LSSTComCam's 0..8).
    detector_names : `tuple` [`str`, ...]
        Camera name of each row's detector (``R22_S11``).
    amp_names : `tuple` [`tuple` [`str`, ...], ...]
        Each row's amplifiers, in column order.
    """

    exposures: list[int]
    values: dict[str, np.ndarray]
    n_measured: np.ndarray
    n_failed: dict[str, np.ndarray]
    tests: tuple[str, ...] = TESTS
    detectors: tuple[int, ...] = COMCAM.detector_ids
    detector_names: tuple[str, ...] = tuple(d.name for d in COMCAM.detectors)
    amp_names: tuple[tuple[str, ...], ...] = (AMP_NAMES,) * len(COMCAM.detectors)

    @property
    def detectors_measured(self) -> list[int]:
        """Detector ids with at least one measured amplifier."""
        return [self.detectors[int(row)] for row in np.nonzero(self.n_measured.sum(axis=1) > 0)[0]]

    def failures(self) -> list[str]:
        """Return ``"R22_S11 C10 NOISE (2/5)"`` strings for every failed test."""
        found = []
        for row, name in enumerate(self.detector_names):
            for amp_index, amp in enumerate(self.amp_names[row]):
                for test in self.tests:
                    count = int(self.n_failed[test][row, amp_index])
                    if count:
                        found.append(f"{name} {amp} {test} ({count}/{int(self.n_measured[row, amp_index])})")
        return found


def collect_amp_verification(
    det_stats: typing.Iterable[tuple[int, int, typing.Mapping[str, typing.Any]]],
    statistics: typing.Sequence[str] = STATISTICS,
    tests: typing.Sequence[str] = TESTS,
    *,
    camera: CameraProfile = COMCAM,
    detectors: typing.Sequence[int] | None = None,
) -> AmpVerification:
    """Combine ``verify<Type>DetStats`` dicts into per-amp arrays.

    Parameters
    ----------
    det_stats : iterable of (`int`, `int`, `dict`)
        (exposure id, detector id, ``verifyBiasDetStats`` content).
    statistics, tests : sequence of `str`, optional
        The amplifier statistics and tests to gather (default the bias's;
        `TYPE_STATISTICS` and `TYPE_TESTS` give each type's).
    camera : `~lsst.ts.calibscripts.cameras.CameraProfile`, optional
        The camera (default LSSTComCam): detector names and amplifiers.
    detectors : sequence of `int`, optional
        The run's detectors (rows of a camera larger than
        `~.layout.FULL_CAMERA_DETECTORS`); default: those of ``det_stats``.
        Statistics of other detectors are left out.

    Returns
    -------
    verification : `AmpVerification`
        Median statistics and failure counts per amplifier.
    """
    statistics, tests = tuple(statistics), tuple(tests)
    det_stats = [(int(exposure), int(detector), stats) for exposure, detector, stats in det_stats]
    rows = run_detectors(camera, detectors if detectors is not None else [d for _, d, _ in det_stats])
    row_of = {det: row for row, det in enumerate(rows)}
    row_amps = tuple(amp_names(det, camera) for det in rows)
    shape = (len(rows), max((len(amps) for amps in row_amps), default=len(AMP_NAMES)))
    samples: dict[str, list[list[list[float]]]] = {
        stat: [[[] for _ in range(shape[1])] for _ in rows] for stat in statistics
    }
    n_measured = np.zeros(shape, dtype=int)
    n_failed = {test: np.zeros(shape, dtype=int) for test in (*tests, "SUCCESS")}
    exposures: set[int] = set()
    for exposure, detector, stats in det_stats:
        row = row_of.get(detector)
        if row is None:
            continue
        exposures.add(exposure)
        amp_stats = stats.get("AMP", {}) or {}
        amp_verify = (stats.get("VERIFY", {}) or {}).get("AMP", {}) or {}
        for amp_index, amp in enumerate(row_amps[row]):
            measured = amp_stats.get(amp)
            verdict = amp_verify.get(amp)
            if measured is None and verdict is None:
                continue
            n_measured[row, amp_index] += 1
            for stat in statistics:
                value = (measured or {}).get(stat)
                if value is not None:
                    samples[stat][row][amp_index].append(float(value))
            for test in n_failed:
                if (verdict or {}).get(test) is False:
                    n_failed[test][row, amp_index] += 1
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
        exposures=sorted(exposures),
        values=values,
        n_measured=n_measured,
        n_failed=n_failed,
        tests=tests,
        detectors=rows,
        detector_names=tuple(camera.detector_name(det) for det in rows),
        amp_names=row_amps,
    )
