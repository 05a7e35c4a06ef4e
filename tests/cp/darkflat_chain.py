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

"""Bias → dark → flat chain by direct task calls (no butler), for fast tests.

Each step calls the PipelineTasks' ``run`` exactly as the pipelines wire
them, on frames made in memory by the simulated camera.
"""

from __future__ import annotations

import dataclasses

from lsst.ts.calibscripts.sim.cp import calib_tasks as ct
from lsst.ts.calibscripts.sim.cp import tasks as bt
from lsst.ts.calibscripts.sim.data import frames
from lsst.ts.calibscripts.sim.data.options import DataOptions

DAY_OBS = 20261125


@dataclasses.dataclass
class Frames:
    """Image infos of one chain: biases, darks and flats."""

    biases: list
    darks: list
    flats: list


def make_frames(
    n_bias: int = 5,
    n_dark: int = 4,
    n_flat: int = 4,
    dark_times: tuple[float, ...] = (30.0,),
    flat_time: float = 5.0,
    detectors: tuple[int, ...] = (3, 4),
    physical_filter: str = "r_03",
) -> Frames:
    seq = iter(range(1, 1000))

    def infos(n: int, image_type: str, times: tuple[float, ...]) -> list:
        return [
            frames.make_image_info(
                DAY_OBS,
                next(seq),
                detectors=detectors,
                image_type=image_type,
                exp_time=times[i % len(times)],
                physical_filter=physical_filter,
            )
            for i in range(n)
        ]

    return Frames(
        biases=infos(n_bias, "BIAS", (0.0,)),
        darks=infos(n_dark, "DARK", dark_times),
        flats=infos(n_flat, "FLAT", (flat_time,)),
    )


class Chain:
    """Raws on demand (cached) and the chain's steps."""

    def __init__(self, chain_frames: Frames, options: DataOptions | None = None) -> None:
        self.frames = chain_frames
        self.options = options or DataOptions()
        self._raws: dict = {}

    def raw(self, image, detector: int):
        key = (image.obs_id, detector)
        if key not in self._raws:
            self._raws[key] = frames.make_raw(image, detector, self.options)
        return self._raws[key]

    def bias(self, detector: int):
        isr = bt.CpBiasIsrTask(config=bt.CpBiasIsrConfig())
        processed = [
            isr.run(self.raw(im, detector), im.exposure_id, detector).outputExposure
            for im in self.frames.biases
        ]
        combine = bt.CpBiasCombineTask(config=bt.CpBiasCombineConfig())
        return combine.run(processed, [im.exposure_id for im in self.frames.biases]).outputData

    @staticmethod
    def _isr(do_dark: bool = False, do_flat: bool = False) -> ct.CalibIsrTask:
        config = ct.CalibIsrConfig()
        config.doBias, config.doDark, config.doFlat = True, do_dark, do_flat
        return ct.CalibIsrTask(config=config)

    def dark(self, detector: int, bias):
        isr = self._isr()
        cpdark = ct.CpDarkTask(config=ct.CpDarkConfig())
        processed = [
            cpdark.run(
                isr.run(self.raw(im, detector), im.exposure_id, detector, bias=bias).outputExposure
            ).outputExp
            for im in self.frames.darks
        ]
        combine = ct.CpDarkCombineTask(config=ct.CpDarkCombineConfig())
        return combine.run(processed, [im.exposure_id for im in self.frames.darks]).outputData

    def verify_dark(self, masters: dict) -> dict:
        """verifyDarkStats over ``masters`` {detector: (bias, dark)}."""
        isr = self._isr(do_dark=True)
        config = bt.VerifyBiasDetConfig()
        config.stageName = "DARK"
        det_task = ct.VerifyDarkDetTask(config=config)
        exp_stats, exp_ids = [], []
        for im in self.frames.darks:
            stats, dets = [], []
            for det, (bias, dark) in masters.items():
                residual = isr.run(
                    self.raw(im, det), im.exposure_id, det, bias=bias, dark=dark
                ).outputExposure
                stats.append(det_task.run(residual, "LSSTComCam", im.exposure_id, det).outputStats)
                dets.append(det)
            exp_stats.append(
                bt.VerifyBiasExpTask(config=bt.VerifyBiasExpConfig()).run(stats, dets).outputStats
            )
            exp_ids.append(im.exposure_id)
        return bt.VerifyBiasRunTask(config=bt.VerifyBiasRunConfig()).run(exp_stats, exp_ids).outputStats

    def flats(self, masters: dict) -> tuple[dict, dict]:
        """Master flats {detector: flat} and the normalisation scales, for {detector: (bias, dark)}."""
        isr = self._isr(do_dark=True)
        measure = ct.CpFlatMeasureTask(config=ct.CpFlatMeasureConfig())
        processed: dict = {}
        stats, keys = [], []
        for im in self.frames.flats:
            for det, (bias, dark) in masters.items():
                exp = isr.run(self.raw(im, det), im.exposure_id, det, bias=bias, dark=dark).outputExposure
                processed.setdefault(det, []).append(exp)
                stats.append(measure.run(exp).outputStats)
                keys.append((im.exposure_id, det))
        scales = ct.CpFlatNormalizeTask(config=ct.CpFlatNormalizeConfig()).run(stats, keys).outputScales
        combine = ct.CpFlatCombineTask(config=ct.CpFlatCombineConfig())
        ids = [im.exposure_id for im in self.frames.flats]
        flats = {
            det: combine.run(exps, ids, ct.CpFlatCombineTask.exposure_scales(scales, det)).outputData
            for det, exps in processed.items()
        }
        return flats, scales

    def verify_flat(self, masters: dict, flats: dict, **exp_config) -> dict:
        """verifyFlatStats over ``masters`` {detector: (bias, dark)} and ``flats`` {detector: flat}."""
        isr = self._isr(do_dark=True, do_flat=True)
        det_task = ct.VerifyFlatDetTask(config=ct.VerifyFlatDetConfig())
        exp_config_obj = ct.VerifyFlatExpConfig()
        for key, value in exp_config.items():
            setattr(exp_config_obj, key, value)
        exp_stats, exp_ids = [], []
        self.flat_exposure_stats = {}
        for im in self.frames.flats:
            stats, dets = [], []
            for det, (bias, dark) in masters.items():
                residual = isr.run(
                    self.raw(im, det), im.exposure_id, det, bias=bias, dark=dark, flat=flats[det]
                ).outputExposure
                stats.append(det_task.run(residual, "LSSTComCam", im.exposure_id, det, "r_03").outputStats)
                dets.append(det)
            merged = ct.VerifyFlatExpTask(config=exp_config_obj).run(stats, dets).outputStats
            self.flat_exposure_stats[im.exposure_id] = merged
            exp_stats.append(merged)
            exp_ids.append(im.exposure_id)
        return ct.VerifyFlatRunTask(config=ct.VerifyFlatRunConfig()).run(exp_stats, exp_ids).outputStats
