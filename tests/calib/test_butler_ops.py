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

"""Tests of calib.butler_ops on a real temporary butler repository."""

import functools
import os
import subprocess
import sys

import astropy.time
import numpy as np
import pytest
from astropy.io import fits
from lsst.daf.butler import Butler, CollectionType
from lsst.ts.calibscripts.calib import butler_ops
from lsst.ts.calibscripts.sim.data import repo as sim_repo

CALIB = "LSSTComCam/calib/daily"


@pytest.fixture
def base_repo(template_repo: str) -> str:
    return template_repo


@pytest.fixture
def repo(base_repo: str, tmp_path: os.PathLike) -> str:
    """A fresh copy of the module's repository (cheaper than creating one)."""
    import shutil

    target = os.path.join(tmp_path, "repo")
    shutil.copytree(base_repo, target)
    return target


def put_biases(repo: str, job_id: str, detectors: list[int], value: float = 0.0) -> str:
    """Make the OCPS output of a cpBias job: RUN u/ocps/<job>/run chained under u/ocps/<job>."""
    run = f"u/ocps/{job_id}/run"
    butler = Butler.from_config(repo, writeable=True)
    try:
        butler.collections.register(run)
        butler.collections.register(f"u/ocps/{job_id}", CollectionType.CHAINED)
        butler.collections.redefine_chain(f"u/ocps/{job_id}", [run, sim_repo.RAW_RUN])
        for det in detectors:
            hdus = fits.HDUList(
                [fits.PrimaryHDU(), fits.ImageHDU(np.full((4, 4), value, np.float32), name="IMAGE")]
            )
            butler.put(hdus, "bias", instrument="LSSTComCam", detector=det, run=run)
    finally:
        butler.close()
    return run


def test_read_verify_stats(repo: str) -> None:
    stats = {2026112500001: {"SUCCESS": False, "FAILURES": ["R22_S11 C10 NOISE"]}, "SUCCESS": False}
    butler = Butler.from_config(repo, writeable=True)
    butler.collections.register("u/ocps/verify1/run")
    butler.put(stats, "verifyBiasStats", instrument="LSSTComCam", run="u/ocps/verify1/run")
    butler.close()
    read = butler_ops.read_verify_stats(repo, "u/ocps/verify1/run")
    assert read == stats
    assert 2026112500001 in read  # int keys survive
    with pytest.raises(butler_ops.VerifyStatsNotFound, match="u/ocps/nothing"):
        butler_ops.read_verify_stats(repo, ["u/ocps/nothing"])
    with pytest.raises(butler_ops.VerifyStatsNotFound, match="verifyBiasStats"):
        butler_ops.read_verify_stats(repo, sim_repo.RAW_RUN)


def test_parse_validity_range() -> None:
    begin, end = butler_ops.parse_validity_range("2026-11-25", "2026-12-01T12:00:00")
    assert begin is not None and end is not None
    assert begin.scale == "tai" and begin.isot == "2026-11-25T00:00:00.000"
    # Upstream defaults: 1950 is before the representable epoch -> unbounded.
    begin, end = butler_ops.parse_validity_range("1950-01-01", "2050-01-01")
    assert begin is None and end is not None
    begin, end = butler_ops.parse_validity_range(None, "2150-01-01")
    assert begin is None and end is None
    with pytest.raises(butler_ops.CertificationError, match="not before"):
        butler_ops.parse_validity_range("2026-12-01", "2026-11-25")
    with pytest.raises(butler_ops.CertificationError, match="ISO-8601"):
        butler_ops.parse_validity_range("yesterday", "2026-11-25")


@pytest.mark.slow
def test_certify_registers_collection_and_is_found_by_time(repo: str) -> None:
    run = put_biases(repo, "job1", list(range(9)))
    result = butler_ops.certify_biases(repo, run, CALIB, range(9), "2026-11-25", "2026-12-25")
    assert result.collection_created
    assert result.detectors == list(range(9))
    assert result.begin == "2026-11-25T00:00:00.000" and result.end == "2026-12-25T00:00:00.000"
    assert {b.run for b in result.certified} == {run}
    butler = Butler.from_config(repo)
    assert butler.collections.get_info(CALIB).type is CollectionType.CALIBRATION
    butler.close()
    ref = sim_repo.find_certified_bias(repo, 4, astropy.time.Time("2026-12-01", scale="tai"), CALIB)
    assert ref is not None and str(ref.id) in {b.dataset_id for b in result.certified}
    assert sim_repo.find_certified_bias(repo, 4, astropy.time.Time("2026-12-25", scale="tai"), CALIB) is None
    listed = butler_ops.list_certifications(repo, CALIB)
    assert len(listed) == 9 and {c.detector for c in listed} == set(range(9))
    # Same datasets, same range: idempotent.
    again = butler_ops.certify_biases(repo, "u/ocps/job1", CALIB, range(9), "2026-11-25", "2026-12-25")
    assert again.certified == [] and len(again.already_certified) == 9
    assert again.source_run == run  # the CHAINED collection resolved to its RUN
    assert len(butler_ops.list_certifications(repo, CALIB)) == 9


def test_conflict_names_existing_and_certifies_nothing(repo: str) -> None:
    run1 = put_biases(repo, "job1", [0, 4])
    first = butler_ops.certify_biases(repo, run1, CALIB, [0, 4], None, "2050-01-01")
    run2 = put_biases(repo, "job2", [0, 4, 8])
    with pytest.raises(butler_ops.CertificationConflict) as excinfo:
        butler_ops.certify_biases(repo, run2, CALIB, [0, 4, 8], "2026-11-25", "2050-01-01")
    message = str(excinfo.value)
    assert "2 existing bias validity range(s)" in message
    for bias in first.certified:
        assert bias.dataset_id in message
    assert run1 in message and "-inf" in message and "supersede" in message
    assert {c.detector for c in excinfo.value.conflicts} == {0, 4}
    # Nothing was certified: detector 8 (no conflict) is not certified either.
    listed = butler_ops.list_certifications(repo, CALIB)
    assert len(listed) == 2 and {c.run for c in listed} == {run1}


@pytest.mark.slow
def test_supersede_decertifies_overlap(repo: str) -> None:
    run1 = put_biases(repo, "job1", [0, 4])
    butler_ops.certify_biases(repo, run1, CALIB, [0, 4], None, "2050-01-01")
    run2 = put_biases(repo, "job2", [0, 4, 8], value=1.0)
    result = butler_ops.certify_biases(
        repo, run2, CALIB, [0, 4, 8], "2026-11-25", "2050-01-01", supersede=True
    )
    assert result.detectors == [0, 4, 8]
    assert {s.detector for s in result.superseded} == {0, 4}
    assert all(s.run == run1 for s in result.superseded)
    before = sim_repo.find_certified_bias(repo, 4, astropy.time.Time("2026-01-01", scale="tai"), CALIB)
    after = sim_repo.find_certified_bias(repo, 4, astropy.time.Time("2027-01-01", scale="tai"), CALIB)
    assert before is not None and before.run == run1  # the old range was trimmed, not deleted
    assert after is not None and after.run == run2
    assert "superseded 2" in result.describe()


def test_missing_inputs_and_wrong_collection_types(repo: str) -> None:
    run = put_biases(repo, "job1", [0, 1])
    with pytest.raises(butler_ops.CertificationError, match=r"detector\(s\) \[4\]"):
        butler_ops.certify_biases(repo, run, CALIB, [0, 4], "2026-11-25", "2026-12-25")
    assert butler_ops.list_certifications(repo, CALIB) == []
    with pytest.raises(butler_ops.CertificationError, match="does not exist"):
        butler_ops.certify_biases(repo, "u/ocps/nojob/run", CALIB, [0], "2026-11-25", "2026-12-25")
    with pytest.raises(butler_ops.CertificationError, match="not CALIBRATION"):
        butler_ops.certify_biases(repo, run, sim_repo.RAW_RUN, [0], "2026-11-25", "2026-12-25")
    with pytest.raises(butler_ops.CertificationError, match="not a RUN"):
        butler_ops.certify_biases(repo, sim_repo.CALIB_UNBOUNDED, CALIB, [0], "2026-11-25", "2026-12-25")


def test_importing_the_units_does_not_import_daf_butler() -> None:
    code = (
        "import sys\n"
        "from lsst.ts.calibscripts.calib import butler_ops, naming, stages, summary, verification\n"
        "assert 'lsst.daf.butler' not in sys.modules, 'daf_butler imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_conflict_found_only_by_the_registry_is_reported(repo: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """If an overlap appears after the pre-check, daf_butler's own error is translated."""
    run1 = put_biases(repo, "job1", [3])
    butler_ops.certify_biases(repo, run1, CALIB, [3], "2026-11-01", "2026-12-01")
    run2 = put_biases(repo, "job2", [3])
    real = butler_ops._associations
    calls = []

    def blind_first_time(*args: object) -> list:
        calls.append(args)
        return [] if len(calls) == 1 else real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(butler_ops, "_associations", blind_first_time)
    with pytest.raises(
        butler_ops.CertificationConflict, match="ConflictingDefinitionError|conflict"
    ) as excinfo:
        butler_ops.certify_biases(repo, run2, CALIB, [3], "2026-11-20", "2026-12-20")
    assert [c.run for c in excinfo.value.conflicts] == [run1]
    assert [c.begin for c in excinfo.value.conflicts] == ["2026-11-01T00:00:00.000"]


def test_check_repo_opens_a_butler_repository(base_repo: str) -> None:
    butler_ops.check_repo(base_repo)  # no error


@pytest.mark.parametrize("kind", ["missing", "empty folder", "not a butler config"])
def test_check_repo_names_repo_and_what_to_fix(tmp_path: os.PathLike, kind: str) -> None:
    repo = os.path.join(tmp_path, "repo")
    if kind != "missing":
        os.makedirs(repo)
    if kind == "not a butler config":
        with open(os.path.join(repo, "butler.yaml"), "w") as stream:
            stream.write("hello: world\n")
    with pytest.raises(butler_ops.RepoNotUsable) as excinfo:
        butler_ops.check_repo(repo)
    message = str(excinfo.value)
    assert message.startswith(f"repo {repo!r} cannot be opened as a butler repository (")
    assert "Set repo to the butler repository OCPS:2 runs its jobs on" in message
    assert message.endswith("Or set do_verify and do_certify to false")


def put_flats(repo: str, job_id: str, detectors: list[int], filters: list[str]) -> str:
    """Make the OCPS output of a cpFlat job: one flat per (detector, filter)."""
    run = f"u/ocps/{job_id}/run"
    butler = Butler.from_config(repo, writeable=True)
    try:
        butler.collections.register(run)
        for physical_filter in filters:
            for det in detectors:
                hdus = fits.HDUList(
                    [fits.PrimaryHDU(), fits.ImageHDU(np.ones((4, 4), np.float32), name="IMAGE")]
                )
                butler.put(
                    hdus,
                    "flat",
                    instrument="LSSTComCam",
                    detector=det,
                    physical_filter=physical_filter,
                    run=run,
                )
    finally:
        butler.close()
    return run


@pytest.mark.slow
def test_certify_flats_per_filter(repo: str) -> None:
    run = put_flats(repo, "flat1", [0, 4], ["r_03", "g_01"])
    result = butler_ops.certify_calibs(
        repo, run, CALIB, [0, 4], "2026-11-25", "2026-12-25", dataset_type="flat"
    )
    assert result.detectors == [0, 4] and result.physical_filters == ["g_01", "r_03"]
    assert sorted((c.detector, c.physical_filter) for c in result.certified) == [
        (0, "g_01"),
        (0, "r_03"),
        (4, "g_01"),
        (4, "r_03"),
    ]
    assert result.to_dict()["certified"][0]["physical_filter"] in ("g_01", "r_03")
    assert "filter(s) ['g_01', 'r_03']" in result.describe()
    certified = butler_ops.list_certifications(repo, CALIB, dataset_type="flat")
    assert len(certified) == 4
    # The same datasets again: nothing new; another flat job for one filter conflicts per filter.
    again = butler_ops.certify_calibs(
        repo, run, CALIB, [0, 4], "2026-11-25", "2026-12-25", dataset_type="flat"
    )
    assert again.certified == [] and len(again.already_certified) == 4
    other = put_flats(repo, "flat2", [0, 4], ["r_03"])
    with pytest.raises(butler_ops.CertificationConflict) as info:
        butler_ops.certify_calibs(repo, other, CALIB, [0, 4], "2026-12-01", "2027-01-01", dataset_type="flat")
    assert {c.data_id["physical_filter"] for c in info.value.conflicts} == {"r_03"}
    superseded = butler_ops.certify_calibs(
        repo, other, CALIB, [0, 4], "2026-12-01", "2027-01-01", supersede=True, dataset_type="flat"
    )
    assert len(superseded.superseded) == 2 and superseded.physical_filters == ["r_03"]
    # A bias certification still writes no physical_filter key.
    bias_run = put_biases(repo, "bias1", [0])
    bias = butler_ops.certify_biases(repo, bias_run, CALIB, [0], "2026-11-25", "2026-12-25")
    assert "physical_filter" not in bias.to_dict()["certified"][0]


def test_certify_flats_needs_every_detector_in_every_filter(repo: str) -> None:
    run = put_flats(repo, "flat1", [0, 4], ["r_03"])
    put = Butler.from_config(repo, writeable=True)
    hdus = fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.ones((4, 4), np.float32), name="IMAGE")])
    put.put(hdus, "flat", instrument="LSSTComCam", detector=0, physical_filter="g_01", run=run)
    put.close()
    with pytest.raises(butler_ops.CertificationError, match=r"4 \(g_01\)"):
        butler_ops.certify_calibs(repo, run, CALIB, [0, 4], "2026-11-25", "2026-12-25", dataset_type="flat")
    assert butler_ops.list_certifications(repo, CALIB, dataset_type="flat") == []


def test_read_filter_stats(repo: str) -> None:
    butler = Butler.from_config(repo, writeable=True)
    butler.collections.register("u/ocps/vflat/run")
    for physical_filter, exposure in (("r_03", 2026112500001), ("g_01", 2026112500002)):
        stats = {exposure: {"SUCCESS": True}, "SUCCESS": True}
        butler.put(
            stats,
            "verifyFlatStats",
            instrument="LSSTComCam",
            physical_filter=physical_filter,
            run="u/ocps/vflat/run",
        )
    butler.close()
    read = butler_ops.read_filter_stats(repo, ["u/ocps/vflat/run"], "verifyFlatStats")
    assert read == {
        "r_03": {2026112500001: {"SUCCESS": True}, "SUCCESS": True},
        "g_01": {2026112500002: {"SUCCESS": True}, "SUCCESS": True},
    }
    with pytest.raises(butler_ops.VerifyStatsNotFound, match="verifyFlatStats"):
        butler_ops.read_filter_stats(repo, [sim_repo.RAW_RUN], "verifyFlatStats")


def test_calibration_detectors_searches_the_collection_as_pipetask_does(repo: str) -> None:
    """Through a chain or in the CALIBRATION collection itself; None if absent, empty if none."""
    run = put_biases(repo, "prev", [0, 2])
    butler_ops.certify_biases(repo, run, CALIB, [0, 2], "2026-11-25", "2026-12-25")
    butler = Butler.from_config(repo, writeable=True)
    try:
        butler.collections.register("LSSTComCam/calib", CollectionType.CHAINED)
        butler.collections.redefine_chain("LSSTComCam/calib", [CALIB])
    finally:
        butler.close()
    butler = Butler.from_config(repo)
    try:

        found = functools.partial(butler_ops.calibration_detectors, butler)
        assert found(CALIB, "bias") == {0, 2}
        assert found("LSSTComCam/calib", "bias") == {0, 2}
        assert found(CALIB, "bias", detectors=[2, 5]) == {2}
        assert found(CALIB, "dark") == set()
        assert found(CALIB, "calibscriptsUnregistered") == set()
        assert found("LSSTComCam/calib/none", "bias") is None
        assert found(CALIB, "bias", instrument="LATISS") == set()
    finally:
        butler.close()

    # Every detector has a bias in one of the collections: nothing raised.
    butler_ops.check_certified_inputs(repo, [CALIB], ["bias"], [2, 0], needed_by="x", remedy="y")
    with pytest.raises(butler_ops.CertifiedInputsMissing) as info:
        butler_ops.check_certified_inputs(
            repo,
            ["LSSTComCam/calib", sim_repo.RAW_RUN],
            ["bias", "dark"],
            [0, 1, 2],
            needed_by="this run builds its flats on",
            remedy="Do something.",
        )
    assert str(info.value) == (
        f"no bias for detector(s) [1] and no dark for detector(s) [0, 1, 2] in repo {repo}: "
        "this run builds its flats on the certified bias and dark of its inputs "
        f"['LSSTComCam/calib', '{sim_repo.RAW_RUN}']. Do something."
    )
    with pytest.raises(butler_ops.CertifiedInputsMissing) as info:
        butler_ops.check_certified_inputs(
            repo, [CALIB, "LSSTComCam/calib/none"], ["bias"], [0], needed_by="n", remedy="r"
        )
    assert str(info.value).startswith(f"collection 'LSSTComCam/calib/none' does not exist in repo {repo}: n ")
