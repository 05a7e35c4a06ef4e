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


"""make_plan: per-type plans, dependencies, job inputs and configure-time checks."""

from __future__ import annotations

import types
import typing

import pytest
from lsst.ts.calibscripts.calib.config import ConfigError
from lsst.ts.calibscripts.calib.plan import (
    MIN_OPEN_SHUTTER_TIME,
    MODE_TYPES,
    Processing,
    comcam_filters,
    make_plan,
    schema_defaults,
)

CALIB = "LSSTComCam/calib/daily"


def plan_of(script_mode: str, **options: typing.Any):
    config: dict[str, typing.Any] = {"script_mode": script_mode, "calib_collection": CALIB}
    if "FLAT" in script_mode and "filter" not in options:
        config["filter"] = "r_03"
    config.update(options)
    return make_plan(config)


def check_error(option: str, value_text: str, **config: typing.Any) -> ConfigError:
    script_mode = config.pop("script_mode", "BIAS_DARK_FLAT")
    with pytest.raises(ConfigError) as info:
        plan_of(script_mode, **config)
    assert info.value.option == option
    assert str(info.value).startswith(f"{option}: {value_text}"), str(info.value)
    return info.value


@pytest.mark.parametrize("script_mode", list(MODE_TYPES))
def test_types_in_take_order(script_mode: str) -> None:
    plan = plan_of(script_mode)
    assert plan.calib_types == MODE_TYPES[script_mode]
    assert plan.script_mode == script_mode


def test_defaults_match_upstream_counts_and_exposure_times() -> None:
    plan = plan_of("BIAS_DARK_FLAT")
    bias, dark, flat = plan.types
    assert (bias.n_frames, bias.n_discard, bias.n_frames_to_take) == (20, 1, 21)
    assert bias.exp_times == (0.0,) * 21
    assert (dark.n_frames, dark.n_discard) == (22, 1)
    assert dark.exp_times == (5.0,) * 5 + (15.0,) * 2 + (30.0,) * 16
    assert flat.exp_times == (5.0,) * 21
    assert flat.filter == "r_03" and bias.filter is None and dark.filter is None
    assert plan.n_frames_to_take == 21 + 23 + 21
    assert plan.total_exposure_time == 5 * 5 + 15 * 2 + 30 * 16 + 5 * 21
    assert [t.verification_threshold for t in plan.types] == [8, 8, 8]
    # generate_calibrations is false by default (upstream): verify the new frames only.
    assert all(t.processing is Processing.VERIFY_FRAMES for t in plan.types)
    assert all(t.do_verify and not t.do_certify and t.depends_on == () for t in plan.types)


def test_build_dependencies_use_this_runs_outputs() -> None:
    plan = plan_of("BIAS_DARK_FLAT", generate_calibrations=True)
    bias, dark, flat = plan.types
    assert [t.depends_on for t in plan.types] == [(), ("BIAS",), ("BIAS", "DARK")]
    assert all(t.builds and t.do_verify and t.do_certify for t in plan.types)
    # Nothing comes from calib_collection: every prerequisite is built in this run.
    assert dark.calib_inputs == ("LSSTComCam/calib",)
    assert dark.calib_job_inputs(["u/ocps/b1"]) == ("u/ocps/b1", "LSSTComCam/calib")
    assert flat.calib_job_inputs(["u/ocps/b1", "u/ocps/d1"]) == ("u/ocps/b1", "u/ocps/d1", "LSSTComCam/calib")
    assert dark.verify_job_inputs("u/ocps/d1", ["u/ocps/b1"]) == (
        "u/ocps/d1",
        "u/ocps/b1",
        "LSSTComCam/calib",
    )


@pytest.mark.parametrize(
    "script_mode, expected",
    [
        ("DARK", {"DARK": ()}),
        ("FLAT", {"FLAT": ()}),
        ("DARK_FLAT", {"DARK": (), "FLAT": ("DARK",)}),
        ("BIAS_DARK", {"BIAS": (), "DARK": ("BIAS",)}),
    ],
)
def test_missing_prerequisites_come_from_calib_collection(
    script_mode: str, expected: dict[str, tuple[str, ...]]
) -> None:
    plan = plan_of(script_mode, generate_calibrations=True, input_collections_flat="LSSTComCam/raw/all,x/y")
    for type_plan in plan.types:
        assert type_plan.depends_on == expected[type_plan.calib_type]
    needs_certified = {
        "DARK": script_mode in ("DARK", "DARK_FLAT"),
        "FLAT": True,  # the bias is never built in FLAT or DARK_FLAT modes
        "BIAS": False,
    }
    for type_plan in plan.types:
        assert (CALIB in type_plan.calib_inputs) == needs_certified[type_plan.calib_type]
        if needs_certified[type_plan.calib_type]:
            assert type_plan.calib_inputs[0] == CALIB
            assert type_plan.verify_inputs[0] == CALIB
    if "FLAT" in script_mode:
        assert plan.type_plan("FLAT").calib_inputs == (CALIB, "LSSTComCam/raw/all", "x/y")


def test_calib_collection_in_own_inputs_is_not_repeated() -> None:
    plan = plan_of("DARK", generate_calibrations=True, input_collections_dark=[CALIB, "LSSTComCam/calib"])
    assert plan.type_plan("DARK").calib_inputs == (CALIB, "LSSTComCam/calib")


def test_verify_frames_uses_verify_collections_only() -> None:
    plan = plan_of("DARK", input_collections_verify_dark="LSSTComCam/calib,u/me/calib")
    dark = plan.type_plan("DARK")
    assert dark.processing is Processing.VERIFY_FRAMES
    assert dark.verify_job_inputs(None) == ("LSSTComCam/calib", "u/me/calib")


def test_take_only() -> None:
    plan = plan_of("BIAS_DARK_FLAT", take_only=True)
    assert all(t.processing is Processing.TAKE_ONLY and not t.processes for t in plan.types)
    assert all(not t.do_verify and not t.do_certify for t in plan.types)


def test_kept_exposures_drop_the_discarded_first_frames() -> None:
    plan = plan_of("BIAS", n_bias=2, n_discard_bias=1)
    assert plan.type_plan("BIAS").kept_exposures([11, 12, 13]) == (12, 13)


def test_do_certify_false_and_per_type_options() -> None:
    plan = plan_of(
        "BIAS_DARK",
        generate_calibrations=True,
        do_certify=False,
        config_options_dark="-c isr:doDefect=False",
        number_verification_tests_threshold_dark=3,
        pipeline_dark="/p/cpDark.yaml",
    )
    dark = plan.type_plan("DARK")
    assert not dark.do_certify and dark.do_verify
    assert dark.config_options == ("-c", "isr:doDefect=False")
    assert dark.verification_threshold == 3
    assert dark.pipeline == "/p/cpDark.yaml"
    assert dark.pipeline_verify.endswith("verifyDark.yaml")


def test_accepts_a_namespace() -> None:
    plan = make_plan(types.SimpleNamespace(script_mode="BIAS", calib_collection=CALIB))
    assert plan.calib_types == ("BIAS",)


def test_exposure_time_list_per_frame_taken() -> None:
    plan = plan_of("DARK", n_dark=3, n_discard_dark=1, exp_times_dark=[1, 2, 3, 4])
    assert plan.type_plan("DARK").exp_times == (1.0, 2.0, 3.0, 4.0)


#: Upstream's default dark exposure times, the schema's (23 times for n_dark=22 + n_discard_dark=1).
DEFAULT_DARK_TIMES = [5] * 5 + [15] * 2 + [30] * 16


@pytest.mark.parametrize(
    "config, option, value_text",
    [
        # Upstream's own test values (n_flat=4 with 4 times) with the default discard: rejected now.
        (
            dict(n_flat=4, exp_times_flat=[10, 10, 50, 50]),
            "exp_times_flat",
            "[10, 10, 50, 50] has 4 value(s) for 5",
        ),
        (dict(n_dark=3, exp_times_dark=[5, 5, 5]), "exp_times_dark", "[5, 5, 5] has 3 value(s) for 4 frames"),
        # n_dark changed, exp_times_dark left at its default of 23 times: the message says so.
        (
            dict(n_dark=3),
            "exp_times_dark",
            f"{DEFAULT_DARK_TIMES} is exp_times_dark's default, one time per frame of the default "
            "n_dark=22 + n_discard_dark=1, and does not fit the 4 frames of this configuration "
            "(n_dark=3 + n_discard_dark=1); give exp_times_dark too",
        ),
        (
            dict(n_discard_dark=0),
            "exp_times_dark",
            f"{DEFAULT_DARK_TIMES} is exp_times_dark's default, one time per frame of the default "
            "n_dark=22 + n_discard_dark=1, and does not fit the 22 frames",
        ),
        (dict(exp_times_dark=-1), "exp_times_dark", "-1 is not > 0"),
        (dict(exp_times_dark=0), "exp_times_dark", "0 is not > 0"),
        (dict(n_dark=1, n_discard_dark=0, exp_times_dark=[0.0]), "exp_times_dark", "item [0] 0.0 is not > 0"),
        (dict(exp_times_dark="30"), "exp_times_dark", "'30' is not a number"),
        (dict(exp_times_flat=True), "exp_times_flat", "True is not a number"),
        (dict(exp_times_flat=0.05), "exp_times_flat", f"0.05 s is shorter than {MIN_OPEN_SHUTTER_TIME} s"),
        (dict(filter=None), "filter", "not given, but script_mode BIAS_DARK_FLAT takes flats"),
        (dict(filter="r"), "filter", "'r' is not an LSSTComCam filter"),
        (dict(filter=3), "filter", "3 is not an LSSTComCam filter"),
        (dict(n_bias=2, n_discard_bias=2), "n_discard_bias", "2 is not fewer than n_bias=2"),
        (dict(n_flat=1, n_discard_flat=5), "n_discard_flat", "5 is not fewer than n_flat=1"),
        (dict(take_only=True, generate_calibrations=True), "take_only", "true together with"),
        (dict(do_verify=False), "do_verify", "false with generate_calibrations false"),
        (
            dict(generate_calibrations=True, n_dark=1, n_discard_dark=0, exp_times_dark=30),
            "n_dark",
            "1 with do_verify",
        ),
        (dict(script_mode="BIAS_FLAT"), "script_mode", "'BIAS_FLAT' is not one of"),
        (dict(reason="a,b"), "reason", "'a,b' contains a comma"),
        (dict(certify_calib_begin_date="2026-11-25"), "certify_calib_end_date", "not given"),
        (
            dict(certify_calib_begin_date="2026-11-25", certify_calib_end_date="2026-11-24"),
            "certify_calib_end_date",
            "2026-11-24T00:00:00.000 is not after",
        ),
        (dict(input_collections_dark="a b"), "input_collections_dark", "collection name 'a b'"),
        (dict(config_options_flat="-j 4"), "config_options_flat", "-j is set by the script"),
        (dict(n_biass=3), "n_biass", "unknown option"),
        (dict(calib_collection=None), "calib_collection", "required option missing"),
        (dict(job_timeout=0), "job_timeout", "0 is not > 0"),
    ],
)
def test_configure_time_errors_name_the_option_and_value_first(
    config: dict[str, typing.Any], option: str, value_text: str
) -> None:
    check_error(option, value_text, **config)


def test_filter_in_a_mode_without_flats_is_refused() -> None:
    error = check_error(
        "filter",
        "'r_03' given, but script_mode BIAS_DARK takes no flats",
        script_mode="BIAS_DARK",
        filter="r_03",
    )
    assert "shutter closed" in str(error)


def test_errors_of_types_not_taken_are_ignored() -> None:
    # The dark defaults (23 times) do not match n_dark=3, but this run takes no darks.
    plan = plan_of("BIAS", n_dark=3)
    assert plan.calib_types == ("BIAS",)


def test_script_mode_is_required() -> None:
    with pytest.raises(ConfigError, match="^script_mode: required option missing"):
        make_plan({"calib_collection": CALIB})


def test_unknown_filter_error_lists_the_filters() -> None:
    error = check_error("filter", "'x_01'", filter="x_01")
    for name in comcam_filters():
        assert name in str(error)


def test_shared_options_and_dates() -> None:
    plan = plan_of(
        "BIAS",
        certify_calib_begin_date="2026-11-25",
        certify_calib_end_date="2026-11-26T12:00",
        report_dir="",
        detectors="(0..2)",
        job_timeout=10,
    )
    assert plan.certify_calib_begin_date == "2026-11-25T00:00:00.000"
    assert plan.certify_calib_end_date == "2026-11-26T12:00:00.000"
    assert plan.report_dir == ""
    assert plan.detectors == (0, 1, 2)
    assert plan.options["job_timeout"] == 10.0
    assert plan.options["frame_timeout"] == schema_defaults()["frame_timeout"]
    with pytest.raises(KeyError, match="DARK is not taken in script_mode BIAS"):
        plan.type_plan("DARK")


@pytest.mark.parametrize(
    "script_mode, certified, mode",
    [
        ("BIAS", {}, None),
        ("BIAS_DARK", {}, None),
        ("BIAS_DARK_FLAT", {}, None),
        ("DARK", {"BIAS": ("DARK",)}, "BIAS_DARK"),
        ("DARK_FLAT", {"BIAS": ("DARK", "FLAT")}, "BIAS_DARK_FLAT"),
        ("FLAT", {"BIAS": ("FLAT",), "DARK": ("FLAT",)}, "BIAS_DARK_FLAT"),
    ],
)
def test_certified_inputs_are_what_the_run_builds_on_but_does_not_build(
    script_mode: str, certified: dict, mode: str | None
) -> None:
    plan = plan_of(script_mode, generate_calibrations=True)
    assert plan.certified_inputs == certified
    assert plan.mode_building_inputs == mode
    for type_plan in plan.types:
        expected = tuple(name for name, users in certified.items() if type_plan.calib_type in users)
        assert type_plan.certified_inputs == expected
    # A take-only run needs nothing.
    assert plan_of(script_mode, take_only=True).certified_inputs == {}


VERIFIED_AGAINST = {"BIAS": ("BIAS",), "DARK": ("BIAS", "DARK"), "FLAT": ("BIAS", "DARK", "FLAT")}
"""What cp_verify reads to verify new frames of a type: it corrects them with the calibrations the type
is built on (verifyBias: doBias; verifyDark: doBias, doDark; verifyFlat: doBias, doDark, doFlat)."""


@pytest.mark.parametrize("script_mode", list(MODE_TYPES))
def test_verifying_new_frames_needs_the_type_and_what_it_is_built_on(script_mode: str) -> None:
    plan = plan_of(script_mode, input_collections_verify_flat="u/me/flats,LSSTComCam/calib")
    for type_plan in plan.types:
        assert type_plan.certified_inputs == VERIFIED_AGAINST[type_plan.calib_type]
        (check,) = plan.certified_inputs_checks(type_plan)
        assert check.collections == type_plan.verify_inputs
    if "FLAT" in script_mode:
        (check,) = plan.certified_inputs_checks(plan.type_plan("FLAT"))
        assert check.collections == ("u/me/flats", "LSSTComCam/calib")
    # Nothing is built: no mode builds them for this run.
    assert plan.mode_building_inputs is None


def test_certified_inputs_checks_say_what_needs_them_and_what_to_do() -> None:
    build = plan_of("FLAT", generate_calibrations=True, filter="g_01", do_verify=False)
    (check,) = build.certified_inputs_checks(build.type_plan("FLAT"))
    assert check.collections == (CALIB, "LSSTComCam/calib")
    assert check.dataset_types == ("bias", "dark") and check.physical_filters == {}
    assert check.needed_by == "this run builds its flats on"
    assert check.remedy == (
        f"Certify a bias and a dark in {CALIB} first, run script_mode BIAS_DARK_FLAT (which builds them "
        "first), or set calib_collection or input_collections_flat to collections that hold them; "
        "no frame was taken"
    )
    # With do_verify, the verification job reads them too, from its own inputs.
    verified = plan_of("DARK", generate_calibrations=True, input_collections_verify_dark="u/me/v")
    build_check, verify_check = verified.certified_inputs_checks(verified.type_plan("DARK"))
    assert build_check.collections == (CALIB, "LSSTComCam/calib")
    assert verify_check.collections == (CALIB, "u/me/v")
    assert verify_check.dataset_types == ("bias",)
    assert verify_check.needed_by == "this run verifies its new darks with"
    assert verify_check.remedy.endswith(
        "or set calib_collection or input_collections_verify_dark to collections that hold it; "
        "no frame was taken"
    )
    # Resumed from a completed dark job: no build job runs, only the verification reads the bias.
    resumed = plan_of(
        "DARK",
        generate_calibrations=True,
        exposure_ids_dark=[2026112500011, 2026112500012],
        dark_job_id="d0e1",
    )
    (check,) = resumed.certified_inputs_checks(resumed.type_plan("DARK"))
    assert check.needed_by == "this run verifies its new darks with"
    # Only verified: the flat of the filter (the butler's name, LATISS's FILTER~GRATING if given).
    verify = plan_of("FLAT", filter="g_01", input_collections_verify_flat="u/me/flats,LSSTComCam/calib")
    (check,) = verify.certified_inputs_checks(verify.type_plan("FLAT"))
    assert check.collections == ("u/me/flats", "LSSTComCam/calib")
    assert check.dataset_types == ("bias", "dark", "flat")
    assert check.physical_filters == {"flat": "g_01"}
    assert check.needed_by == "this run verifies its new flats against"
    assert check.remedy == (
        "Certify a bias, a dark and a flat in a CALIBRATION collection of input_collections_verify_flat "
        "first, or set input_collections_verify_flat to collections that hold them; no frame was taken"
    )
    (check,) = verify.certified_inputs_checks(verify.type_plan("FLAT"), "SDSSr_65mm~empty")
    assert check.physical_filters == {"flat": "SDSSr_65mm~empty"}
    # A take-only run checks nothing.
    take = plan_of("FLAT", take_only=True)
    assert take.certified_inputs_checks(take.type_plan("FLAT")) == []
