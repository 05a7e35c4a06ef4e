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

"""`lsst.ts.calibscripts.butlers.open_butler`: configuration read once, state always fresh."""

from __future__ import annotations

import shutil
import typing

import pytest
from lsst.daf.butler import Butler, CollectionType, DatasetType, MissingCollectionError
from lsst.ts.calibscripts import butlers


@pytest.fixture
def from_config_calls(monkeypatch: pytest.MonkeyPatch) -> typing.Iterator[list[tuple[str, bool]]]:
    """Every `Butler.from_config` call (repo, writeable), with no butler kept from an earlier test."""
    calls: list[tuple[str, bool]] = []
    real = Butler.from_config

    def counting(config: typing.Any = None, *args: typing.Any, **kwargs: typing.Any) -> Butler:
        calls.append((str(config), bool(kwargs.get("writeable", False))))
        return real(config, *args, **kwargs)

    butlers.forget_open_butlers()
    monkeypatch.setattr(Butler, "from_config", counting)
    yield calls
    butlers.forget_open_butlers()


def test_second_open_reads_no_configuration(fresh_repo: str, from_config_calls: list) -> None:
    first = butlers.open_butler(fresh_repo, writeable=False)
    first.close()
    second = butlers.open_butler(fresh_repo, writeable=False)
    try:
        assert from_config_calls == [(fresh_repo, False)]
        # The caller's butler is its own: closing the first left the second usable.
        assert second is not first
        assert "LSSTComCam/raw/all" in second.collections.query("LSSTComCam/raw/all")
        assert not second.isWriteable()
    finally:
        second.close()


def test_later_open_sees_changes_made_after_the_first(fresh_repo: str, from_config_calls: list) -> None:
    """A job's output collection and a new dataset type, written by another butler, are seen."""
    butlers.open_butler(fresh_repo, writeable=False).close()
    other = Butler.from_config(fresh_repo, writeable=True)  # as another process would
    try:
        other.collections.register("u/ocps/job1/run", CollectionType.RUN)
        other.registry.registerDatasetType(
            DatasetType(
                "cpNewType", ("instrument", "detector"), "StructuredDataDict", universe=other.dimensions
            )
        )
    finally:
        other.close()
    butler = butlers.open_butler(fresh_repo, writeable=False)
    try:
        assert butler.collections.get_info("u/ocps/job1/run").type is CollectionType.RUN
        assert butler.get_dataset_type("cpNewType").storageClass_name == "StructuredDataDict"
    finally:
        butler.close()
    assert len(from_config_calls) == 2  # the first open and the other writer; the last reused


def test_writeable_is_kept_apart(fresh_repo: str, from_config_calls: list) -> None:
    read_only = butlers.open_butler(fresh_repo, writeable=False)
    writeable = butlers.open_butler(fresh_repo, writeable=True)
    try:
        assert not read_only.isWriteable()
        assert writeable.isWriteable()
        writeable.collections.register("u/test/run", CollectionType.RUN)
        assert read_only.collections.get_info("u/test/run").name == "u/test/run"
    finally:
        read_only.close()
        writeable.close()
    assert from_config_calls == [(fresh_repo, False), (fresh_repo, True)]


def test_default_collections_and_run(fresh_repo: str, from_config_calls: list) -> None:
    butlers.open_butler(fresh_repo, writeable=True).close()
    butler = butlers.open_butler(fresh_repo, writeable=True, collections=["LSSTComCam/raw/all"], run="u/r")
    try:
        assert list(butler.collections.defaults) == ["LSSTComCam/raw/all"]
        assert butler.run == "u/r"
    finally:
        butler.close()
    plain = butlers.open_butler(fresh_repo, writeable=True)
    try:
        assert list(plain.collections.defaults) == [] and plain.run is None
    finally:
        plain.close()


def test_repository_made_again_at_the_same_path_is_opened_afresh(
    fresh_repo: str, template_repo: str, from_config_calls: list
) -> None:
    writer = butlers.open_butler(fresh_repo, writeable=True)
    try:
        writer.collections.register("u/old/run", CollectionType.RUN)
    finally:
        writer.close()
    shutil.rmtree(fresh_repo)
    shutil.copytree(template_repo, fresh_repo, symlinks=True)
    butler = butlers.open_butler(fresh_repo, writeable=True)
    try:
        with pytest.raises(MissingCollectionError):
            butler.collections.get_info("u/old/run")
    finally:
        butler.close()
    assert from_config_calls == [(fresh_repo, True), (fresh_repo, True)]


def test_failed_open_keeps_nothing(tmp_path, from_config_calls: list) -> None:
    missing = str(tmp_path / "not_a_repo")
    for _ in range(2):
        with pytest.raises(Exception):
            butlers.open_butler(missing)
    assert len(from_config_calls) == 2


def test_oldest_kept_butler_is_closed_beyond_the_limit(
    fresh_repo: str, template_repo: str, tmp_path, from_config_calls: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(butlers, "MAX_OPEN", 1)
    other = str(tmp_path / "other")
    shutil.copytree(template_repo, other, symlinks=True)
    for repo in (fresh_repo, other, fresh_repo):
        butlers.open_butler(repo).close()
    assert from_config_calls == [(fresh_repo, False), (other, False), (fresh_repo, False)]
