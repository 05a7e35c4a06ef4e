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

"""Calibration types as data: what the engine needs to know about bias, dark and flat.

The procedure (`~lsst.ts.calibscripts.calib.procedure`) runs the same stages
for every type; everything that differs between types is a field of the
type's `CalibTypeSpec` in the registry `CALIB_TYPES`:

* how the camera takes it: image type and ts_observatory_control method
  (``take_bias(n)``, ``take_darks(exptime, n)``, ``take_flats(exptime, n,
  filter=...)``), whether it needs exposure times and a filter;
* the cp_pipe build pipeline and the cp_verify pipeline (file names under
  ``${CP_PIPE_DIR}/pipelines/<instrument>/`` and ``${CP_VERIFY_DIR}/...``);
* the output dataset type and its dimensions (``flat`` adds
  ``physical_filter``, so flats are certified per filter);
* the run-level statistics dataset type the judgement reads, its
  dimensions, and the verification tests with the level they are made at and
  the limit cp_verify applies (informative: cp_verify judges, the engine
  counts the failures it lists);
* the prerequisites (dark needs this run's bias; flat needs bias and dark);
* the names of its per-type options as upstream spells them
  (``n_bias``, ``n_discard_bias``, ``config_options_bias``,
  ``number_verification_tests_threshold_bias``, ...).

Public API
----------
`CalibType`
    `enum.Enum`: ``BIAS``, ``DARK``, ``FLAT`` (values ``"bias"`` ...).
`CalibTypeSpec`
    frozen; one type's facts, `CalibTypeSpec.option` (``"n"`` ->
    ``"n_bias"``), `~CalibTypeSpec.build_pipeline_path`,
    `~CalibTypeSpec.verify_pipeline_path`, `~CalibTypeSpec.per_filter`.
`VerificationTest`, `VerifyLevel`
    one cp_verify test and the level (amplifier, detector, exposure) it is made at.
`CALIB_TYPES`
    the one registry: `CalibType` -> `CalibTypeSpec`.
`spec_for(calib_type)`
    look a type up by enum or name.
`prerequisite_order(types)`
    the types in an order where each comes after its prerequisites.
"""

from __future__ import annotations

__all__ = [
    "CALIB_TYPES",
    "CalibType",
    "CalibTypeSpec",
    "VerifyLevel",
    "VerificationTest",
    "prerequisite_order",
    "spec_for",
]

import dataclasses
import enum
import typing

from ..cameras import CameraProfile


class CalibType(enum.Enum):
    """A calibration type the engine makes."""

    BIAS = "bias"
    DARK = "dark"
    FLAT = "flat"

    def __str__(self) -> str:
        return self.value


class VerifyLevel(enum.Enum):
    """Where a cp_verify test is made, and so how its failure is written.

    ``AMP``: ``"<detector> <amp> <TEST>"``; ``DETECTOR``:
    ``"<detector> <TEST>"``; ``EXPOSURE``: ``"<TEST>"`` (the exposure-level
    merge, e.g. the flat's focal-plane ``SCATTER``).
    """

    AMP = "amp"
    DETECTOR = "detector"
    EXPOSURE = "exposure"


@dataclasses.dataclass(frozen=True)
class VerificationTest:
    """One cp_verify test of a calibration type.

    Attributes
    ----------
    name : `str`
        The test name in the failure strings (``NOISE``, ``SCATTER``).
    level : `VerifyLevel`
        Where it is made.
    rule : `str`
        What passes, as cp_verify applies it (for the report and the docs).
    """

    name: str
    level: VerifyLevel
    rule: str


@dataclasses.dataclass(frozen=True)
class CalibTypeSpec:
    """Everything the engine needs to know about one calibration type.

    Attributes
    ----------
    calib_type : `CalibType`
        The type.
    image_type : `str`
        The camera's ``imageType`` (``BIAS``, ``DARK``, ``FLAT``).
    take_method : `str`
        ts_observatory_control method that takes it (``take_bias``,
        ``take_darks``, ``take_flats``).
    needs_exposure_time : `bool`
        The method's first argument is the exposure time (dark, flat).
    needs_filter : `bool`
        The frames depend on the filter in the beam (flat: ``filter=``).
    open_shutter : `bool`
        Taken with the shutter open (flat), so the 0.1 s minimum applies.
    build_pipeline, verify_pipeline : `str`
        cp_pipe and cp_verify pipeline file names (``cpBias.yaml``, ``verifyBias.yaml``).
    dataset_type : `str`
        The master calibration's dataset type (``bias``).
    dataset_dimensions : `tuple` [`str`, ...]
        Its dimensions; ``physical_filter`` makes it per filter.
    stats_dataset_type : `str`
        The run-level verification statistics cp_verify writes (``verifyBiasStats``).
    stats_dimensions : `tuple` [`str`, ...]
        Their dimensions (``verifyFlatStats``: instrument, physical_filter).
    tests : `tuple` [`VerificationTest`, ...]
        The tests cp_verify makes for this type.
    default_threshold : `int`
        Upstream's default ``number_verification_tests_threshold_<type>``.
    prerequisites : `tuple` [`CalibType`, ...]
        Types whose new masters this type's build job needs as inputs.
    option_suffix : `str`
        Suffix of the per-type options (``bias``: ``n_bias``, ``n_discard_bias``).
    """

    calib_type: CalibType
    image_type: str
    take_method: str
    needs_exposure_time: bool
    needs_filter: bool
    open_shutter: bool
    build_pipeline: str
    verify_pipeline: str
    dataset_type: str
    dataset_dimensions: tuple[str, ...]
    stats_dataset_type: str
    stats_dimensions: tuple[str, ...]
    tests: tuple[VerificationTest, ...]
    default_threshold: int
    prerequisites: tuple[CalibType, ...]
    option_suffix: str

    @property
    def name(self) -> str:
        """``bias``, ``dark`` or ``flat``."""
        return self.calib_type.value

    @property
    def plural(self) -> str:
        """``biases``, ``darks`` or ``flats``: the frames, in messages."""
        return f"{self.name}es" if self.name.endswith("s") else f"{self.name}s"

    @property
    def per_filter(self) -> bool:
        """True if the master is made and certified per physical filter."""
        return "physical_filter" in self.dataset_dimensions

    @property
    def build_job_name(self) -> str:
        """The name of the build job in the summary and the stage list (``cp_bias``)."""
        return f"cp_{self.name}"

    @property
    def verify_job_name(self) -> str:
        """The name of the verification job (``verify_bias``)."""
        return f"verify_{self.name}"

    def option(self, stem: str) -> str:
        """The name of a per-type option: ``option("n_discard")`` -> ``"n_discard_bias"``."""
        return f"{stem}_{self.option_suffix}"

    def build_pipeline_path(self, camera: CameraProfile) -> str:
        """``${CP_PIPE_DIR}/pipelines/<instrument>/<build pipeline>``."""
        return f"${{CP_PIPE_DIR}}/pipelines/{camera.instrument}/{self.build_pipeline}"

    def verify_pipeline_path(self, camera: CameraProfile) -> str:
        """``${CP_VERIFY_DIR}/pipelines/<instrument>/<verify pipeline>``."""
        return f"${{CP_VERIFY_DIR}}/pipelines/{camera.instrument}/{self.verify_pipeline}"

    def test(self, name: str, level: VerifyLevel) -> VerificationTest | None:
        """The test called ``name`` at ``level``, if this type makes it."""
        return next((t for t in self.tests if t.name == name and t.level is level), None)


# The amplifier tests cp_verify makes on a bias residual (DMTN-101 5.2-5.4)
# and, on raw - bias - dark x time, on a dark.
_BIAS_LIKE_TESTS = (
    VerificationTest("MEAN", VerifyLevel.AMP, "|MEAN| < NOISE (DMTN-101 5.2)"),
    VerificationTest("NOISE", VerifyLevel.AMP, "(NOISE - read noise) / read noise <= 0.05 (DMTN-101 5.3)"),
    VerificationTest("CR_NOISE", VerifyLevel.AMP, "|NOISE - CR_NOISE| / CR_NOISE <= 0.05 (DMTN-101 5.4)"),
    VerificationTest("PROCESSING", VerifyLevel.AMP, "no forced processing failure"),
)


def _spec(
    calib_type: CalibType,
    *,
    take_method: str,
    exposed: bool,
    per_filter: bool,
    tests: tuple[VerificationTest, ...],
    prerequisites: tuple[CalibType, ...] = (),
) -> CalibTypeSpec:
    """A type's spec; its names follow cp_pipe's and cp_verify's for the type.

    ``dark`` gives image type ``DARK``, pipelines ``cpDark.yaml`` and
    ``verifyDark.yaml``, dataset type ``dark``, statistics
    ``verifyDarkStats`` and options ``n_dark``, ``n_discard_dark`` ...
    ``exposed``: the frames have an exposure time; ``per_filter``: the
    frames, the master and its statistics depend on the filter (a flat:
    shutter open, ``physical_filter`` among the dimensions).
    """
    name = calib_type.value
    title = name.capitalize()
    filter_dimension = ("physical_filter",) if per_filter else ()
    return CalibTypeSpec(
        calib_type=calib_type,
        image_type=name.upper(),
        take_method=take_method,
        needs_exposure_time=exposed,
        needs_filter=per_filter,
        open_shutter=per_filter,
        build_pipeline=f"cp{title}.yaml",
        verify_pipeline=f"verify{title}.yaml",
        dataset_type=name,
        dataset_dimensions=("instrument", "detector", *filter_dimension),
        stats_dataset_type=f"verify{title}Stats",
        stats_dimensions=("instrument", *filter_dimension),
        tests=tests,
        default_threshold=8,
        prerequisites=prerequisites,
        option_suffix=name,
    )


CALIB_TYPES: dict[CalibType, CalibTypeSpec] = {
    CalibType.BIAS: _spec(
        CalibType.BIAS,
        take_method="take_bias",
        exposed=False,
        per_filter=False,
        tests=_BIAS_LIKE_TESTS
        + (
            VerificationTest("AMP_CORNER", VerifyLevel.AMP, "corner mean within the amplifier's noise"),
            VerificationTest("READ_NOISE_CONSISTENT", VerifyLevel.AMP, "informational"),
        ),
    ),
    CalibType.DARK: _spec(
        CalibType.DARK,
        take_method="take_darks",
        exposed=True,
        per_filter=False,
        tests=_BIAS_LIKE_TESTS,
        prerequisites=(CalibType.BIAS,),
    ),
    CalibType.FLAT: _spec(
        CalibType.FLAT,
        take_method="take_flats",
        exposed=True,
        per_filter=True,
        tests=(
            VerificationTest("NOISE", VerifyLevel.AMP, "NOISE <= sqrt(MEAN) (cp_verify 10.X)"),
            VerificationTest("SCATTER", VerifyLevel.DETECTOR, "SCATTER/MEAN of the amp means <= 0.05 (10.Y)"),
            VerificationTest("SCATTER", VerifyLevel.EXPOSURE, "scatter of the detector means <= 0.05 (10.Z)"),
        ),
        prerequisites=(CalibType.BIAS, CalibType.DARK),
    ),
}
"""The one registry of calibration types."""


def spec_for(calib_type: CalibType | str) -> CalibTypeSpec:
    """The spec of a type, given as `CalibType` or its name (``"dark"``, ``"DARK"``).

    Raises
    ------
    ValueError
        Unknown type; the message lists the known ones.
    """
    if isinstance(calib_type, CalibType):
        return CALIB_TYPES[calib_type]
    key = str(calib_type).strip().lower()
    for member, spec in CALIB_TYPES.items():
        if member.value == key:
            return spec
    raise ValueError(
        f"Unknown calibration type {calib_type!r}; known: {', '.join(t.value for t in CALIB_TYPES)}"
    )


def prerequisite_order(types: typing.Iterable[CalibType]) -> list[CalibType]:
    """The types in an order where each comes after the prerequisites among them.

    Raises
    ------
    ValueError
        A cycle among the prerequisites (cannot happen with `CALIB_TYPES`).
    """
    wanted = list(dict.fromkeys(types))
    ordered: list[CalibType] = []
    pending = list(wanted)
    while pending:
        ready = [
            t for t in pending if all(p in ordered or p not in wanted for p in CALIB_TYPES[t].prerequisites)
        ]
        if not ready:
            raise ValueError(f"prerequisite cycle among {[t.value for t in pending]}")
        ordered.append(ready[0])
        pending.remove(ready[0])
    return ordered
