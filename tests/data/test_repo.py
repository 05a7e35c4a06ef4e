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

"""Tests of the simulated butler repository, formatter and calibration lookup."""

import dataclasses
import os
import shutil

import astropy.time
import astropy.units as u
import numpy as np
import pytest
from astropy.io import fits
from lsst.daf.butler import Butler, CollectionType, DatasetRef, Timespan
from lsst.daf.butler.registry import ConflictingDefinitionError
from lsst.ts.calibscripts.sim.data import dataplane, frames, repo
from lsst.ts.calibscripts.sim.data.options import DataOptions


@pytest.fixture(scope="session")
def seeded_repo(tmp_path_factory, template_repo: str) -> tuple[str, list]:
    """A repository with 3 bias exposures × detectors 0 and 4 (seeded on a template copy)."""
    path = tmp_path_factory.mktemp("repo") / "repo"
    shutil.copytree(template_repo, path, symlinks=True)
    images = dataplane.seed_bias_repo(path, 3, (0, 4), DataOptions(), group_id="2026-11-25T22:00:00.000")
    return str(path), images


def test_create_is_idempotent_and_complete(tmp_path) -> None:
    path = repo.create_or_open_repo(tmp_path / "new" / "repo")
    assert path == str(tmp_path / "new" / "repo")
    assert repo.create_or_open_repo(path) == path
    butler = repo.open_butler(path, writeable=False)
    try:
        info = {c.name: c for c in butler.collections.query_info("*")}
        assert info[repo.RAW_RUN].type == CollectionType.RUN
        assert info[repo.CALIB_CHAIN].type == CollectionType.CHAINED
        assert info[repo.CALIB_CHAIN].children == (repo.CALIB_UNBOUNDED,)
        assert info[repo.CALIB_UNBOUNDED].type == CollectionType.CALIBRATION
        types = {t.name: t for t in butler.registry.queryDatasetTypes()}
        for name, (dims, storage_class, is_calib) in repo.DATASET_TYPES.items():
            assert set(dims) <= set(types[name].dimensions.names)
            assert set(types[name].dimensions.required) == set(dims)
            assert types[name].storageClass_name == storage_class
            assert types[name].isCalibration() == is_calib
        assert types["bias"].isCalibration()
        assert types["raw"].storageClass_name == "SimExposure"
        detectors = {
            r.id: r.full_name
            for r in butler.registry.queryDimensionRecords("detector", instrument="LSSTComCam")
        }
        assert detectors == {i: f"R22_S{i // 3}{i % 3}" for i in range(9)}
        filters = {
            pf.name: pf.band
            for pf in butler.registry.queryDimensionRecords("physical_filter", instrument="LSSTComCam")
        }
        assert filters == {"u_02": "u", "g_01": "g", "r_03": "r", "i_06": "i", "z_03": "z", "y_04": "y"}
        assert filters[repo.PHYSICAL_FILTER] == repo.BAND
    finally:
        butler.close()


def test_foreign_repo_is_rejected(tmp_path) -> None:
    Butler.makeRepo(str(tmp_path / "plain"))
    with pytest.raises(RuntimeError, match="SimExposure"):
        repo.create_or_open_repo(tmp_path / "plain")


@pytest.mark.slow
def test_seeded_raws_and_records(seeded_repo) -> None:
    path, images = seeded_repo
    assert [im.seq_num for im in images] == [1, 2, 3]
    butler = repo.open_butler(path, writeable=False, collections=[repo.RAW_RUN])
    try:
        refs = butler.query_datasets("raw", instrument="LSSTComCam")
        assert sorted((r.dataId["exposure"], r.dataId["detector"]) for r in refs) == sorted(
            (im.exposure_id, d) for im in images for d in (0, 4)
        )
        raw = butler.get("raw", instrument="LSSTComCam", exposure=images[1].exposure_id, detector=4)
        assert isinstance(raw, fits.HDUList)
        assert raw[0].header["OBSID"] == images[1].obs_id
        assert raw[0].header["CCDSLOT"] == "S11"
        expected = frames.make_raw(images[1], 4)
        np.testing.assert_array_equal(raw[7].data, expected[7].data)
        uri = butler.getURI("raw", instrument="LSSTComCam", exposure=images[1].exposure_id, detector=4)
        assert uri.ospath.startswith(path) and uri.ospath.endswith(".fits")
        (exp,) = butler.registry.queryDimensionRecords(
            "exposure", instrument="LSSTComCam", exposure=images[0].exposure_id
        )
        assert exp.obs_id == images[0].obs_id
        assert exp.day_obs == 20261125
        assert exp.group == "2026-11-25T22:00:00.000"
        assert exp.observation_type == "bias"
        assert exp.timespan is not None
        assert exp.timespan.begin == images[0].date_begin
        (day,) = butler.registry.queryDimensionRecords("day_obs", instrument="LSSTComCam", day_obs=20261125)
        assert day.timespan.begin == astropy.time.Time("2026-11-25T12:00:00", scale="tai")
        assert day.timespan.end == astropy.time.Time("2026-11-26T12:00:00", scale="tai")
        # Query the same way the script's data query does.
        ids = ",".join(str(im.exposure_id) for im in images)
        found = butler.query_datasets(
            "raw", where=f"instrument='LSSTComCam' AND detector IN (0,4) AND exposure IN ({ids})"
        )
        assert len(found) == 6
    finally:
        butler.close()


def test_certified_bias_found_by_time(seeded_repo) -> None:
    """The repository supports put → certify → lookup by timespan."""
    path, images = seeded_repo
    run = "u/test/certify/run"
    calib = "LSSTComCam/calib/test"
    butler = repo.open_butler(path, writeable=True)
    try:
        butler.collections.register(run)
        refs: list[DatasetRef] = []
        for det in (0, 4):
            hdul = fits.HDUList(
                [fits.PrimaryHDU(), fits.ImageHDU(np.full((4, 5), det, dtype=np.float32), name="IMAGE")]
            )
            refs.append(butler.put(hdul, "bias", instrument="LSSTComCam", detector=det, run=run))
        butler.collections.register(calib, CollectionType.CALIBRATION)
        begin = astropy.time.Time("2026-11-25T00:00:00", scale="tai")
        end = astropy.time.Time("2027-11-25T00:00:00", scale="tai")
        butler.registry.certify(calib, refs, Timespan(begin, end))
        butler.collections.redefine_chain(repo.CALIB_CHAIN, [calib, repo.CALIB_UNBOUNDED])

        inside = astropy.time.Time("2027-03-01T00:00:00", scale="tai")
        found = repo.find_certified_bias(path, 4, inside)
        assert found is not None and found.id == refs[1].id
        assert repo.find_certified_bias(butler, 0, begin).id == refs[0].id  # begin is inclusive
        assert repo.find_certified_bias(path, 0, end) is None  # end is exclusive
        assert repo.find_certified_bias(path, 0, begin - 1 * u.s) is None
        assert repo.find_certified_bias(path, 0, inside, collection="no/such/collection") is None
        # Lookup through an exposure's timespan (as a pipeline prerequisite does).
        bias = butler.get(
            "bias",
            instrument="LSSTComCam",
            detector=4,
            exposure=images[0].exposure_id,
            collections=repo.CALIB_CHAIN,
        )
        assert bias["IMAGE"].data[0, 0] == 4
        listed = repo.certified_biases(path)
        assert [(c.detector, c.collection, c.ref.id) for c in listed] == [
            (0, calib, refs[0].id),
            (4, calib, refs[1].id),
        ]
        assert listed[0].timespan == Timespan(begin, end)
        assert repo.certified_biases(path, "no/such/collection") == []
        assert repo.certified_biases(butler, repo.CALIB_UNBOUNDED) == []
        # An overlapping second certification is refused.
        with pytest.raises(ConflictingDefinitionError):
            butler.registry.certify(calib, refs[:1], Timespan(inside, None))
    finally:
        butler.collections.redefine_chain(repo.CALIB_CHAIN, [repo.CALIB_UNBOUNDED])
        butler.close()


def test_formatter_round_trip_and_type_check(seeded_repo) -> None:
    path, _ = seeded_repo
    butler = repo.open_butler(path, writeable=True)
    try:
        run = "u/test/formatter"
        butler.collections.register(run)
        hdul = fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.arange(6, dtype=np.float32).reshape(2, 3))])
        hdul[0].header["OBSTYPE"] = "bias"
        ref = butler.put(hdul, "bias", instrument="LSSTComCam", detector=8, run=run)
        back = butler.get(ref)
        assert back[0].header["OBSTYPE"] == "bias"
        np.testing.assert_array_equal(back[1].data, hdul[1].data)
        assert os.path.isfile(butler.getURI(ref).ospath)
        with fits.open(butler.getURI(ref).ospath) as direct:
            assert direct[0].header["OBSTYPE"] == "bias"
        with pytest.raises(TypeError):
            butler.put(np.zeros(3), "bias", instrument="LSSTComCam", detector=7, run=run)
    finally:
        butler.close()


def test_formatter_writes_the_provenance_given_at_put(seeded_repo) -> None:
    from lsst.daf.butler import DatasetProvenance
    from lsst.ts.calibscripts.sim.data.formatter import read_provenance

    path, _ = seeded_repo
    butler = repo.open_butler(path, writeable=True)
    try:
        run = "u/test/provenance"
        butler.collections.register(run)
        plain = butler.put(
            fits.HDUList([fits.PrimaryHDU()]), "bias", instrument="LSSTComCam", detector=5, run=run
        )
        assert read_provenance(butler.get(plain)[0].header) == []
        provenance = DatasetProvenance()
        provenance.add_input(plain)
        hdul = fits.HDUList([fits.PrimaryHDU()])
        # A header copied from an input keeps no stale provenance of that input.
        hdul[0].header["HIERARCH LSST BUTLER INPUT 7 RUN"] = "stale/run"
        ref = butler.put(hdul, "bias", instrument="LSSTComCam", detector=6, run=run, provenance=provenance)
        inputs = read_provenance(butler.get(ref)[0].header)
        assert inputs == [{"id": str(plain.id), "run": run, "datasettype": "bias"}]
    finally:
        butler.close()


@pytest.mark.slow
def test_add_camera_registers_lsstcam_and_latiss(fresh_repo: str) -> None:
    from lsst.ts.calibscripts.cameras import LATISS, LSSTCAM

    assert repo.add_camera(fresh_repo, LSSTCAM) == fresh_repo
    repo.add_camera(fresh_repo, "LATISS")
    repo.add_camera(fresh_repo, "LATISS")  # idempotent
    butler = Butler(fresh_repo)
    try:
        registry = butler.registry
        lsstcam = {r.id: r for r in registry.queryDimensionRecords("detector", instrument="LSSTCam")}
        assert sorted(lsstcam) == list(range(205))
        assert (lsstcam[94].full_name, lsstcam[94].raft, lsstcam[94].name_in_raft) == (
            "R22_S11",
            "R22",
            "S11",
        )
        assert (lsstcam[191].full_name, lsstcam[191].purpose) == ("R00W_SW0", "WAVEFRONT")
        assert (lsstcam[190].full_name, lsstcam[190].purpose) == ("R00_SG1", "GUIDER")
        assert sum(r.purpose == "SCIENCE" for r in lsstcam.values()) == 189
        latiss = list(registry.queryDimensionRecords("detector", instrument="LATISS"))
        assert [(r.id, r.full_name, r.raft, r.name_in_raft) for r in latiss] == [(0, "RXX_S00", "RXX", "S00")]
        filters = {
            r.name: r.band for r in registry.queryDimensionRecords("physical_filter", instrument="LATISS")
        }
        assert filters["SDSSr_65mm~empty"] == "r" and filters["SDSSg_65mm~holo4_003"] == "g"
        assert len(filters) == len(LATISS.physical_filter_bands)
        bands = {
            r.name: r.band for r in registry.queryDimensionRecords("physical_filter", instrument="LSSTCam")
        }
        assert bands == dict(LSSTCAM.filter_bands)
        instruments = {r.name: r.class_name for r in registry.queryDimensionRecords("instrument")}
        assert instruments == {
            "LSSTComCam": "lsst.obs.lsst.LsstComCam",
            "LSSTCam": "lsst.obs.lsst.LsstCam",
            "LATISS": "lsst.obs.lsst.Latiss",
        }
        assert butler.collections.get_info("LSSTCam/raw/all").type == CollectionType.RUN
        assert butler.collections.get_info("LATISS/calib").children == ("LATISS/calib/unbounded",)
        # ComCam's records are as before.
        comcam = list(registry.queryDimensionRecords("detector", instrument="LSSTComCam"))
        assert sorted(r.full_name for r in comcam) == [f"R22_S{i}{j}" for i in range(3) for j in range(3)]
    finally:
        butler.close()


def test_open_repo_sets_up_with_one_butler(fresh_repo: str, monkeypatch) -> None:
    """The data plane's repository: set up and opened with a single butler, left open for the caller."""
    opened = []
    real = Butler.from_config

    def counting(*args, **kwargs):
        opened.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(Butler, "from_config", counting)
    butler = repo.open_repo(fresh_repo)
    try:
        assert len(opened) == 1
        assert butler.isWriteable()
        assert "LSSTComCam/raw/all" in butler.collections.query("LSSTComCam/raw/all")
    finally:
        butler.close()


def test_sync_camera_writes_only_what_is_missing_and_still_fails_on_a_conflict(
    fresh_repo: str, monkeypatch
) -> None:
    """A repository opened again costs one query per element; a record given otherwise still fails."""
    from lsst.daf.butler.registry import ConflictingDefinitionError
    from lsst.ts.calibscripts.cameras import COMCAM

    butler = repo.open_butler(fresh_repo, writeable=True)
    try:
        registry = butler.registry
        synced = []
        real = type(registry).syncDimensionData

        def counting(self, element, row, *args, **kwargs):
            synced.append((element, dict(row)))
            return real(self, element, row, *args, **kwargs)

        monkeypatch.setattr(type(registry), "syncDimensionData", counting)
        repo.sync_camera(butler, COMCAM)
        assert synced == []  # the template has every record already
        # A camera with one more filter: only that filter's record is written.
        more = dataclasses.replace(COMCAM, filter_bands=(*COMCAM.filter_bands, ("x_01", "x")))
        repo.sync_camera(butler, more)
        assert synced == [("physical_filter", {"instrument": "LSSTComCam", "name": "x_01", "band": "x"})]
        assert "x_01" in {r.name for r in registry.queryDimensionRecords("physical_filter")}
        synced.clear()
        renamed = dataclasses.replace(COMCAM, instrument_class_name="lsst.obs.lsst.Other")
        with pytest.raises(ConflictingDefinitionError):
            repo.sync_camera(butler, renamed)
        assert [element for element, _ in synced] == ["instrument"]
    finally:
        butler.close()
