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

"""cpDark, cpFlat, verifyDark and verifyFlat stand-ins as pipe_base PipelineTasks.

Labels, dataset type names and dimensions follow the upstream LSSTComCam
pipelines (``cpDark.yaml``, ``cpFlat.yaml``, ``verifyDark.yaml``,
``verifyFlat.yaml``); images are ``SimExposure`` HDULists in the ExposureF
layout of `~.tasks.make_exposure`. The numpy algorithms are in
`~.darkflat` (dark/flat) and `~.verify` (bias statistics, reused by
verifyDark).

Tasks by pipeline (label: class, inputs → output):

``cpDark.yaml``
    ``cpDarkIsr``: `CalibIsrTask`, ``raw`` + ``bias`` → ``cpDarkIsrExp``;
    ``cpDark``: `CpDarkTask` → ``cpDarkProc`` (CR mask);
    ``cpDarkCombine``: `CpDarkCombineTask`, all ``cpDarkProc`` → ``dark``
    (instrument, detector), calibration.
``cpFlat.yaml``
    ``cpFlatIsr``: `CalibIsrTask`, ``raw`` + ``bias`` + ``dark`` →
    ``cpFlatIsrExp``; ``cpFlatMeasure``: `CpFlatMeasureTask` →
    ``cpFlatStatistics``; ``cpFlatNormalize``: `CpFlatNormalizeTask`, all
    statistics of a filter → ``cpFlatNormalizeScales`` (instrument,
    physical_filter); ``cpFlatCombine``: `CpFlatCombineTask` → ``flat``
    (instrument, detector, physical_filter), calibration.
``verifyDark.yaml``
    ``verifyDarkIsr``: `CalibIsrTask`, ``raw`` + ``bias`` + ``dark`` →
    ``verifyDarkIsrExp``; ``verifyDarkDet``: `VerifyDarkDetTask` →
    ``verifyDarkDetStats``; ``verifyDarkExp``: `~.tasks.VerifyBiasExpTask` →
    ``verifyDarkExpStats``; ``verifyDark``: `~.tasks.VerifyBiasRunTask` →
    ``verifyDarkStats`` (instrument).
``verifyFlat.yaml``
    ``verifyFlatIsr``: `CalibIsrTask`, ``raw`` + ``bias`` + ``dark`` +
    ``flat`` → ``verifyFlatIsrExp``; ``verifyFlatDet``: `VerifyFlatDetTask`
    → ``verifyFlatDetStats``; ``verifyFlatExp``: `VerifyFlatExpTask` →
    ``verifyFlatExpStats`` (instrument, exposure, physical_filter);
    ``verifyFlat``: `VerifyFlatRunTask` → ``verifyFlatStats`` (instrument,
    physical_filter).

The verify merges also write the ``ArrowAstropy`` ``...Results`` tables.
A master dark is in e⁻/s with ``EXPTIME = DARKTIME = 1.0``; ISR subtracts
``dark × (frame DARKTIME / dark DARKTIME)``, and divides by the flat as is
(``flatScalingType USER``, scale 1).
"""

from __future__ import annotations

__all__ = [
    "CalibIsrConfig",
    "CalibIsrConnections",
    "CalibIsrTask",
    "CpDarkCombineConfig",
    "CpDarkCombineConnections",
    "CpDarkCombineTask",
    "CpDarkConfig",
    "CpDarkConnections",
    "CpDarkTask",
    "CpFlatCombineConfig",
    "CpFlatCombineConnections",
    "CpFlatCombineTask",
    "CpFlatMeasureConfig",
    "CpFlatMeasureConnections",
    "CpFlatMeasureTask",
    "CpFlatNormalizeConfig",
    "CpFlatNormalizeConnections",
    "CpFlatNormalizeTask",
    "VerifyDarkDetTask",
    "VerifyFlatDetConfig",
    "VerifyFlatDetConnections",
    "VerifyFlatDetTask",
    "VerifyFlatExpConfig",
    "VerifyFlatExpConnections",
    "VerifyFlatExpTask",
    "VerifyFlatRunConfig",
    "VerifyFlatRunConnections",
    "VerifyFlatRunTask",
]

import typing

import astropy.time
import lsst.pex.config as pexConfig
import lsst.pipe.base as pipeBase
import lsst.pipe.base.connectionTypes as cT
import numpy as np
from astropy.io import fits

from ...cameras import profile
from ..data.camera_model import AMP_NAMES
from . import darkflat, isr
from .tasks import (
    BAD_BIT,
    CR_BIT,
    PERCENTILES,
    SIM_EXPOSURE,
    CpBiasCombineConfig,
    CpBiasCombineTask,
    VerifyBiasDetTask,
    _bias_isr,
    _VerifyMergeTask,
    make_exposure,
)

_EXP_DET = ("instrument", "exposure", "detector")


def _master_pixels(master: fits.HDUList, shape: tuple[int, int], what: str) -> tuple[np.ndarray, np.ndarray]:
    """Image and BAD mask of a master calibration, checked against the frame's shape."""
    image = master["IMAGE"].data
    if image.shape != shape:
        raise RuntimeError(f"Master {what} shape {image.shape} differs from the exposure's {shape}")
    bad = (master["MASK"].data & BAD_BIT) != 0 if "MASK" in master else np.zeros(shape, dtype=bool)
    return image, bad


def _copy_calib_distribution(master: fits.HDUList, stage: str, metadata: dict[str, typing.Any]) -> None:
    """Copy the master's ``LSST CALIB <STAGE> ...`` header keys (ISR statistics)."""
    prefix = f"LSST CALIB {stage}"
    for card in master[0].header.cards:
        if card.keyword.startswith(prefix):
            metadata[card.keyword] = card.value


class CalibIsrConnections(pipeBase.PipelineTaskConnections, dimensions=_EXP_DET):
    ccdExposure = cT.Input(name="raw", doc="Raw frame.", storageClass=SIM_EXPOSURE, dimensions=_EXP_DET)
    bias = cT.PrerequisiteInput(
        name="bias",
        doc="Master bias to subtract.",
        storageClass=SIM_EXPOSURE,
        dimensions=("instrument", "detector"),
        isCalibration=True,
    )
    dark = cT.PrerequisiteInput(
        name="dark",
        doc="Master dark (e-/s) to subtract, scaled by the frame's dark time.",
        storageClass=SIM_EXPOSURE,
        dimensions=("instrument", "detector"),
        isCalibration=True,
    )
    flat = cT.PrerequisiteInput(
        name="flat",
        doc="Master flat of the frame's physical filter to divide by.",
        storageClass=SIM_EXPOSURE,
        dimensions=("instrument", "detector", "physical_filter"),
        isCalibration=True,
    )
    outputExposure = cT.Output(
        name="postISRCCD", doc="Processed frame (e-).", storageClass=SIM_EXPOSURE, dimensions=_EXP_DET
    )

    def __init__(self, *, config: "CalibIsrConfig | None" = None) -> None:
        super().__init__(config=config)
        assert config is not None
        if not config.doBias:
            del self.bias
        if not config.doDark:
            del self.dark
        if not config.doFlat:
            del self.flat


class CalibIsrConfig(pipeBase.PipelineTaskConfig, pipelineConnections=CalibIsrConnections):
    doDither = pexConfig.Field(dtype=bool, default=True, doc="Add the symmetric integer dither.")
    overscanSkip = pexConfig.Field(dtype=int, default=3, doc="Overscan pixels skipped at each end.")
    doBias = pexConfig.Field(dtype=bool, default=True, doc="Subtract the master bias.")
    doDark = pexConfig.Field(dtype=bool, default=False, doc="Subtract the master dark × dark time.")
    doFlat = pexConfig.Field(dtype=bool, default=False, doc="Divide by the master flat.")


class CalibIsrTask(pipeBase.PipelineTask):
    """ISR of darks and flats (``IsrTaskLSST`` configured for calibrations).

    Bias ISR (overscans, gains, assembly; `~.isr.isr_bias_frame`), then
    optionally ``- bias``, ``- dark × DARKTIME / dark DARKTIME`` and
    ``/ flat``. BAD pixels of the masters are carried into the output mask.
    """

    ConfigClass = CalibIsrConfig
    _DefaultName = "calibIsr"

    def runQuantum(
        self,
        butlerQC: pipeBase.QuantumContext,
        inputRefs: pipeBase.InputQuantizedConnection,
        outputRefs: pipeBase.OutputQuantizedConnection,
    ) -> None:
        inputs = butlerQC.get(inputRefs)
        data_id = inputRefs.ccdExposure.dataId
        outputs = self.run(
            inputs["ccdExposure"],
            int(data_id["exposure"]),
            int(data_id["detector"]),
            bias=inputs.get("bias"),
            dark=inputs.get("dark"),
            flat=inputs.get("flat"),
            instrument=str(data_id["instrument"]),
        )
        butlerQC.put(outputs, outputRefs)

    def run(
        self,
        ccdExposure: fits.HDUList,
        exposureId: int,
        detector: int,
        bias: fits.HDUList | None = None,
        dark: fits.HDUList | None = None,
        flat: fits.HDUList | None = None,
        instrument: str = "LSSTComCam",
    ) -> pipeBase.Struct:
        """Process one raw.

        Parameters
        ----------
        ccdExposure : `astropy.io.fits.HDUList`
            Raw frame.
        exposureId, detector : `int`
            Data ID values (dither seed, gains).
        bias, dark, flat : `astropy.io.fits.HDUList`, optional
            Masters; each is required when its ``do*`` option is set.
        instrument : `str`, optional
            Butler instrument (camera model of the detector).

        Returns
        -------
        result : `lsst.pipe.base.Struct`
            ``outputExposure``: the processed exposure (`astropy.io.fits.HDUList`).
        """
        result, metadata = _bias_isr(ccdExposure, exposureId, detector, self.config, instrument)
        image = result.image.astype(np.float32)
        bad = np.zeros(image.shape, dtype=bool)
        for flag, master, what in (
            (self.config.doBias, bias, "bias"),
            (self.config.doDark, dark, "dark"),
            (self.config.doFlat, flat, "flat"),
        ):
            if not flag:
                continue
            if master is None:
                raise RuntimeError(f"do{what.capitalize()} is set but no master {what} was given")
            pixels, master_bad = _master_pixels(master, image.shape, what)
            bad |= master_bad
            if what == "bias":
                image = image - pixels
            elif what == "dark":
                frame_time = float(ccdExposure[0].header["DARKTIME"])
                dark_time = float(master[0].header.get("DARKTIME", 1.0))
                image = image - pixels * np.float32(frame_time / dark_time)
                metadata["LSST ISR DARK SCALE"] = frame_time / dark_time
            else:
                with np.errstate(divide="ignore", invalid="ignore"):
                    image = image / pixels
                bad |= ~(pixels > 0)
            _copy_calib_distribution(master, what.upper(), metadata)
        metadata["EXPID"] = int(exposureId)
        return pipeBase.Struct(outputExposure=make_exposure(image, metadata, bad=bad))


class CpDarkConnections(pipeBase.PipelineTaskConnections, dimensions=_EXP_DET):
    inputExp = cT.Input(
        name="cpDarkIsrExp", doc="Bias-subtracted dark.", storageClass=SIM_EXPOSURE, dimensions=_EXP_DET
    )
    outputExp = cT.Output(
        name="cpDarkProc", doc="Dark with its CR mask.", storageClass=SIM_EXPOSURE, dimensions=_EXP_DET
    )


class CpDarkConfig(pipeBase.PipelineTaskConfig, pipelineConnections=CpDarkConnections):
    crGrow = pexConfig.Field(dtype=int, default=2, doc="Pixels to grow each cosmic-ray detection by.")


class CpDarkTask(pipeBase.PipelineTask):
    """Mark cosmic rays on a processed dark (``cpDark``); pixels are unchanged.

    The BAD plane is cleared, as cp_pipe does, so only CR pixels are left
    out of the combination.
    """

    ConfigClass = CpDarkConfig
    _DefaultName = "cpDark"

    def run(self, inputExp: fits.HDUList) -> pipeBase.Struct:
        """Find cosmic rays.

        Parameters
        ----------
        inputExp : `astropy.io.fits.HDUList`
            Processed dark (e⁻).

        Returns
        -------
        result : `lsst.pipe.base.Struct`
            ``outputExp``: the same pixels with the CR mask.
        """
        image = np.array(inputExp["IMAGE"].data, dtype=np.float32)
        cr = darkflat.dark_cosmic_ray_mask(image, grow=self.config.crGrow)
        metadata = {
            k: v for k, v in inputExp[0].header.items() if k not in ("SIMPLE", "BITPIX", "NAXIS", "EXTEND")
        }
        metadata["LSST CPDARK CR PIXELS"] = int(cr.sum())
        return pipeBase.Struct(outputExp=make_exposure(image, metadata, cr=cr))


class CpDarkCombineConnections(pipeBase.PipelineTaskConnections, dimensions=("instrument", "detector")):
    inputExpHandles = cT.Input(
        name="cpDarkProc",
        doc="Processed darks to combine.",
        storageClass=SIM_EXPOSURE,
        dimensions=_EXP_DET,
        multiple=True,
        deferLoad=True,
    )
    outputData = cT.Output(
        name="dark",
        doc="Master dark (e-/s).",
        storageClass=SIM_EXPOSURE,
        dimensions=("instrument", "detector"),
        isCalibration=True,
    )


class CpDarkCombineConfig(CpBiasCombineConfig, pipelineConnections=CpDarkCombineConnections):
    exposureScaling = pexConfig.ChoiceField(
        dtype=str,
        default="DarkTime",
        allowed={"DarkTime": "divide each input by its DARKTIME"},
        doc="Input scaling.",
    )

    def setDefaults(self) -> None:
        super().setDefaults()
        self.calibrationType = "dark"
        self.mask = ["SAT", "DETECTED", "INTRP", "CR"]


class CpDarkCombineTask(CpBiasCombineTask):
    """MEANCLIP of darks divided by their dark time, CR pixels excluded (e⁻/s)."""

    ConfigClass = CpDarkCombineConfig
    _DefaultName = "cpDarkCombine"

    def _scaled_input(
        self, exposure: fits.HDUList, exposure_id: int, scale: float | None
    ) -> tuple[np.ndarray, float]:
        dark_time = float(exposure[0].header["DARKTIME"])
        if not dark_time > 0:
            raise RuntimeError(f"Exposure {exposure_id} has DARKTIME {dark_time}; cannot scale a dark by it")
        image = np.array(exposure["IMAGE"].data, dtype=np.float32) / np.float32(dark_time)
        if "CR" in self.config.mask and "MASK" in exposure:
            image[(exposure["MASK"].data & CR_BIT) != 0] = np.nan
        return image, dark_time

    def _output_times(self, metadata: dict[str, typing.Any]) -> None:
        metadata["EXPTIME"] = 1.0
        metadata["DARKTIME"] = 1.0

    def _set_units(self, metadata: dict[str, typing.Any]) -> None:
        metadata["LSST ISR UNITS"] = "electron / s"
        metadata["BUNIT"] = "electron / s"


class CpFlatMeasureConnections(pipeBase.PipelineTaskConnections, dimensions=_EXP_DET):
    inputExp = cT.Input(
        name="cpFlatIsrExp", doc="Processed flat.", storageClass=SIM_EXPOSURE, dimensions=_EXP_DET
    )
    outputStats = cT.Output(
        name="cpFlatStatistics",
        doc="Clipped level of the detector and its amps.",
        storageClass="StructuredDataDict",
        dimensions=_EXP_DET,
    )


class CpFlatMeasureConfig(pipeBase.PipelineTaskConfig, pipelineConnections=CpFlatMeasureConnections):
    clip = pexConfig.Field(dtype=float, default=3.0, doc="Clipping half-width (sigma).")
    nIter = pexConfig.Field(dtype=int, default=3, doc="Clipping passes.")


class CpFlatMeasureTask(pipeBase.PipelineTask):
    """Per (exposure, detector) flat level (``cpFlatMeasure``)."""

    ConfigClass = CpFlatMeasureConfig
    _DefaultName = "cpFlatMeasure"

    def run(self, inputExp: fits.HDUList) -> pipeBase.Struct:
        """Measure one processed flat (BAD pixels excluded).

        Returns
        -------
        result : `lsst.pipe.base.Struct`
            ``outputStats``: `~.darkflat.measure_flat` dictionary.
        """
        image = np.array(inputExp["IMAGE"].data, dtype=np.float64)
        if "MASK" in inputExp:
            image[(inputExp["MASK"].data & BAD_BIT) != 0] = np.nan
        names = isr.amp_names_in(inputExp[0].header)
        return pipeBase.Struct(
            outputStats=darkflat.measure_flat(image, self.config.clip, self.config.nIter, amp_names=names)
        )


class CpFlatNormalizeConnections(
    pipeBase.PipelineTaskConnections, dimensions=("instrument", "physical_filter")
):
    inputStats = cT.Input(
        name="cpFlatStatistics",
        doc="Levels of every (exposure, detector) of one filter.",
        storageClass="StructuredDataDict",
        dimensions=_EXP_DET,
        multiple=True,
    )
    outputScales = cT.Output(
        name="cpFlatNormalizeScales",
        doc="Exposure scales E and detector scales G.",
        storageClass="StructuredDataDict",
        dimensions=("instrument", "physical_filter"),
    )


class CpFlatNormalizeConfig(pipeBase.PipelineTaskConfig, pipelineConnections=CpFlatNormalizeConnections):
    numIter = pexConfig.Field(dtype=int, default=10, doc="Iterations of the E/G decomposition.")


class CpFlatNormalizeTask(pipeBase.PipelineTask):
    """Exposure and detector scales of a set of flats (``cpFlatNormalize``)."""

    ConfigClass = CpFlatNormalizeConfig
    _DefaultName = "cpFlatNormalize"

    def runQuantum(
        self,
        butlerQC: pipeBase.QuantumContext,
        inputRefs: pipeBase.InputQuantizedConnection,
        outputRefs: pipeBase.OutputQuantizedConnection,
    ) -> None:
        inputs = butlerQC.get(inputRefs)
        keys = [(int(ref.dataId["exposure"]), int(ref.dataId["detector"])) for ref in inputRefs.inputStats]
        butlerQC.put(self.run(inputs["inputStats"], keys), outputRefs)

    def run(
        self, inputStats: typing.Sequence[typing.Mapping], keys: typing.Sequence[tuple[int, int]]
    ) -> pipeBase.Struct:
        """Decompose the levels.

        Parameters
        ----------
        inputStats : `~collections.abc.Sequence` [`dict`]
            ``cpFlatStatistics`` dictionaries.
        keys : `~collections.abc.Sequence` [`tuple` [`int`, `int`]]
            Their (exposure, detector).

        Returns
        -------
        result : `lsst.pipe.base.Struct`
            ``outputScales``: ``{"expScale": {det: {amp: {exp: E}}},
            "detScale": {det: G}}`` (E the same for every detector and amp).
        """
        exposures = sorted({e for e, _ in keys})
        detectors = sorted({d for _, d in keys})
        levels = np.full((len(exposures), len(detectors)), np.nan)
        counts = np.zeros_like(levels)
        amps: dict[int, tuple[str, ...]] = {}
        for (exp, det), stats in zip(keys, inputStats):
            # Each detector's own amplifiers (8 on a wavefront half CCD), as cpFlatMeasure named them.
            amps[det] = isr.layout_amp_names(v for k, v in stats.items() if k.startswith("AMP_NAME_"))
            i, j = exposures.index(exp), detectors.index(det)
            levels[i, j] = float(stats["DETECTOR_MEDIAN"])
            counts[i, j] = float(stats["DETECTOR_N"])
        e_scale, g_scale = darkflat.normalize_flat_scales(levels, counts, self.config.numIter)
        self.log.info("Exposure scales %s; detector scales %s", np.round(e_scale, 2), np.round(g_scale, 5))
        exp_scales = {exp: float(e) for exp, e in zip(exposures, e_scale)}
        return pipeBase.Struct(
            outputScales={
                "expScale": {det: {amp: dict(exp_scales) for amp in amps[det]} for det in detectors},
                "detScale": {det: float(g) for det, g in zip(detectors, g_scale)},
            }
        )


class CpFlatCombineConnections(
    pipeBase.PipelineTaskConnections, dimensions=("instrument", "detector", "physical_filter")
):
    inputExpHandles = cT.Input(
        name="cpFlatIsrExp",
        doc="Processed flats to combine.",
        storageClass=SIM_EXPOSURE,
        dimensions=_EXP_DET,
        multiple=True,
        deferLoad=True,
    )
    inputScales = cT.Input(
        name="cpFlatNormalizeScales",
        doc="Exposure scales.",
        storageClass="StructuredDataDict",
        dimensions=("instrument", "physical_filter"),
    )
    outputData = cT.Output(
        name="flat",
        doc="Master flat of one filter.",
        storageClass=SIM_EXPOSURE,
        dimensions=("instrument", "detector", "physical_filter"),
        isCalibration=True,
    )


class CpFlatCombineConfig(CpBiasCombineConfig, pipelineConnections=CpFlatCombineConnections):
    exposureScaling = pexConfig.ChoiceField(
        dtype=str,
        default="InputList",
        allowed={"InputList": "divide each input by its exposure scale E"},
        doc="Input scaling.",
    )
    scalingLevel = pexConfig.ChoiceField(
        dtype=str, default="DETECTOR", allowed={"DETECTOR": "one scale per input"}, doc="Scaling level."
    )
    flatSource = pexConfig.Field(dtype=str, default="TWILIGHT", doc="FLATSRC header value.")

    def setDefaults(self) -> None:
        super().setDefaults()
        self.calibrationType = "flat"
        self.mask = ["SAT", "DETECTED", "INTRP"]


class CpFlatCombineTask(CpBiasCombineTask):
    """MEANCLIP of flats each divided by its exposure scale E (``cpFlatCombine``)."""

    ConfigClass = CpFlatCombineConfig
    _DefaultName = "cpFlatCombine"

    def runQuantum(
        self,
        butlerQC: pipeBase.QuantumContext,
        inputRefs: pipeBase.InputQuantizedConnection,
        outputRefs: pipeBase.OutputQuantizedConnection,
    ) -> None:
        inputs = butlerQC.get(inputRefs)
        data_id = outputRefs.outputData.dataId
        exposure_ids = [int(ref.dataId["exposure"]) for ref in inputRefs.inputExpHandles]
        scales = self.exposure_scales(inputs["inputScales"], int(data_id["detector"]))
        outputs = self.run(inputs["inputExpHandles"], exposure_ids, scales)
        outputs.outputData[0].header["FILTER"] = str(data_id["physical_filter"])
        butlerQC.put(outputs, outputRefs)

    @staticmethod
    def exposure_scales(scales: typing.Mapping, detector: int) -> dict[int, float]:
        """E[exposure] of one detector from ``cpFlatNormalizeScales`` (detector level)."""
        per_amp = scales["expScale"][detector]
        first = next(iter(per_amp.values()))
        return {int(exp): float(value) for exp, value in first.items()}

    def _scaled_input(
        self, exposure: fits.HDUList, exposure_id: int, scale: float | None
    ) -> tuple[np.ndarray, float]:
        if scale is None or not scale > 0:
            raise RuntimeError(f"No usable exposure scale for exposure {exposure_id}: {scale!r}")
        return np.asarray(exposure["IMAGE"].data, dtype=np.float32) / np.float32(scale), float(scale)

    def _output_times(self, metadata: dict[str, typing.Any]) -> None:
        metadata["FLATSRC"] = self.config.flatSource

    def _set_units(self, metadata: dict[str, typing.Any]) -> None:
        metadata["LSST ISR UNITS"] = ""
        metadata["BUNIT"] = ""


class VerifyDarkDetTask(VerifyBiasDetTask):
    """Per-detector dark verification (``CpVerifyDarkTask``): the bias statistics and rules.

    Run on ``raw − overscan − bias − dark × DARKTIME`` (``verifyDarkIsr``);
    set ``stageName: DARK`` so the ``DARK_*`` columns and the dark's
    distribution keys are used.
    """

    _DefaultName = "verifyDarkDet"


class VerifyFlatDetConnections(pipeBase.PipelineTaskConnections, dimensions=_EXP_DET):
    inputExp = cT.Input(
        name="verifyFlatIsrExp", doc="Flat-fielded flat.", storageClass=SIM_EXPOSURE, dimensions=_EXP_DET
    )
    outputStats = cT.Output(
        name="verifyFlatDetStats",
        doc="Per-amplifier and detector statistics and verdicts.",
        storageClass="StructuredDataDict",
        dimensions=_EXP_DET,
    )
    outputResults = cT.Output(
        name="verifyFlatDetResults",
        doc="The statistics and verdicts as a table.",
        storageClass="ArrowAstropy",
        dimensions=_EXP_DET,
    )


class VerifyFlatDetConfig(pipeBase.PipelineTaskConfig, pipelineConnections=VerifyFlatDetConnections):
    stageName = pexConfig.Field(dtype=str, default="FLAT", doc="Stage name.")


class VerifyFlatDetTask(pipeBase.PipelineTask):
    """Per-detector flat verification (``CpVerifyFlatTask``)."""

    ConfigClass = VerifyFlatDetConfig
    _DefaultName = "verifyFlatDet"

    def runQuantum(
        self,
        butlerQC: pipeBase.QuantumContext,
        inputRefs: pipeBase.InputQuantizedConnection,
        outputRefs: pipeBase.OutputQuantizedConnection,
    ) -> None:
        inputs = butlerQC.get(inputRefs)
        data_id = inputRefs.inputExp.dataId
        outputs = self.run(
            inputs["inputExp"],
            str(data_id["instrument"]),
            int(data_id["exposure"]),
            int(data_id["detector"]),
            str(data_id["physical_filter"]),
        )
        butlerQC.put(outputs, outputRefs)

    def run(
        self,
        inputExp: fits.HDUList,
        instrument: str = "LSSTComCam",
        exposure: int = 0,
        detector: int = 0,
        physical_filter: str = "",
    ) -> pipeBase.Struct:
        """Measure and judge one flat-fielded frame.

        Returns
        -------
        result : `lsst.pipe.base.Struct`
            ``outputStats``: ``verifyFlatDetStats``; ``outputResults``: the table.
        """
        header = inputExp[0].header
        image = np.array(inputExp["IMAGE"].data, dtype=np.float32)
        if "MASK" in inputExp:
            image[(inputExp["MASK"].data & BAD_BIT) != 0] = np.nan
        isr_stats: dict[str, typing.Any] = {}
        if "DATE-BEG" in header:
            isr_stats["MJD"] = float(astropy.time.Time(header["DATE-BEG"], scale="tai").mjd)
        calibdist: dict[str, dict[str, float]] = {}
        for name in AMP_NAMES:
            for pct in PERCENTILES:
                key = f"LSST CALIB {self.config.stageName} {name} DISTRIBUTION {pct:g}-PCT"
                if key in header:
                    calibdist.setdefault(name, {})[f"{pct:g}"] = float(header[key])
        if calibdist:
            isr_stats["CALIBDIST"] = calibdist
        stats = darkflat.flat_detector_stats(image, isr=isr_stats, amp_names=isr.amp_names_in(header))
        table = darkflat.flat_results_table(
            stats, instrument, exposure, detector, physical_filter, isr_stats.get("MJD", float("nan"))
        )
        return pipeBase.Struct(outputStats=stats, outputResults=table)


class VerifyFlatExpConnections(
    pipeBase.PipelineTaskConnections, dimensions=("instrument", "exposure", "physical_filter")
):
    inputStats = cT.Input(
        name="verifyFlatDetStats",
        doc="Detector statistics of one exposure.",
        storageClass="StructuredDataDict",
        dimensions=_EXP_DET,
        multiple=True,
    )
    inputResults = cT.Input(
        name="verifyFlatDetResults",
        doc="Detector results tables of one exposure.",
        storageClass="ArrowAstropy",
        dimensions=_EXP_DET,
        multiple=True,
    )
    outputStats = cT.Output(
        name="verifyFlatExpStats",
        doc="Exposure verdict, detector failures and the exposure SCATTER test.",
        storageClass="StructuredDataDict",
        dimensions=("instrument", "exposure", "physical_filter"),
    )
    outputResults = cT.Output(
        name="verifyFlatExpResults",
        doc="Detector results tables of the exposure, stacked.",
        storageClass="ArrowAstropy",
        dimensions=("instrument", "exposure", "physical_filter"),
    )


class VerifyFlatExpConfig(pipeBase.PipelineTaskConfig, pipelineConnections=VerifyFlatExpConnections):
    mergeDimension = pexConfig.Field(dtype=str, default="detector", doc="Dimension merged over.")
    scatterRelative = pexConfig.Field(
        dtype=bool,
        default=True,
        doc="Test SCATTER/MEAN <= 0.05 across detectors; False: cp_verify's absolute SCATTER <= 0.05 e-.",
    )


class VerifyFlatExpTask(_VerifyMergeTask):
    """Merge the detectors of one flat exposure (``CpVerifyFlatExpMergeTask``)."""

    names_detectors = True

    ConfigClass = VerifyFlatExpConfig
    _DefaultName = "verifyFlatExp"

    def run(
        self,
        inputStats: typing.Sequence[dict],
        detectors: typing.Sequence[int],
        inputResults: typing.Sequence[typing.Any] = (),
        instrument: str = "LSSTComCam",
    ) -> pipeBase.Struct:
        """Merge (see `~.darkflat.merge_flat_exposure`); detectors named as ``instrument`` names them."""
        from .verify import stack_results

        ordered = sorted(zip(detectors, inputStats), key=lambda item: item[0])
        camera = profile(instrument)
        merged = darkflat.merge_flat_exposure(
            {camera.detector_name(det): stats for det, stats in ordered}, relative=self.config.scatterRelative
        )
        table = stack_results(inputResults) if inputResults else None
        return pipeBase.Struct(outputStats=merged, outputResults=table)


class VerifyFlatRunConnections(
    pipeBase.PipelineTaskConnections, dimensions=("instrument", "physical_filter")
):
    inputStats = cT.Input(
        name="verifyFlatExpStats",
        doc="Exposure statistics of one filter.",
        storageClass="StructuredDataDict",
        dimensions=("instrument", "exposure", "physical_filter"),
        multiple=True,
    )
    inputResults = cT.Input(
        name="verifyFlatExpResults",
        doc="Exposure results tables of one filter.",
        storageClass="ArrowAstropy",
        dimensions=("instrument", "exposure", "physical_filter"),
        multiple=True,
    )
    outputStats = cT.Output(
        name="verifyFlatStats",
        doc="Verdict of the filter's flats with per-exposure failures.",
        storageClass="StructuredDataDict",
        dimensions=("instrument", "physical_filter"),
    )
    outputResults = cT.Output(
        name="verifyFlatResults",
        doc="Results tables, stacked.",
        storageClass="ArrowAstropy",
        dimensions=("instrument", "physical_filter"),
    )


class VerifyFlatRunConfig(pipeBase.PipelineTaskConfig, pipelineConnections=VerifyFlatRunConnections):
    mergeDimension = pexConfig.Field(dtype=str, default="exposure", doc="Dimension merged over.")
    listDetectorFailures = pexConfig.Field(
        dtype=bool,
        default=True,
        doc="Also list detector and amp failures per exposure; False: cp_verify's exposure-level list only.",
    )


class VerifyFlatRunTask(_VerifyMergeTask):
    """Merge the exposures of one filter (``CpVerifyRunMergeByFilterTask``)."""

    ConfigClass = VerifyFlatRunConfig
    _DefaultName = "verifyFlat"

    def run(
        self,
        inputStats: typing.Sequence[dict],
        exposures: typing.Sequence[int],
        inputResults: typing.Sequence[typing.Any] = (),
    ) -> pipeBase.Struct:
        """Merge (see `~.darkflat.merge_flat_run`)."""
        from .verify import stack_results

        ordered = sorted(zip(exposures, inputStats), key=lambda item: item[0])
        merged = darkflat.merge_flat_run(
            dict(ordered), list_detector_failures=self.config.listDetectorFailures
        )
        table = stack_results(inputResults) if inputResults else None
        return pipeBase.Struct(outputStats=merged, outputResults=table)
