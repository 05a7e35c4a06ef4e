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

"""The MakeComCamBias configuration as a typed, frozen object.

The JSON schema (``schemas/make_comcam_bias.yaml``) checks types, ranges and
unknown keys. `make_config` turns the validated, defaults-filled dict into a
`BiasConfig` and adds the checks a schema cannot express: the text form of
``detectors``, collection names, ISO-8601 dates and their order, exposure id
dates, pipetask options the script owns, and contradictory resume options.
Every error is a `ConfigError` whose message starts with the option's name
and its bad value. `SchemaValidator` gives schema violations the same form,
so the first words of a CONFIGURE_FAILED cause always name the option.
Missing options take their defaults from the schema, the one source of
defaults.

Public API
----------
`BiasConfig`
    the frozen configuration; `BiasConfig.n_frames_to_take`,
    `BiasConfig.takes_frames`, `BiasConfig.runs_bias_job`.
`ConfigError`
    `ValueError` naming the offending option (``.option``).
`make_config`
    validated mapping (or `types.SimpleNamespace`) -> `BiasConfig`.
`SchemaValidator`
    wraps a schema validator (``BaseScript.config_validator``) so that its
    errors are `ConfigError` naming the option first.
`schema_defaults`
    the schema's default of every option.
`parse_detectors`, `parse_collections`, `parse_pipetask_options`,
`parse_tai_date`
    the individual parsers, usable on their own.
`day_obs_validity_range`
    the default validity range: the biases' day_obs, for one day.
"""

from __future__ import annotations

__all__ = [
    "ALL_DETECTORS",
    "BiasConfig",
    "ConfigError",
    "SchemaValidator",
    "check_exposure_ids",
    "check_job_id",
    "day_obs_validity_range",
    "make_config",
    "describe_detectors",
    "parse_collections",
    "parse_detectors",
    "parse_pipetask_options",
    "parse_tai_date",
    "schema_defaults",
]

import dataclasses
import datetime
import functools
import os
import re
import types
import typing

import jsonschema.exceptions

from ..cameras import COMCAM, CameraProfile, DetectorKind
from ..errors import CalibScriptsError

ALL_DETECTORS: tuple[int, ...] = COMCAM.detector_ids

# pipetask options the script sets itself; giving them again would change
# what the script reports or break the job.
_RESERVED_OPTIONS = frozenset(
    {
        "-j",
        "--processes",
        "-i",
        "--input",
        "-o",
        "--output",
        "--output-run",
        "-d",
        "--data-query",
        "-b",
        "--butler-config",
        "-p",
        "--pipeline",
    }
)
_JOB_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
_WHITESPACE_RE = re.compile(r"\s")
# Collection names: daf_butler reads * ? [ ] as wildcards in searches, and OCPS
# hands -i to pipetask through a shell variable, where quotes stay literal.
_COLLECTION_RE = re.compile(r"^[A-Za-z0-9_.+@/-]+$")
# OCPS passes the job's options to pipetask through a shell variable without
# re-reading quotes: a quote or backslash would reach pipetask literally.
_LITERAL_CHARACTERS = ("'", '"', "\\")


class ConfigError(CalibScriptsError, ValueError):
    """A configuration value is invalid.

    Parameters
    ----------
    option : `str`
        Name of the offending option; the message starts with it.
    message : `str`
        What is wrong and, where useful, what to give instead.
    """

    def __init__(self, option: str, message: str) -> None:
        self.option = option
        super().__init__(f"{option}: {message}")


@dataclasses.dataclass(frozen=True)
class BiasConfig:
    """The MakeComCamBias configuration, checked and normalised.

    Attributes mirror the schema options; collections, detectors, exposure
    ids and pipetask options are tuples; dates are ISO-8601 TAI strings
    (``isot``) or `None` for "the biases' day_obs, for one day".
    """

    calib_collection: str
    n_bias: int
    n_discard_bias: int
    n_verify_bias: int
    detectors: tuple[int, ...]
    input_collections_bias: tuple[str, ...]
    input_collections_verify: tuple[str, ...]
    repo: str
    n_processes: int
    pipeline_bias: str
    pipeline_verify: str
    config_options_bias: tuple[str, ...]
    config_options_verify: tuple[str, ...]
    job_timeout: float
    do_verify: bool
    do_certify: bool
    number_verification_tests_threshold_bias: int
    certify_on_verification_failure: bool
    supersede: bool
    certify_calib_begin_date: str | None
    certify_calib_end_date: str | None
    max_counter_archiver_check: int
    frame_timeout: float
    oods_timeout: float
    reason: str
    program: str
    note: str
    exposure_ids: tuple[int, ...]
    bias_job_id: str
    report_dir: str

    @property
    def takes_frames(self) -> bool:
        """True if the script takes new frames (no ``exposure_ids`` given)."""
        return not self.exposure_ids

    @property
    def runs_bias_job(self) -> bool:
        """True if the script runs cpBias (no ``bias_job_id`` given)."""
        return not self.bias_job_id

    @property
    def n_frames_to_take(self) -> int:
        """Frames the camera takes: discarded + combined + verification."""
        if not self.takes_frames:
            return 0
        return self.n_discard_bias + self.n_bias + self.n_verify_bias

    @property
    def verification_threshold(self) -> int:
        """Short name of ``number_verification_tests_threshold_bias``."""
        return self.number_verification_tests_threshold_bias


def parse_detectors(
    value: typing.Any, option: str = "detectors", camera: CameraProfile = COMCAM
) -> tuple[int, ...]:
    """Parse detectors given as a list or as text, by id or by name.

    Parameters
    ----------
    value : `list` [`int` or `str`] or `str`
        ``[0, 1, 2]``, ``"(0,1,2)"``, ``"0, 1"``, ``"(0..8)"`` or ``"(4)"``;
        names such as ``"R22_S11"`` may stand for ids, in a list or in text
        (``["R22_S11", 95]``, ``"R22_S11, R00_SG0"``).
    option : `str`
        Option name for error messages.
    camera : `~lsst.ts.calibscripts.cameras.CameraProfile`, optional
        The camera whose detectors are valid (default LSSTComCam, ids 0..8).

    Returns
    -------
    detectors : `tuple` [`int`, ...]
        Sorted unique ids of the camera's detectors.

    Raises
    ------
    ConfigError
        Empty, neither an id nor a name, not a detector of the camera
        (the message gives the valid ids and the form of a name), a
        reversed range, or repeated (also an id given again by its name).
    """
    ids: list[int] = []

    def by_name(text: str) -> int:
        try:
            return camera.detector_id(text)
        except ValueError:
            valid = describe_detectors(camera)
            raise ConfigError(
                option, f"{text!r} is not a detector name of {camera.instrument}; valid: {valid}"
            ) from None

    if isinstance(value, str):
        text = value.strip()
        if text.startswith("("):
            text = text[1:]
        if text.endswith(")"):
            text = text[:-1]
        parts = [p.strip() for p in text.split(",")]
        if parts and parts[-1] == "" and len(parts) > 1:
            parts = parts[:-1]  # "(0,)" as Python writes a one-element tuple
        for part in parts:
            if ".." in part:
                lo_text, _, hi_text = part.partition("..")
                try:
                    lo, hi = int(lo_text), int(hi_text)
                except ValueError:
                    raise ConfigError(option, f"cannot read range {part!r} in {value!r}") from None
                if lo > hi:
                    raise ConfigError(option, f"range {part!r} is reversed")
                ids.extend(range(lo, hi + 1))
            elif "_" in part:
                ids.append(by_name(part))
            else:
                try:
                    ids.append(int(part))
                except ValueError:
                    raise ConfigError(
                        option,
                        f"cannot read {part!r} in {value!r}; give e.g. [0, 1, 2], '(0,1,2)', '(0..8)' "
                        f"or names such as {camera.detectors[-1].name!r}",
                    ) from None
    elif isinstance(value, (list, tuple)):
        for item in value:
            if isinstance(item, str):
                ids.append(by_name(item.strip()))
            elif isinstance(item, bool) or not isinstance(item, int):
                raise ConfigError(option, f"{item!r} is not an integer detector id nor a detector name")
            else:
                ids.append(item)
    else:
        raise ConfigError(option, f"{value!r} is neither a list of ids nor text such as '(0,1,2)'")
    if not ids:
        raise ConfigError(option, "no detector given")
    valid = set(camera.detector_ids)
    bad = sorted({i for i in ids if i not in valid})
    if bad:
        raise ConfigError(option, f"detector id(s) {bad} outside {describe_detectors(camera)}")
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise ConfigError(option, f"detector id(s) {repeated} repeated")
    return tuple(sorted(ids))


def describe_detectors(camera: CameraProfile) -> str:
    """The valid detectors of a camera, for error messages.

    E.g. ``0..8, the LSSTComCam detectors (R22_S00..R22_S22); give ids in
    that range or names such as R22_S11``; for a camera with guider and
    wavefront sensors, the ids of each kind too.
    """
    kinds: dict[DetectorKind, list[int]] = {}
    for info in camera.detectors:
        kinds.setdefault(info.kind, []).append(info.id)
    first, last = camera.detectors[0], camera.detectors[-1]
    text = f"{camera.describe_ids()}, the {camera.instrument} detectors ({first.name}..{last.name}"
    if len(kinds) > 1:
        ranges = []
        for kind, ids in kinds.items():
            span = f"{ids[0]}..{ids[-1]}" if ids == list(range(ids[0], ids[-1] + 1)) else str(ids)
            ranges.append(f"{kind.value} {span}")
        text += "; " + ", ".join(ranges)
    names = [info.name for info in camera.detectors]
    example = "R22_S11" if "R22_S11" in names else names[len(names) // 2]
    return f"{text}); give ids in that range or names such as {example}"


def _check_collection_name(name: str, option: str) -> str:
    if not name:
        raise ConfigError(option, "empty collection name")
    if _WHITESPACE_RE.search(name):
        raise ConfigError(option, f"collection name {name!r} contains whitespace")
    if "," in name:
        raise ConfigError(option, f"collection name {name!r} contains a comma")
    if not _COLLECTION_RE.match(name):
        bad = sorted({c for c in name if not _COLLECTION_RE.match(c)})
        raise ConfigError(
            option,
            f"collection name {name!r} contains {' '.join(bad)}; use letters, digits and _ . + @ / - "
            "(daf_butler reads * ? [ ] as wildcards, and OCPS would pass quotes to pipetask literally)",
        )
    return name


def parse_collections(value: typing.Any, option: str) -> tuple[str, ...]:
    """Parse collection names given as comma-separated text or a list.

    Parameters
    ----------
    value : `str` or `list` [`str`]
        ``"a,b"`` or ``["a", "b"]``.
    option : `str`
        Option name for error messages.

    Returns
    -------
    collections : `tuple` [`str`, ...]
        The names, in order, without surrounding blanks.

    Raises
    ------
    ConfigError
        No name, an empty name, a name with whitespace, or a repeated name.
    """
    if isinstance(value, str):
        names = [part.strip() for part in value.split(",")]
    elif isinstance(value, (list, tuple)):
        names = []
        for item in value:
            if not isinstance(item, str):
                raise ConfigError(option, f"{item!r} is not a collection name")
            names.append(item.strip())
    else:
        raise ConfigError(option, f"{value!r} is neither text nor a list of collection names")
    if not names:
        raise ConfigError(option, "no collection given")
    for name in names:
        _check_collection_name(name, option)
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ConfigError(option, f"collection(s) {repeated} repeated")
    return tuple(names)


def parse_pipetask_options(value: typing.Any, option: str) -> tuple[str, ...]:
    """Parse extra pipetask options into words.

    Parameters
    ----------
    value : `str` or `list` [`str`]
        ``"-c isr:doDefect=False"`` or ``["-c", "isr:doDefect=False"]``.
    option : `str`
        Option name for error messages.

    Returns
    -------
    words : `tuple` [`str`, ...]
        The words; OCPS joins them with single spaces.

    Raises
    ------
    ConfigError
        A list item with whitespace (OCPS splits on blanks), a quote or
        backslash (OCPS passes the options through a shell variable, so
        pipetask would get them literally), or an option the script sets
        itself (``-j``, ``-i``, ``-o``, ``-d``, ...).
    """
    if isinstance(value, str):
        words = value.split()
    elif isinstance(value, (list, tuple)):
        words = []
        for item in value:
            if not isinstance(item, str):
                raise ConfigError(option, f"{item!r} is not text")
            if _WHITESPACE_RE.search(item.strip()):
                raise ConfigError(option, f"{item!r} contains whitespace; give one word per item")
            if item.strip():
                words.append(item.strip())
    else:
        raise ConfigError(option, f"{value!r} is neither text nor a list of words")
    for word in words:
        literal = [c for c in _LITERAL_CHARACTERS if c in word]
        if literal:
            raise ConfigError(
                option,
                f"{word!r} contains {' '.join(literal)}: OCPS passes the options to pipetask through a "
                "shell variable without re-reading quotes, so pipetask would get them literally; "
                "write the value without quotes (it cannot contain blanks)",
            )
        key = word.split("=", 1)[0]
        if key in _RESERVED_OPTIONS:
            raise ConfigError(option, f"{key} is set by the script and cannot be given here")
    return tuple(words)


def parse_tai_date(value: str, option: str) -> str:
    """Parse an ISO-8601 TAI date or date-time.

    Parameters
    ----------
    value : `str`
        ``YYYY-MM-DD`` or ``YYYY-MM-DDTHH:MM[:SS[.fff]]`` (a blank instead
        of ``T`` is accepted); no time zone (the scale is TAI).
    option : `str`
        Option name for error messages.

    Returns
    -------
    isot : `str`
        ``YYYY-MM-DDTHH:MM:SS.sss``.

    Raises
    ------
    ConfigError
        If the text is not such a date.
    """
    text = value.strip()
    match = re.fullmatch(r"(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?))?", text)
    if match is None:
        raise ConfigError(
            option, f"{value!r} is not an ISO-8601 TAI date such as 2026-11-25 or 2026-11-25T12:00:00"
        )
    date_text, time_text = match.group(1), match.group(2) or "00:00:00"
    if len(time_text) == 5:
        time_text += ":00"
    seconds_text = time_text[6:]
    whole, _, fraction = seconds_text.partition(".")
    try:
        day = datetime.date.fromisoformat(date_text)
        clock = datetime.time.fromisoformat(time_text[:6] + whole)
    except ValueError as e:
        raise ConfigError(option, f"{value!r} is not a valid date: {e}") from None
    millis = (fraction + "000")[:3]
    return f"{day.isoformat()}T{clock.isoformat()}.{millis}"


def check_exposure_ids(ids: typing.Sequence[int], name: str = "exposure_ids") -> tuple[int, ...]:
    """Exposure ids of a resume option, checked (13 digits, a valid day_obs, no repeats).

    Raises
    ------
    ConfigError
        Naming ``name`` and the bad id.
    """
    result = []
    for exp_id in ids:
        if isinstance(exp_id, bool) or not isinstance(exp_id, int):
            raise ConfigError(name, f"{exp_id!r} is not an integer exposure id")
        text = str(exp_id)
        if len(text) != 13:
            raise ConfigError(name, f"{exp_id} is not a 13-digit exposure id (YYYYMMDD + 5 digits)")
        try:
            datetime.datetime.strptime(text[:8], "%Y%m%d")
        except ValueError:
            raise ConfigError(name, f"{exp_id} does not start with a valid day_obs") from None
        if int(text[8:]) == 0:
            raise ConfigError(name, f"{exp_id} has sequence number 0")
        result.append(exp_id)
    repeated = sorted({i for i in result if result.count(i) > 1})
    if repeated:
        raise ConfigError(name, f"exposure id(s) {repeated} repeated")
    return tuple(result)


def check_job_id(value: typing.Any, name: str) -> str:
    """An OCPS job id option (``bias_job_id``), stripped; "" if not given.

    Raises
    ------
    ConfigError
        Not a job id.
    """
    job_id = str(value or "").strip()
    if job_id and not _JOB_ID_RE.match(job_id):
        raise ConfigError(name, f"{value!r} is not an OCPS job id")
    return job_id


def _as_mapping(config: typing.Any) -> dict[str, typing.Any]:
    if isinstance(config, types.SimpleNamespace):
        return dict(vars(config))
    if isinstance(config, typing.Mapping):
        return dict(config)
    raise TypeError(f"config must be a mapping or SimpleNamespace, not {type(config).__name__}")


@functools.cache
def _schema_properties() -> dict[str, typing.Any]:
    from ..schemas import load_schema

    return load_schema()["properties"]


def schema_defaults() -> dict[str, typing.Any]:
    """Return the schema's default of every option that has one.

    Returns
    -------
    defaults : `dict` [`str`, `typing.Any`]
        A fresh copy (safe to modify).
    """
    return {name: _copy(spec["default"]) for name, spec in _schema_properties().items() if "default" in spec}


def _copy(value: typing.Any) -> typing.Any:
    return list(value) if isinstance(value, list) else value


def resolve_report_dir(text: str) -> str:
    """The absolute report folder of ``report_dir`` (``~`` expanded), or "" for none."""
    text = text.strip()
    if not text:
        return ""
    return os.path.abspath(os.path.expanduser(text))


def make_config(config: typing.Any) -> BiasConfig:
    """Build a `BiasConfig` from the schema-validated configuration.

    Parameters
    ----------
    config : `dict` or `types.SimpleNamespace`
        The configuration after schema validation with defaults filled (as
        ``BaseScript.configure`` receives it). Missing keys take the
        schema's defaults.

    Returns
    -------
    config : `BiasConfig`
        The checked configuration; ``report_dir`` is absolute (or empty).

    Raises
    ------
    ConfigError
        A value the schema cannot reject on its own; the message names the
        option and its value.
    """
    given = _as_mapping(config)
    fields = {f.name for f in dataclasses.fields(BiasConfig)}
    unknown = sorted(set(given) - fields)
    if unknown:
        raise ConfigError(unknown[0], "unknown option")
    if "calib_collection" not in given:
        raise ConfigError("calib_collection", "required option missing")
    raw = {**schema_defaults(), **given}
    values: dict[str, typing.Any] = dict(raw)

    values["calib_collection"] = _check_collection_name(
        str(raw["calib_collection"]).strip(), "calib_collection"
    )
    for name in ("input_collections_bias", "input_collections_verify"):
        values[name] = parse_collections(raw[name], name)
    values["detectors"] = parse_detectors(raw["detectors"])
    for name in ("config_options_bias", "config_options_verify"):
        values[name] = parse_pipetask_options(raw[name], name)
    for name in ("certify_calib_begin_date", "certify_calib_end_date"):
        if raw.get(name) is not None:
            values[name] = parse_tai_date(str(raw[name]), name)
        else:
            values[name] = None
    values["exposure_ids"] = check_exposure_ids(raw["exposure_ids"] or ())
    job_id = str(raw["bias_job_id"]).strip()
    if job_id and not _JOB_ID_RE.match(job_id):
        raise ConfigError("bias_job_id", f"{raw['bias_job_id']!r} is not an OCPS job id")
    values["bias_job_id"] = job_id
    for name in ("repo", "pipeline_bias", "pipeline_verify"):
        if not str(raw[name]).strip():
            raise ConfigError(name, f"{raw[name]!r} is empty; give a path")
    for name in ("reason", "program", "note"):
        values[name] = str(raw[name]).strip()
    for name in ("reason", "program"):
        if "," in values[name]:
            raise ConfigError(
                name,
                f"{raw[name]!r} contains a comma: the camera's keyValueMap separates its entries with "
                "commas, so the text after it would become other header keys; leave the comma out",
            )
    values["report_dir"] = resolve_report_dir(str(raw["report_dir"]))
    for name in ("job_timeout", "frame_timeout", "oods_timeout"):
        values[name] = float(raw[name])
        if not values[name] > 0:
            raise ConfigError(name, f"{raw[name]!r} is not > 0")

    result = BiasConfig(**values)
    _check_cross_fields(result)
    return result


def _schema_error(
    error: jsonschema.exceptions.ValidationError, known_options: typing.Iterable[str] | None = None
) -> ConfigError:
    """A schema violation as a `ConfigError` naming the option and its value.

    ``known_options`` are the schema's options (default MakeComCamBias's),
    so that an unknown one is named.
    """
    path = list(error.absolute_path)
    instance = error.instance
    if error.validator == "required" and isinstance(instance, dict):
        missing = [name for name in error.validator_value if name not in instance]
        return ConfigError(missing[0] if missing else "configuration", "required option missing")
    if error.validator == "additionalProperties" and not path and isinstance(instance, dict):
        known = set(_schema_properties() if known_options is None else known_options)
        extra = sorted(str(name) for name in instance if name not in known)
        if extra:
            return ConfigError(
                extra[0], "unknown option (check its spelling; SCHEMA or --schema lists the options)"
            )
    if not path:
        return ConfigError(
            "configuration",
            f"{error.message}; give the options as a YAML mapping, e.g. calib_collection: LSSTComCam/calib",
        )
    option = str(path[0])
    where = "".join(f"[{p}]" for p in path[1:])
    message = (f"item {where}: " if where else "") + error.message
    if error.context:
        # anyOf: say what is wrong for the closest alternative.
        # Prefer the alternative of the value's own type (its error is not about the type).
        candidates = [e for e in error.context if e.validator != "type"] or list(error.context)
        closest = max(candidates, key=lambda e: len(e.relative_path))
        inner = "".join(f"[{p}]" for p in closest.relative_path)
        message += f" (closest: {'item ' + inner + ': ' if inner else ''}{closest.message})"
    return ConfigError(option, message)


class SchemaValidator:
    """A schema validator whose errors name the option first.

    ``BaseScript`` validates the configuration with ``config_validator``
    before calling ``configure``; jsonschema's own message (e.g. ``0 is less
    than the minimum of 1``) does not say which option it is about. Wrap the
    script's validator with this class to raise `ConfigError`
    (``n_bias: 0 is less than the minimum of 1``) instead.

    Parameters
    ----------
    validator : `typing.Any`
        The wrapped validator (``salobj.DefaultingValidator``): its
        ``validate(dict) -> dict`` fills defaults and raises
        `jsonschema.exceptions.ValidationError`.
    known_options : iterable of `str`, optional
        The options of the validated schema, to name an unknown one
        (default: MakeComCamBias's).
    """

    def __init__(self, validator: typing.Any, known_options: typing.Iterable[str] | None = None) -> None:
        self.validator = validator
        self.known_options = None if known_options is None else tuple(known_options)

    def __getattr__(self, name: str) -> typing.Any:
        # Anything else (``schema``, ...) is the wrapped validator's.
        if name == "validator":
            raise AttributeError(name)
        return getattr(self.validator, name)

    def validate(self, data_dict: typing.Any) -> dict[str, typing.Any]:
        """Validate ``data_dict`` and return it with defaults filled in.

        Raises
        ------
        ConfigError
            Naming the option, its bad value and what the schema requires.
        """
        try:
            return self.validator.validate(data_dict)
        except jsonschema.exceptions.ValidationError as e:
            raise _schema_error(e, self.known_options) from None


def _check_cross_fields(config: BiasConfig) -> None:
    """Checks involving several options."""
    begin, end = config.certify_calib_begin_date, config.certify_calib_end_date
    if (begin is None) != (end is None):
        given, missing = (
            ("certify_calib_begin_date", "certify_calib_end_date")
            if begin is not None
            else ("certify_calib_end_date", "certify_calib_begin_date")
        )
        value = begin if begin is not None else end
        raise ConfigError(
            missing, f"not given, but {given} is {value}; give both (or neither, for the biases' day_obs)"
        )
    if begin is not None and end is not None and not begin < end:
        raise ConfigError(
            "certify_calib_end_date",
            f"{end} is not after certify_calib_begin_date {begin}",
        )
    if config.n_verify_bias > 0 and not config.do_verify:
        raise ConfigError(
            "n_verify_bias",
            f"{config.n_verify_bias} verification frames asked for but do_verify is false",
        )
    if config.bias_job_id and not config.exposure_ids:
        raise ConfigError(
            "bias_job_id",
            f"{config.bias_job_id!r} given without exposure_ids; resuming from a bias job needs "
            "exposure_ids (the exposures that job combined)",
        )
    if config.exposure_ids and len(config.exposure_ids) <= config.n_verify_bias:
        raise ConfigError(
            "exposure_ids",
            f"{len(config.exposure_ids)} id(s) leave none to combine after the last "
            f"n_verify_bias={config.n_verify_bias} verification frames",
        )
    n_combined = len(config.exposure_ids) - config.n_verify_bias if config.exposure_ids else config.n_bias
    if config.do_verify and config.n_verify_bias == 0 and n_combined == 1:
        raise ConfigError(
            "n_verify_bias",
            "0 with a single combined frame: verifying on that same frame compares the bias with itself; "
            "set n_verify_bias >= 1 (independent frames) or do_verify: false",
        )
    if config.bias_job_id and not config.do_verify and not config.do_certify:
        raise ConfigError(
            "bias_job_id",
            f"{config.bias_job_id!r} with do_verify and do_certify both false leaves nothing to do",
        )


def day_obs_validity_range(exposure_ids: typing.Iterable[int]) -> tuple[str, str]:
    """Return the default validity range for biases: their day_obs.

    A day_obs ``D`` covers TAI ``D 12:00`` to ``D+1 12:00`` (the day_obs
    rolls over at 12:00 TAI), which is when the night's exposures of that
    day_obs are taken. When the exposures span two day_obs the latest one
    is used, since the biases serve the night after they were taken.

    Parameters
    ----------
    exposure_ids : iterable of `int`
        Exposure ids ``YYYYMMDDNNNNN``.

    Returns
    -------
    begin, end : `str`
        ISO-8601 TAI (``isot``) begin and end, one day apart.

    Raises
    ------
    ValueError
        If no exposure id is given or one does not start with a date.
    """
    days = []
    for exp_id in exposure_ids:
        try:
            days.append(datetime.datetime.strptime(str(int(exp_id))[:8], "%Y%m%d"))
        except ValueError:
            raise ValueError(f"exposure id {exp_id!r} does not start with a YYYYMMDD day_obs") from None
    if not days:
        raise ValueError("no exposure id to take the day_obs from")
    begin = max(days) + datetime.timedelta(hours=12)
    end = begin + datetime.timedelta(days=1)
    return begin.strftime("%Y-%m-%dT%H:%M:%S.000"), end.strftime("%Y-%m-%dT%H:%M:%S.000")
