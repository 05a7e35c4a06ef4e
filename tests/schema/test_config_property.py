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

"""Property-based: any configuration is accepted or rejected with a named reason."""

import copy

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lsst.ts.calibscripts.calib.config import BiasConfig, ConfigError, make_config
from lsst.ts.calibscripts.schemas import load_schema

SCHEMA = load_schema()
OPTION_NAMES = sorted(SCHEMA["properties"])

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**14), max_value=10**14),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["(0,1,2)", "(0..8)", "2026-11-25", "2026-11-26T12:00", "LSSTComCam/calib", "a b", ""]),
)
values = st.one_of(scalars, st.lists(scalars, max_size=5), st.lists(st.integers(-2, 12), max_size=10))
plausible = {
    "n_bias": st.integers(-1, 600),
    "n_discard_bias": st.integers(-1, 3),
    "n_verify_bias": st.integers(-1, 3),
    "detectors": st.one_of(
        st.lists(st.integers(-1, 9), max_size=10),
        st.sampled_from(["(0,1,2)", "(0..8)", "(0)", "(1,1)", "(3..1)", "(0,9)", "0,4", "()", "x"]),
    ),
    "input_collections_bias": st.sampled_from(
        ["LSSTComCam/calib", "a,b", "a,,b", "a b", ["a", "b"], ["a", "a"]]
    ),
    "input_collections_verify": st.sampled_from(["LSSTComCam/calib", "a, b", "", [], ["x y"]]),
    "calib_collection": st.sampled_from(["LSSTComCam/calib/daily", "", " ", "a b", "a,b"]),
    "certify_calib_begin_date": st.sampled_from(
        [None, "2026-11-25", "2026-11-26T12:00", "2026-02-30", "soon"]
    ),
    "certify_calib_end_date": st.sampled_from([None, "2026-11-25", "2026-11-27", "2026-11-26T12:00", "x"]),
    "config_options_bias": st.sampled_from(["", "-c isr:doDefect=False", "-j 3", ["-c", "a=b"], ["-c a=b"]]),
    "exposure_ids": st.lists(st.integers(2026112499999, 2026112500004), max_size=4),
    "bias_job_id": st.sampled_from(["", "0123abcdef", "a b", "u/ocps"]),
    "do_verify": st.booleans(),
    "do_certify": st.booleans(),
    "oods_timeout": st.floats(-1, 200),
    "frame_timeout": st.floats(-1, 300),
    "job_timeout": st.one_of(st.floats(-1, 200), st.just(0)),
}
option_values = st.one_of(
    st.sampled_from(sorted(plausible)).flatmap(lambda name: st.tuples(st.just(name), plausible[name])),
    st.tuples(st.one_of(st.sampled_from(OPTION_NAMES), st.text(max_size=8)), values),
)
configs = (
    st.lists(option_values, max_size=8)
    .map(dict)
    .map(lambda d: d if d.get("n_bias") == 599 else {"calib_collection": "LSSTComCam/calib/daily", **d})
)


def fill_defaults(config: dict) -> dict:
    result = copy.deepcopy(config)
    for name, prop in SCHEMA["properties"].items():
        if name not in result and "default" in prop:
            result[name] = copy.deepcopy(prop["default"])
    return result


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(configs)
def test_validate_then_make_config(config: dict) -> None:
    filled = fill_defaults(config)
    try:
        jsonschema.Draft7Validator(SCHEMA).validate(filled)
    except jsonschema.ValidationError as e:
        assert e.message
        return
    try:
        result = make_config(filled)
    except ConfigError as e:
        assert e.option and str(e).startswith(f"{e.option}: ")
        return
    assert isinstance(result, BiasConfig)
    assert set(result.detectors) <= set(range(9)) and len(set(result.detectors)) == len(result.detectors)
    if result.certify_calib_begin_date is not None:
        assert result.certify_calib_end_date is not None
        assert result.certify_calib_begin_date < result.certify_calib_end_date
