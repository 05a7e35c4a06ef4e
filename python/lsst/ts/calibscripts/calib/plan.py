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


"""The plan of a MakeComCamCalibrations run: what is taken and built, per type.

`make_plan` turns the schema-validated, defaults-filled configuration
(``schemas/make_comcam_calibrations.yaml``) into a frozen `CalibrationPlan`:
one `TypePlan` per calibration type of ``script_mode``, in the order the
camera takes them (bias, dark, flat), with the exposure time of every frame,
the filter, the job inputs, options and thresholds, what is done with the
frames (`Processing`) and which types each one is built on.

Dependencies: with ``generate_calibrations`` a dark is built with this run's
new bias and a flat with this run's new bias and dark. The prerequisite's
output collection is not known before its job ends, so the plan names the
prerequisite types (`TypePlan.depends_on`) and `TypePlan.calib_job_inputs`
puts their output collections first when the job is submitted. A
prerequisite this run does not build (modes DARK, FLAT, DARK_FLAT) comes from
the calibrations certified in ``calib_collection``, which the plan puts
before the type's own input collections.

Every check the schema cannot express is made here, before any frame is
taken; each error is a `ConfigError` whose message starts with the option and
its value. Pure functions: no I/O besides reading the packaged schema.

Calibration types are plain strings at this boundary: ``"BIAS"``,
``"DARK"``, ``"FLAT"`` (`CALIB_TYPES`).
"""

from __future__ import annotations

__all__ = [
    "CALIB_TYPES",
    "MIN_OPEN_SHUTTER_TIME",
    "MODE_TYPES",
    "SCHEMA_NAME",
    "CalibrationPlan",
    "Processing",
    "TypePlan",
    "comcam_filters",
    "make_plan",
    "schema_defaults",
]

import dataclasses
import enum
import functools
import typing

from ..cameras import COMCAM, CameraProfile
from .butler_ops import and_join
from .config import (
    ConfigError,
    _check_collection_name,
    check_exposure_ids,
    check_job_id,
    parse_collections,
    parse_detectors,
    parse_pipetask_options,
    parse_tai_date,
    resolve_report_dir,
)
from .types import CALIB_TYPES as TYPE_SPECS
from .types import spec_for

SCHEMA_NAME = "make_comcam_calibrations.yaml"

CALIB_TYPES: tuple[str, ...] = ("BIAS", "DARK", "FLAT")
"""Calibration types, in the order the camera takes them."""

MODE_TYPES: dict[str, tuple[str, ...]] = {
    "BIAS": ("BIAS",),
    "DARK": ("DARK",),
    "FLAT": ("FLAT",),
    "BIAS_DARK": ("BIAS", "DARK"),
    "DARK_FLAT": ("DARK", "FLAT"),
    "BIAS_DARK_FLAT": ("BIAS", "DARK", "FLAT"),
}
"""The calibration types each ``script_mode`` takes, in order."""

BUILT_ON: dict[str, tuple[str, ...]] = {
    spec.name.upper(): tuple(p.value.upper() for p in spec.prerequisites) for spec in TYPE_SPECS.values()
}
"""The calibrations each type's combine job needs (ISR of its frames): the
registry's ``prerequisites`` (``{"BIAS": (), "DARK": ("BIAS",), "FLAT":
("BIAS", "DARK")}``)."""

MIN_OPEN_SHUTTER_TIME = 0.1
"""Shortest open-shutter exposure ComCam accepts (seconds); flats are open-shutter."""


class Processing(enum.Enum):
    """What a run does with a type's frames after taking them."""

    TAKE_ONLY = "take only"
    """Nothing: the frames are taken and their ids reported (``take_only``)."""
    VERIFY_FRAMES = "verify frames"
    """Verify the new frames against the certified calibration (no build)."""
    BUILD = "build"
    """Build a new calibration, then verify and certify it as configured."""


def _dedupe(names: typing.Iterable[str]) -> tuple[str, ...]:
    """Names in order, each once (the first occurrence wins)."""
    return tuple(dict.fromkeys(names))


@dataclasses.dataclass(frozen=True)
class TypePlan:
    """The plan of one calibration type.

    Attributes
    ----------
    calib_type : `str`
        ``"BIAS"``, ``"DARK"`` or ``"FLAT"``; also the camera image type.
    n_frames : `int`
        Frames combined (or verified), after the discarded ones.
    n_discard : `int`
        Frames taken first and not processed.
    exp_times : `tuple` [`float`, ...]
        Exposure time of every frame taken, discarded ones first
        (``n_discard + n_frames`` entries; all 0 for biases).
    filter : `str` or `None`
        Physical filter (flats only).
    processing : `Processing`
        What is done with the frames.
    do_verify : `bool`
        Run the verification job (``BUILD`` or ``VERIFY_FRAMES``).
    do_certify : `bool`
        Certify the new calibration (``BUILD`` only).
    depends_on : `tuple` [`str`, ...]
        Types of this run the calibration is built on, in take order; their
        processing must succeed first and their output collections are
        inputs of this type's jobs.
    calib_inputs : `tuple` [`str`, ...]
        Input collections of the combine job after the prerequisites'
        outputs (see `calib_job_inputs`).
    verify_inputs : `tuple` [`str`, ...]
        Input collections of the verification job after the new outputs
        (see `verify_job_inputs`).
    pipeline, pipeline_verify : `str`
        Pipelines of the combine and verification jobs.
    config_options, config_options_verify : `tuple` [`str`, ...]
        Extra pipetask words of the combine and verification jobs.
    verification_threshold : `int`
        ``number_verification_tests_threshold_<type>``.
    exposure_ids : `tuple` [`int`, ...]
        Resume: ``exposure_ids_<type>``, exposures already taken and
        ingested, processed instead of taking frames (none discarded).
    build_job_id : `str`
        Resume: ``<type>_job_id``, a completed build job whose output is used
        instead of running the build job.
    certified_inputs : `tuple` [`str`, ...]
        Types whose certified calibrations this type's jobs read from their
        input collections, which the script checks at preflight
        (`CalibrationPlan.certified_inputs_checks`): when built, the types
        it is built on that this run does not build (a DARK mode's bias:
        the build job reads it from `calib_inputs`, the verification job
        from `verify_inputs`); when its new frames are only verified
        (``VERIFY_FRAMES``), the types it is built on and itself (cp_verify
        corrects the frames with them and compares them with its own; from
        `verify_inputs`).
    """

    calib_type: str
    n_frames: int
    n_discard: int
    exp_times: tuple[float, ...]
    filter: str | None
    processing: Processing
    do_verify: bool
    do_certify: bool
    depends_on: tuple[str, ...]
    calib_inputs: tuple[str, ...]
    verify_inputs: tuple[str, ...]
    pipeline: str
    pipeline_verify: str
    config_options: tuple[str, ...]
    config_options_verify: tuple[str, ...]
    verification_threshold: int
    exposure_ids: tuple[int, ...] = ()
    build_job_id: str = ""
    certified_inputs: tuple[str, ...] = ()

    @property
    def resumes(self) -> bool:
        """True if no frame is taken: the type resumes from ``exposure_ids``."""
        return bool(self.exposure_ids)

    @property
    def n_frames_to_take(self) -> int:
        """Frames the camera takes: discarded + processed (none when resuming)."""
        return 0 if self.resumes else self.n_discard + self.n_frames

    @property
    def n_exposures(self) -> int:
        """Exposures the type's take gives: the resumed ones, or every frame taken."""
        return len(self.exposure_ids) if self.resumes else self.n_frames_to_take

    @property
    def builds(self) -> bool:
        """True if a new calibration of this type is built."""
        return self.processing is Processing.BUILD

    @property
    def processes(self) -> bool:
        """True if any job runs on this type's frames."""
        return self.processing is not Processing.TAKE_ONLY

    def kept_exposures(self, exposure_ids: typing.Sequence[int]) -> tuple[int, ...]:
        """The exposures to process: all taken but the first ``n_discard`` (all resumed ones)."""
        return tuple(exposure_ids) if self.resumes else tuple(exposure_ids[self.n_discard :])

    def calib_job_inputs(self, prerequisite_outputs: typing.Sequence[str] = ()) -> tuple[str, ...]:
        """Input collections (-i) of the combine job.

        Parameters
        ----------
        prerequisite_outputs : sequence of `str`
            Output collections of this run's jobs of `depends_on` (as the
            orchestrator passes them).

        Returns
        -------
        collections : `tuple` [`str`, ...]
            The prerequisites' outputs, then `calib_inputs`, each once.
        """
        return _dedupe([*prerequisite_outputs, *self.calib_inputs])

    def verify_job_inputs(
        self, own_output: str | None, prerequisite_outputs: typing.Sequence[str] = ()
    ) -> tuple[str, ...]:
        """Input collections (-i) of the verification job.

        Parameters
        ----------
        own_output : `str` or `None`
            Output collection of this type's combine job (`None` when
            verifying frames against the certified calibration).
        prerequisite_outputs : sequence of `str`
            Output collections of this run's jobs of `depends_on`, so that
            the new calibration is verified with the bias (and dark) it was
            built with.

        Returns
        -------
        collections : `tuple` [`str`, ...]
            The new outputs, then `verify_inputs`, each once.
        """
        head = [own_output] if own_output else []
        return _dedupe([*head, *prerequisite_outputs, *self.verify_inputs])


@dataclasses.dataclass(frozen=True)
class CertifiedInputsCheck:
    """One check of the preflight for a job's `TypePlan.certified_inputs` (the arguments of
    `~.butler_ops.check_certified_inputs` but the repository and detectors).

    Attributes
    ----------
    collections : `tuple` [`str`, ...]
        The job's input collections (`TypePlan.calib_inputs` or
        `TypePlan.verify_inputs`).
    dataset_types : `tuple` [`str`, ...]
        The calibrations needed (``bias``, ``dark``, ``flat``).
    physical_filters : `dict` [`str`, `str`]
        The filter of a per-filter dataset type (``{"flat": "r_03"}``).
    needed_by : `str`
        What needs them (``this run builds its darks on``).
    remedy : `str`
        What to do if they are missing.
    """

    collections: tuple[str, ...]
    dataset_types: tuple[str, ...]
    physical_filters: dict[str, str]
    needed_by: str
    remedy: str


@dataclasses.dataclass(frozen=True)
class CalibrationPlan:
    """The plan of a MakeComCamCalibrations run.

    Attributes
    ----------
    script_mode : `str`
        The ``script_mode`` option.
    types : `tuple` [`TypePlan`, ...]
        One plan per type, in take order.
    calib_collection, repo, report_dir : `str`
        As the options (``report_dir`` absolute, or empty for none).
    detectors : `tuple` [`int`, ...]
        Detector ids.
    certify_calib_begin_date, certify_calib_end_date : `str` or `None`
        ISO-8601 TAI validity range, or `None` for the frames' day_obs.
    options : `dict` [`str`, `typing.Any`]
        The remaining shared options as given (timeouts, n_processes,
        reason, program, note, supersede, ...), read-only by convention.
    """

    script_mode: str
    types: tuple[TypePlan, ...]
    calib_collection: str
    repo: str
    report_dir: str
    detectors: tuple[int, ...]
    certify_calib_begin_date: str | None
    certify_calib_end_date: str | None
    options: dict[str, typing.Any] = dataclasses.field(compare=False)

    @property
    def calib_types(self) -> tuple[str, ...]:
        """The types of this run, in take order."""
        return tuple(t.calib_type for t in self.types)

    @property
    def n_frames_to_take(self) -> int:
        """Frames the camera takes in all, discarded ones included."""
        return sum(t.n_frames_to_take for t in self.types)

    @property
    def total_exposure_time(self) -> float:
        """Sum of the exposure times of every frame taken (seconds)."""
        return float(sum(sum(t.exp_times) for t in self.types))

    @property
    def certified_inputs(self) -> dict[str, tuple[str, ...]]:
        """The certified calibrations the run needs (`TypePlan.certified_inputs`), and the types needing each.

        ``{"BIAS": ("DARK", "FLAT")}`` for a ``DARK_FLAT`` run that builds;
        ``{"BIAS": ("BIAS", "DARK"), "DARK": ("DARK",)}`` for a ``BIAS_DARK``
        run that only verifies its new frames; empty when the run builds
        every prerequisite, or only takes frames.
        """
        needed: dict[str, list[str]] = {}
        for plan in self.types:
            for prerequisite in plan.certified_inputs:
                needed.setdefault(prerequisite, []).append(plan.calib_type)
        return {name: tuple(needed[name]) for name in CALIB_TYPES if name in needed}

    @property
    def mode_building_inputs(self) -> str | None:
        """The ``script_mode`` also building what the built types need certified (``DARK``: ``BIAS_DARK``).

        `None` if no type is built on a certified calibration.
        """
        needed = {name for plan in self.types if plan.builds for name in plan.certified_inputs}
        if not needed:
            return None
        wanted = tuple(t for t in CALIB_TYPES if t in needed or t in self.calib_types)
        return next((mode for mode, types in MODE_TYPES.items() if types == wanted), None)

    def certified_inputs_checks(
        self, type_plan: TypePlan, physical_filter: str | None = None
    ) -> list[CertifiedInputsCheck]:
        """What the preflight checks for ``type_plan``'s `TypePlan.certified_inputs`, with the advice.

        A type that is built: its build job's inputs (unless it resumes from
        a completed build job) and, with ``do_verify``, its verification
        job's; a type whose new frames are only verified: the verification
        job's inputs.

        Parameters
        ----------
        type_plan : `TypePlan`
            One of this plan's types.
        physical_filter : `str`, optional
            The butler ``physical_filter`` of the type's flats (LATISS:
            ``FILTER~GRATING``); default the type's ``filter``.
        """
        if not type_plan.certified_inputs:
            return []
        spec = spec_for(type_plan.calib_type)
        needs = [spec_for(name) for name in type_plan.certified_inputs]
        dataset_types = tuple(need.dataset_type for need in needs)
        them = "it" if len(dataset_types) == 1 else "them"
        a_list = and_join(["a " + t for t in dataset_types])
        butler_filter = physical_filter or type_plan.filter
        filters = {need.dataset_type: butler_filter for need in needs if need.per_filter and butler_filter}
        verify_option = f"input_collections_verify_{spec.name}"
        checks = []

        def check(collections: tuple[str, ...], needed_by: str, remedies: list[str]) -> CertifiedInputsCheck:
            return CertifiedInputsCheck(
                collections=collections,
                dataset_types=dataset_types,
                physical_filters=filters,
                needed_by=needed_by,
                remedy=f"{', '.join(remedies[:-1])}, or {remedies[-1]}; no frame was taken",
            )

        if type_plan.builds:
            build_it = (
                [f"run script_mode {self.mode_building_inputs} (which builds {them} first)"]
                if self.mode_building_inputs
                else []
            )
            if not type_plan.build_job_id:
                checks.append(
                    check(
                        type_plan.calib_inputs,
                        f"this run builds its {spec.plural} on",
                        [
                            f"Certify {a_list} in {self.calib_collection} first",
                            *build_it,
                            f"set calib_collection or input_collections_{spec.name} to collections that "
                            f"hold {them}",
                        ],
                    )
                )
            if type_plan.do_verify:
                checks.append(
                    check(
                        type_plan.verify_inputs,
                        f"this run verifies its new {spec.plural} with",
                        [
                            f"Certify {a_list} in {self.calib_collection} first",
                            *build_it,
                            f"set calib_collection or {verify_option} to collections that hold {them}",
                        ],
                    )
                )
        else:
            checks.append(
                check(
                    type_plan.verify_inputs,
                    f"this run verifies its new {spec.plural} against",
                    [
                        f"Certify {a_list} in a CALIBRATION collection of {verify_option} first",
                        f"set {verify_option} to collections that hold {them}",
                    ],
                )
            )
        return checks

    def type_plan(self, calib_type: str) -> TypePlan:
        """The plan of ``calib_type``.

        Raises
        ------
        KeyError
            If this run does not take that type.
        """
        for plan in self.types:
            if plan.calib_type == calib_type:
                return plan
        raise KeyError(f"{calib_type} is not taken in script_mode {self.script_mode}")


@functools.cache
def _schema(schema_name: str = SCHEMA_NAME) -> dict[str, typing.Any]:
    from ..schemas import load_schema

    return load_schema(schema_name)


def schema_defaults(schema_name: str = SCHEMA_NAME) -> dict[str, typing.Any]:
    """The default of every option of a calibrations schema that has one.

    Parameters
    ----------
    schema_name : `str`, optional
        The camera's schema file (default ComCam's).

    Returns
    -------
    defaults : `dict` [`str`, `typing.Any`]
        A fresh copy (safe to modify).
    """
    return {
        name: list(spec["default"]) if isinstance(spec["default"], list) else spec["default"]
        for name, spec in _schema(schema_name)["properties"].items()
        if "default" in spec
    }


def comcam_filters(schema_name: str = SCHEMA_NAME) -> tuple[str, ...]:
    """The physical filters a camera's schema's ``filter`` accepts (default LSSTComCam's)."""
    for alternative in _schema(schema_name)["properties"]["filter"]["anyOf"]:
        if "enum" in alternative:
            return tuple(alternative["enum"])
    raise RuntimeError(f"{schema_name}: filter lists no filter names")  # pragma: no cover


def _positive_number(value: typing.Any, option: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(option, f"{where}{value!r} is not a number of seconds")
    if not value > 0:
        raise ConfigError(option, f"{where}{value!r} is not > 0")
    return float(value)


def exposure_times(
    value: typing.Any,
    option: str,
    n_frames: int,
    n_discard: int,
    minimum: float = 0.0,
    *,
    default_counts: tuple[int, int] | None = None,
) -> tuple[float, ...]:
    """One exposure time per frame taken, from a number or a list.

    Parameters
    ----------
    value : `float` or `list` [`float`]
        The option's value: one time for every frame, or one per frame
        taken, discarded frames first.
    option : `str`
        Option name for error messages.
    n_frames, n_discard : `int`
        Processed and discarded frames of the type.
    minimum : `float`
        Shortest allowed time (besides > 0).
    default_counts : `tuple` [`int`, `int`], optional
        If ``value`` is the option's default: the default (``n_<type>``,
        ``n_discard_<type>``) it was made for, so that a list of the wrong
        length says it is the default and that the option must be given
        with other frame counts.

    Returns
    -------
    exp_times : `tuple` [`float`, ...]
        ``n_discard + n_frames`` times.

    Raises
    ------
    ConfigError
        A list of the wrong length, or a time that is not a number, not > 0
        or below ``minimum``.
    """
    n_taken = n_frames + n_discard
    kind = option.removeprefix("exp_times_")
    counts = f"n_{kind}={n_frames} + n_discard_{kind}={n_discard}"
    if isinstance(value, (list, tuple)):
        if len(value) != n_taken:
            if default_counts is not None:
                raise ConfigError(
                    option,
                    f"{list(value)!r} is {option}'s default, one time per frame of the default "
                    f"n_{kind}={default_counts[0]} + n_discard_{kind}={default_counts[1]}, and does not fit "
                    f"the {n_taken} frames of this configuration ({counts}); give {option} too: "
                    f"a single number, or {n_taken} times, discarded frames first",
                )
            raise ConfigError(
                option,
                f"{list(value)!r} has {len(value)} value(s) for {n_taken} frames ({counts}); "
                "give one time per frame taken, discarded frames first, or a single number",
            )
        times = tuple(_positive_number(v, option, f"item [{i}] ") for i, v in enumerate(value))
    else:
        times = (_positive_number(value, option, ""),) * n_taken
    short = [t for t in times if t < minimum]
    if short:
        raise ConfigError(
            option,
            f"{short[0]!r} s is shorter than {minimum} s, the camera's shortest open-shutter exposure",
        )
    return times


def _as_mapping(config: typing.Any) -> dict[str, typing.Any]:
    if isinstance(config, typing.Mapping):
        return dict(config)
    if hasattr(config, "__dict__"):
        return dict(vars(config))
    raise TypeError(f"config must be a mapping or SimpleNamespace, not {type(config).__name__}")


def _type_plan(
    calib_type: str,
    mode_types: tuple[str, ...],
    values: dict[str, typing.Any],
    defaults: typing.Mapping[str, typing.Any],
) -> TypePlan:
    """The plan of one type; ``values`` holds every option, ``defaults`` the schema's defaults."""
    lower = calib_type.lower()
    n_frames = int(values[f"n_{lower}"])
    n_discard = int(values[f"n_discard_{lower}"])
    if n_discard >= n_frames:
        raise ConfigError(
            f"n_discard_{lower}",
            f"{n_discard} is not fewer than n_{lower}={n_frames}; discard fewer frames than are processed",
        )
    if calib_type == "BIAS":
        exp_times = (0.0,) * (n_frames + n_discard)
    else:
        minimum = MIN_OPEN_SHUTTER_TIME if calib_type == "FLAT" else 0.0
        option = f"exp_times_{lower}"
        default_counts = None
        if option in defaults and values[option] == defaults[option]:
            default_counts = (int(defaults[f"n_{lower}"]), int(defaults[f"n_discard_{lower}"]))
        exp_times = exposure_times(
            values[option], option, n_frames, n_discard, minimum, default_counts=default_counts
        )

    if values["take_only"]:
        processing = Processing.TAKE_ONLY
    elif values["generate_calibrations"]:
        processing = Processing.BUILD
    else:
        processing = Processing.VERIFY_FRAMES
    builds = processing is Processing.BUILD
    if builds and values["do_verify"] and n_frames == 1:
        raise ConfigError(
            f"n_{lower}",
            f"1 with do_verify: verifying a {lower} built from a single frame on that same frame compares "
            f"it with itself; take more frames or set do_verify: false",
        )

    exposure_ids = check_exposure_ids(values[f"exposure_ids_{lower}"] or (), f"exposure_ids_{lower}")
    build_job_id = check_job_id(values[f"{lower}_job_id"], f"{lower}_job_id")
    if build_job_id and not builds:
        raise ConfigError(
            f"{lower}_job_id",
            f"{build_job_id!r} given, but this run builds no {lower} (generate_calibrations false or "
            "take_only); leave it out",
        )
    if build_job_id and not exposure_ids:
        raise ConfigError(
            f"{lower}_job_id",
            f"{build_job_id!r} given without exposure_ids_{lower}; resuming from a {lower} job needs "
            f"exposure_ids_{lower} (the exposures that job combined)",
        )
    if exposure_ids and processing is Processing.TAKE_ONLY:
        raise ConfigError(
            f"exposure_ids_{lower}",
            "given with take_only: a take-only run only takes frames; leave it out",
        )
    calib_collection = values["calib_collection"]
    depends_on: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    if builds:
        depends_on = tuple(t for t in BUILT_ON[calib_type] if t in mode_types)
        missing = tuple(t for t in BUILT_ON[calib_type] if t not in mode_types)
    from_certified = (calib_collection,) if missing else ()
    certified: tuple[str, ...] = missing
    if processing is Processing.VERIFY_FRAMES:
        certified = (*BUILT_ON[calib_type], calib_type)
    own_inputs = values[f"input_collections_{lower}"]
    own_verify_inputs = values[f"input_collections_verify_{lower}"]
    return TypePlan(
        calib_type=calib_type,
        n_frames=n_frames,
        n_discard=n_discard,
        exp_times=exp_times,
        filter=values["filter"] if calib_type == "FLAT" else None,
        processing=processing,
        do_verify=processing is Processing.VERIFY_FRAMES or (builds and bool(values["do_verify"])),
        do_certify=builds and bool(values["do_certify"]),
        depends_on=depends_on,
        calib_inputs=_dedupe([*from_certified, *own_inputs]),
        verify_inputs=_dedupe([*from_certified, *own_verify_inputs]) if builds else tuple(own_verify_inputs),
        pipeline=values[f"pipeline_{lower}"],
        pipeline_verify=values[f"pipeline_verify_{lower}"],
        config_options=values[f"config_options_{lower}"],
        config_options_verify=values[f"config_options_verify_{lower}"],
        verification_threshold=int(values[f"number_verification_tests_threshold_{lower}"]),
        exposure_ids=exposure_ids,
        build_job_id=build_job_id,
        certified_inputs=certified,
    )


def _check_filter(
    mode_types: tuple[str, ...],
    script_mode: str,
    value: typing.Any,
    schema_name: str = SCHEMA_NAME,
    camera: CameraProfile = COMCAM,
) -> str | None:
    filters = comcam_filters(schema_name)
    instrument = camera.instrument
    takes_flats = "FLAT" in mode_types
    if value is None:
        if takes_flats:
            raise ConfigError(
                "filter",
                f"not given, but script_mode {script_mode} takes flats; give one of {', '.join(filters)}",
            )
        return None
    if not isinstance(value, str) or value not in filters:
        raise ConfigError(
            "filter", f"{value!r} is not an {instrument} filter; give one of {', '.join(filters)}"
        )
    if not takes_flats:
        raise ConfigError(
            "filter",
            f"{value!r} given, but script_mode {script_mode} takes no flats (biases and darks are taken "
            "with the shutter closed); leave filter out or choose a mode with FLAT",
        )
    return value


def make_plan(
    config: typing.Any, schema_name: str = SCHEMA_NAME, camera: CameraProfile = COMCAM
) -> CalibrationPlan:
    """Build the `CalibrationPlan` of a validated configuration.

    Parameters
    ----------
    config : `dict` or `types.SimpleNamespace`
        The configuration after schema validation with defaults filled (as
        ``BaseScript.configure`` receives it). Missing keys take the
        schema's defaults; ``script_mode`` and ``calib_collection`` are
        required.
    schema_name : `str`, optional
        The camera's schema (`lsst.ts.calibscripts.schemas`; default ComCam's).
    camera : `~lsst.ts.calibscripts.cameras.CameraProfile`, optional
        The camera (default LSSTComCam): its detectors are the valid
        ``detectors`` (ids or names), its name is in the errors, and its
        default detectors are the plan's when the schema has no
        ``detectors`` option (LATISS: its one detector).

    Returns
    -------
    plan : `CalibrationPlan`
        The plan; nothing is taken or run.

    Raises
    ------
    ConfigError
        A value the schema cannot reject on its own; the message starts
        with the option and its value.
    """
    given = _as_mapping(config)
    defaults = schema_defaults(schema_name)
    known = set(_schema(schema_name)["properties"])
    unknown = sorted(set(given) - known)
    if unknown:
        raise ConfigError(unknown[0], "unknown option (check its spelling)")
    for name in _schema(schema_name)["required"]:
        if given.get(name) is None:
            raise ConfigError(name, "required option missing")
    values: dict[str, typing.Any] = {**defaults, **given}

    script_mode = values["script_mode"]
    if script_mode not in MODE_TYPES:
        raise ConfigError("script_mode", f"{script_mode!r} is not one of {', '.join(MODE_TYPES)}")
    mode_types = MODE_TYPES[script_mode]

    values["calib_collection"] = _check_collection_name(
        str(values["calib_collection"]).strip(), "calib_collection"
    )
    for calib_type in CALIB_TYPES:
        lower = calib_type.lower()
        for name in (f"input_collections_{lower}", f"input_collections_verify_{lower}"):
            values[name] = parse_collections(values[name], name)
        for name in (f"config_options_{lower}", f"config_options_verify_{lower}"):
            values[name] = parse_pipetask_options(values[name], name)
        for name in (f"pipeline_{lower}", f"pipeline_verify_{lower}"):
            if not str(values[name]).strip():
                raise ConfigError(name, f"{values[name]!r} is empty; give a path")
    detectors = (
        parse_detectors(values["detectors"], camera=camera)
        if "detectors" in values
        else camera.default_detectors
    )
    if not str(values["repo"]).strip():
        raise ConfigError("repo", f"{values['repo']!r} is empty; give a path")
    dates = {}
    for name in ("certify_calib_begin_date", "certify_calib_end_date"):
        dates[name] = None if values[name] is None else parse_tai_date(str(values[name]), name)
    begin, end = dates["certify_calib_begin_date"], dates["certify_calib_end_date"]
    if (begin is None) != (end is None):
        missing, other = (
            ("certify_calib_end_date", "certify_calib_begin_date")
            if begin is not None
            else ("certify_calib_begin_date", "certify_calib_end_date")
        )
        raise ConfigError(
            missing,
            f"not given, but {other} is {begin or end}; give both (or neither, for the frames' day_obs)",
        )
    if begin is not None and end is not None and not begin < end:
        raise ConfigError("certify_calib_end_date", f"{end} is not after certify_calib_begin_date {begin}")
    for name in ("reason", "program", "note"):
        values[name] = str(values[name]).strip()
    for name in ("reason", "program"):
        if "," in values[name]:
            raise ConfigError(
                name,
                f"{values[name]!r} contains a comma: the camera's keyValueMap separates its entries with "
                "commas, so the text after it would become other header keys; leave the comma out",
            )
    for name in ("job_timeout", "frame_timeout", "oods_timeout"):
        if not float(values[name]) > 0:
            raise ConfigError(name, f"{values[name]!r} is not > 0")
        values[name] = float(values[name])

    values["filter"] = _check_filter(mode_types, script_mode, values["filter"], schema_name, camera)
    if values["take_only"] and values["generate_calibrations"]:
        raise ConfigError(
            "take_only",
            "true together with generate_calibrations true: a take-only run builds nothing; "
            "set one of them to false",
        )
    if not values["take_only"] and not values["generate_calibrations"] and not values["do_verify"]:
        raise ConfigError(
            "do_verify",
            "false with generate_calibrations false leaves nothing to do with the frames; "
            "set take_only: true to only take frames, or generate_calibrations: true to build",
        )

    types = tuple(_type_plan(calib_type, mode_types, values, defaults) for calib_type in mode_types)
    shared = {
        name: values[name]
        for name in (
            "n_processes",
            "job_timeout",
            "frame_timeout",
            "oods_timeout",
            "wait_between_exposures",
            "max_counter_archiver_check",
            "certify_on_verification_failure",
            "supersede",
            "generate_calibrations",
            "do_verify",
            "do_certify",
            "take_only",
            "reason",
            "program",
            "note",
        )
    }
    return CalibrationPlan(
        script_mode=script_mode,
        types=types,
        calib_collection=values["calib_collection"],
        repo=str(values["repo"]).strip(),
        report_dir=resolve_report_dir(str(values["report_dir"])),
        detectors=detectors,
        certify_calib_begin_date=begin,
        certify_calib_end_date=end,
        options=shared,
    )
