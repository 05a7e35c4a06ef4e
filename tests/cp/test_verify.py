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

"""Tests of the cp_verify bias statistics, rules and merges."""

import collections

import numpy as np
import pytest
from lsst.ts.calibscripts.sim.cp import combine, isr, verify
from lsst.ts.calibscripts.sim.cp.synthetic import make_raw
from lsst.ts.calibscripts.sim.data.camera_model import AMP_NAMES, amp_geometry, detector_model

AMP_SHAPE = (500, 100)  # 50k pixels per amp: NOISE known to ~0.3 %


def _noise_map(read_noise: dict[str, float], shape=AMP_SHAPE) -> np.ndarray:
    sigma = np.empty((2 * shape[0], 8 * shape[1]), dtype=np.float32)
    for name, view in isr.disassemble(sigma).items():
        view[...] = read_noise[name]
    return sigma


def _stats(residual, model, rn_adu=None):
    rn_adu = rn_adu or {a: model.read_noises[a] / model.gains[a] for a in AMP_NAMES}
    return verify.bias_detector_stats(residual, model.read_noises, model.gains, rn_adu)


def _sources(frames):
    return [(lambda r0, r1, f=f: f[r0:r1]) for f in frames]


@pytest.mark.slow
def test_independent_and_input_frames_noise() -> None:
    rng = np.random.default_rng(21)
    model = detector_model(2)
    sigma = _noise_map(model.read_noises)
    pattern = rng.normal(0.0, 2.0, sigma.shape).astype(np.float32)
    n_frames = 20
    frames = [
        pattern + sigma * rng.standard_normal(sigma.shape, dtype=np.float32) for _ in range(n_frames + 1)
    ]
    master = combine.combine_frames(_sources(frames[:n_frames]), sigma.shape).image
    independent = _stats(frames[n_frames] - master, model)
    excess = np.mean([independent["AMP"][a]["NOISE"] / model.read_noises[a] - 1 for a in AMP_NAMES])
    # sqrt(1 + 1.035**2 / 20) - 1 = +2.6 %: passes NOISE (<= 5 %).
    assert 0.018 < excess < 0.034
    assert all(v["NOISE"] for v in independent["VERIFY"]["AMP"].values())
    assert independent["SUCCESS"] is True
    in_master = _stats(frames[0] - master, model)
    deficit = np.mean([in_master["AMP"][a]["NOISE"] / model.read_noises[a] - 1 for a in AMP_NAMES])
    assert -0.035 < deficit < -0.015
    assert in_master["SUCCESS"] is True
    amp = in_master["AMP"]["C10"]
    assert abs(amp["MEAN"]) < 0.1
    assert amp["CR_NOISE"] == pytest.approx(amp["NOISE"], rel=0.01)


@pytest.mark.slow  # 80 frames: a 10 % excess must fail every exposure
def test_read_noise_inflated_on_three_detectors_fails_every_exposure() -> None:
    geom = amp_geometry("reduced")
    exposures = [2026112500001 + i for i in range(20)]
    inflated = (0, 4, 8)
    detectors = (*inflated, 1)
    exposure_stats: dict[int, dict[str, dict]] = collections.defaultdict(dict)
    for det in detectors:
        model = detector_model(det)
        factor = 1.10 if det in inflated else 1.0
        frames = {
            e: isr.isr_bias_frame(make_raw(det, e, geom, read_noise_factor=factor), model.gains, e)
            for e in exposures
        }
        shape = frames[exposures[0]].image.shape
        master = combine.combine_frames(_sources([f.image for f in frames.values()]), shape).image
        for e, frame in frames.items():
            det_stats = _stats(frame.image - master, model, frame.read_noise_adu)
            exposure_stats[e][f"R22_S{det // 3}{det % 3}"] = det_stats
            assert det_stats["SUCCESS"] is (det not in inflated)
    run = verify.merge_run({e: verify.merge_exposure(stats) for e, stats in exposure_stats.items()})
    assert run["SUCCESS"] is False
    assert set(run) == set(exposures) | {"SUCCESS"}
    for e in exposures:
        counts = collections.Counter(f.split(" ")[-1] for f in run[e]["FAILURES"])
        assert counts["NOISE"] >= 40
        assert all(f.split(" ")[0] in ("R22_S00", "R22_S11", "R22_S22") for f in run[e]["FAILURES"])


def test_mean_failure_from_offset() -> None:
    rng = np.random.default_rng(22)
    model = detector_model(0)
    sigma = _noise_map(model.read_noises)
    residual = sigma * rng.standard_normal(sigma.shape, dtype=np.float32)
    views = isr.disassemble(residual)
    views["C13"] += 1.2 * model.read_noises["C13"]
    stats = _stats(residual, model)
    assert stats["VERIFY"]["AMP"]["C13"]["MEAN"] is False
    assert stats["VERIFY"]["AMP"]["C13"]["NOISE"] is True
    assert stats["VERIFY"]["AMP"]["C12"]["MEAN"] is True
    assert verify.merge_exposure({"R22_S00": stats})["R22_S00"] == {
        "SUCCESS": False,
        "FAILURES": ["C13 MEAN"],
    }


def test_cosmic_rays_repaired_and_dense_outliers_fail_cr_noise() -> None:
    rng = np.random.default_rng(23)
    model = detector_model(3)
    sigma = _noise_map(model.read_noises)
    residual = sigma * rng.standard_normal(sigma.shape, dtype=np.float32)
    views = isr.disassemble(residual)
    c10 = views["C10"]
    for _ in range(40):
        y, x = rng.integers(5, AMP_SHAPE[0] - 5), rng.integers(5, AMP_SHAPE[1] - 5)
        c10[y : y + 3, x] += 2000.0
    unrepaired = float(np.std(c10))
    stats = _stats(residual, model)
    amp = stats["AMP"]["C10"]
    assert unrepaired / amp["NOISE"] - 1 > 0.05  # without repair CR_NOISE would fail
    assert stats["VERIFY"]["AMP"]["C10"]["CR_NOISE"] is True
    assert amp["CR_NOISE"] == pytest.approx(amp["NOISE"], rel=0.02)
    # 2 % of pixels at +60 e- (below the 150 e- CR floor) are clipped out of
    # NOISE but stay in CR_NOISE.
    c11 = views["C11"]
    hit = rng.random(c11.shape) < 0.02
    c11[hit] += 60.0
    stats = _stats(residual, model)
    assert stats["VERIFY"]["AMP"]["C11"]["CR_NOISE"] is False
    assert "C11 CR_NOISE" in verify.merge_exposure({"R22_S10": stats})["R22_S10"]["FAILURES"]


def test_too_many_cosmic_rays_force_failure(monkeypatch) -> None:
    monkeypatch.setattr(verify, "CR_MAX_PIXELS", 50)
    rng = np.random.default_rng(24)
    model = detector_model(5)
    sigma = _noise_map(model.read_noises)
    residual = sigma * rng.standard_normal(sigma.shape, dtype=np.float32)
    c00 = isr.disassemble(residual)["C00"]
    for k in range(20):
        c00[10 + 20 * k, 50] += 1000.0
    stats = _stats(residual, model)
    for name in AMP_NAMES:
        assert stats["AMP"][name]["FORCE_FAILURE"] is True
        assert stats["VERIFY"]["AMP"][name]["PROCESSING"] is False
        assert stats["VERIFY"]["AMP"][name]["SUCCESS"] is False
    failures = verify.merge_exposure({"R22_S12": stats})["R22_S12"]["FAILURES"]
    assert "C10 PROCESSING" in failures and "C10 CR_NOISE" in failures


def test_verify_amp_rules() -> None:
    base = {"MEAN": 0.1, "NOISE": 8.0, "CR_NOISE": 8.0}
    ok = verify.verify_amp(base, 8.0, 1.4, 8.0 / 1.4)
    assert ok == {
        "MEAN": True,
        "NOISE": True,
        "CR_NOISE": True,
        "SUCCESS": True,
        "READ_NOISE_CONSISTENT": True,
    }
    assert all(type(v) is bool for v in ok.values())
    # NOISE is one-sided with a 5 % tolerance.
    assert verify.verify_amp({**base, "NOISE": 4.0, "CR_NOISE": 4.0}, 8.0, 1.4, 0.0)["NOISE"] is True
    assert verify.verify_amp({**base, "NOISE": 8.39, "CR_NOISE": 8.39}, 8.0, 1.4, 0.0)["NOISE"] is True
    assert verify.verify_amp({**base, "NOISE": 8.41, "CR_NOISE": 8.41}, 8.0, 1.4, 0.0)["NOISE"] is False
    # MEAN within one NOISE.
    assert verify.verify_amp({**base, "MEAN": -8.0}, 8.0, 1.4, 0.0)["MEAN"] is False
    # READ_NOISE_CONSISTENT: absent without overscan noise, not part of SUCCESS.
    assert "READ_NOISE_CONSISTENT" not in verify.verify_amp(base, 8.0, 1.4, 0.0)
    high = verify.verify_amp(base, 8.0, 1.4, 10.0)
    assert high["READ_NOISE_CONSISTENT"] is False and high["SUCCESS"] is True
    assert verify.verify_amp(base, 8.0, 1.4, float("nan"))["READ_NOISE_CONSISTENT"] is False


def test_merge_shapes() -> None:
    good = {"VERIFY": {"AMP": {"C10": {"MEAN": True, "SUCCESS": True}}}, "SUCCESS": True}
    bad = {
        "VERIFY": {
            "AMP": {
                "C10": {"MEAN": True, "NOISE": False, "CR_NOISE": True, "SUCCESS": False,
                        "READ_NOISE_CONSISTENT": False},
                "C11": {"MEAN": True, "NOISE": True, "CR_NOISE": True, "SUCCESS": True,
                        "READ_NOISE_CONSISTENT": False},
                "C17": {"MEAN": True, "NOISE": True, "CR_NOISE": False, "SUCCESS": False},
            }
        },
        "SUCCESS": False,
    }  # fmt: skip
    exp1 = verify.merge_exposure({"R22_S00": good, "R22_S11": bad})
    assert exp1 == {
        "R22_S00": {"SUCCESS": True},
        "R22_S11": {"SUCCESS": False, "FAILURES": ["C10 NOISE", "C10 READ_NOISE_CONSISTENT", "C17 CR_NOISE"]},
        "SUCCESS": False,
    }
    exp2 = verify.merge_exposure({"R22_S00": good})
    run = verify.merge_run({2026112500002: exp1, 2026112500001: exp2})
    assert run == {
        2026112500002: {
            "SUCCESS": False,
            "FAILURES": ["R22_S11 C10 NOISE", "R22_S11 C10 READ_NOISE_CONSISTENT", "R22_S11 C17 CR_NOISE"],
        },
        2026112500001: {"SUCCESS": True},
        "SUCCESS": False,
    }
    assert verify.merge_run({2026112500001: exp2}) == {2026112500001: {"SUCCESS": True}, "SUCCESS": True}


def test_amp_corner_at_readout_corner() -> None:
    image = np.zeros((400, 400), dtype=np.float32)
    image[:200, -200:] = 5.0  # C1x: flipped in x only -> readout corner at high x, low y
    assert verify.amp_corner_mean(image, "C10") == pytest.approx(5.0)
    assert verify.amp_corner_mean(image, "C00") == pytest.approx(0.0)  # C0x: high x, high y
    image[-200:, -200:] = 3.0
    assert verify.amp_corner_mean(image, "C00") == pytest.approx(3.0)


def test_verify_amp_zero_denominators_fail_instead_of_raising() -> None:
    # A frame verified against itself: the residual is 0, so NOISE and CR_NOISE are 0.
    zero = verify.verify_amp({"MEAN": 0.0, "NOISE": 0.0, "CR_NOISE": 0.0}, 8.0, 1.4, 0.0)
    assert zero["CR_NOISE"] is False  # 0/0 is NaN: not <= 5 %
    assert zero["MEAN"] is False  # |0| < 0 is False
    assert zero["SUCCESS"] is False
    assert all(type(v) is bool for v in zero.values())
    # CR repair left no variance but the clipped noise is nominal: inf, fails.
    flat = verify.verify_amp({"MEAN": 0.1, "NOISE": 8.0, "CR_NOISE": 0.0}, 8.0, 1.4, 0.0)
    assert (flat["NOISE"], flat["CR_NOISE"], flat["SUCCESS"]) == (True, False, False)
    # A zero nominal read noise: NOISE and READ_NOISE_CONSISTENT fail, no exception.
    no_nominal = verify.verify_amp({"MEAN": 0.1, "NOISE": 8.0, "CR_NOISE": 8.0}, 0.0, 1.4, 5.0)
    assert no_nominal["NOISE"] is False and no_nominal["READ_NOISE_CONSISTENT"] is False
    # The whole detector path, on a residual that is exactly zero.
    ny, nx = 2 * 40, 8 * 30
    stats = verify.bias_detector_stats(
        np.zeros((ny, nx)),
        read_noise={name: 8.0 for name in AMP_NAMES},
        gains={name: 1.4 for name in AMP_NAMES},
        read_noise_adu={name: 0.0 for name in AMP_NAMES},
    )
    assert stats["SUCCESS"] is False
    assert all(v["CR_NOISE"] is False for v in stats["VERIFY"]["AMP"].values())
