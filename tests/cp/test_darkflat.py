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

"""Tests of the cpDark/cpFlat/verifyDark/verifyFlat stand-ins (algorithms and tasks, no butler).

The chain fixtures make 5 biases, 4 darks of 30 s and 4 flats of 5 s (r_03)
on detectors 3 (S10) and 4 (S11), reduced geometry, and run the tasks
directly (`darkflat_chain`), once on good data and once with faults.
"""

import numpy as np
import pytest
from lsst.ts.calibscripts.sim.cp import darkflat, isr
from lsst.ts.calibscripts.sim.data import camera_model as cm
from lsst.ts.calibscripts.sim.data import frames
from lsst.ts.calibscripts.sim.data.options import DataOptions

from .darkflat_chain import Chain, make_frames

# One worker runs this whole module. The good and faulty chains are session fixtures: pytest-xdist
# may run other modules' tests between this module's, which would tear module fixtures down and
# build them again.
pytestmark = pytest.mark.xdist_group("cp_darkflat")

# The tests of whole dark and flat chains (bias, dark, flats, verification) are slow.
CHAIN = pytest.mark.slow

GEOM = cm.amp_geometry("reduced")
DETS = (3, 4)


def _assembled(detector: int, make) -> np.ndarray:
    """Assemble a per-amp truth map (raw orientation) like the ISR does."""
    return isr.assemble({a: np.asarray(make(detector, a), dtype=np.float32) for a in cm.AMP_NAMES})


def _run(chain: Chain) -> dict:
    masters = {}
    for det in DETS:
        bias = chain.bias(det)
        masters[det] = (bias, chain.dark(det, bias))
    flats, scales = chain.flats(masters)
    result = {
        "masters": masters,
        "flats": flats,
        "scales": scales,
        "verify_dark": chain.verify_dark(masters),
        "verify_flat": chain.verify_flat(masters, flats),
        "chain": chain,
    }
    result["flat_exposure_stats"] = chain.flat_exposure_stats
    result["verify_flat_absolute"] = chain.verify_flat(masters, flats, scatterRelative=False)
    return result


@pytest.fixture(scope="session")
def good() -> dict:
    return _run(Chain(make_frames()))


FAULT_FLAT_SEQ = 10  # the second flat (flats are seq 10..13)


@pytest.fixture(scope="session")
def faulty() -> dict:
    options = DataOptions(
        dark_current_factors={4: 1000.0},
        flat_amp_response={(4, "C10"): 0.3},
        flat_nonuniformity={FAULT_FLAT_SEQ: 0.3},
    )
    return _run(Chain(make_frames(), options))


# Algorithms


def test_normalize_flat_scales_recovers_exposure_and_detector_scales() -> None:
    e_true = np.array([18000.0, 9000.0, 36000.0])
    g_true = np.array([0.98, 1.0, 1.03, 0.99])
    counts = np.array([[1000.0, 1000.0, 2000.0, 1000.0]] * 3)
    levels = np.outer(e_true, g_true)
    levels[1, 2] = np.nan  # a missing detector in one exposure
    e, g = darkflat.normalize_flat_scales(levels, counts)
    weights = counts.sum(axis=0) - np.array([0, 0, 2000.0, 0])
    assert np.sum(g * weights) / weights.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(g / g[1], g_true / g_true[1], rtol=1e-9)
    np.testing.assert_allclose(e / e[0], e_true / e_true[0], rtol=1e-9)
    np.testing.assert_allclose(np.outer(e, g)[0], levels[0], rtol=1e-9)


def test_dark_cosmic_ray_mask_grows_tracks_by_two() -> None:
    rng = np.random.default_rng(3)
    image = rng.normal(0.0, 8.0, (60, 80))
    assert not darkflat.dark_cosmic_ray_mask(image).any()
    image[30, 20:25] += 2000.0
    mask = darkflat.dark_cosmic_ray_mask(image, grow=2)
    # detection (track + 1 pixel) grown by 2 more: rows 27..33, columns 17..27
    rows, cols = np.nonzero(mask)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (27, 33, 17, 27)
    assert darkflat.dark_cosmic_ray_mask(image, grow=0).sum() < mask.sum()


def _poisson_frame(level: float, amp_factors: dict[str, float] | None = None, noise_factor: float = 1.0):
    rng = np.random.default_rng(5)
    shape = (2 * GEOM.data_height, 8 * GEOM.data_width)
    image = rng.normal(level, np.sqrt(level) * noise_factor, shape)
    for name, view in isr.disassemble(image).items():
        view *= (amp_factors or {}).get(name, 1.0)
    return image


def test_flat_detector_stats_rules() -> None:
    # A frame that was in its master has NOISE ~ sqrt((1 - 1/N) MEAN): 0.9 x Poisson.
    # 10,200 pixels per amp measure NOISE to 0.7 %, so 0.9x passes and 1.1x fails.
    good = darkflat.flat_detector_stats(_poisson_frame(15000.0, noise_factor=0.9))
    assert good["SUCCESS"] is True
    assert set(good) == {"AMP", "DET", "METADATA", "CATALOG", "ISR", "VERIFY", "SUCCESS"}
    assert good["AMP"]["C10"]["MEAN"] == pytest.approx(15000.0, rel=1e-3)
    noisy = darkflat.flat_detector_stats(_poisson_frame(15000.0, noise_factor=1.1))
    assert noisy["VERIFY"]["AMP"]["C10"] == {"NOISE": False, "SUCCESS": False}
    assert noisy["VERIFY"]["DET"]["SCATTER"] is True
    step = darkflat.flat_detector_stats(_poisson_frame(15000.0, {a: 0.7 for a in cm.AMP_NAMES[:8]}, 0.5))
    assert step["VERIFY"]["DET"] == {"SCATTER": False, "SUCCESS": False}
    assert step["DET"]["SCATTER"] / step["DET"]["MEAN"] > 0.05


def test_flat_merges_list_failures_as_documented() -> None:
    good = darkflat.flat_detector_stats(_poisson_frame(15000.0, noise_factor=0.9))
    bad = darkflat.flat_detector_stats(_poisson_frame(15000.0, {a: 0.7 for a in cm.AMP_NAMES[:8]}, 1.1))
    exposure = darkflat.merge_flat_exposure({"R22_S10": good, "R22_S11": bad})
    assert exposure["R22_S10"] == {"SUCCESS": True}
    assert exposure["R22_S11"]["FAILURES"][0] == "SCATTER"
    assert "C07 NOISE" in exposure["R22_S11"]["FAILURES"]  # an amp not scaled down
    # SCATTER is cp_verify's np.std of the detector means, in e-.
    means = [good["DET"]["MEAN"], bad["DET"]["MEAN"]]
    assert exposure["EXP"]["SCATTER"] == pytest.approx(np.std(means))
    assert exposure["VERIFY"]["EXP"]["SCATTER"] is False  # ~15 % apart
    twin = darkflat.merge_flat_exposure({"R22_S10": good, "R22_S12": good})
    assert twin["SUCCESS"] is True
    run = darkflat.merge_flat_run({2: exposure, 1: twin})
    assert run[1] == {"SUCCESS": True}
    assert run[2]["FAILURES"][:2] == ["SCATTER", "R22_S11 SCATTER"]
    assert "R22_S11 C07 NOISE" in run[2]["FAILURES"]
    assert run["SUCCESS"] is False
    upstream = darkflat.merge_flat_run({2: exposure}, list_detector_failures=False)
    assert upstream[2]["FAILURES"] == ["SCATTER"]


# Chain on good data


@CHAIN
def test_master_dark_recovers_dark_current(good) -> None:
    for det in DETS:
        master = good["masters"][det][1]
        header = master[0].header
        assert (header["EXPTIME"], header["DARKTIME"], header["OBSTYPE"]) == (1.0, 1.0, "dark")
        assert header["BUNIT"] == "electron / s"
        assert header["CPP_INPUT_SCALE_0"] == pytest.approx(30.01371)
        image = master["IMAGE"].data
        truth = _assembled(det, lambda d, a: frames.dark_current(d, a, GEOM, 1))
        # The per-column parallel-overscan median leaves ~1.5 e- per column
        # per frame, ~0.2 e- per amp, so over 4 x 30 s the detector level is
        # good to ~0.002 e-/s; levels are 0.002-0.02 e-/s.
        assert image.mean() == pytest.approx(truth.mean(), abs=0.005)
        warm = truth > 0.1
        assert warm.sum() >= 3
        # Warm pixels (0.1-2 e-/s) stand out of ~0.2 e-/s pixel noise.
        assert np.corrcoef(image[warm], truth[warm])[0, 1] > 0.8


@CHAIN
def test_master_flat_recovers_relative_response(good) -> None:
    truths = {det: _assembled(det, lambda d, a: frames.flat_response(d, a, GEOM, 1)) for det in DETS}
    focal_plane = np.mean([t.mean() for t in truths.values()])
    means = []
    for det in DETS:
        flat = good["flats"][det]
        assert flat[0].header["FLATSRC"] == "TWILIGHT"
        amps = isr.disassemble(flat["IMAGE"].data)
        truth = isr.disassemble(truths[det])
        for name in cm.AMP_NAMES:
            # Shot noise of an amp mean: 1/sqrt(18 ke- x 4 frames x 10,200 px) ~ 4e-5;
            # overscan noise ~1e-4.
            assert amps[name].mean() == pytest.approx(truth[name].mean() / focal_plane, abs=5e-4)
        means.append(flat["IMAGE"].data.mean())
    assert np.mean(means) == pytest.approx(1.0, abs=1e-3)
    # The exposure scales are the flats' focal-plane levels (18 ke- x mean response).
    scales = good["chain"].frames.flats
    e = darkflat_scales(good, scales[0].exposure_id)
    assert e == pytest.approx(cm.FLAT_FLUX["r_03"] * 5.0 * focal_plane, rel=2e-3)


def darkflat_scales(result: dict, exposure_id: int) -> float:
    return result["scales"]["expScale"][DETS[0]]["C10"][exposure_id]


@CHAIN
def test_verification_passes_on_good_data(good) -> None:
    dark, flat = good["verify_dark"], good["verify_flat"]
    assert dark["SUCCESS"] is True and flat["SUCCESS"] is True
    assert len(dark) == 5 and len(flat) == 5  # 4 exposures + SUCCESS
    exp_stats = next(iter(good["flat_exposure_stats"].values()))
    assert exp_stats["VERIFY"]["EXP"]["SCATTER"] is True
    # cp_verify's absolute reading (SCATTER <= 0.05 e-) fails on shot noise alone
    # in the reduced geometry: the reason for the relative default.
    absolute = good["verify_flat_absolute"]
    assert absolute["SUCCESS"] is False
    assert all(absolute[k]["FAILURES"] == ["SCATTER"] for k in absolute if k != "SUCCESS")


# Chain with faults


@CHAIN
def test_extra_dark_current_fails_dark_noise(faulty) -> None:
    stats = faulty["verify_dark"]
    assert stats["SUCCESS"] is False
    for exposure, verdict in stats.items():
        if exposure == "SUCCESS":
            continue
        failures = verdict["FAILURES"]
        assert {f.split()[0] for f in failures} == {"R22_S11"}  # detector 4 only
        assert sum(f.endswith(" NOISE") for f in failures) >= 12


@CHAIN
def test_low_amp_and_nonuniform_flat_fail_flat_verification(faulty) -> None:
    stats = faulty["verify_flat"]
    assert stats["SUCCESS"] is False
    fault_exposure = 20261125 * 100000 + FAULT_FLAT_SEQ
    for exposure, verdict in stats.items():
        if exposure == "SUCCESS":
            continue
        assert "R22_S11 C10 NOISE" in verdict["FAILURES"]
        assert ("SCATTER" in verdict["FAILURES"]) == (exposure == fault_exposure)
