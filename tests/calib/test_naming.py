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

"""Tests of calib.naming and calib.stages."""

import datetime

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lsst.daf.butler.queries.expressions.parser import ParseError, ParserYacc
from lsst.ts.calibscripts.calib import naming
from lsst.ts.calibscripts.calib.stages import NUM_STAGES, Stage


def parse_query(query: str) -> str:
    """Parse with daf_butler's own query grammar; return its normalised text."""
    return str(ParserYacc().parse(query))


@pytest.mark.parametrize(
    "obs_id, exposure_id",
    [
        ("CC_O_20261125_000012", 2026112500012),
        ("CC_O_20210708_000019", 2021070800019),
        ("CC_O_20241108_000266", 2024110800266),
        ("CC_O_20261125_099999", 2026112599999),
    ],
)
def test_obs_id_round_trip(obs_id: str, exposure_id: int) -> None:
    assert naming.exposure_id_from_obs_id(obs_id) == exposure_id
    assert naming.obs_id_from_exposure_id(exposure_id) == obs_id
    assert naming.obs_id_from_exposure_id(np.int64(exposure_id)) == obs_id
    parsed = naming.parse_obs_id(obs_id)
    assert (parsed.camera_code, parsed.controller) == ("CC", "O")
    assert str(parsed) == obs_id


def test_obs_id_is_13_digits_not_14() -> None:
    # Upstream's first check concatenated the two parts (14 digits) and never matched.
    assert len(str(naming.exposure_id_from_obs_id("CC_O_20210708_000019"))) == 13


@pytest.mark.parametrize(
    "bad", ["CC_O_20261125_12", "CC_O_2026112_000012", "cc_o_20261125_000012", "", "CC_O_20261125_100000"]
)
def test_bad_obs_id(bad: str) -> None:
    with pytest.raises(ValueError):
        naming.exposure_id_from_obs_id(bad)


@pytest.mark.parametrize("bad", [202611250001, 20261125000012, True, 2026112500012.0, "2026112500012"])
def test_bad_exposure_id(bad: object) -> None:
    with pytest.raises(ValueError):
        naming.obs_id_from_exposure_id(bad)  # type: ignore[arg-type]


def test_detector_names() -> None:
    names = [naming.detector_name(d) for d in naming.COMCAM_DETECTORS]
    assert names == [
        "R22_S00",
        "R22_S01",
        "R22_S02",
        "R22_S10",
        "R22_S11",
        "R22_S12",
        "R22_S20",
        "R22_S21",
        "R22_S22",
    ]
    for det, name in enumerate(names):
        assert naming.detector_id(name) == det
        raft, sensor = naming.raft_sensor(det)
        assert naming.detector_from_raft_sensor(raft, sensor) == det
    for bad in (-1, 9, True):
        with pytest.raises(ValueError):
            naming.detector_name(bad)
    for raft, sensor in (("R22", "S33"), ("R21", "S00"), ("R??", "S??")):
        with pytest.raises(ValueError):
            naming.detector_from_raft_sensor(raft, sensor)


def test_data_query_one_exposure_has_no_trailing_comma() -> None:
    query = naming.build_data_query("LSSTComCam", [4], [np.int64(2026112500012)])
    assert query == "instrument='LSSTComCam' AND detector IN (4) AND exposure IN (2026112500012)"
    assert (
        parse_query(query) == "instrument = 'LSSTComCam' AND detector IN (4) AND exposure IN (2026112500012)"
    )
    # What the upstream tuple repr produced is rejected by the same parser:
    with pytest.raises(ParseError):
        parse_query(f"instrument='LSSTComCam' AND detector IN (4) AND exposure IN {(2026112500012,)}")


def test_data_query_many() -> None:
    ids = np.array([2026112500012, 2026112500013, 2026112500012, 2026112500014])
    query = naming.build_data_query("LSSTComCam", range(9), ids)
    assert query == (
        "instrument='LSSTComCam' AND detector IN (0, 1, 2, 3, 4, 5, 6, 7, 8) "
        "AND exposure IN (2026112500012, 2026112500013, 2026112500014)"
    )
    assert "np." not in query
    parse_query(query)


@pytest.mark.parametrize(
    "instrument, detectors, exposures",
    [
        ("LSSTComCam", [], [1]),
        ("LSSTComCam", [0], []),
        ("LSSTComCam' OR 1=1 --", [0], [1]),
        ("LSSTComCam", [0.5], [1]),
        ("LSSTComCam", [0], ["2026112500012"]),
    ],
)
def test_data_query_rejects(instrument: str, detectors: list, exposures: list) -> None:
    with pytest.raises(ValueError):
        naming.build_data_query(instrument, detectors, exposures)


def test_stages() -> None:
    assert [s.checkpoint_name for s in Stage.ordered()] == [
        "preflight",
        "take_biases",
        "wait_ingest",
        "cp_bias",
        "verify_bias",
        "judge",
        "certify",
        "summary",
    ]
    assert NUM_STAGES == 8
    assert Stage.PREFLIGHT.number == 1 and Stage.SUMMARY.number == 8
    assert Stage.from_name("CERTIFY") is Stage.CERTIFY
    assert Stage.from_name("cp_bias") is Stage.CP_BIAS
    assert all(s.title for s in Stage)
    with pytest.raises(ValueError, match="valid names"):
        Stage.from_name("combine")


@settings(max_examples=60, deadline=None)
@given(
    detectors=st.lists(st.integers(0, 8), min_size=1, max_size=12),
    seqs=st.lists(st.integers(1, 99999), min_size=1, max_size=30),
    day_obs=st.dates(min_value=datetime.date(2020, 1, 1), max_value=datetime.date(2099, 12, 31)),
)
def test_data_query_property(detectors: list[int], seqs: list[int], day_obs: datetime.date) -> None:
    exposure_ids = [int(f"{day_obs:%Y%m%d}{seq:05d}") for seq in seqs]
    query = naming.build_data_query("LSSTComCam", np.array(detectors), exposure_ids)
    parsed = parse_query(query)  # always valid butler syntax
    exposure_part = parsed.split("exposure IN (")[1].rstrip(")")
    assert [int(v) for v in exposure_part.split(", ")] == list(dict.fromkeys(exposure_ids))
    for exposure_id in exposure_ids:
        assert naming.exposure_id_from_obs_id(naming.obs_id_from_exposure_id(exposure_id)) == exposure_id
