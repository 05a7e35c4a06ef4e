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

"""The flat stand-ins follow each detector's amplifier layout: 16 amps, or 8 on a wavefront half CCD."""

import numpy as np
import pytest
from lsst.ts.calibscripts.cameras import LSSTCAM
from lsst.ts.calibscripts.sim.cp import darkflat, isr
from lsst.ts.calibscripts.sim.cp.calib_tasks import CpFlatCombineTask, CpFlatNormalizeTask, VerifyFlatExpTask

HALF = isr.AMP_NAMES[:8]
WAVEFRONT = LSSTCAM.detector_id("R00W_SW0")
E2V = LSSTCAM.detector_id("R22_S11")


def _frame(names: tuple[str, ...], level: float = 15000.0, seed: int = 3) -> np.ndarray:
    """A Poisson flat, assembled as the ISR assembles it; amp ``i`` at ``level × (1 + 0.01 i)``."""
    rng = np.random.default_rng(seed)
    amps = {
        name: rng.normal(level * (1 + 0.01 * i), np.sqrt(level) * 0.9, (40, 12)).astype(np.float32)
        for i, name in enumerate(names)
    }
    return isr.assemble(amps).astype(np.float64)


@pytest.mark.parametrize("names", [isr.AMP_NAMES, HALF])
def test_measure_flat_measures_each_amp_of_the_layout(names: tuple[str, ...]) -> None:
    image = _frame(names)
    assert image.shape == (40 * len(names) // 8, 8 * 12)
    stats = darkflat.measure_flat(image, amp_names=names)
    measured = {stats[f"AMP_NAME_{i}"]: stats[f"AMP_MEDIAN_{i}"] for i in range(len(names))}
    assert list(measured) == list(names)
    assert f"AMP_NAME_{len(names)}" not in stats
    for i, name in enumerate(names):
        assert measured[name] == pytest.approx(15000.0 * (1 + 0.01 * i), rel=2e-3), name


def test_flat_detector_stats_of_a_half_ccd_has_its_eight_amps() -> None:
    stats = darkflat.flat_detector_stats(_frame(HALF), amp_names=HALF)
    assert tuple(stats["AMP"]) == HALF and tuple(stats["VERIFY"]["AMP"]) == HALF
    assert stats["AMP"]["C17"]["MEAN"] == pytest.approx(15000.0 * 1.07, rel=2e-3)
    table = darkflat.flat_results_table(stats, "LSSTCam", 1, WAVEFRONT, "r_57", 0.0)
    assert list(table["amplifier"]) == list(HALF)
    # A wrong layout is refused rather than measured as 16 amps of half height.
    with pytest.raises(ValueError, match="not 2 x 8 amplifiers"):
        darkflat.measure_flat(_frame(HALF)[:-1], amp_names=isr.AMP_NAMES)


def test_flat_scales_and_combine_per_detector_layout() -> None:
    stats = {
        (1, E2V): darkflat.measure_flat(_frame(isr.AMP_NAMES, 15000.0), amp_names=isr.AMP_NAMES),
        (1, WAVEFRONT): darkflat.measure_flat(_frame(HALF, 12000.0), amp_names=HALF),
        (2, E2V): darkflat.measure_flat(_frame(isr.AMP_NAMES, 30000.0, seed=4), amp_names=isr.AMP_NAMES),
        (2, WAVEFRONT): darkflat.measure_flat(_frame(HALF, 24000.0, seed=4), amp_names=HALF),
    }
    task = CpFlatNormalizeTask()
    scales = task.run(list(stats.values()), list(stats)).outputScales
    assert tuple(scales["expScale"][WAVEFRONT]) == HALF
    assert tuple(scales["expScale"][E2V]) == isr.AMP_NAMES
    wavefront = CpFlatCombineTask.exposure_scales(scales, WAVEFRONT)
    assert wavefront == CpFlatCombineTask.exposure_scales(scales, E2V)
    assert wavefront[2] / wavefront[1] == pytest.approx(2.0, rel=1e-2)


def test_verify_flat_exposure_names_lsstcam_detectors() -> None:
    good = darkflat.flat_detector_stats(_frame(isr.AMP_NAMES), amp_names=isr.AMP_NAMES)
    bad_frame = _frame(HALF)
    bad_frame[:, :12] *= 1.5  # one amp far off: the detector SCATTER test fails
    bad = darkflat.flat_detector_stats(bad_frame, amp_names=HALF)
    assert bad["SUCCESS"] is False
    merged = VerifyFlatExpTask().run([good, bad], [E2V, WAVEFRONT], instrument="LSSTCam").outputStats
    assert merged["R22_S11"] == {"SUCCESS": True}
    assert merged["R00W_SW0"]["SUCCESS"] is False and "SCATTER" in merged["R00W_SW0"]["FAILURES"]
