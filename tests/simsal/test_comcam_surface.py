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

"""The simulated ComCam group exposes a subset of ts_observatory_control's ComCam API."""

from __future__ import annotations

import inspect

import pytest
from lsst.ts.calibscripts import sal
from lsst.ts.calibscripts.simsal import salobj
from lsst.ts.calibscripts.simsal.observatory_control.comcam import ComCam, ComCamUsages

_ = inspect.Parameter.empty

# The public surface of ts_observatory_control's ComCam (v0.52) that the
# simulated group may expose: name -> parameters (name, default) of callables,
# or None for attributes and properties (reference: comcam_control §1).
REAL_COMCAM: dict[str, list[tuple[str, object]] | None] = {
    "__init__": [("domain", None), ("log", None), ("intended_usage", None), ("tcs_ready_to_take_data", None)],
    "take_bias": [
        ("nbias", _),
        ("group_id", None),
        ("test_type", None),
        ("reason", None),
        ("program", None),
        ("sensors", None),
        ("note", None),
        ("checkpoint", None),
    ],
    "take_darks": [
        ("exptime", _),
        ("ndarks", _),
        ("group_id", None),
        ("test_type", None),
        ("reason", None),
        ("program", None),
        ("sensors", None),
        ("note", None),
        ("checkpoint", None),
    ],
    "take_flats": [
        ("exptime", _),
        ("nflats", _),
        ("group_id", None),
        ("test_type", None),
        ("reason", None),
        ("program", None),
        ("sensors", None),
        ("note", None),
        ("checkpoint", None),
        ("kwargs", _),
    ],
    "take_imgtype": [
        ("imgtype", _),
        ("exptime", _),
        ("n", _),
        ("n_snaps", 1),
        ("n_shift", None),
        ("row_shift", None),
        ("group_id", None),
        ("test_type", None),
        ("reason", None),
        ("program", None),
        ("sensors", None),
        ("note", None),
        ("checkpoint", None),
        ("kwargs", _),
    ],
    "setup_instrument": [("kwargs", _)],
    "setup_filter": [("filter", _)],
    "get_current_filter": [],
    "get_available_filters": [],
    "get_available_instrument_setup": [],
    "assert_all_enabled": [("message", "")],
    "next_group_id": [],
    "close": [],
    "rem": None,
    "check": None,
    "start_task": None,
    "read_out_time": None,
    "shutter_time": None,
    "min_exptime": None,
    "fast_timeout": None,
    "long_timeout": None,
    "long_long_timeout": None,
    "filter_change_timeout": None,
    "instrument_setup_attributes": None,
    "cmd_lock": None,
    "log": None,
    "components": None,
    "components_attr": None,
    "camera": None,
}


def _parameters(func: object) -> list[tuple[str, object]]:
    signature = inspect.signature(func)  # type: ignore[arg-type]
    return [(p.name, p.default) for p in signature.parameters.values() if p.name != "self"]


async def test_public_surface_is_a_subset_of_the_real_comcam() -> None:
    async with salobj.Domain() as domain:
        comcam = ComCam(domain=domain, intended_usage=ComCamUsages.DryTest)
        public = {name for name in dir(comcam) if not name.startswith("_")}
        extra = public - set(REAL_COMCAM)
        assert not extra, f"not in ts_observatory_control's ComCam: {sorted(extra)}"
        callables = [name for name, parameters in REAL_COMCAM.items() if parameters is not None]
        for name in callables:
            if name == "__init__" or name in public:
                assert _parameters(getattr(ComCam, name)) == REAL_COMCAM[name], name
        for name in (
            "rem",
            "start_task",
            "read_out_time",
            "take_bias",
            "assert_all_enabled",
            "next_group_id",
        ):
            assert name in public
        for name in (
            "take_darks",
            "take_flats",
            "take_imgtype",
            "setup_instrument",
            "setup_filter",
            "get_current_filter",
            "get_available_filters",
            "get_available_instrument_setup",
        ):
            assert name in public and inspect.iscoroutinefunction(getattr(ComCam, name)), name
        # Keyword arguments are collected (checked against the setup attributes).
        kinds = {p.name: p.kind for p in inspect.signature(ComCam.take_flats).parameters.values()}
        assert kinds["kwargs"] is inspect.Parameter.VAR_KEYWORD
        assert comcam.instrument_setup_attributes == ["filter"]
        assert comcam.filter_change_timeout == 60
        assert comcam.min_exptime == 0.1
        assert inspect.iscoroutinefunction(ComCam.take_bias)
        assert inspect.iscoroutinefunction(ComCam.assert_all_enabled)
        assert inspect.iscoroutinefunction(ComCam.close)
        assert not inspect.iscoroutinefunction(ComCam.next_group_id)
        assert comcam.read_out_time == 2.0
        # DryTest builds no Remote at all.
        assert (comcam.rem.cccamera, comcam.rem.ccheaderservice, comcam.rem.ccoods) == (None, None, None)
        assert comcam.start_task is None
        await comcam.close()


@pytest.mark.skipif(sal.BACKEND is not sal.Backend.SIM, reason="the real stack's ComCam is in use")
def test_middleware_resolves_the_simulated_comcam() -> None:
    assert sal.ComCam is ComCam
    assert sal.ComCamUsages is ComCamUsages
