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

"""Butler formatter for simulated raw frames and master calibrations.

Public API
----------
``STORAGE_CLASS``
    ``"SimExposure"``: the storage class of simulated ``raw``, ``bias`` and
    intermediate images. Its Python type is `astropy.io.fits.HDUList`. The
    real names ``Exposure``/``ExposureF`` cannot be reused because daf_butler
    already defines them (with afw components).
``FORMATTER_NAME``
    Fully-qualified name of `HduListFitsFormatter`, as stored in the
    repository configuration and in every file's datastore record.
`HduListFitsFormatter`
    A `lsst.daf.butler.FormatterV2` that reads and writes FITS files with
    astropy. Every process that reads or writes ``SimExposure`` datasets
    (including ``pipetask`` subprocesses) must be able to import this module.
    As obs_base's FITS formatters, it writes the butler's provenance of a
    dataset put by a pipeline task into the primary header as ``LSST
    BUTLER ...`` keys (``LSST BUTLER INPUT <n> RUN``, ``... DATASETTYPE``,
    ``... ID``; ``LSST BUTLER QUANTUM``): which input datasets, from which
    RUN, the task read (`read_provenance`).
``PROVENANCE_PREFIX``
    ``"LSST BUTLER"``.
`read_provenance`
    The input datasets (id, RUN, dataset type) recorded in a header.
"""

from __future__ import annotations

__all__ = ["FORMATTER_NAME", "PROVENANCE_PREFIX", "STORAGE_CLASS", "HduListFitsFormatter", "read_provenance"]

import io
import re
import typing

from astropy.io import fits
from lsst.daf.butler import DatasetProvenance, FormatterV2

if typing.TYPE_CHECKING:
    from lsst.resources import ResourcePath

STORAGE_CLASS = "SimExposure"
FORMATTER_NAME = "lsst.ts.calibscripts.sim.data.formatter.HduListFitsFormatter"
PROVENANCE_PREFIX = "LSST BUTLER"


class HduListFitsFormatter(FormatterV2):
    """Read and write an `astropy.io.fits.HDUList` as a FITS file.

    Reading returns the file's HDUs fully loaded in memory; the file handle
    is closed when `read_from_local_file` returns.
    """

    default_extension = ".fits"
    supported_extensions = frozenset({".fits", ".fits.gz", ".fits.fz", ".fit"})
    unsupported_parameters = None
    can_read_from_local_file = True

    def read_from_local_file(
        self, path: str, component: str | None = None, expected_size: int = -1
    ) -> typing.Any:
        # memmap=False reads every HDU's data into memory of its own, so
        # the list stays whole after the file is closed (no copy needed).
        with fits.open(path, memmap=False, lazy_load_hdus=False) as hdulist:
            for hdu in hdulist:
                hdu.data
        return hdulist

    def add_provenance(
        self, in_memory_dataset: typing.Any, *, provenance: DatasetProvenance | None = None
    ) -> typing.Any:
        """Write the dataset's provenance into its primary header (``LSST BUTLER ...`` keys).

        Keys copied from an input's header (a task copies its input's
        header) are removed first, so the keys are this dataset's own.
        """
        if provenance is None or not isinstance(in_memory_dataset, fits.HDUList):
            return in_memory_dataset
        header = in_memory_dataset[0].header
        for key in [k for k in header if k.startswith(PROVENANCE_PREFIX)]:
            del header[key]
        flat = provenance.to_flat_dict(self.dataset_ref, prefix=PROVENANCE_PREFIX, sep=" ", simple_types=True)
        for key, value in flat.items():
            header[f"HIERARCH {key}"] = value
        return in_memory_dataset

    def to_bytes(self, in_memory_dataset: typing.Any) -> bytes:
        buffer = io.BytesIO()
        _as_hdulist(in_memory_dataset).writeto(buffer, output_verify="silentfix")
        return buffer.getvalue()

    def write_local_file(self, in_memory_dataset: typing.Any, uri: ResourcePath) -> None:
        # Write straight to the file: a full-size image is ~75 MB, so avoid
        # holding a second copy in memory as bytes.
        _as_hdulist(in_memory_dataset).writeto(uri.ospath, output_verify="silentfix", overwrite=True)


def _as_hdulist(dataset: typing.Any) -> fits.HDUList:
    """Check that a dataset is an HDUList and return it."""
    if not isinstance(dataset, fits.HDUList):
        raise TypeError(
            f"{STORAGE_CLASS} datasets must be astropy.io.fits.HDUList; got {type(dataset).__name__}"
        )
    return dataset


def read_provenance(header: fits.Header) -> list[dict[str, str]]:
    """The inputs `HduListFitsFormatter.add_provenance` recorded in ``header``.

    Returns
    -------
    inputs : `list` [`dict` [`str`, `str`]]
        One mapping per input dataset the task read, in the recorded order,
        with its ``id``, ``run`` and ``datasettype``; empty for a dataset
        written without provenance (e.g. an ingested raw).
    """
    inputs: dict[int, dict[str, str]] = {}
    for key, value in header.items():
        match = re.fullmatch(rf"{PROVENANCE_PREFIX} INPUT (\d+) (\w+)", key)
        if match:
            inputs.setdefault(int(match[1]), {})[match[2].lower()] = str(value)
    return [inputs[i] for i in sorted(inputs)]
