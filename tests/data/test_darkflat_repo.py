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

"""Tests of the repository for darks and flats: filters, records, certification."""

import astropy.time
import numpy as np
import pytest
from astropy.io import fits
from lsst.daf.butler.registry import ConflictingDefinitionError
from lsst.ts.calibscripts.sim.data import dataplane, frames, repo
from lsst.ts.calibscripts.sim.data.options import DataOptions

T0 = astropy.time.Time("2026-11-26T00:00:00", scale="tai")
T1 = astropy.time.Time("2027-11-26T00:00:00", scale="tai")


def _master(value: float) -> fits.HDUList:
    return fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.full((4, 8), value, np.float32), name="IMAGE")])


def test_flat_raws_ingest_with_their_filter(tmp_path) -> None:
    path = repo.create_or_open_repo(tmp_path / "repo")
    images = [
        frames.make_image_info(20261125, 1, detectors=(0,), image_type="DARK", exp_time=30.0),
        frames.make_image_info(
            20261125, 2, detectors=(0,), image_type="FLAT", exp_time=5.0, physical_filter="g_01"
        ),
    ]
    written = frames.write_frames(tmp_path / "staging", images, DataOptions())
    dataplane.ingest_raws(path, written)
    butler = repo.open_butler(path, writeable=False)
    try:
        records = {
            r.id: r for r in butler.registry.queryDimensionRecords("exposure", instrument="LSSTComCam")
        }
        dark, flat = records[2026112500001], records[2026112500002]
        assert (dark.observation_type, dark.exposure_time) == ("dark", 30.0)
        assert dark.dark_time == pytest.approx(30.01371)
        assert (flat.observation_type, flat.physical_filter) == ("flat", "g_01")
        refs = butler.query_datasets(
            "raw", collections=repo.RAW_RUN, where="instrument = 'LSSTComCam' AND physical_filter = 'g_01'"
        )
        assert [ref.dataId["exposure"] for ref in refs] == [2026112500002]
    finally:
        butler.close()


@pytest.mark.slow
def test_certify_a_dark_and_flats_per_filter(tmp_path) -> None:
    path = repo.create_or_open_repo(tmp_path / "repo")
    butler = repo.open_butler(path, writeable=True)
    try:
        for run in ("u/ocps/dark/run", "u/ocps/flat/run", "u/ocps/flat2/run"):
            butler.registry.registerRun(run)
        butler.put(_master(0.01), "dark", instrument="LSSTComCam", detector=0, run="u/ocps/dark/run")
        for band_filter, value in (("r_03", 1.0), ("g_01", 2.0)):
            butler.put(
                _master(value),
                "flat",
                instrument="LSSTComCam",
                detector=0,
                physical_filter=band_filter,
                run="u/ocps/flat/run",
            )
        butler.put(
            _master(3.0),
            "flat",
            instrument="LSSTComCam",
            detector=0,
            physical_filter="i_06",
            run="u/ocps/flat2/run",
        )
    finally:
        butler.close()
    collection = "LSSTComCam/calib/daily"
    assert len(repo.certify_calibs(path, "u/ocps/dark/run", collection, "dark", T0, T1)) == 1
    assert len(repo.certify_calibs(path, "u/ocps/flat/run", collection, "flat", T0, T1)) == 2
    # Conflicts are per (detector, physical_filter): another filter certifies fine...
    assert len(repo.certify_calibs(path, "u/ocps/flat2/run", collection, "flat", T0, T1)) == 1
    # ...the same filters again do not.
    with pytest.raises(ConflictingDefinitionError):
        repo.certify_calibs(path, "u/ocps/flat/run", collection, "flat", T0, T1)
    with pytest.raises(LookupError, match="No 'dark'"):
        repo.certify_calibs(path, "u/ocps/flat/run", collection, "dark", T0, T1)

    when = astropy.time.Time("2027-03-01T00:00:00", scale="tai")
    butler = repo.open_butler(path, writeable=False)
    try:
        dark = repo.find_certified_calib(butler, "dark", 0, when, collection=collection)
        assert dark is not None and dark.run == "u/ocps/dark/run"
        for band_filter, value in (("r_03", 1.0), ("g_01", 2.0), ("i_06", 3.0)):
            ref = repo.find_certified_calib(
                butler, "flat", 0, when, physical_filter=band_filter, collection=collection
            )
            assert ref is not None
            assert butler.get(ref)["IMAGE"].data[0, 0] == value
        assert (
            repo.find_certified_calib(butler, "flat", 0, when, physical_filter="z_03", collection=collection)
            is None
        )
        assert (
            repo.find_certified_calib(butler, "dark", 0, T1 + 1 * astropy.units.day, collection=collection)
            is None
        )
        with pytest.raises(ValueError, match="physical_filter"):
            repo.find_certified_calib(butler, "flat", 0, when, collection=collection)
    finally:
        butler.close()
