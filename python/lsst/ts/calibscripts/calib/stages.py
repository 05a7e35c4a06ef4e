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

"""The stages of the MakeComCamBias procedure and their checkpoint names.

The script calls ``await self.checkpoint(stage.checkpoint_name)`` before
each stage, so an operator can pause or stop the script before any stage
with a ``pauseCheckpoint``/``stopCheckpoint`` regular expression such as
``"certify"`` or ``"cp_bias|verify_bias"``. The names are stable and are
also the keys of the run summary's ``stages_completed`` list.

Public API
----------
`Stage`
    `enum.Enum` of the stages in execution order; ``Stage.CERTIFY.value ==
    "certify"``; `Stage.checkpoint_name`, `Stage.number` (1-based),
    `Stage.title` (human text), `Stage.ordered()`, `Stage.from_name`.
`NUM_STAGES`
    the number of stages (for ``numCheckpoints``-style progress).
`StageKind`
    the stages of the procedure whatever the calibration type
    (``TAKE``, ``BUILD``, ``VERIFY`` ...).
`stage_for(kind, spec)`
    the stage of one type: a `Stage` member when its name is one (every
    bias stage: ``take_biases``, ``cp_bias``, ``verify_bias``), else a
    `TypeStage` (``take_darks``, ``cp_dark``, ``verify_flat`` ...) with the
    same attributes.
"""

from __future__ import annotations

__all__ = ["NUM_STAGES", "Stage", "StageKind", "TypeStage", "stage_for"]

import dataclasses
import enum
import typing

if typing.TYPE_CHECKING:
    from .types import CalibTypeSpec

_TITLES = {
    "preflight": "Check that CCCamera, CCHeaderService, CCOODS and OCPS:2 are ready",
    "take_biases": "Take the bias exposures",
    "wait_ingest": "Wait until CCOODS has ingested the frames used (combined and verification)",
    "cp_bias": "Run cpBias through OCPS:2",
    "verify_bias": "Run verifyBias through OCPS:2",
    "judge": "Judge the verification statistics",
    "certify": "Certify the combined biases",
    "summary": "Write the run summary",
}


class Stage(enum.Enum):
    """A stage of the procedure; the value is its checkpoint name."""

    PREFLIGHT = "preflight"
    TAKE_BIASES = "take_biases"
    WAIT_INGEST = "wait_ingest"
    CP_BIAS = "cp_bias"
    VERIFY_BIAS = "verify_bias"
    JUDGE = "judge"
    CERTIFY = "certify"
    SUMMARY = "summary"

    @property
    def checkpoint_name(self) -> str:
        """The name to pass to ``BaseScript.checkpoint``."""
        return self.value

    @property
    def number(self) -> int:
        """1-based position of the stage in the procedure."""
        return list(Stage).index(self) + 1

    @property
    def title(self) -> str:
        """A short human-readable description of the stage."""
        return _TITLES[self.value]

    @classmethod
    def ordered(cls) -> tuple["Stage", ...]:
        """All stages in execution order."""
        return tuple(cls)

    @classmethod
    def from_name(cls, name: str) -> "Stage":
        """Find a stage by checkpoint name or enum name (case-insensitive).

        Raises
        ------
        ValueError
            If no stage has that name; the message lists the valid names.
        """
        key = name.strip().lower()
        for stage in cls:
            if key in (stage.value, stage.name.lower()):
                return stage
        raise ValueError(f"Unknown stage {name!r}; valid names: {', '.join(s.value for s in cls)}")

    def __str__(self) -> str:
        return self.value


NUM_STAGES = len(Stage)


class StageKind(enum.Enum):
    """A stage of the procedure whatever the calibration type, in execution order."""

    PREFLIGHT = "preflight"
    TAKE = "take"
    WAIT_INGEST = "wait_ingest"
    BUILD = "build"
    VERIFY = "verify"
    JUDGE = "judge"
    CERTIFY = "certify"
    SUMMARY = "summary"


def plural(noun: str) -> str:
    """``bias`` -> ``biases``, ``dark`` -> ``darks``."""
    return noun + ("es" if noun.endswith("s") else "s")


@dataclasses.dataclass(frozen=True)
class TypeStage:
    """A stage of a calibration type whose name is not a `Stage` (``take_darks``, ``cp_flat``).

    It has the attributes of a `Stage` the procedure and the summary use.
    """

    kind: StageKind
    value: str
    title: str

    @property
    def checkpoint_name(self) -> str:
        """The name to pass to ``BaseScript.checkpoint``."""
        return self.value

    @property
    def number(self) -> int:
        """1-based position of the stage in the procedure."""
        return list(StageKind).index(self.kind) + 1

    def __str__(self) -> str:
        return self.value


def stage_for(kind: StageKind, spec: "CalibTypeSpec") -> "Stage | TypeStage":
    """The stage ``kind`` of the calibration type ``spec``.

    Its name: ``take_<plural>`` (``take_biases``), the build job's name
    (``cp_bias``), the verification job's name (``verify_bias``), otherwise
    the kind's own (``preflight``, ``judge``, ...).
    """
    names = {
        StageKind.TAKE: f"take_{plural(spec.name)}",
        StageKind.BUILD: spec.build_job_name,
        StageKind.VERIFY: spec.verify_job_name,
    }
    name = names.get(kind, kind.value)
    try:
        return Stage(name)
    except ValueError:
        titles = {
            StageKind.TAKE: f"Take the {spec.name} exposures",
            StageKind.BUILD: f"Run {spec.build_pipeline.removesuffix('.yaml')} through OCPS",
            StageKind.VERIFY: f"Run {spec.verify_pipeline.removesuffix('.yaml')} through OCPS",
            StageKind.CERTIFY: f"Certify the combined {plural(spec.name)}",
        }
        return TypeStage(kind=kind, value=name, title=titles.get(kind, _TITLES.get(name, name)))
