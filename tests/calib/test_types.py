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

"""Calibration types as data, and the judgement of dark and flat statistics."""

import pytest
from lsst.ts.calibscripts.calib.stages import Stage, StageKind, TypeStage, stage_for
from lsst.ts.calibscripts.calib.types import (
    CALIB_TYPES,
    CalibType,
    VerifyLevel,
    prerequisite_order,
    spec_for,
)
from lsst.ts.calibscripts.calib.verification import VerdictOutcome, judge_verify_stats, merge_filter_stats
from lsst.ts.calibscripts.cameras import COMCAM
from lsst.ts.calibscripts.schemas import load_schema

BIAS, DARK, FLAT = (CALIB_TYPES[t] for t in (CalibType.BIAS, CalibType.DARK, CalibType.FLAT))
AMPS = [f"C1{i}" for i in range(8)] + [f"C0{i}" for i in range(7, -1, -1)]
EXPOSURES = [2026112500011, 2026112500012, 2026112500013]


def test_registry() -> None:
    assert set(CALIB_TYPES) == set(CalibType)
    assert [s.take_method for s in (BIAS, DARK, FLAT)] == ["take_bias", "take_darks", "take_flats"]
    assert [s.image_type for s in (BIAS, DARK, FLAT)] == ["BIAS", "DARK", "FLAT"]
    assert not BIAS.needs_exposure_time and DARK.needs_exposure_time and FLAT.needs_exposure_time
    assert FLAT.needs_filter and FLAT.open_shutter and not DARK.open_shutter
    assert [s.stats_dataset_type for s in (BIAS, DARK, FLAT)] == [
        "verifyBiasStats",
        "verifyDarkStats",
        "verifyFlatStats",
    ]
    assert FLAT.per_filter and not DARK.per_filter
    assert "physical_filter" in FLAT.stats_dimensions
    assert DARK.prerequisites == (CalibType.BIAS,)
    assert FLAT.prerequisites == (CalibType.BIAS, CalibType.DARK)
    assert prerequisite_order([CalibType.FLAT, CalibType.DARK, CalibType.BIAS]) == list(CalibType)
    assert DARK.option("n_discard") == "n_discard_dark"
    assert [s.plural for s in (BIAS, DARK, FLAT)] == ["biases", "darks", "flats"]
    assert spec_for("FLAT") is FLAT
    with pytest.raises(ValueError, match="known: bias, dark, flat"):
        spec_for("ptc")


def test_bias_pipelines_match_the_schema_defaults() -> None:
    """The schema is the source of the defaults; the bias spec names the same pipelines."""
    properties = load_schema()["properties"]
    assert properties["pipeline_bias"]["default"] == BIAS.build_pipeline_path(COMCAM)
    assert properties["pipeline_verify"]["default"] == BIAS.verify_pipeline_path(COMCAM)
    assert properties["number_verification_tests_threshold_bias"]["default"] == BIAS.default_threshold


def test_stage_names_per_type() -> None:
    assert [stage_for(k, BIAS) for k in StageKind] == list(Stage)
    flat = [stage_for(k, FLAT) for k in StageKind]
    assert [s.value for s in flat] == [
        "preflight",
        "take_flats",
        "wait_ingest",
        "cp_flat",
        "verify_flat",
        "judge",
        "certify",
        "summary",
    ]
    assert isinstance(flat[1], TypeStage) and flat[1].number == 2
    assert stage_for(StageKind.TAKE, DARK).checkpoint_name == "take_darks"


def _amp_failures(detectors: range, test: str) -> list[str]:
    return [f"{COMCAM.detector_name(d)} {amp} {test}" for d in detectors for amp in AMPS]


def test_dark_is_judged_as_cp_verify_writes_it() -> None:
    """verifyDarkStats: amplifier MEAN/NOISE/CR_NOISE failures, counted as for a bias."""
    three = _amp_failures(range(3), "NOISE")  # 48 failures >= 8 x 5 = 40
    two = _amp_failures(range(2), "CR_NOISE")  # 32 < 40
    stats = {
        EXPOSURES[0]: {"SUCCESS": False, "FAILURES": three},
        EXPOSURES[1]: {"SUCCESS": False, "FAILURES": three},
        EXPOSURES[2]: {"SUCCESS": False, "FAILURES": two},
        "SUCCESS": False,
    }
    verdict = judge_verify_stats(stats, n_detectors=9, threshold=8, spec=DARK)
    assert verdict.outcome is VerdictOutcome.FAILED
    assert verdict.failed_exposures == EXPOSURES[:2]
    assert verdict.counts_by_test() == {"CR_NOISE": 32, "NOISE": 96}
    stats[EXPOSURES[1]] = {"SUCCESS": True}
    assert judge_verify_stats(stats, 9, 8, spec=DARK).outcome is VerdictOutcome.PASSED_WITH_FAILURES
    missing = judge_verify_stats({"SUCCESS": True}, 9, 8, expected_exposures=EXPOSURES[:1], spec=DARK)
    assert missing.exposures[0].reason == "not verified: no entry in verifyDarkStats"
    assert judge_verify_stats({}, 9, spec=DARK).headline() == (
        "Verification failed: verifyDarkStats holds no exposure."
    )


def test_flat_exposure_scatter_fails_its_exposure() -> None:
    """The focal-plane SCATTER (exposure level, written as a bare ``SCATTER``) fails the exposure."""
    assert FLAT.test("SCATTER", VerifyLevel.EXPOSURE) is not None
    stats = {
        EXPOSURES[0]: {"SUCCESS": False, "FAILURES": ["SCATTER"]},
        EXPOSURES[1]: {"SUCCESS": False, "FAILURES": ["SCATTER"]},
        EXPOSURES[2]: {"SUCCESS": True},
        "SUCCESS": False,
    }
    verdict = judge_verify_stats(stats, n_detectors=9, threshold=8, spec=FLAT)
    assert verdict.outcome is VerdictOutcome.FAILED
    assert verdict.exposures[0].reason == "exposure SCATTER failed 1 times (limit 1)"
    # The bias rule would count it as one failure against 40: passed.
    assert judge_verify_stats(stats, 9, 8, spec=BIAS).outcome is VerdictOutcome.PASSED_WITH_FAILURES


def test_flat_detector_scatter_needs_a_majority_of_detectors() -> None:
    four = [f"{COMCAM.detector_name(d)} SCATTER" for d in range(4)]
    five = [f"{COMCAM.detector_name(d)} SCATTER" for d in range(5)]
    stats = {e: {"SUCCESS": False, "FAILURES": four} for e in EXPOSURES}
    stats["SUCCESS"] = False
    assert judge_verify_stats(stats, 9, 8, spec=FLAT).outcome is VerdictOutcome.PASSED_WITH_FAILURES
    stats = {e: {"SUCCESS": False, "FAILURES": five} for e in EXPOSURES}
    verdict = judge_verify_stats(stats, 9, 8, spec=FLAT)
    assert verdict.outcome is VerdictOutcome.FAILED
    assert verdict.exposures[0].reason == "detector SCATTER failed 5 times (limit 5)"


def test_flat_amp_noise_counts_as_amplifier_test() -> None:
    """NOISE <= sqrt(MEAN) failures, as the stand-in's listDetectorFailures writes them."""
    failures = _amp_failures(range(3), "NOISE")
    stats = {e: {"SUCCESS": False, "FAILURES": failures} for e in EXPOSURES[:2]}
    stats[EXPOSURES[2]] = {"SUCCESS": True}
    verdict = judge_verify_stats(stats, 9, 8, spec=FLAT)
    assert verdict.outcome is VerdictOutcome.FAILED
    assert verdict.exposures[0].reason == "NOISE failed 48 times (limit 40)"


def test_flat_stats_of_every_filter_are_judged_together() -> None:
    merged = merge_filter_stats(
        {
            "r_03": {EXPOSURES[0]: {"SUCCESS": True}, "SUCCESS": True},
            "g_01": {EXPOSURES[1]: {"SUCCESS": False, "FAILURES": ["SCATTER"]}, "SUCCESS": False},
        }
    )
    assert merged == {
        EXPOSURES[0]: {"SUCCESS": True},
        EXPOSURES[1]: {"SUCCESS": False, "FAILURES": ["SCATTER"]},
        "SUCCESS": False,
    }
    verdict = judge_verify_stats(merged, 9, spec=FLAT)
    assert verdict.failed_exposures == [EXPOSURES[1]]
    assert verdict.outcome is VerdictOutcome.PASSED_WITH_FAILURES  # 1 of 2 is no majority
    with pytest.raises(ValueError, match="two filters"):
        merge_filter_stats({"r_03": {EXPOSURES[0]: {}}, "g_01": {EXPOSURES[0]: {}}})
