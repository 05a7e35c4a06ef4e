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

"""Minimal synthetic LSSTComCam bias raws for tests and benchmarks.

The simulated observatory's frames come from `lsst.ts.calibscripts.sim.data`;
this module makes the same file layout with only what the bias algorithms
need (fixed 2-D pattern per amplifier, row-correlated pedestal jitter, read
noise on every pixel, optional cosmic rays), so the cp stand-ins can be
tested and benchmarked on their own.
"""

from __future__ import annotations

__all__ = ["fixed_pattern", "make_raw"]

import numpy as np
from astropy.io import fits

from ..data.camera_model import AMP_NAMES, AmpGeometry, detector_model, detector_name


def fixed_pattern(detector: int, amp_index: int, geom: AmpGeometry, sigma: float = 2.0) -> np.ndarray:
    """The fixed 2-D bias pattern (e-) of one amplifier's data region.

    Parameters
    ----------
    detector : `int`
        Detector id.
    amp_index : `int`
        Amplifier index in HDU order (0..15).
    geom : `AmpGeometry`
        Raw geometry.
    sigma : `float`
        Pattern amplitude (e-).

    Returns
    -------
    pattern : `numpy.ndarray`
        (data_height, data_width) array, identical for every exposure.
    """
    rng = np.random.default_rng([7, detector, amp_index])
    return rng.normal(0.0, sigma, (geom.data_height, geom.data_width))


def make_raw(
    detector: int,
    exposure_id: int,
    geom: AmpGeometry,
    seed: int = 0,
    read_noise_factor: float = 1.0,
    pattern_sigma: float = 2.0,
    cosmic_rays: int = 0,
    data_offset_adu: float = 0.0,
) -> fits.HDUList:
    """Make one raw bias frame.

    Parameters
    ----------
    detector : `int`
        Detector id (gains and nominal read noise from the camera model).
    exposure_id : `int`
        Exposure id (seeds the frame noise with ``seed``).
    geom : `AmpGeometry`
        Raw amplifier geometry.
    seed : `int`
        Extra seed.
    read_noise_factor : `float`
        True read noise = factor x nominal.
    pattern_sigma : `float`
        Fixed-pattern amplitude (e-).
    cosmic_rays : `int`
        Cosmic-ray tracks per amplifier.
    data_offset_adu : `float`
        Added to the data region only (not the overscans).

    Returns
    -------
    raw : `astropy.io.fits.HDUList`
        Primary header + 16 int32 ``SegmentXY`` extensions.
    """
    model = detector_model(detector)
    rng = np.random.default_rng([seed, exposure_id, detector])
    primary = fits.PrimaryHDU()
    primary.header["IMGTYPE"] = "BIAS"
    primary.header["EXPTIME"] = 0.0
    primary.header["DETSIZE"] = geom.detsize
    primary.header["CCDSLOT"] = detector_name(detector).split("_")[1]
    primary.header["RAFTBAY"] = "R22"
    hdus: list[fits.hdu.base.ExtensionHDU | fits.PrimaryHDU] = [primary]
    nrows, ncols = geom.raw_shape
    row_jitter = rng.normal(0.0, 1.0, nrows)
    for index, name in enumerate(AMP_NAMES):
        amp = model.amp(name)
        electrons = rng.normal(0.0, amp.read_noise * read_noise_factor, (nrows, ncols))
        data = geom.data_slice
        electrons[data] += fixed_pattern(detector, index, geom, pattern_sigma)
        for _ in range(cosmic_rays):
            y = int(rng.integers(0, geom.data_height - 4))
            x = int(rng.integers(geom.prescan, geom.prescan + geom.data_width - 4))
            length = int(rng.integers(1, 4))
            electrons[y : y + length, x : x + 2] += rng.uniform(500.0, 3000.0)
        adu = electrons / amp.gain + 20000.0 + 100.0 * index + row_jitter[:, None]
        adu[data] += data_offset_adu
        hdu = fits.ImageHDU(np.rint(adu).astype(np.int32))
        hdu.header["EXTNAME"] = f"Segment{name[1:]}"
        hdu.header["DATASEC"] = geom.datasec
        hdu.header["BIASSEC"] = geom.biassec
        hdu.header["DETSEC"] = geom.detsec(name)
        hdus.append(hdu)
    return fits.HDUList(hdus)
