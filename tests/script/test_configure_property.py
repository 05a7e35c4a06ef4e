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

"""Property-based: ``configure`` ends CONFIGURED or CONFIGURE_FAILED with a message, never a crash.

Each example is a batch of random configurations, each sent to a fresh
script as the ScriptQueue would (YAML text in the ``configure`` command);
the scripts of a batch run concurrently so their shutdown delays overlap.
"""

import asyncio

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lsst.ts.calibscripts.maintel import MakeComCamBias
from lsst.ts.calibscripts.sal import ScriptState
from lsst.ts.calibscripts.schemas import load_schema

OPTIONS = sorted(load_schema()["properties"])

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**14), max_value=10**14),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.text(max_size=20),
    st.sampled_from(
        [
            "(0,1,2)",
            "(0..8)",
            "(1,1)",
            "2026-11-25",
            "2026-11-26T12:00",
            "2026-02-30",
            "LSSTComCam/calib",
            "a b",
        ]
    ),
)
values = st.one_of(scalars, st.lists(scalars, max_size=4), st.lists(st.integers(-1, 10), max_size=10))
plausible = {
    "n_bias": st.integers(-1, 30),
    "n_verify_bias": st.integers(-1, 3),
    "detectors": st.one_of(
        st.lists(st.integers(-1, 9), max_size=10), st.sampled_from(["(0,1)", "(0..8)", "()"])
    ),
    "exposure_ids": st.lists(st.integers(2026112499999, 2026112500004), max_size=3),
    "bias_job_id": st.sampled_from(["", "0123abcd", "a b"]),
    "do_verify": st.booleans(),
    "certify_calib_begin_date": st.sampled_from([None, "2026-11-25", "x"]),
    "certify_calib_end_date": st.sampled_from([None, "2026-11-26", "2026-11-24"]),
}
entries = st.one_of(
    st.sampled_from(sorted(plausible)).flatmap(lambda k: st.tuples(st.just(k), plausible[k])),
    st.tuples(st.one_of(st.sampled_from(OPTIONS), st.text(max_size=6)), values),
)
config_texts = st.one_of(
    st.lists(entries, max_size=6)
    .map(dict)
    .map(lambda d: {"calib_collection": "LSSTComCam/calib/daily", **d})
    .map(yaml.safe_dump),
    st.sampled_from(["", "a : : 2", "just text", "- 1\n- 2", "calib_collection: [1, 2]"]),
)


async def configure_one(index: int, text: str) -> tuple[ScriptState, str, str]:
    script = MakeComCamBias(index=index)
    try:
        await script.start_task
        data = script.cmd_configure.DataType()
        data.config = text
        error = ""
        try:
            await script.do_configure(data)
        except Exception as e:
            error = f"{type(e).__name__}: {e}"
        return ScriptState(script.state.state), script.state.reason, error
    finally:
        await script.close()


async def configure_batch(texts: list[str]) -> list[tuple[ScriptState, str, str]]:
    return await asyncio.gather(*(configure_one(1000 + i, text) for i, text in enumerate(texts)))


@pytest.mark.slow
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(config_texts, min_size=10, max_size=10))
def test_configure_never_crashes(texts: list[str]) -> None:
    results = asyncio.run(configure_batch(texts))
    for text, (state, reason, error) in zip(texts, results):
        assert state in (ScriptState.CONFIGURED, ScriptState.CONFIGURE_FAILED), (text, state)
        if state == ScriptState.CONFIGURE_FAILED:
            # The command failed with the same, non-empty message as the state reason.
            assert error.startswith("ExpectedError: config("), (text, error)
            assert reason.startswith("config(") and "failed: " in reason
            assert reason.split("failed: ", 1)[1].strip(), (text, reason)
        else:
            assert error == "" and reason == ""
