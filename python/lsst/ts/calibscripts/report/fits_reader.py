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

"""Read the pixels of a master bias from its file, given the butler URI.

The reader understands both what cpBias writes at the observatory (an afw
``ExposureF`` FITS file: an empty primary HDU, then ``IMAGE``, ``MASK`` and
``VARIANCE`` image extensions, possibly tile-compressed, then archive
tables) and the simulated master (``SimExposure``: pixels in HDU 1 named
``IMAGE``). It needs only astropy and lsst.resources, so the report can be
drawn wherever the repository's files can be read.
"""

from __future__ import annotations

__all__ = ["MasterBiasImage", "bin_image", "header_read_noise", "read_master_bias"]

import dataclasses
import math
import typing
import warnings

import numpy as np

if typing.TYPE_CHECKING:
    import astropy.io.fits

#: Mask planes whose pixels are not drawn (set to NaN) in the pictures.
HIDDEN_MASK_PLANES = ("BAD", "NO_DATA")


@dataclasses.dataclass
class MasterBiasImage:
    """The pixels and header of one master bias file.

    Attributes
    ----------
    uri : `str`
        Where the pixels were read from.
    image : `numpy.ndarray`
        The 2-D image, float64, as stored (row = y).
    hidden : `numpy.ndarray` or `None`
        Boolean array, True where the ``MASK`` extension flags a pixel
        ``BAD`` or ``NO_DATA``; `None` without a usable mask.
    header : `astropy.io.fits.Header`
        The primary header updated with the image extension's header
        (where cpBias writes its ``LSST ...`` metadata).
    extensions : `list` [`str`]
        Names of the file's HDUs, for the record.
    """

    uri: str
    image: np.ndarray
    hidden: np.ndarray | None
    header: "astropy.io.fits.Header"
    extensions: list[str]

    def display_image(self) -> np.ndarray:
        """Return the image with hidden pixels set to NaN."""
        if self.hidden is None:
            return self.image
        shown = self.image.copy()
        shown[self.hidden] = np.nan
        return shown


def _find_image_hdu(hdus: "astropy.io.fits.HDUList") -> int:
    """Return the index of the HDU that holds the image pixels."""
    for index, hdu in enumerate(hdus):
        if hdu.name.upper() == "IMAGE" and hdu.data is not None and np.ndim(hdu.data) == 2:
            return index
    for index, hdu in enumerate(hdus):
        if hdu.is_image and hdu.data is not None and np.ndim(hdu.data) == 2:
            return index
    raise ValueError("no 2-D image extension (expected an HDU named IMAGE)")


def _hidden_pixels(hdus: "astropy.io.fits.HDUList", shape: tuple[int, ...]) -> np.ndarray | None:
    """Return the pixels flagged BAD or NO_DATA in a ``MASK`` extension."""
    try:
        mask_hdu = hdus["MASK"]
    except KeyError:
        return None
    if mask_hdu.data is None or mask_hdu.data.shape != shape:
        return None
    bits = 0
    for plane in HIDDEN_MASK_PLANES:
        bit = mask_hdu.header.get(f"MP_{plane}")
        if bit is not None:
            bits |= 1 << int(bit)
    if bits == 0:
        return None
    return (np.asarray(mask_hdu.data).astype(np.int64) & bits) != 0


def read_master_bias(uri: typing.Any) -> MasterBiasImage:
    """Read a master bias file.

    Parameters
    ----------
    uri : `lsst.resources.ResourcePathExpression`
        The file, e.g. the result of ``butler.getURI(ref)``; local paths,
        ``file://`` and any scheme lsst.resources can fetch work.

    Returns
    -------
    master : `MasterBiasImage`
        The pixels, hidden-pixel mask and merged header.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If the file is not FITS or holds no 2-D image.
    """
    from astropy.io import fits
    from lsst.resources import ResourcePath

    path = ResourcePath(uri)
    if not path.exists():
        raise FileNotFoundError(f"master bias file {path} does not exist")
    with path.as_local() as local:
        try:
            hdus = fits.open(local.ospath, memmap=False)
        except OSError as e:
            raise ValueError(f"{path} is not a readable FITS file: {e}") from e
        with hdus:
            try:
                index = _find_image_hdu(hdus)
            except ValueError as e:
                raise ValueError(f"{path}: {e}") from None
            image = np.asarray(hdus[index].data, dtype=np.float64)
            header = hdus[0].header.copy()
            if index != 0:
                structural = (
                    "XTENSION",
                    "BITPIX",
                    "NAXIS",
                    "NAXIS1",
                    "NAXIS2",
                    "PCOUNT",
                    "GCOUNT",
                    "EXTNAME",
                )
                with warnings.catch_warnings():
                    # Long keywords (LSST ...) are HIERARCH cards; astropy warns when they are copied.
                    warnings.simplefilter("ignore", fits.verify.VerifyWarning)
                    for card in hdus[index].header.cards:
                        if card.keyword in structural or card.keyword in ("", "COMMENT", "HISTORY"):
                            continue
                        header.set(card.keyword, card.value, card.comment)
            hidden = _hidden_pixels(hdus, image.shape)
            names = [hdu.name for hdu in hdus]
    return MasterBiasImage(uri=str(path), image=image, hidden=hidden, header=header, extensions=names)


def header_read_noise(header: "astropy.io.fits.Header") -> dict[str, float]:
    """Return the per-amp nominal read noise found in a calibration header.

    cpBias copies the ISR metadata of its inputs into the master's header;
    ``LSST ISR READNOISE <amp>`` is the read noise (e-) ISR used for each
    amplifier. Returns an empty dict if there is none.
    """
    values: dict[str, float] = {}
    prefix = "LSST ISR READNOISE "
    for card in header.cards:
        keyword = card.keyword
        if keyword.startswith("HIERARCH "):
            keyword = keyword[len("HIERARCH ") :]
        if keyword.startswith(prefix):
            try:
                value = float(card.value)
            except (TypeError, ValueError):
                continue
            if math.isfinite(value):
                values[keyword[len(prefix) :].strip()] = value
    return values


def bin_image(image: np.ndarray, max_size: int = 256) -> tuple[np.ndarray, int]:
    """Bin an image by an integer factor so that it is at most ``max_size`` wide.

    NaN pixels are ignored; a bin with no finite pixel is NaN.

    Returns
    -------
    binned : `numpy.ndarray`
        The binned image (mean of each block).
    factor : `int`
        The binning factor used (1 if no binning was needed).
    """
    if image.ndim != 2:
        raise ValueError(f"expected a 2-D image, got shape {image.shape}")
    factor = max(1, math.ceil(max(image.shape) / max_size))
    if factor == 1:
        return image.astype(np.float64), 1
    ny, nx = image.shape[0] // factor, image.shape[1] // factor
    if ny == 0 or nx == 0:
        return image.astype(np.float64), 1
    blocks = image[: ny * factor, : nx * factor].reshape(ny, factor, nx, factor).astype(np.float64)
    finite = np.isfinite(blocks)
    counts = finite.sum(axis=(1, 3))
    sums = np.where(finite, blocks, 0.0).sum(axis=(1, 3))
    with np.errstate(invalid="ignore", divide="ignore"):
        binned = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return binned, factor
