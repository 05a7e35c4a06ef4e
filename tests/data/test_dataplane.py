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

"""Tests of ButlerDataPlane: raws written off the loop and ingested before imageInOODS."""

import asyncio
import dataclasses
import os
import threading
from unittest import mock

import pytest
from lsst.ts.calibscripts.sim.data import frames, repo
from lsst.ts.calibscripts.sim.data.dataplane import ButlerDataPlane, OodsStatus
from lsst.ts.calibscripts.sim.data.options import DataOptions
from lsst.ts.calibscripts.sim.interfaces import DataPlane


def image(seq: int, detectors=(0, 1, 2)) -> frames.ImageInfo:
    return frames.make_image_info(20261125, seq, detectors=detectors, group_id="2026-11-25T22:00:00.000")


def raws_in_repo(path: str) -> set[tuple[int, int]]:
    butler = repo.open_butler(path, writeable=False)
    try:
        refs = butler.query_datasets("raw", collections=repo.RAW_RUN, explain=False)
        return {(r.dataId["exposure"], r.dataId["detector"]) for r in refs}
    finally:
        butler.close()


@pytest.fixture
async def plane(fresh_repo: str):
    dp = ButlerDataPlane(DataOptions(repo=fresh_repo))
    yield dp
    await dp.close()


def test_is_a_data_plane(tmp_path) -> None:
    dp = ButlerDataPlane(DataOptions(repo=str(tmp_path / "repo")))
    assert isinstance(dp, DataPlane)
    assert dp.staging_dir == str(tmp_path / "repo") + "_staging"
    with pytest.raises(ValueError):
        ButlerDataPlane(DataOptions())


@pytest.mark.slow
async def test_ingest_every_detector(plane: ButlerDataPlane) -> None:
    images = [image(seq, detectors=tuple(range(9))) for seq in (1, 2)]
    for im in images:
        plane.begin_image(im)
    results = await asyncio.gather(*(plane.ingest(im, d) for im in images for d in im.detectors))
    assert results == [(0, "file ingested")] * 18
    assert raws_in_repo(plane.repo) == {(im.exposure_id, d) for im in images for d in range(9)}
    # Files were moved out of the staging folder, none left behind.
    assert [f for f in os.listdir(plane.staging_dir) if f.endswith(".fits")] == []


async def test_records_written_once_per_image(plane: ButlerDataPlane) -> None:
    im = image(4)
    plane.begin_image(im)
    assert [await plane.ingest(im, d) for d in im.detectors] == [(0, "file ingested")] * 3
    butler = repo.open_butler(plane.repo, writeable=False)
    try:
        (exp,) = butler.registry.queryDimensionRecords("exposure", instrument="LSSTComCam")
        assert exp.id == im.exposure_id and exp.obs_id == im.obs_id
        assert exp.timespan.begin == im.date_begin
    finally:
        butler.close()


async def test_already_ingested(plane: ButlerDataPlane) -> None:
    im = image(1)
    plane.begin_image(im)
    assert await plane.ingest(im, 1) == (OodsStatus.INGESTED, "file ingested")
    plane.begin_image(im)  # the camera re-sends the same image
    code, text = await plane.ingest(im, 1)
    assert code == OodsStatus.INGEST_FAILURE
    assert "already ingested" in text and im.obs_id in text and "R22_S01" in text


async def test_missing_file(plane: ButlerDataPlane) -> None:
    im = image(1)
    code, text = await plane.ingest(im, 2)  # begin_image was never called
    assert code == OodsStatus.INGEST_FAILURE
    assert "not found" in text and "CC_O_20261125_000001_R22_S02.fits" in text
    assert raws_in_repo(plane.repo) == set()


async def test_injected_ingest_failures(fresh_repo: str) -> None:
    opts = DataOptions(
        repo=fresh_repo,
        ingest_failures={("CC_O_20261125_000001", 2), ("CC_O_20261125_000002", None)},
    )
    dp = ButlerDataPlane(opts)
    try:
        first, second = image(1), image(2)
        dp.begin_image(first)
        dp.begin_image(second)
        results = {(im.seq_num, d): await dp.ingest(im, d) for im in (first, second) for d in im.detectors}
        assert results[(1, 0)] == results[(1, 1)] == (0, "file ingested")
        for key in ((1, 2), (2, 0), (2, 1), (2, 2)):
            code, text = results[key]
            assert code == OodsStatus.INGEST_FAILURE
            assert text.startswith("ingest failure:") and "fault" in text
        assert raws_in_repo(opts.repo) == {(first.exposure_id, 0), (first.exposure_id, 1)}
    finally:
        await dp.close()


async def test_metadata_failure(plane: ButlerDataPlane) -> None:
    im = image(1)
    plane.begin_image(im)
    assert await plane.ingest(im, 0) == (0, "file ingested")
    # Another image claiming the same exposure id with other metadata.
    clash = frames.make_image_info(20261125, 1, detectors=(0,), date_begin=im.date_begin + 60 * frames.u.s)
    other = ButlerDataPlane(DataOptions(repo=plane.repo, staging_dir=plane.staging_dir + "_2"))
    try:
        other.begin_image(clash)
        code, text = await other.ingest(clash, 0)
        assert code == OodsStatus.METADATA_FAILURE
        assert text.startswith("metadata failure:") and clash.obs_id in text
    finally:
        await other.close()


async def test_copy_transfer_keeps_staged_file(fresh_repo: str, tmp_path) -> None:
    opts = DataOptions(repo=fresh_repo, staging_dir=str(tmp_path / "stage"), transfer="copy")
    dp = ButlerDataPlane(opts)
    try:
        im = image(1, detectors=(5,))
        dp.begin_image(im)
        assert await dp.ingest(im, 5) == (0, "file ingested")
        assert os.listdir(tmp_path / "stage") == ["CC_O_20261125_000001_R22_S12.fits"]
        assert raws_in_repo(opts.repo) == {(im.exposure_id, 5)}
    finally:
        await dp.close()


async def test_begin_image_returns_before_files_exist(plane: ButlerDataPlane, monkeypatch) -> None:
    release = threading.Event()
    real_write = frames.write_raw

    def slow_write(*args, **kwargs):
        assert release.wait(timeout=30)
        return real_write(*args, **kwargs)

    monkeypatch.setattr(frames, "write_raw", slow_write)
    im = image(1)
    plane.begin_image(im)  # must not wait for the (blocked) writer
    task = asyncio.create_task(plane.ingest(im, 0))
    await asyncio.sleep(0.05)
    assert not task.done()  # ingest waits for its file
    assert not os.path.exists(os.path.join(plane.staging_dir, frames.raw_filename(im, 0)))
    release.set()
    assert await task == (0, "file ingested")
    assert await plane.ingest(im, 1) == (0, "file ingested")


async def test_ingest_does_not_block_the_loop(plane: ButlerDataPlane, monkeypatch) -> None:
    release = threading.Event()
    real_ingest = repo.ingest_raw

    def slow_ingest(*args, **kwargs):
        assert release.wait(timeout=30)
        return real_ingest(*args, **kwargs)

    monkeypatch.setattr(repo, "ingest_raw", slow_ingest)
    im = image(1)
    plane.begin_image(im)
    task = asyncio.create_task(plane.ingest(im, 0))
    ticks = 0
    while ticks < 5:  # the loop keeps running while the butler thread is stuck
        await asyncio.sleep(0.01)
        ticks += 1
    assert not task.done()
    release.set()
    assert await task == (0, "file ingested")


async def test_writer_error_is_reported(plane: ButlerDataPlane, monkeypatch) -> None:
    def broken_write(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(frames, "write_raw", broken_write)
    im = image(1)
    plane.begin_image(im)
    code, text = await plane.ingest(im, 0)
    assert code == OodsStatus.INGEST_FAILURE
    assert "writing raw CC_O_20261125_000001 R22_S00 failed" in text and "disk full" in text


@pytest.mark.slow
async def test_full_size_frame(fresh_repo: str) -> None:
    dp = ButlerDataPlane(DataOptions(repo=fresh_repo, geometry="full"))
    try:
        im = image(1, detectors=(3,))
        dp.begin_image(im)
        assert await dp.ingest(im, 3) == (0, "file ingested")
        butler = repo.open_butler(dp.repo, writeable=False)
        try:
            raw = butler.get(
                "raw", instrument="LSSTComCam", exposure=im.exposure_id, detector=3, collections=repo.RAW_RUN
            )
            assert raw[1].data.shape == (2048, 576)
            assert raw[0].header["DETSIZE"] == "[1:4072,1:4000]"
        finally:
            butler.close()
    finally:
        await dp.close()


async def test_closed_plane_refuses_images(tmp_path) -> None:
    dp = ButlerDataPlane(DataOptions(repo=str(tmp_path / "repo")))
    await dp.start()
    assert os.path.isfile(tmp_path / "repo" / "butler.yaml")
    await dp.close()
    with pytest.raises(RuntimeError):
        dp.begin_image(image(1))


async def test_ingest_image_is_one_butler_ingest(plane: ButlerDataPlane) -> None:
    from lsst.daf.butler.direct_butler import DirectButler

    calls: list[int] = []
    real_ingest = DirectButler.ingest

    def counting_ingest(self, *datasets, **kwargs):
        calls.append(len(datasets))
        return real_ingest(self, *datasets, **kwargs)

    im = image(1, detectors=tuple(range(9)))
    plane.begin_image(im)
    with mock.patch.object(DirectButler, "ingest", counting_ingest):
        results = await plane.ingest_image(im, [8, 0, 4])
    assert calls == [3]
    assert list(results) == [8, 0, 4]
    assert set(results.values()) == {(OodsStatus.INGESTED, "file ingested")}
    assert raws_in_repo(plane.repo) == {(im.exposure_id, d) for d in (0, 4, 8)}


async def test_ingest_image_gives_each_detector_its_own_status(fresh_repo: str) -> None:
    im = image(1, detectors=(0, 1, 2, 3))
    dp = ButlerDataPlane(DataOptions(repo=fresh_repo, ingest_failures={(im.obs_id, 1)}))
    try:
        dp.begin_image(im)
        assert await dp.ingest(im, 0) == (0, "file ingested")
        dp.begin_image(dataclasses.replace(im, detectors=(0,)))  # the camera re-sends detector 0
        # No file was ever written for detector 5; 1 fails by injection.
        results = await dp.ingest_image(im, [0, 1, 2, 3, 5])
    finally:
        await dp.close()
    assert results[0][0] == OodsStatus.INGEST_FAILURE and "already ingested" in results[0][1]
    assert results[1] == (
        OodsStatus.INGEST_FAILURE,
        f"ingest failure: {im.obs_id} R22_S01: simulated ingest fault",
    )
    assert results[2] == results[3] == (OodsStatus.INGESTED, "file ingested")
    assert results[5][0] == OodsStatus.INGEST_FAILURE and "not found" in results[5][1]
    assert raws_in_repo(fresh_repo) == {(im.exposure_id, d) for d in (0, 2, 3)}
