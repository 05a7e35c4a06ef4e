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

"""Tests of bias.verification."""

import pytest
import yaml
from lsst.ts.calibscripts.calib.naming import detector_name
from lsst.ts.calibscripts.calib.verification import VerdictOutcome, judge_verify_stats, parse_failure

AMPS = [f"C1{i}" for i in range(8)] + [f"C0{i}" for i in range(7, -1, -1)]
BASE = 2026112500001


def make_stats(failures_per_exposure: dict[int, list[str]], n_exposures: int) -> dict:
    """A verifyBiasStats dict shaped as cp_verify's run merge writes it."""
    stats: dict = {}
    for i in range(n_exposures):
        failures = failures_per_exposure.get(i, [])
        entry: dict = {"SUCCESS": not failures}
        if failures:
            entry["FAILURES"] = failures
        stats[BASE + i] = entry
    stats["SUCCESS"] = all(v["SUCCESS"] for v in stats.values())
    return stats


def noisy(detectors: list[int], test: str = "NOISE") -> list[str]:
    """Every amp of these detectors fails ``test``."""
    return [f"{detector_name(d)} {amp} {test}" for d in detectors for amp in AMPS]


def test_parse_failure() -> None:
    f = parse_failure("R22_S11 C10 NOISE")
    assert (f.detector, f.amp, f.test) == ("R22_S11", "C10", "NOISE")
    f = parse_failure("R22_S22 SCATTER")
    assert (f.detector, f.amp, f.test) == ("R22_S22", None, "SCATTER")
    assert str(parse_failure("R22_S00 C07 CR_NOISE")) == "R22_S00 C07 CR_NOISE"


def test_all_pass() -> None:
    verdict = judge_verify_stats(make_stats({}, 5), n_detectors=9)
    assert verdict.outcome is VerdictOutcome.PASSED
    assert verdict.passed and verdict.failed_exposures == []
    assert verdict.stats_success is True
    assert verdict.per_exposure_limit == 40 and verdict.max_failed_exposures == 3
    assert "all 5 exposure(s) passed" in verdict.summary()


def test_three_noisy_detectors_in_every_exposure_fails() -> None:
    # 3 detectors x 16 amps = 48 >= 40 per exposure, in all 20 exposures.
    stats = make_stats({i: noisy([0, 4, 8]) for i in range(20)}, 20)
    verdict = judge_verify_stats(stats, n_detectors=9)
    assert verdict.outcome is VerdictOutcome.FAILED
    assert not verdict.passed
    assert len(verdict.failed_exposures) == 20
    by_det = verdict.failures_by_detector()
    assert set(by_det) == {"R22_S00", "R22_S11", "R22_S22"}
    assert by_det["R22_S11"] == {"NOISE": 16 * 20}
    assert verdict.failures_by_amp()["R22_S11 C10"] == {"NOISE": 20}
    text = verdict.summary()
    assert "Verification failed: 20 of 20" in text
    assert "NOISE failed 48 times (limit 40)" in text
    assert "R22_S11: NOISE=320" in text
    assert "more amplifier(s)" in text  # 48 amps listed, capped at 20


def test_two_noisy_detectors_pass_with_failures() -> None:
    # 2 detectors x 16 = 32 < 40: no exposure fails, but the failures are reported.
    stats = make_stats({i: noisy([1, 2]) for i in range(4)}, 4)
    verdict = judge_verify_stats(stats, n_detectors=9)
    assert verdict.outcome is VerdictOutcome.PASSED_WITH_FAILURES
    assert verdict.passed
    assert verdict.failed_exposures == []
    assert verdict.counts_by_test() == {"NOISE": 4 * 32}
    assert "passed with failures" in verdict.summary()


def test_limit_is_inclusive() -> None:
    # Exactly threshold * majority failures fails the exposure (>=).
    failures = noisy([0, 1])[:32] + noisy([2])[:8]  # 40 NOISE failures
    verdict = judge_verify_stats(make_stats({0: failures}, 1), n_detectors=9)
    assert verdict.exposures[0].failed
    verdict = judge_verify_stats(make_stats({0: failures[:-1]}, 1), n_detectors=9)
    assert not verdict.exposures[0].failed


def test_counts_per_test_type_not_summed() -> None:
    # 30 MEAN + 30 NOISE = 60 failures, but no single type reaches 40.
    failures = noisy([0, 1], "MEAN")[:30] + noisy([0, 1], "NOISE")[:30]
    verdict = judge_verify_stats(make_stats({0: failures}, 1), n_detectors=9)
    assert not verdict.exposures[0].failed
    assert verdict.outcome is VerdictOutcome.PASSED_WITH_FAILURES


@pytest.mark.parametrize(
    "n_exposures, n_failed, expected",
    [
        (5, 2, VerdictOutcome.PASSED_WITH_FAILURES),
        (5, 3, VerdictOutcome.FAILED),  # upstream's len()-based rule needed 4 here
        (20, 10, VerdictOutcome.PASSED_WITH_FAILURES),
        (20, 11, VerdictOutcome.FAILED),
        (1, 1, VerdictOutcome.FAILED),
    ],
)
def test_majority_of_exposures_without_off_by_one(
    n_exposures: int, n_failed: int, expected: VerdictOutcome
) -> None:
    stats = make_stats({i: noisy([0, 1, 2]) for i in range(n_failed)}, n_exposures)
    verdict = judge_verify_stats(stats, n_detectors=9)
    assert verdict.max_failed_exposures == n_exposures // 2 + 1
    assert verdict.outcome is expected


def test_threshold_and_detector_count_scale_the_limit() -> None:
    stats = make_stats({0: noisy([0])[:6]}, 1)  # 6 failures on one detector
    assert judge_verify_stats(stats, n_detectors=1, threshold=6).outcome is VerdictOutcome.FAILED
    assert (
        judge_verify_stats(stats, n_detectors=1, threshold=7).outcome is VerdictOutcome.PASSED_WITH_FAILURES
    )
    # 3 detectors -> majority 2 -> limit 12
    assert judge_verify_stats(stats, n_detectors=3, threshold=6).per_exposure_limit == 12
    assert (
        judge_verify_stats(stats, n_detectors=3, threshold=6).outcome is VerdictOutcome.PASSED_WITH_FAILURES
    )


def test_missing_exposures_counted_as_failed() -> None:
    stats = make_stats({}, 3)
    verdict = judge_verify_stats(stats, n_detectors=9, expected_exposures=[BASE + i for i in range(5)])
    assert verdict.failed_exposures == [BASE + 3, BASE + 4]
    assert verdict.max_failed_exposures == 3
    assert verdict.outcome is VerdictOutcome.PASSED_WITH_FAILURES
    assert "not verified" in verdict.summary()
    stats = make_stats({}, 2)
    verdict = judge_verify_stats(stats, n_detectors=9, expected_exposures=[BASE + i for i in range(5)])
    assert verdict.outcome is VerdictOutcome.FAILED


def test_success_false_without_failures_fails_exposure() -> None:
    stats = {BASE: {"SUCCESS": False}, "SUCCESS": False}
    verdict = judge_verify_stats(stats, n_detectors=9)
    assert verdict.outcome is VerdictOutcome.FAILED
    assert "no failure listed" in verdict.exposures[0].reason


def test_empty_and_extra_keys() -> None:
    assert judge_verify_stats({"SUCCESS": True}, n_detectors=9).outcome is VerdictOutcome.FAILED
    stats = make_stats({}, 2)
    stats["RUN"] = {"NOISE": 7.9}
    stats["VERIFY"] = {"SOMETHING": True}
    verdict = judge_verify_stats(stats, n_detectors=9)
    assert verdict.n_exposures == 2 and verdict.outcome is VerdictOutcome.PASSED


def test_yaml_round_trip_and_string_keys() -> None:
    stats = make_stats({1: noisy([4])}, 3)
    loaded = yaml.safe_load(yaml.safe_dump(stats))
    assert judge_verify_stats(loaded, n_detectors=9).to_dict() == judge_verify_stats(stats, 9).to_dict()
    as_strings = {str(k): v for k, v in stats.items()}
    verdict = judge_verify_stats(as_strings, n_detectors=9)
    assert [e.exposure_id for e in verdict.exposures] == [BASE, BASE + 1, BASE + 2]
    report = verdict.to_dict()
    yaml.safe_dump(report)  # plain data
    assert report["failures_per_detector"] == {"R22_S11": {"NOISE": 16}}


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        judge_verify_stats({}, n_detectors=0)
    with pytest.raises(ValueError):
        judge_verify_stats({}, n_detectors=9, threshold=0)
    with pytest.raises(ValueError):
        judge_verify_stats([1, 2], n_detectors=9)  # type: ignore[arg-type]


def detector_section(text: str) -> dict[str, str]:
    """The lines of the "Failures per detector:" section, by detector."""
    lines = text.splitlines()
    start = lines.index("Failures per detector:") + 1
    section: dict[str, str] = {}
    for line in lines[start:]:
        if not line.startswith("  "):
            break
        det, _, rest = line.strip().partition(": ")
        section[det] = rest
    return section


@pytest.mark.parametrize("max_amps", [20, 5, 0])
def test_every_failing_amp_appears_under_its_detector(max_amps: int) -> None:
    # 3 detectors fail NOISE on every amp (48 amps, more than the per-amp cap) and
    # one more detector fails MEAN on two amps; a detector-level failure too.
    failures = noisy([0, 4, 8]) + ["R22_S12 C03 MEAN", "R22_S12 C14 MEAN", "R22_S21 SCATTER"]
    stats = make_stats({i: failures for i in range(3)}, 3)
    verdict = judge_verify_stats(stats, n_detectors=9)
    assert verdict.outcome is VerdictOutcome.FAILED
    text = verdict.summary(max_amps=max_amps)
    section = detector_section(text)
    assert set(section) == {"R22_S00", "R22_S11", "R22_S22", "R22_S12", "R22_S21"}
    for failure in (parse_failure(f) for f in failures):
        line = section[failure.detector]
        assert f"{failure.test}=" in line
        if failure.amp is not None:
            assert failure.amp in line.split("failing amp(s): ")[1].split(), (failure, line)
    assert section["R22_S12"] == "MEAN=6; 2 failing amp(s): C03 C14"
    assert section["R22_S21"] == "SCATTER=3"
    assert verdict.failing_amps_by_detector()["R22_S22"] == sorted(AMPS)
    assert verdict.to_dict()["failing_amps_per_detector"]["R22_S12"] == ["C03", "C14"]
    # The per-amp details are capped; the per-detector section is not.
    assert f"... and {48 + 2 - max_amps} more amplifier(s)" in text
