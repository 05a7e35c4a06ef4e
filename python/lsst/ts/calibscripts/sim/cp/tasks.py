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

"""cpBias and verifyBias stand-ins as pipe_base PipelineTasks.

Task labels, dataset type names and dimensions are those of the upstream
LSSTComCam pipelines; the storage class of images is the simulation's
``SimExposure`` (`astropy.io.fits.HDUList`):

=================  ======================  ==========================  ===================================
label              class                   inputs                      output (dimensions)
=================  ======================  ==========================  ===================================
``cpBiasIsr``      `CpBiasIsrTask`         ``raw``                     ``cpBiasIsrExp`` (inst, exp, det)
``cpBiasCombine``  `CpBiasCombineTask`     ``cpBiasIsrExp`` (all)      ``bias`` (inst, det), calibration
``verifyBiasIsr``  `VerifyBiasIsrTask`     ``raw``, ``bias`` (prereq)  ``verifyBiasIsrExp`` (inst, exp, det)
``verifyBiasDet``  `VerifyBiasDetTask`     ``verifyBiasIsrExp``        ``verifyBiasDetStats`` (inst, exp, det)
``verifyBiasExp``  `VerifyBiasExpTask`     ``verifyBiasDetStats``      ``verifyBiasExpStats`` (inst, exp)
``verifyBias``     `VerifyBiasRunTask`     ``verifyBiasExpStats``      ``verifyBiasStats`` (inst)
=================  ======================  ==========================  ===================================

The three verify merges also write the ``ArrowAstropy`` tables
``verifyBiasDetResults`` / ``verifyBiasExpResults`` / ``verifyBiasResults``.

Image files follow the afw ``ExposureF`` convention that readers rely on:
HDU 0 holds the metadata header, HDU 1 (``IMAGE``) the float32 pixels,
HDU 2 (``MASK``) the int32 mask with ``MP_BAD = 0`` and ``MP_CR = 3``
(tile-compressed, lossless).

Gains and nominal read noise (the PTC of the real pipeline) come from the
simulated camera model, `lsst.ts.calibscripts.sim.data.camera_model`.
"""

from __future__ import annotations

__all__ = [
    "CpBiasCombineConfig",
    "CpBiasCombineConnections",
    "CpBiasCombineTask",
    "CpBiasIsrConfig",
    "CpBiasIsrConnections",
    "CpBiasIsrTask",
    "VerifyBiasDetConfig",
    "VerifyBiasDetConnections",
    "VerifyBiasDetTask",
    "VerifyBiasExpConfig",
    "VerifyBiasExpConnections",
    "VerifyBiasExpTask",
    "VerifyBiasIsrConfig",
    "VerifyBiasIsrConnections",
    "VerifyBiasIsrTask",
    "VerifyBiasRunConfig",
    "VerifyBiasRunConnections",
    "VerifyBiasRunTask",
    "make_exposure",
]

import datetime
import os
import tempfile
import typing

import astropy.time
import lsst.pex.config as pexConfig
import lsst.pipe.base as pipeBase
import lsst.pipe.base.connectionTypes as cT
import numpy as np
from astropy.io import fits

from ...cameras import profile
from ..data.camera_model import camera_detector_model
from . import combine, isr, verify

SIM_EXPOSURE = "SimExposure"
BAD_BIT = 1
CR_BIT = 1 << 3
PERCENTILES = (0, 5, 16, 50, 84, 95, 100)


def _hierarch(key: str) -> str:
    """Header key usable for any length (FITS HIERARCH when needed)."""
    return key if len(key) <= 8 and " " not in key else f"HIERARCH {key}"


def make_exposure(
    image: np.ndarray,
    metadata: typing.Mapping[str, typing.Any],
    bad: np.ndarray | None = None,
    cr: np.ndarray | None = None,
) -> fits.HDUList:
    """Build an ExposureF-like HDUList.

    Parameters
    ----------
    image : `numpy.ndarray`
        Pixels (stored float32).
    metadata : `~collections.abc.Mapping`
        Header cards for HDU 0 (long keys become HIERARCH).
    bad : `numpy.ndarray`, optional
        Boolean BAD mask.
    cr : `numpy.ndarray`, optional
        Boolean CR (cosmic-ray) mask.

    Returns
    -------
    exposure : `astropy.io.fits.HDUList`
        ``[PRIMARY, IMAGE, MASK]``.
    """
    primary = fits.PrimaryHDU()
    for key, value in metadata.items():
        primary.header[_hierarch(key)] = value
    image_hdu = fits.ImageHDU(np.asarray(image, dtype=np.float32), name="IMAGE")
    mask = np.zeros(image.shape, dtype=np.int32)
    if bad is not None:
        mask[bad] |= BAD_BIT
    if cr is not None:
        mask[cr] |= CR_BIT
    # Lossless tile compression, as LSST writes masks: an all-clear int32 mask
    # would otherwise double the file size. Rice over the whole mask as one
    # tile writes and reads in a fraction of the time of GZIP_2 per row.
    mask_hdu = fits.CompImageHDU(mask, name="MASK", compression_type="RICE_1", tile_shape=mask.shape)
    mask_hdu.header["MP_BAD"] = 0
    mask_hdu.header["MP_CR"] = 3
    return fits.HDUList([primary, image_hdu, mask_hdu])


def _copy_raw_header(raw: fits.HDUList) -> dict[str, typing.Any]:
    """Cards of the raw primary header worth carrying forward."""
    keep = {}
    for card in raw[0].header.cards:
        if card.keyword in (
            "SIMPLE",
            "BITPIX",
            "NAXIS",
            "EXTEND",
            "COMMENT",
            "HISTORY",
            "",
        ) or card.keyword.startswith("NAXIS"):
            continue
        keep[card.keyword] = card.value
    return keep


def _bias_isr(
    raw: fits.HDUList, exposure_id: int, detector: int, config: pexConfig.Config, instrument: str
) -> tuple[isr.IsrResult, dict]:
    """Run the bias ISR and return the result plus the output metadata.

    The gains and read noise are the camera model's of ``instrument``'s
    detector; the amplifiers are those of the raw (16, or 8 on a half CCD).
    """
    model = camera_detector_model(profile(instrument), detector)
    result = isr.isr_bias_frame(
        raw, model.gains, exposure_id, dither=config.doDither, skip=config.overscanSkip
    )
    metadata = _copy_raw_header(raw)
    metadata["LSST ISR UNITS"] = "electron"
    metadata["BUNIT"] = "electron"
    for name in isr.layout_amp_names(result.gains):
        metadata[f"LSST ISR OVERSCAN RESIDUAL SERIAL STDEV {name}"] = float(result.read_noise_adu[name])
        metadata[f"LSST ISR GAIN {name}"] = float(result.gains[name])
        metadata[f"LSST ISR READNOISE {name}"] = float(model.read_noises[name])
    return result, metadata


class CpBiasIsrConnections(
    pipeBase.PipelineTaskConnections, dimensions=("instrument", "exposure", "detector")
):
    ccdExposure = cT.Input(
        name="raw",
        doc="Raw bias frame.",
        storageClass=SIM_EXPOSURE,
        dimensions=("instrument", "exposure", "detector"),
    )
    outputExposure = cT.Output(
        name="cpBiasIsrExp",
        doc="Overscan-corrected, gain-applied, trimmed and assembled bias (e-).",
        storageClass=SIM_EXPOSURE,
        dimensions=("instrument", "exposure", "detector"),
    )


class CpBiasIsrConfig(pipeBase.PipelineTaskConfig, pipelineConnections=CpBiasIsrConnections):
    doDither = pexConfig.Field(dtype=bool, default=True, doc="Add the symmetric integer dither.")
    overscanSkip = pexConfig.Field(dtype=int, default=3, doc="Overscan pixels skipped at each end.")
    doBias = pexConfig.Field(dtype=bool, default=False, doc="Subtract a master bias (never for cpBias).")


class CpBiasIsrTask(pipeBase.PipelineTask):
    """Bias ISR (``IsrTaskLSST`` configured for calibrations)."""

    ConfigClass = CpBiasIsrConfig
    _DefaultName = "cpBiasIsr"

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
            instrument=str(data_id["instrument"]),
        )
        butlerQC.put(outputs, outputRefs)

    def run(
        self, ccdExposure: fits.HDUList, exposureId: int, detector: int, instrument: str = "LSSTComCam"
    ) -> pipeBase.Struct:
        """Process one raw bias.

        Parameters
        ----------
        ccdExposure : `astropy.io.fits.HDUList`
            Raw frame.
        exposureId : `int`
            Exposure id (dither seed, header).
        detector : `int`
            Detector id (gains).
        instrument : `str`, optional
            Butler instrument (camera model of the detector).

        Returns
        -------
        result : `lsst.pipe.base.Struct`
            ``outputExposure``: the processed exposure (`astropy.io.fits.HDUList`).
        """
        result, metadata = _bias_isr(ccdExposure, exposureId, detector, self.config, instrument)
        metadata["EXPID"] = int(exposureId)
        return pipeBase.Struct(outputExposure=make_exposure(result.image, metadata))


class CpBiasCombineConnections(pipeBase.PipelineTaskConnections, dimensions=("instrument", "detector")):
    inputExpHandles = cT.Input(
        name="cpBiasIsrExp",
        doc="Processed bias frames to combine.",
        storageClass=SIM_EXPOSURE,
        dimensions=("instrument", "exposure", "detector"),
        multiple=True,
        deferLoad=True,
    )
    outputData = cT.Output(
        name="bias",
        doc="Master bias.",
        storageClass=SIM_EXPOSURE,
        dimensions=("instrument", "detector"),
        isCalibration=True,
    )


class CpBiasCombineConfig(pipeBase.PipelineTaskConfig, pipelineConnections=CpBiasCombineConnections):
    calibrationType = pexConfig.Field(dtype=str, default="bias", doc="Calibration type (OBSTYPE).")
    combine = pexConfig.ChoiceField(
        dtype=str, default="MEANCLIP", allowed={"MEANCLIP": "afw sigma-clipped mean"}, doc="Statistic."
    )
    clip = pexConfig.Field(dtype=float, default=3.0, doc="Clipping half-width (sigma).")
    nIter = pexConfig.Field(dtype=int, default=3, doc="Clipping passes.")
    mask = pexConfig.ListField(dtype=str, default=["DETECTED", "INTRP"], doc="Mask planes to ignore.")
    exposureScaling = pexConfig.ChoiceField(
        dtype=str, default="Unity", allowed={"Unity": "no scaling"}, doc="Input scaling."
    )
    subregionSize = pexConfig.ListField(dtype=int, default=[10000, 200], doc="Stacking subregion (x, y).")
    distributionPercentiles = pexConfig.ListField(
        dtype=float, default=list(PERCENTILES), doc="Percentiles written to the header per amplifier."
    )


class CpBiasCombineTask(pipeBase.PipelineTask):
    """MEANCLIP combination of processed biases (``CalibCombineTask``)."""

    ConfigClass = CpBiasCombineConfig
    _DefaultName = "cpBiasCombine"

    def runQuantum(
        self,
        butlerQC: pipeBase.QuantumContext,
        inputRefs: pipeBase.InputQuantizedConnection,
        outputRefs: pipeBase.OutputQuantizedConnection,
    ) -> None:
        inputs = butlerQC.get(inputRefs)
        exposure_ids = [int(ref.dataId["exposure"]) for ref in inputRefs.inputExpHandles]
        outputs = self.run(inputs["inputExpHandles"], exposure_ids)
        butlerQC.put(outputs, outputRefs)

    def run(
        self,
        inputExpHandles: typing.Sequence[typing.Any],
        exposureIds: typing.Sequence[int],
        scales: typing.Mapping[int, float] | None = None,
    ) -> pipeBase.Struct:
        """Combine processed frames into a master calibration.

        Inputs are loaded one at a time and spilled to a temporary file, then
        stacked in blocks of at most ``subregionSize[1]`` rows, cut to
        `combine.DEFAULT_MAX_BLOCK_BYTES`, so memory does not grow with the
        number of inputs.

        Parameters
        ----------
        inputExpHandles : `~collections.abc.Sequence`
            Deferred handles (``.get()`` returns an HDUList) or HDULists.
        exposureIds : `~collections.abc.Sequence` [`int`]
            Exposure ids of the inputs, same order.
        scales : `~collections.abc.Mapping` [`int`, `float`], optional
            Scale of each input by exposure id, for ``exposureScaling:
            InputList`` (flats); unused for biases.

        Returns
        -------
        result : `lsst.pipe.base.Struct`
            ``outputData``: the master (`astropy.io.fits.HDUList`).
        """
        if not inputExpHandles:
            raise RuntimeError("No input exposures to combine")
        order = np.argsort(exposureIds, kind="stable")
        headers: list[fits.Header] = []
        used_scales: list[float] = []
        shape: tuple[int, int] | None = None
        with tempfile.TemporaryDirectory(prefix="cpBiasCombine") as tmp:
            sources = []
            for k, i in enumerate(order):
                handle = inputExpHandles[i]
                exposure = handle if isinstance(handle, fits.HDUList) else handle.get()
                exposure_id = int(exposureIds[i])
                image, scale = self._scaled_input(
                    exposure, exposure_id, None if scales is None else scales.get(exposure_id)
                )
                used_scales.append(scale)
                if shape is None:
                    shape = image.shape
                elif image.shape != shape:
                    raise RuntimeError(f"Input {exposureIds[i]} has shape {image.shape}, expected {shape}")
                headers.append(exposure[0].header)
                sources.append(combine.spill_frame(image, os.path.join(tmp, f"{k}.f32")))
                del exposure, image
            assert shape is not None
            result = combine.combine_frames(
                sources,
                shape,
                clip=self.config.clip,
                n_iter=self.config.nIter,
                chunk_rows=self.config.subregionSize[1],
            )
        metadata = self._metadata(headers, [int(exposureIds[i]) for i in order], result, used_scales)
        return pipeBase.Struct(outputData=make_exposure(result.image, metadata, bad=result.bad))

    def _scaled_input(
        self, exposure: fits.HDUList, exposure_id: int, scale: float | None
    ) -> tuple[np.ndarray, float]:
        """Pixels of one input as stacked (NaN = excluded) and the scale they were divided by.

        ``exposureScaling: Unity``: the pixels as they are, scale 1.
        """
        return exposure["IMAGE"].data, 1.0

    def _output_times(self, metadata: dict[str, typing.Any]) -> None:
        """Set the master's exposure (and dark) time: 0 for a bias."""
        metadata["EXPTIME"] = 0.0

    def _metadata(
        self,
        headers: list[fits.Header],
        exposure_ids: list[int],
        result: combine.CombineResult,
        scales: typing.Sequence[float],
    ) -> dict[str, typing.Any]:
        """Header of the master: merged input headers plus calibration keys."""
        metadata: dict[str, typing.Any] = {}
        for card in headers[0].cards:
            if card.keyword not in ("SIMPLE", "BITPIX", "NAXIS", "EXTEND", "EXPID", "COMMENT", "HISTORY", ""):
                metadata[card.keyword] = card.value
        now = datetime.datetime.now(datetime.timezone.utc)
        metadata["OBSTYPE"] = self.config.calibrationType
        metadata["CALIB_CREATION_DATETIME"] = now.strftime("%Y-%m-%dT%H:%M:%S")
        metadata["CALIB_CREATION_DATE"] = now.strftime("%Y-%m-%d")
        metadata["CALIB_CREATION_TIME"] = now.strftime("%H:%M:%S UTC")
        self._output_times(metadata)
        begins, ends = [], []
        for i, (header, exposure_id, scale) in enumerate(zip(headers, exposure_ids, scales)):
            metadata[f"CPP_INPUT_{i}"] = exposure_id
            metadata[f"CPP_INPUT_DATE_{i}"] = header.get("DATE-BEG", header.get("DATE-OBS", ""))
            metadata[f"CPP_INPUT_EXPT_{i}"] = float(header.get("EXPTIME", 0.0))
            metadata[f"CPP_INPUT_SCALE_{i}"] = float(scale)
            if "DATE-BEG" in header:
                begins.append(astropy.time.Time(header["DATE-BEG"], scale="tai"))
            if "DATE-END" in header:
                ends.append(astropy.time.Time(header["DATE-END"], scale="tai"))
        if begins and ends:
            begin, end = min(begins), max(ends)
            metadata["DATE-BEG"] = begin.isot
            metadata["DATE-END"] = end.isot
            metadata["MJD-BEG"] = float(begin.mjd)
            metadata["MJD-END"] = float(end.mjd)
            metadata["DATE-AVG"] = (begin + (end - begin) / 2).isot
        names = isr.amp_names_in(headers[0])
        amps = isr.disassemble(result.image, names)
        bad_amps = isr.disassemble(result.bad, names)
        for name in names:
            values = np.percentile(amps[name], self.config.distributionPercentiles)
            for pct, value in zip(self.config.distributionPercentiles, values):
                metadata[
                    f"LSST CALIB {self.config.calibrationType.upper()} {name} DISTRIBUTION {pct:g}-PCT"
                ] = float(value)
            metadata[f"LSST CALIB {self.config.calibrationType.upper()} {name} BADPIX-NUM"] = int(
                bad_amps[name].sum()
            )
        self._set_units(metadata)
        return metadata

    def _set_units(self, metadata: dict[str, typing.Any]) -> None:
        """Set the master's pixel units: electrons for a bias."""
        metadata["LSST ISR UNITS"] = "electron"
        metadata["BUNIT"] = "electron"


class VerifyBiasIsrConnections(
    pipeBase.PipelineTaskConnections, dimensions=("instrument", "exposure", "detector")
):
    ccdExposure = cT.Input(
        name="raw",
        doc="Raw bias frame to verify.",
        storageClass=SIM_EXPOSURE,
        dimensions=("instrument", "exposure", "detector"),
    )
    bias = cT.PrerequisiteInput(
        name="bias",
        doc="Master bias to subtract.",
        storageClass=SIM_EXPOSURE,
        dimensions=("instrument", "detector"),
        isCalibration=True,
    )
    outputExposure = cT.Output(
        name="verifyBiasIsrExp",
        doc="Bias-subtracted residual (e-).",
        storageClass=SIM_EXPOSURE,
        dimensions=("instrument", "exposure", "detector"),
    )


class VerifyBiasIsrConfig(pipeBase.PipelineTaskConfig, pipelineConnections=VerifyBiasIsrConnections):
    doDither = pexConfig.Field(dtype=bool, default=True, doc="Add the symmetric integer dither.")
    overscanSkip = pexConfig.Field(dtype=int, default=3, doc="Overscan pixels skipped at each end.")
    doBias = pexConfig.Field(dtype=bool, default=True, doc="Subtract the master bias.")


class VerifyBiasIsrTask(pipeBase.PipelineTask):
    """Verification ISR: bias ISR, then master-bias subtraction."""

    ConfigClass = VerifyBiasIsrConfig
    _DefaultName = "verifyBiasIsr"

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
            inputs["bias"],
            int(data_id["exposure"]),
            int(data_id["detector"]),
            instrument=str(data_id["instrument"]),
        )
        butlerQC.put(outputs, outputRefs)

    def run(
        self,
        ccdExposure: fits.HDUList,
        bias: fits.HDUList,
        exposureId: int,
        detector: int,
        instrument: str = "LSSTComCam",
    ) -> pipeBase.Struct:
        """Make the verification residual of one raw.

        Parameters
        ----------
        ccdExposure : `astropy.io.fits.HDUList`
            Raw frame.
        bias : `astropy.io.fits.HDUList`
            Master bias (ExposureF layout).
        exposureId, detector : `int`
            Data ID values.
        instrument : `str`, optional
            Butler instrument (camera model of the detector).

        Returns
        -------
        result : `lsst.pipe.base.Struct`
            ``outputExposure``: residual exposure (`astropy.io.fits.HDUList`).
        """
        result, metadata = _bias_isr(ccdExposure, exposureId, detector, self.config, instrument)
        image = result.image
        bad = np.zeros(image.shape, dtype=bool)
        if self.config.doBias:
            master = bias["IMAGE"].data
            if master.shape != image.shape:
                raise RuntimeError(
                    f"Master bias shape {master.shape} differs from the exposure's {image.shape}"
                )
            image = image - master
            if "MASK" in bias:
                bad |= (bias["MASK"].data & BAD_BIT) != 0
            for card in bias[0].header.cards:
                if card.keyword.startswith("LSST CALIB BIAS"):
                    metadata[card.keyword] = card.value
        metadata["EXPID"] = int(exposureId)
        return pipeBase.Struct(outputExposure=make_exposure(image, metadata, bad=bad))


class VerifyBiasDetConnections(
    pipeBase.PipelineTaskConnections, dimensions=("instrument", "exposure", "detector")
):
    inputExp = cT.Input(
        name="verifyBiasIsrExp",
        doc="Residual exposure to measure.",
        storageClass=SIM_EXPOSURE,
        dimensions=("instrument", "exposure", "detector"),
    )
    outputStats = cT.Output(
        name="verifyBiasDetStats",
        doc="Per-amplifier statistics and verdicts.",
        storageClass="StructuredDataDict",
        dimensions=("instrument", "exposure", "detector"),
    )
    outputResults = cT.Output(
        name="verifyBiasDetResults",
        doc="Per-amplifier statistics and verdicts as a table.",
        storageClass="ArrowAstropy",
        dimensions=("instrument", "exposure", "detector"),
    )


class VerifyBiasDetConfig(pipeBase.PipelineTaskConfig, pipelineConnections=VerifyBiasDetConnections):
    stageName = pexConfig.Field(
        dtype=str,
        default="BIAS",
        doc="Stage name: the calibration whose distribution keys are read and the results column prefix.",
    )
    numSigmaClip = pexConfig.Field(dtype=float, default=5.0, doc="NOISE clipping (sigma).")
    clipMaxIter = pexConfig.Field(dtype=int, default=3, doc="NOISE clipping passes.")


class VerifyBiasDetTask(pipeBase.PipelineTask):
    """Per-detector bias verification (``CpVerifyBiasTask``)."""

    ConfigClass = VerifyBiasDetConfig
    _DefaultName = "verifyBiasDet"

    def runQuantum(
        self,
        butlerQC: pipeBase.QuantumContext,
        inputRefs: pipeBase.InputQuantizedConnection,
        outputRefs: pipeBase.OutputQuantizedConnection,
    ) -> None:
        inputs = butlerQC.get(inputRefs)
        data_id = inputRefs.inputExp.dataId
        outputs = self.run(
            inputs["inputExp"], str(data_id["instrument"]), int(data_id["exposure"]), int(data_id["detector"])
        )
        butlerQC.put(outputs, outputRefs)

    def run(
        self, inputExp: fits.HDUList, instrument: str = "LSSTComCam", exposure: int = 0, detector: int = 0
    ) -> pipeBase.Struct:
        """Measure and judge one residual exposure.

        Parameters
        ----------
        inputExp : `astropy.io.fits.HDUList`
            Residual exposure from ``verifyBiasIsr``.

        instrument : `str`
            Instrument name (results table).
        exposure, detector : `int`
            Data ID values (results table).

        Returns
        -------
        result : `lsst.pipe.base.Struct`
            ``outputStats``: the ``verifyBiasDetStats`` dictionary;
            ``outputResults``: the ``verifyBiasDetResults`` table.
        """
        header = inputExp[0].header
        image = np.array(inputExp["IMAGE"].data, dtype=np.float32)
        if "MASK" in inputExp:
            image[(inputExp["MASK"].data & BAD_BIT) != 0] = np.nan
        names = isr.amp_names_in(header)
        read_noise = {a: float(header[f"LSST ISR READNOISE {a}"]) for a in names}
        gains = {a: float(header[f"LSST ISR GAIN {a}"]) for a in names}
        rn_adu = {a: float(header[f"LSST ISR OVERSCAN RESIDUAL SERIAL STDEV {a}"]) for a in names}
        isr_stats: dict[str, typing.Any] = {}
        if "DATE-BEG" in header:
            isr_stats["MJD"] = float(astropy.time.Time(header["DATE-BEG"], scale="tai").mjd)
        calibdist: dict[str, dict[str, float]] = {}
        for name in names:
            for pct in PERCENTILES:
                key = f"LSST CALIB {self.config.stageName} {name} DISTRIBUTION {pct:g}-PCT"
                if key in header:
                    calibdist.setdefault(name, {})[f"{pct:g}"] = float(header[key])
        if calibdist:
            isr_stats["CALIBDIST"] = calibdist
        stats = verify.bias_detector_stats(image, read_noise, gains, rn_adu, isr=isr_stats)
        table = verify.detector_results_table(
            stats,
            instrument,
            exposure,
            detector,
            isr_stats.get("MJD", float("nan")),
            stage=self.config.stageName,
        )
        return pipeBase.Struct(outputStats=stats, outputResults=table)


class VerifyBiasExpConnections(pipeBase.PipelineTaskConnections, dimensions=("instrument", "exposure")):
    inputStats = cT.Input(
        name="verifyBiasDetStats",
        doc="Detector statistics of one exposure.",
        storageClass="StructuredDataDict",
        dimensions=("instrument", "exposure", "detector"),
        multiple=True,
    )
    inputResults = cT.Input(
        name="verifyBiasDetResults",
        doc="Detector results tables of one exposure.",
        storageClass="ArrowAstropy",
        dimensions=("instrument", "exposure", "detector"),
        multiple=True,
    )
    outputStats = cT.Output(
        name="verifyBiasExpStats",
        doc="Exposure verdict with per-detector failures.",
        storageClass="StructuredDataDict",
        dimensions=("instrument", "exposure"),
    )
    outputResults = cT.Output(
        name="verifyBiasExpResults",
        doc="Detector results tables of the exposure, stacked.",
        storageClass="ArrowAstropy",
        dimensions=("instrument", "exposure"),
    )


class VerifyBiasExpConfig(pipeBase.PipelineTaskConfig, pipelineConnections=VerifyBiasExpConnections):
    mergeDimension = pexConfig.Field(dtype=str, default="detector", doc="Dimension merged over.")


class _VerifyMergeTask(pipeBase.PipelineTask):
    """Shared quantum handling of the merge tasks.

    Reads every input statistics dictionary and results table, labels each
    with its value of ``config.mergeDimension`` (the dimension merged over),
    orders the tables by it, and calls ``run(inputStats, keys, inputResults)``.
    """

    names_detectors = False
    """True if ``run`` takes the ``instrument`` (to name the detectors it merges)."""

    def runQuantum(
        self,
        butlerQC: pipeBase.QuantumContext,
        inputRefs: pipeBase.InputQuantizedConnection,
        outputRefs: pipeBase.OutputQuantizedConnection,
    ) -> None:
        dimension = self.config.mergeDimension
        inputs = butlerQC.get(inputRefs)
        keys = [int(ref.dataId[dimension]) for ref in inputRefs.inputStats]
        result_keys = [int(ref.dataId[dimension]) for ref in inputRefs.inputResults]
        results = [table for _, table in sorted(zip(result_keys, inputs["inputResults"]), key=lambda i: i[0])]
        extra = {}
        if self.names_detectors:
            extra["instrument"] = str(outputRefs.outputStats.dataId["instrument"])
        butlerQC.put(self.run(inputs["inputStats"], keys, results, **extra), outputRefs)


class VerifyBiasExpTask(_VerifyMergeTask):
    """Merge detector results of one exposure (``CpVerifyExpMergeTask``)."""

    names_detectors = True

    ConfigClass = VerifyBiasExpConfig
    _DefaultName = "verifyBiasExp"

    def run(
        self,
        inputStats: typing.Sequence[dict],
        detectors: typing.Sequence[int],
        inputResults: typing.Sequence[typing.Any] = (),
        instrument: str = "LSSTComCam",
    ) -> pipeBase.Struct:
        """Merge.

        Parameters
        ----------
        inputStats : `~collections.abc.Sequence` [`dict`]
            ``verifyBiasDetStats`` dictionaries.
        detectors : `~collections.abc.Sequence` [`int`]
            Their detector ids (named as ``instrument`` names them).
        inputResults : `~collections.abc.Sequence` [`astropy.table.Table`]
            ``verifyBiasDetResults`` tables, in output order.

        Returns
        -------
        result : `lsst.pipe.base.Struct`
            ``outputStats``: ``verifyBiasExpStats``; ``outputResults``: the
            stacked tables (`None` without input tables).
        """
        ordered = sorted(zip(detectors, inputStats), key=lambda item: item[0])
        camera = profile(instrument)
        merged = verify.merge_exposure({camera.detector_name(det): stats for det, stats in ordered})
        table = verify.stack_results(inputResults) if inputResults else None
        return pipeBase.Struct(outputStats=merged, outputResults=table)


class VerifyBiasRunConnections(pipeBase.PipelineTaskConnections, dimensions=("instrument",)):
    inputStats = cT.Input(
        name="verifyBiasExpStats",
        doc="Exposure statistics of the run.",
        storageClass="StructuredDataDict",
        dimensions=("instrument", "exposure"),
        multiple=True,
    )
    inputResults = cT.Input(
        name="verifyBiasExpResults",
        doc="Exposure results tables of the run.",
        storageClass="ArrowAstropy",
        dimensions=("instrument", "exposure"),
        multiple=True,
    )
    outputStats = cT.Output(
        name="verifyBiasStats",
        doc="Run verdict with per-exposure failures.",
        storageClass="StructuredDataDict",
        dimensions=("instrument",),
    )
    outputResults = cT.Output(
        name="verifyBiasResults",
        doc="Results tables of the run, stacked.",
        storageClass="ArrowAstropy",
        dimensions=("instrument",),
    )


class VerifyBiasRunConfig(pipeBase.PipelineTaskConfig, pipelineConnections=VerifyBiasRunConnections):
    mergeDimension = pexConfig.Field(dtype=str, default="exposure", doc="Dimension merged over.")


class VerifyBiasRunTask(_VerifyMergeTask):
    """Merge exposure results of a run (``CpVerifyRunMergeTask``)."""

    ConfigClass = VerifyBiasRunConfig
    _DefaultName = "verifyBias"

    def run(
        self,
        inputStats: typing.Sequence[dict],
        exposures: typing.Sequence[int],
        inputResults: typing.Sequence[typing.Any] = (),
    ) -> pipeBase.Struct:
        """Merge.

        Parameters
        ----------
        inputStats : `~collections.abc.Sequence` [`dict`]
            ``verifyBiasExpStats`` dictionaries.
        exposures : `~collections.abc.Sequence` [`int`]
            Their exposure ids.
        inputResults : `~collections.abc.Sequence` [`astropy.table.Table`]
            ``verifyBiasExpResults`` tables, in output order.

        Returns
        -------
        result : `lsst.pipe.base.Struct`
            ``outputStats``: ``verifyBiasStats``; ``outputResults``: the
            stacked tables (`None` without input tables).
        """
        ordered = sorted(zip(exposures, inputStats), key=lambda item: item[0])
        table = verify.stack_results(inputResults) if inputResults else None
        return pipeBase.Struct(outputStats=verify.merge_run(dict(ordered)), outputResults=table)
