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

"""A soak of a calibration script under concurrent faults, with invariants checked after every run.

A *schedule* is a script, its configuration and a set of faults, each at a
frame, a job or a random instant (the k-th message of a topic, a simulated
time, a checkpoint, between ``execute`` and its job id, during
certification), drawn from one integer seed (`draw_schedule`). It runs
against the simulated observatory with scripted OCPS jobs and a fast time
scale (`run_schedule`); afterwards the invariants (`check_invariants`) are
checked through the butler repository and the mocks' records, independently
of what the script says about itself:

* ``done_means_certified``: the final state is DONE only if every requested
  calibration type is certified over (at least) the requested range from the
  run's own job (for every detector, and a flat for its physical filter);
* ``nothing_certified_early``: nothing new is certified when the run failed
  or stopped before the certify stage, nor from a build job that did not
  complete;
* ``prerequisite_failed``: a type whose prerequisite (the bias of a dark,
  the bias and dark of a flat) failed in this run is not certified;
* ``no_job_left_running``: no OCPS job the script started is still running
  (unless OCPS refused the abort while not ENABLED and the summary says so);
* ``summary_per_type``: every requested calibration type has its own YAML
  summary, finished (done, failed or stopped) with a reason, whatever stage
  the run ended in;
* ``jobs_per_type``: every OCPS job of a type (its build or verification
  pipeline) is in that type's summary, recorded as ended, aborted or
  refused an abort;
* ``certified_as_reported``: a dataset newly certified is of a type whose
  summary reports that detector certified;
* ``exposures_reported``: every image the camera took is in the summary or
  named in the reason;
* ``reason_names_fault``: a FAILED run's reason names a fault that fired,
  a STOPPED run was stopped, and a run in which no fault that can end it
  fired is DONE;
* ``no_traceback``: no log record carries a traceback and asyncio reported no
  lost error;
* ``loop_not_blocked``: the event loop was never blocked longer than
  `MAX_LOOP_LAG` (a measure that depends on the machine's load: the soak
  command judges it, the test suite only reports it,
  `LOAD_DEPENDENT_INVARIANTS`);
* ``run_ended``: the script reached a final state within `RUN_TIMEOUT`.

Every schedule prints as a one-line recipe (`Schedule.recipe`) and replays
from its seed: ``python -m lsst.ts.calibscripts.testing.soak --replay SEED``.
``python -m lsst.ts.calibscripts.testing.soak --schedules N --seed S --jobs J``
runs N schedules on J worker processes and prints (and writes as JSON) the
number of schedules, the faults injected and fired by kind, the outcomes and
every violation with its recipe.

Scripts are drawn from `SCRIPTS`: adding a script is adding a `ScriptEntry`,
whose ``requested`` says which calibration types (`RequestedCalib`) a
configuration asks for; the invariants are checked per type.
"""

from __future__ import annotations

__all__ = [
    "FaultKind",
    "Fault",
    "RequestedCalib",
    "Schedule",
    "ScheduleResult",
    "ScriptEntry",
    "SCRIPTS",
    "SoakJobRunner",
    "Templates",
    "check_invariants",
    "draw_schedule",
    "main",
    "run_schedule",
    "run_soak",
    "schedule_seeds",
]

import argparse
import asyncio
import concurrent.futures
import contextlib
import dataclasses
import enum
import importlib
import json
import logging
import os
import pathlib
import random
import re
import shutil
import sys
import tempfile
import time
import typing
from unittest import mock

import yaml

TIME_SCALE = 0.002
"""Simulated seconds to real seconds (a 10 s scripted job takes 20 ms)."""
RUN_TIMEOUT = 60.0
"""Real seconds a schedule may take before it counts as a hung run."""
MAX_LOOP_LAG = 1.5
"""Longest the event loop may be blocked by this process's own work (s); see `_LagMonitor`.

The butler calls run in worker threads (the script's, and the mock OCPS's
jobs, which share the process here), and daf_butler holds the GIL in them:
1,000 schedules on two busy cores measured blocks of up to 1.0 s (0.5 s was
exceeded in about 2 % of the schedules)."""
JOB_TIMEOUTS = (3.0, 6.0)
"""``job_timeout`` values drawn (real seconds): a hung job fails the run, and a completed job's
butler work (a few hundred ms of CPU with the process's other threads) ends well within it on a
loaded machine (1.5 s was exceeded in 3 of 1,000 schedules at a load average of 9 on two cores)."""
LAG_PERIOD = 0.02
"""Period (s) of the loop-lag monitor."""
LOAD_DEPENDENT_INVARIANTS = ("loop_not_blocked",)
"""Invariants whose verdict depends on what else the machine runs.

`_LagMonitor` discounts waiting for a busy machine's CPU only as far as it
can tell (an involuntary switch of the loop's thread); when the machine is
loaded by other test processes, the process's worker threads (butler,
stand-in pipeline jobs) still add CPU time that did not block the loop.
``make soak`` runs alone and judges these; a test suite running beside
other tests reports them without failing on them."""
CALIB_COLLECTION = "LSSTComCam/calib/soak"
PRIOR_JOB_ID = "50a4000000000000000000000000prior"
"""A completed cpBias job present in every template repository (to resume from)."""
CONFLICT_RANGE = ("2000-01-01T00:00:00", "2100-01-01T00:00:00")
"""Validity range of the prior certification in the conflict template."""
PRIOR_CALIBS_JOB_ID = "50a400000000000000000000calprior"
"""Earlier build jobs, whose masters (`PRIOR_CALIB_TYPES`) every template certifies (`PRIOR_CALIBS_RANGE`)."""
PRIOR_CALIBS_RANGE = ("1980-01-01T00:00:00", "1980-01-02T00:00:00")
"""Validity range of those masters: long past, so that no run's certification overlaps it (the
preflight of a DARK or FLAT run finds them; the stand-in jobs look nothing up)."""
PRIOR_CALIB_TYPES = ("bias", "dark", "flat")
"""The dataset types certified over `PRIOR_CALIBS_RANGE` (flats in every filter): what a DARK, FLAT or
DARK_FLAT run builds on, and what a run that only verifies its new frames verifies them against (through
``LSSTComCam/calib``, which chains `CALIB_COLLECTION` as a summit repository chains its calibrations)."""
GROUP_ID = "2026-11-25T15:00:00.000"
CSCS = ("CCCamera", "CCHeaderService", "CCOODS", "OCPS")
STAGES = ("preflight", "take_biases", "wait_ingest", "cp_bias", "verify_bias", "judge", "certify", "summary")
"""MakeComCamBias's checkpoints."""


class FaultKind(str, enum.Enum):
    """The kinds of fault a schedule can inject."""

    CSC_NOT_ENABLED = "csc_not_enabled"
    CSC_FAULT = "csc_fault"
    CSC_DISABLE = "csc_disable"
    TAKE_IMAGES_FAIL = "take_images_fail"
    TAKE_IMAGES_NO_ACK = "take_images_no_ack"
    CAMERA_FAULT = "camera_fault"
    DROP_START_INTEGRATION = "drop_start_integration"
    DROP_END_READOUT = "drop_end_readout"
    INGEST_FAILURE = "ingest_failure"
    INGEST_MISSING = "ingest_missing"
    INGEST_LAG = "ingest_lag"
    OODS_FAULT_AFTER = "oods_fault_after"
    UNRELATED_IMAGES = "unrelated_images"
    EXECUTE_REJECTED = "execute_rejected"
    OCPS_FAULT_ON_JOB = "ocps_fault_on_job"
    JOB_FAIL = "job_fail"
    JOB_HANG = "job_hang"
    JOB_SLOW = "job_slow"
    DELAYED_JOB_ID = "delayed_job_id"
    ABORT_BY_OTHER = "abort_by_other"
    CERTIFY_CONFLICT = "certify_conflict"
    STOP = "stop"


@dataclasses.dataclass(frozen=True)
class Fault:
    """One fault of a schedule: its kind and parameters (``(name, value)`` pairs)."""

    kind: FaultKind
    params: tuple[tuple[str, typing.Any], ...] = ()

    def get(self, name: str, default: typing.Any = None) -> typing.Any:
        return dict(self.params).get(name, default)

    def recipe(self) -> str:
        if not self.params:
            return self.kind.value
        return f"{self.kind.value}(" + ",".join(f"{k}={v}" for k, v in self.params) + ")"


_NOT_IN_RECIPE = ("report_dir", "repo", "calib_collection")


@dataclasses.dataclass(frozen=True)
class Schedule:
    """A script, its configuration, the delivery mode and the faults, all from ``seed``."""

    seed: int
    script: str
    config: tuple[tuple[str, typing.Any], ...]
    faults: tuple[Fault, ...]
    delivery: str = "ordered"
    delivery_seed: int = 0

    @property
    def config_dict(self) -> dict[str, typing.Any]:
        return dict(self.config)

    def has(self, kind: FaultKind) -> bool:
        return any(fault.kind is kind for fault in self.faults)

    def recipe(self) -> str:
        """One line that says what the schedule does; ``--replay <seed>`` runs it again."""
        config = " ".join(f"{k}={v}" for k, v in self.config if k not in _NOT_IN_RECIPE)
        delivery = self.delivery if self.delivery == "ordered" else f"unordered/{self.delivery_seed}"
        faults = ", ".join(f.recipe() for f in self.faults) or "no fault"
        return f"seed {self.seed}: {self.script} [{config}] delivery={delivery}; faults: {faults}"


# ---------------------------------------------------------------------------
# Scripts and their configurations
# ---------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class ScriptEntry:
    """A script the soak can draw.

    Attributes
    ----------
    name : `str`
        Name in recipes.
    make : callable
        ``make(index)`` -> the script (a ``BaseScript``).
    draw_config : callable
        ``draw_config(rng)`` -> configuration `dict` (without ``repo`` and
        ``report_dir``, which the runner fills in).
    n_frames : callable
        ``n_frames(config)`` -> frames the script takes (0 when resuming).
    n_jobs : callable
        ``n_jobs(config)`` -> OCPS jobs it runs when nothing fails.
    requested : callable
        ``requested(config)`` -> the calibration types the configuration
        asks for (`RequestedCalib`), in the order their frames are taken.
    stages : `tuple` [`str`, ...]
        Checkpoint names a stop or a CSC fault may be drawn at.
    """

    name: str
    make: typing.Callable[[int], typing.Any]
    draw_config: typing.Callable[[random.Random], dict[str, typing.Any]]
    n_frames: typing.Callable[[dict[str, typing.Any]], int]
    n_jobs: typing.Callable[[dict[str, typing.Any]], int]
    requested: typing.Callable[[dict[str, typing.Any]], tuple[RequestedCalib, ...]]
    stages: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class RequestedCalib:
    """One calibration type a configuration asks for, as the invariants check it.

    Attributes
    ----------
    calib_type : `str`
        ``"bias"``, ``"dark"`` or ``"flat"`` (a
        `~lsst.ts.calibscripts.calib.types.CalibType` value).
    n_discard, n_combined : `int`
        Frames taken and discarded first; frames combined after them.
    n_taken : `int`
        Frames the camera takes for this type (0 when resuming from
        ``exposure_ids``); the types' frames are taken one type after the
        other, in the order of ``ScriptEntry.requested``.
    builds : `bool`
        A new master is built (a build job runs or ``build_job_id`` is given).
    certify : `bool`
        The new master is certified.
    exposure_ids : `tuple` [`int`, ...]
        Resumed from these exposures (the combined ones first).
    build_job_id : `str`
        Resumed from this completed build job.
    physical_filter : `str` or `None`
        The filter of a flat.
    depends_on : `tuple` [`str`, ...]
        Types of this run whose processing must succeed first.
    """

    calib_type: str
    n_discard: int
    n_combined: int
    n_taken: int
    builds: bool = True
    certify: bool = True
    exposure_ids: tuple[int, ...] = ()
    build_job_id: str = ""
    physical_filter: str | None = None
    depends_on: tuple[str, ...] = ()

    @property
    def spec(self) -> typing.Any:
        """The type's `~lsst.ts.calibscripts.calib.types.CalibTypeSpec`."""
        from ..calib.types import spec_for

        return spec_for(self.calib_type)

    @property
    def dataset_type(self) -> str:
        return str(self.spec.dataset_type)

    @property
    def build_task(self) -> str:
        """The build pipeline's name as it appears in a job's pipeline (``cpBias``)."""
        return str(self.spec.build_pipeline).removesuffix(".yaml")


def _make_comcam_bias(index: int) -> typing.Any:
    from ..maintel import MakeComCamBias

    return MakeComCamBias(index=index)


def _draw_bias_config(rng: random.Random) -> dict[str, typing.Any]:
    # Only configurations configure accepts (tests/script/test_configure_runs.py covers the others).
    n_bias = rng.randint(1, 3)
    do_verify = rng.random() < 0.5
    config: dict[str, typing.Any] = {
        "n_bias": n_bias,
        "n_discard_bias": rng.randint(0, 1),
        "n_verify_bias": (rng.choice([0, 1]) if n_bias > 1 else 1) if do_verify else 0,
        "detectors": sorted(rng.sample(range(9), rng.randint(1, 3))),
        "do_verify": do_verify,
        "do_certify": rng.random() < 0.75,
        "supersede": rng.random() < 0.3,
        "calib_collection": CALIB_COLLECTION,
        # Real seconds: long enough for a loaded machine, short enough for the faults that hang.
        "frame_timeout": rng.choice([1.5, 3.0]),
        "oods_timeout": rng.choice([1.5, 3.0]),
        "job_timeout": rng.choice(JOB_TIMEOUTS),
    }
    resume = rng.random()
    if resume < 0.08:
        config["exposure_ids"] = [
            2026112500010 + i for i in range(config["n_bias"] + config["n_verify_bias"])
        ]
    elif resume < 0.12:
        config["exposure_ids"] = [
            2026112500010 + i for i in range(config["n_bias"] + config["n_verify_bias"])
        ]
        config["bias_job_id"] = PRIOR_JOB_ID
        config["do_certify"] = config["do_certify"] or not config["do_verify"]  # else nothing to do
    return config


def _bias_frames(config: dict[str, typing.Any]) -> int:
    if config.get("exposure_ids"):
        return 0
    return int(config.get("n_discard_bias", 0) + config["n_bias"] + config.get("n_verify_bias", 0))


def _bias_jobs(config: dict[str, typing.Any]) -> int:
    return (0 if config.get("bias_job_id") else 1) + (1 if config["do_verify"] else 0)


def _bias_requested(config: dict[str, typing.Any]) -> tuple[RequestedCalib, ...]:
    return (
        RequestedCalib(
            calib_type="bias",
            n_discard=int(config.get("n_discard_bias", 0)),
            n_combined=int(config["n_bias"]),
            n_taken=_bias_frames(config),
            certify=bool(config["do_certify"]),
            exposure_ids=tuple(config.get("exposure_ids") or ()),
            build_job_id=str(config.get("bias_job_id") or ""),
        ),
    )


# MakeComCamCalibrations (BIAS/DARK/FLAT in one run, script_mode): drawn when its module exists.
CALIBRATIONS_MODULE = "lsst.ts.calibscripts.maintel.make_comcam_calibrations"
CALIBRATIONS_SCRIPT = "MakeComCamCalibrations"


def _make_comcam_calibrations(index: int) -> typing.Any:
    module = importlib.import_module(CALIBRATIONS_MODULE)
    return getattr(module, CALIBRATIONS_SCRIPT)(index=index)


def _draw_calibrations_config(rng: random.Random) -> dict[str, typing.Any]:
    """A MakeComCamCalibrations configuration its schema and `calib.plan.make_plan` accept."""
    from ..calib.plan import MODE_TYPES, comcam_filters

    mode = rng.choice(sorted(MODE_TYPES))
    take_only = rng.random() < 0.05
    generate = not take_only and rng.random() < 0.85
    # Verifying new frames against the certified calibration is all a run that builds nothing does.
    do_verify = rng.random() < 0.5 or not (generate or take_only)
    config: dict[str, typing.Any] = {
        "script_mode": mode,
        "generate_calibrations": generate,
        "take_only": take_only,
        "detectors": sorted(rng.sample(range(9), rng.randint(1, 3))),
        "do_verify": do_verify,
        "do_certify": rng.random() < 0.75,
        "supersede": rng.random() < 0.3,
        "calib_collection": CALIB_COLLECTION,
        "frame_timeout": rng.choice([1.5, 3.0]),
        "oods_timeout": rng.choice([1.5, 3.0]),
        "job_timeout": rng.choice(JOB_TIMEOUTS),
    }
    for calib_type in MODE_TYPES[mode]:
        lower = calib_type.lower()
        # A build verified on its own frames needs two of them (make_plan refuses one).
        n_frames = rng.randint(2 if generate and do_verify else 1, 3)
        config[f"n_{lower}"] = n_frames
        config[f"n_discard_{lower}"] = rng.randint(0, min(1, n_frames - 1))
        if calib_type == "DARK":
            config["exp_times_dark"] = rng.choice([0.5, 2.0])
        elif calib_type == "FLAT":
            config["exp_times_flat"] = rng.choice([0.5, 1.0])
            config["filter"] = rng.choice(comcam_filters())
    return config


def _calibrations_requested(config: dict[str, typing.Any]) -> tuple[RequestedCalib, ...]:
    from ..calib.plan import Processing, make_plan

    plan = make_plan(config)
    return tuple(
        RequestedCalib(
            calib_type=t.calib_type.lower(),
            n_discard=t.n_discard,
            n_combined=t.n_frames,
            n_taken=t.n_frames_to_take,
            builds=t.processing is Processing.BUILD,
            certify=t.do_certify,
            physical_filter=t.filter,
            depends_on=tuple(d.lower() for d in t.depends_on),
        )
        for t in plan.types
    )


def _calibrations_frames(config: dict[str, typing.Any]) -> int:
    return sum(r.n_taken for r in _calibrations_requested(config))


def _calibrations_jobs(config: dict[str, typing.Any]) -> int:
    from ..calib.plan import make_plan

    return sum(int(t.builds) + int(t.do_verify) for t in make_plan(config).types)


def _calibrations_stages() -> tuple[str, ...]:
    """Checkpoints of MakeComCamCalibrations: ``preflight``, ``flat:set_filter``, ``<type>:<stage>``."""
    from ..calib.stages import StageKind, stage_for
    from ..calib.types import CALIB_TYPES

    kinds = (StageKind.TAKE, StageKind.WAIT_INGEST, StageKind.BUILD, StageKind.VERIFY, StageKind.CERTIFY)
    per_type = [
        f"{spec.name}:{stage_for(kind, spec).checkpoint_name}"
        for spec in CALIB_TYPES.values()
        for kind in kinds
    ]
    return ("preflight", "flat:set_filter", *per_type)


def calibrations_entry() -> ScriptEntry:
    """The `ScriptEntry` of MakeComCamCalibrations (script_mode BIAS ... BIAS_DARK_FLAT)."""
    return ScriptEntry(
        name=CALIBRATIONS_SCRIPT,
        make=_make_comcam_calibrations,
        draw_config=_draw_calibrations_config,
        n_frames=_calibrations_frames,
        n_jobs=_calibrations_jobs,
        requested=_calibrations_requested,
        stages=_calibrations_stages(),
    )


def _calibrations_script_exists() -> bool:
    """True if the MakeComCamCalibrations module is part of the package (without importing it)."""
    return (pathlib.Path(__file__).parent.parent / "maintel" / "make_comcam_calibrations.py").is_file()


SCRIPTS: dict[str, ScriptEntry] = {
    "MakeComCamBias": ScriptEntry(
        name="MakeComCamBias",
        make=_make_comcam_bias,
        draw_config=_draw_bias_config,
        n_frames=_bias_frames,
        n_jobs=_bias_jobs,
        requested=_bias_requested,
        stages=STAGES,
    ),
}
"""The scripts the soak draws from, by name."""
if _calibrations_script_exists():
    SCRIPTS[CALIBRATIONS_SCRIPT] = calibrations_entry()


# ---------------------------------------------------------------------------
# Drawing a schedule
# ---------------------------------------------------------------------------
INSTANT_TOPICS = (
    ("CCCamera", "startIntegration"),
    ("CCCamera", "endReadout"),
    ("CCOODS", "imageInOODS"),
    ("OCPS", "job_result"),
)


def _draw_instant(
    rng: random.Random, n_frames: int, n_jobs: int, *, stop: bool, stages: typing.Sequence[str] = STAGES
) -> tuple[tuple[str, typing.Any], ...]:
    """A random instant: after a topic's k-th message, at a simulated time, or at a checkpoint."""
    choices = ["time", "checkpoint"]
    if n_frames:
        choices += ["message", "message"]
    if n_jobs and stop:
        choices += ["execute", "job_result"]
    if stop:
        choices.append("certify")
    how = rng.choice(choices)
    if how == "message":
        component, topic = rng.choice(INSTANT_TOPICS[:3])
        per_frame = 3 if topic == "imageInOODS" else 1
        return (("at", f"{component}.{topic}#{rng.randint(1, max(1, n_frames * per_frame))}"),)
    if how == "job_result":
        return (("at", f"OCPS.job_result#{rng.randint(1, n_jobs)}"),)
    if how == "time":
        return (("at", f"t={rng.choice([0, 1, 2, 5, 10, 20, 40])}"),)
    if how == "checkpoint":
        return (("at", f"checkpoint={rng.choice(stages)}"),)
    if how == "execute":
        return (("at", f"execute#{rng.randint(1, n_jobs)}"),)
    return (("at", "certify"),)


KIND_WEIGHTS = {
    FaultKind.STOP: 5,
    FaultKind.ABORT_BY_OTHER: 2,
    FaultKind.CSC_FAULT: 2,
    FaultKind.CSC_DISABLE: 2,
}
"""Relative weights of the fault kinds in a draw (1 if not listed): stops at random instants are the
commonest fault of all."""


def draw_schedule(seed: int, scripts: typing.Mapping[str, ScriptEntry] | None = None) -> Schedule:
    """Draw a schedule from ``seed`` (the same seed always gives the same schedule)."""
    scripts = SCRIPTS if scripts is None else scripts
    rng = random.Random(seed)
    name = rng.choice(sorted(scripts))
    entry = scripts[name]
    config = entry.draw_config(rng)
    n_frames = entry.n_frames(config)
    n_jobs = entry.n_jobs(config)
    n_faults = rng.choice([0, 1, 1, 2, 2, 3])
    faults: list[Fault] = []
    kinds = list(FaultKind)
    weights = [KIND_WEIGHTS.get(k, 1) for k in kinds]
    for _ in range(n_faults):
        kind = rng.choices(kinds, weights)[0]
        params: tuple[tuple[str, typing.Any], ...] = ()
        frame = rng.randint(1, max(1, n_frames))
        job = rng.randint(1, max(1, n_jobs))
        if kind is FaultKind.CSC_NOT_ENABLED:
            params = (("csc", rng.choice(CSCS)),)
        elif kind in (FaultKind.CSC_FAULT, FaultKind.CSC_DISABLE):
            params = (("csc", rng.choice(CSCS)),) + _draw_instant(
                rng, n_frames, n_jobs, stop=False, stages=entry.stages or STAGES
            )
        elif kind in (
            FaultKind.TAKE_IMAGES_FAIL,
            FaultKind.TAKE_IMAGES_NO_ACK,
            FaultKind.CAMERA_FAULT,
            FaultKind.DROP_START_INTEGRATION,
            FaultKind.DROP_END_READOUT,
            FaultKind.OODS_FAULT_AFTER,
        ):
            params = (("frame", frame),)
        elif kind in (FaultKind.INGEST_FAILURE, FaultKind.INGEST_MISSING):
            detector = rng.choice([None] + list(config.get("detectors", [0])))
            params = (("frame", frame), ("detector", detector))
            if kind is FaultKind.INGEST_FAILURE:
                params += (("code", rng.choice([1, 2])),)
        elif kind is FaultKind.INGEST_LAG:
            params = (("delay", rng.choice([20, 100, 400, 1500])),)
        elif kind is FaultKind.UNRELATED_IMAGES:
            params = (("n", rng.randint(1, 2)),)
        elif kind in (
            FaultKind.OCPS_FAULT_ON_JOB,
            FaultKind.JOB_FAIL,
            FaultKind.JOB_HANG,
            FaultKind.DELAYED_JOB_ID,
        ):
            params = (("job", job),)
            if kind is FaultKind.DELAYED_JOB_ID:
                params += (("delay", rng.choice([0.01, 0.05, 0.2])),)
        elif kind is FaultKind.JOB_SLOW:
            params = (("job", job), ("duration", rng.choice([50, 200, 2000])))
        elif kind is FaultKind.ABORT_BY_OTHER:
            params = (("job", job), ("after", rng.choice([0, 2, 5, 8])))
        elif kind is FaultKind.STOP:
            params = _draw_instant(rng, n_frames, n_jobs, stop=True, stages=entry.stages or STAGES)
        faults.append(Fault(kind, params))
    # One of each frame- or job-indexed kind: a later draw of the same kind replaces an earlier one.
    unique: dict[typing.Any, Fault] = {}
    for fault in faults:
        key = (
            fault.kind
            if fault.kind not in (FaultKind.CSC_FAULT, FaultKind.CSC_DISABLE, FaultKind.STOP)
            else fault
        )
        unique[key] = fault
    delivery = "unordered" if rng.random() < 0.3 else "ordered"
    return Schedule(
        seed=seed,
        script=name,
        config=tuple(config.items()),
        faults=tuple(unique.values()),
        delivery=delivery,
        delivery_seed=rng.randrange(2**31) if delivery == "unordered" else 0,
    )


def schedule_seeds(seed: int, n: int) -> list[int]:
    """The seeds of ``n`` schedules of a soak started with ``seed``."""
    rng = random.Random(seed)
    return [rng.randrange(2**31) for _ in range(n)]


# ---------------------------------------------------------------------------
# Observatory options and the job runner
# ---------------------------------------------------------------------------
def observatory_options(schedule: Schedule, repo: str) -> typing.Any:
    """The `ObservatoryOptions` of the schedule's frame-indexed faults."""
    from ..sal import State
    from ..sim import CameraFaults, ObservatoryOptions, OcpsFaults, OodsFaults

    camera: dict[str, typing.Any] = {}
    oods: dict[str, typing.Any] = {}
    ocps: dict[str, typing.Any] = {}
    states: dict[str, typing.Any] = {}
    for fault in schedule.faults:
        kind = fault.kind
        if kind is FaultKind.CSC_NOT_ENABLED:
            states[fault.get("csc")] = State.DISABLED
        elif kind is FaultKind.TAKE_IMAGES_FAIL:
            camera["fail_take_images_on_frame"] = fault.get("frame")
        elif kind is FaultKind.TAKE_IMAGES_NO_ACK:
            camera["never_ack_on_frame"] = fault.get("frame")
        elif kind is FaultKind.CAMERA_FAULT:
            camera["fault_on_frame"] = fault.get("frame")
            camera["fault_code"] = 42
        elif kind is FaultKind.DROP_START_INTEGRATION:
            camera["drop_start_integration_frames"] = {fault.get("frame")}
        elif kind is FaultKind.DROP_END_READOUT:
            camera["drop_end_readout_frames"] = {fault.get("frame")}
        elif kind is FaultKind.INGEST_FAILURE:
            oods["status_codes"] = {(fault.get("frame"), fault.get("detector")): fault.get("code")}
        elif kind is FaultKind.INGEST_MISSING:
            oods["missing"] = {(fault.get("frame"), fault.get("detector"))}
        elif kind is FaultKind.INGEST_LAG:
            oods["ingest_delay"] = float(fault.get("delay"))
        elif kind is FaultKind.OODS_FAULT_AFTER:
            oods["fault_after_images"] = fault.get("frame")
        elif kind is FaultKind.UNRELATED_IMAGES:
            oods["unrelated_images"] = fault.get("n")
        elif kind is FaultKind.EXECUTE_REJECTED:
            ocps["reject_execute"] = "the UWS back end is unreachable (soak)"
        elif kind is FaultKind.OCPS_FAULT_ON_JOB:
            ocps["fault_on_job"] = fault.get("job")
    return ObservatoryOptions(
        time_scale=TIME_SCALE,
        initial_states=states,
        camera=CameraFaults(**camera),
        oods=OodsFaults(**oods),
        ocps=OcpsFaults(**ocps),
        repo=repo,
    )


def job_scripts(schedule: Schedule) -> list[typing.Any]:
    """What each job does, in the order the runner gets them (FAIL, HANG, SLOW or SUCCEED)."""
    from ..sim import JobAction, JobScript

    scripts = [JobScript(JobAction.SUCCEED)] * 8
    for fault in schedule.faults:
        index = int(fault.get("job", 1)) - 1
        if fault.kind is FaultKind.JOB_FAIL:
            scripts[index] = JobScript(JobAction.FAIL)
        elif fault.kind is FaultKind.JOB_HANG:
            scripts[index] = JobScript(JobAction.HANG)
        elif fault.kind is FaultKind.JOB_SLOW:
            scripts[index] = JobScript(JobAction.SLOW, duration=float(fault.get("duration")))
    return scripts


def _job_type(pipeline: str) -> tuple[typing.Any, bool] | None:
    """The calibration type of a job's pipeline and whether it is the verification job (or None)."""
    from ..calib.types import CALIB_TYPES

    name = pipeline.rsplit("/", 1)[-1]
    for spec in CALIB_TYPES.values():
        if name == spec.build_pipeline:
            return spec, False
        if name == spec.verify_pipeline:
            return spec, True
    return None


def _put_outputs(request: typing.Any, butler: typing.Any = None, physical_filter: str | None = None) -> None:
    """Write what a completed build or verification job leaves in its RUN (tiny stand-ins; blocking).

    A build job (cpBias, cpDark, cpFlat) leaves its master per detector (a
    flat for ``physical_filter``); a verification job leaves passing
    run-level statistics (``verifyBiasStats`` ..., per filter for flats).
    """
    import numpy as np
    from astropy.io import fits
    from lsst.daf.butler import Butler

    found = _job_type(request.pipeline)
    if found is None:
        return
    spec, verification = found
    query = request.data_query
    detectors = [int(d) for d in re.findall(r"\d+", _in_list(query, "detector"))]
    exposures = [int(e) for e in re.findall(r"\d+", _in_list(query, "exposure"))]
    run = f"u/ocps/{request.job_id}/run"
    per_filter = {"physical_filter": physical_filter} if spec.per_filter else {}
    own = butler is None
    if own:
        butler = Butler.from_config(request.butler_repo, writeable=True)
    try:
        if not verification:
            for detector in detectors:
                hdus = fits.HDUList(
                    [fits.PrimaryHDU(), fits.ImageHDU(np.zeros((2, 2), np.float32), name="IMAGE")]
                )
                butler.put(
                    hdus, spec.dataset_type, instrument="LSSTComCam", detector=detector, run=run, **per_filter
                )
        else:
            stats: dict[typing.Any, typing.Any] = {e: {"SUCCESS": True, "FAILURES": []} for e in exposures}
            stats["SUCCESS"] = True
            stats_filter = per_filter if "physical_filter" in spec.stats_dimensions else {}
            butler.put(stats, spec.stats_dataset_type, instrument="LSSTComCam", run=run, **stats_filter)
    finally:
        if own:
            butler.close()


def _in_list(query: str, name: str) -> str:
    match = re.search(rf"{name} IN \(([^)]*)\)", query)
    return match.group(1) if match else ""


def _complete_job(request: typing.Any, log_dir: str, physical_filter: str | None = None) -> typing.Any:
    """End a job as completed: its ``ocps.log``, its collections and its outputs, one butler (blocking)."""
    from lsst.daf.butler import Butler, CollectionType

    from ..sim.interfaces import JobOutcome, JobPhase
    from ..sim.runners._common import JOB_LOG_NAME, job_collections, job_output_dir

    folder = job_output_dir(log_dir, request.job_id)
    os.makedirs(folder, exist_ok=True)
    outcome = JobOutcome(phase=JobPhase.COMPLETED)
    outcome.log_path = os.path.join(folder, JOB_LOG_NAME)
    with open(outcome.log_path, "w") as stream:
        stream.write(f"soak job {request.job_id}: {request.pipeline}; {request.data_query}\ncompleted\n")
    output, run = job_collections(request.job_id)
    butler = Butler.from_config(request.butler_repo, writeable=True)
    try:
        butler.collections.register(run, CollectionType.RUN)
        butler.collections.register(output, CollectionType.CHAINED)
        butler.collections.redefine_chain(output, [run])
        _put_outputs(request, butler, physical_filter)
    finally:
        butler.close()
    return outcome


def _soak_runner_class() -> type:
    from ..sim import JobAction
    from ..sim.runners.scripted import DEFAULT_SLOW_DURATION, ScriptedRunner, run_scripted_job

    class _SoakJobRunner(ScriptedRunner):
        """A `ScriptedRunner` whose completed jobs leave tiny build or verification outputs in their RUN.

        So the certification and the verification statistics are real
        butler operations, at a few milliseconds per job. Flats are made
        for ``physical_filter``.
        """

        physical_filter: str | None = None

        async def run(self, request: typing.Any) -> typing.Any:
            self.requests.append(request)
            script = self.script_for(request, len(self.requests))
            if script.action in (JobAction.FAIL, JobAction.HANG):
                return await run_scripted_job(
                    script,
                    request,
                    default_duration=self.duration,
                    time_scale=self.time_scale,
                    log_dir=self.log_dir,
                )
            duration = script.duration
            if duration is None:
                duration = DEFAULT_SLOW_DURATION if script.action is JobAction.SLOW else self.duration
            await asyncio.sleep(duration * self.time_scale)
            return await asyncio.to_thread(_complete_job, request, self.log_dir, self.physical_filter)

    return _SoakJobRunner


def SoakJobRunner(*args: typing.Any, **kwargs: typing.Any) -> typing.Any:  # noqa: N802
    """A job runner whose completed jobs leave stand-in outputs; arguments as `ScriptedRunner`."""
    return _soak_runner_class()(*args, **kwargs)


# ---------------------------------------------------------------------------
# Template repositories
# ---------------------------------------------------------------------------
@dataclasses.dataclass
class Templates:
    """Template repositories a worker copies for each schedule.

    ``plain`` holds the prior cpBias job's output (``u/ocps/<PRIOR_JOB_ID>``)
    uncertified, and a bias, a dark and a flat (every filter) of every
    detector certified in `CALIB_COLLECTION` over `PRIOR_CALIBS_RANGE`,
    which ``LSSTComCam/calib`` chains first, as a summit repository has;
    ``conflict`` also has the prior cpBias job's output certified in
    `CALIB_COLLECTION` over `CONFLICT_RANGE`.
    """

    plain: str
    conflict: str
    certified: dict[str, dict[str, list[typing.Any]]] = dataclasses.field(default_factory=dict)
    """Template path -> dataset type (`PRIOR_CALIB_TYPES`) -> its certifications in `CALIB_COLLECTION`."""

    @classmethod
    def make(cls, folder: str, base: str | None = None) -> Templates:
        """Make both templates in ``folder`` (from a copy of ``base`` if given; else a new repository)."""
        from lsst.daf.butler import Butler, CollectionType

        from ..calib import butler_ops
        from ..calib.plan import comcam_filters
        from ..sim.data.repo import RAW_RUN, create_or_open_repo

        plain = os.path.join(folder, "plain")
        if base is not None:
            shutil.copytree(base, plain, symlinks=True)
        else:
            create_or_open_repo(plain)
        butler = Butler.from_config(plain, writeable=True)
        try:
            for job_id in (PRIOR_JOB_ID, PRIOR_CALIBS_JOB_ID):
                butler.collections.register(f"u/ocps/{job_id}/run")
                butler.collections.register(f"u/ocps/{job_id}", CollectionType.CHAINED)
                butler.collections.redefine_chain(f"u/ocps/{job_id}", [f"u/ocps/{job_id}/run", RAW_RUN])
        finally:
            butler.close()
        every_detector = "detector IN (0, 1, 2, 3, 4, 5, 6, 7, 8) AND exposure IN ()"
        _put_outputs(
            types_namespace(
                job_id=PRIOR_JOB_ID, butler_repo=plain, pipeline="cpBias.yaml", data_query=every_detector
            )
        )
        for dataset_type in PRIOR_CALIB_TYPES:
            request = types_namespace(
                job_id=PRIOR_CALIBS_JOB_ID,
                butler_repo=plain,
                pipeline=f"cp{dataset_type.capitalize()}.yaml",
                data_query=every_detector,
            )
            for physical_filter in comcam_filters() if dataset_type == "flat" else (None,):
                _put_outputs(request, physical_filter=physical_filter)
            butler_ops.certify_calibs(
                plain,
                f"u/ocps/{PRIOR_CALIBS_JOB_ID}/run",
                CALIB_COLLECTION,
                list(range(9)),
                *PRIOR_CALIBS_RANGE,
                dataset_type=dataset_type,
            )
        butler = Butler.from_config(plain, writeable=True)
        try:
            calib_chain = "LSSTComCam/calib"
            butler.collections.redefine_chain(
                calib_chain, [CALIB_COLLECTION, *butler.collections.get_info(calib_chain).children]
            )
        finally:
            butler.close()
        conflict = os.path.join(folder, "conflict")
        shutil.copytree(plain, conflict, symlinks=True)
        butler_ops.certify_biases(
            conflict, f"u/ocps/{PRIOR_JOB_ID}/run", CALIB_COLLECTION, list(range(9)), *CONFLICT_RANGE
        )
        certified = {
            path: {
                dataset_type: butler_ops.list_certifications(path, CALIB_COLLECTION, dataset_type)
                for dataset_type in PRIOR_CALIB_TYPES
            }
            for path in (plain, conflict)
        }
        return cls(plain=plain, conflict=conflict, certified=certified)


def types_namespace(**kwargs: typing.Any) -> typing.Any:
    import types

    return types.SimpleNamespace(**kwargs)


# ---------------------------------------------------------------------------
# Running a schedule
# ---------------------------------------------------------------------------
@dataclasses.dataclass
class ScheduleResult:
    """What one schedule did and which invariants it broke."""

    seed: int
    recipe: str
    state: str = ""
    reason: str = ""
    fired: list[str] = dataclasses.field(default_factory=list)
    violations: list[str] = dataclasses.field(default_factory=list)
    max_loop_lag: float = 0.0
    max_wall_lag: float = 0.0
    seconds: float = 0.0
    cpu_seconds: float = 0.0

    def to_dict(self) -> dict[str, typing.Any]:
        return dataclasses.asdict(self)


class _LogCapture(logging.Handler):
    """Keep log records that carry a traceback, and asyncio's error reports."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.problems: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info or record.name == "asyncio":
            exc = record.exc_info[1] if record.exc_info else None
            self.problems.append(
                f"{record.name}: {record.getMessage()[:300]}" + (f" ({exc!r})"[:300] if exc else "")
            )


def _involuntary_switches() -> int:
    """Involuntary context switches of this thread (of the process where per-thread counts are missing)."""
    import resource

    who = getattr(resource, "RUSAGE_THREAD", resource.RUSAGE_SELF)
    return int(resource.getrusage(who).ru_nivcsw)


class _LagMonitor:
    """Measure how long the event loop goes without running a periodic task.

    A late wake-up counts in full, unless the operating system preempted the
    loop's thread meanwhile (an involuntary context switch: other programs on
    a loaded machine); then it counts only as far as this process used CPU
    (``min(wall lag, process CPU time)``). So a blocking call on the loop
    (a voluntary wait) and the process's own work (a long callback, a thread
    holding the GIL) count; waiting for a busy machine's CPU does not.
    ``max_wall_lag`` keeps the plain wall lag.
    """

    def __init__(self, period: float = LAG_PERIOD) -> None:
        self.period = period
        self.max_lag = 0.0
        self.max_wall_lag = 0.0
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            cpu_before = time.process_time()
            preempted_before = _involuntary_switches()
            await asyncio.sleep(self.period)
            wall_lag = loop.time() - before - self.period
            self.max_wall_lag = max(self.max_wall_lag, wall_lag)
            if _involuntary_switches() != preempted_before:
                wall_lag = min(wall_lag, time.process_time() - cpu_before)
            self.max_lag = max(self.max_lag, wall_lag)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class _Context:
    """What the fault drivers act on."""

    def __init__(
        self, schedule: Schedule, script: typing.Any, observatory: typing.Any, domain: typing.Any
    ) -> None:
        self.schedule = schedule
        self.script = script
        self.observatory = observatory
        self.domain = domain
        self.fired: list[str] = []
        self.certify_started = asyncio.Event()
        self.loop = asyncio.get_running_loop()
        self.t0 = self.loop.time()

    def fire(self, fault: Fault, detail: str = "") -> None:
        stage = getattr(self.script, "last_checkpoint", "")
        self.fired.append(f"{fault.recipe()}@{stage}{': ' + detail if detail else ''}")

    async def poll(self, condition: typing.Callable[[], bool]) -> None:
        while not condition():
            await asyncio.sleep(0.002)

    def script_done(self) -> bool:
        return self.script.done_task.done() or self.script.state.state in _final_states()

    async def wait_instant(self, at: str) -> bool:
        """Wait for an instant; False if the script ended first."""
        from ..sim.triggers import TopicCounter, at_simulated_time

        waiting: typing.Awaitable[typing.Any]
        counter = None
        if at.startswith("t="):
            waiting = at_simulated_time(self.observatory.timing, float(at[2:]))
        elif at.startswith("checkpoint="):
            stage = at.split("=", 1)[1]
            waiting = self.poll(lambda: self.script.last_checkpoint == stage)
        elif at == "certify":
            waiting = self.certify_started.wait()
        else:
            name, count = at.split("#")
            component, topic = name.split(".")
            index = 2 if component == "OCPS" else 0
            counter = TopicCounter(self.domain, component, index, topic)
            await counter.start()
            waiting = counter.wait_for(int(count))
        try:
            task = asyncio.ensure_future(waiting)
            ended = asyncio.ensure_future(self.poll(self.script_done))
            done, _ = await asyncio.wait({task, ended}, return_when=asyncio.FIRST_COMPLETED)
            for item in (task, ended):
                item.cancel()
            return task in done and not self.script_done()
        finally:
            if counter is not None:
                await counter.close()

    async def stop(self) -> None:
        """Send ``stop`` to the script, as the ScriptQueue does."""
        await self.script.do_stop(self.script.cmd_stop.DataType())


def _final_states() -> set[int]:
    from ..sal import ScriptState

    return {ScriptState.DONE, ScriptState.FAILED, ScriptState.STOPPED, ScriptState.CONFIGURE_FAILED}


async def _drive(fault: Fault, ctx: _Context) -> None:
    """Inject one instant-based fault."""
    from ..sal import ScriptState, salobj

    kind = fault.kind
    observatory = ctx.observatory
    ocps = observatory.ocps
    if kind is FaultKind.STOP:
        at = fault.get("at")
        if at.startswith("execute#"):
            await _stop_between_execute_and_job_id(fault, ctx, int(at.split("#")[1]))
            return
        if await ctx.wait_instant(at):
            ctx.fire(fault)
            await ctx.stop()
    elif kind in (FaultKind.CSC_FAULT, FaultKind.CSC_DISABLE):
        csc = {
            "CCCamera": observatory.cccamera,
            "CCHeaderService": observatory.ccheaderservice,
            "CCOODS": observatory.ccoods,
            "OCPS": observatory.ocps,
        }[fault.get("csc")]
        if not await ctx.wait_instant(fault.get("at")):
            return
        if kind is FaultKind.CSC_FAULT:
            ctx.fire(fault)
            await csc.fault(code=77, report=f"Simulated {fault.get('csc')} fault (soak)")
        else:
            index = 2 if fault.get("csc") == "OCPS" else 0
            async with salobj.Remote(ctx.domain, fault.get("csc"), index, include=[]) as remote:
                try:
                    await remote.cmd_disable.start(timeout=10)
                    ctx.fire(fault)
                except salobj.AckError:
                    pass  # not ENABLED (e.g. already in FAULT): nothing changed
    elif kind is FaultKind.DELAYED_JOB_ID:
        await _gate_job_id(fault, ctx, int(fault.get("job")), release_after=float(fault.get("delay")))
    elif kind is FaultKind.ABORT_BY_OTHER:
        number = int(fault.get("job"))
        await ctx.poll(lambda: ctx.script_done() or len(ocps.jobs) >= number)
        if ctx.script_done():
            return
        job = list(ocps.jobs.values())[number - 1]
        await ctx.poll(lambda: ctx.script_done() or job.phase != "queued")
        await observatory.timing.sleep(float(fault.get("after")))
        if ctx.script_done() or job.exit_code is not None:
            return
        async with salobj.Remote(ctx.domain, "OCPS", 2, include=[]) as remote:
            try:
                await remote.cmd_abort_job.set_start(job_id=job.request.job_id, timeout=10)
                ctx.fire(fault, job.request.job_id)
            except salobj.AckError:
                pass  # the job had ended, or OCPS is not ENABLED
    del ScriptState


async def _previous_job_acknowledged(ctx: _Context, number: int) -> bool:
    """Wait until job ``number - 1`` exists and its in-progress ack (job id) has gone.

    Returns False if the script ended first (nothing left to gate).
    """
    ocps = ctx.observatory.ocps
    await ctx.poll(lambda: ctx.script_done() or len(ocps.jobs) >= number - 1)
    if ctx.script_done():
        return False
    if number > 1:
        # Gate only once the previous job's ack has gone.
        previous = list(ocps.jobs.values())[number - 2]
        await ctx.poll(lambda: ctx.script_done() or previous.phase != "queued")
    return True


async def _gate_job_id(fault: Fault, ctx: _Context, number: int, release_after: float) -> None:
    """Hold the in-progress ack (the job id) of job ``number`` for ``release_after`` seconds."""
    ocps = ctx.observatory.ocps
    if not await _previous_job_acknowledged(ctx, number):
        return
    gate = asyncio.Event()
    ocps.in_progress_ack_gate = gate
    try:
        await ctx.poll(lambda: ctx.script_done() or len(ocps.jobs) >= number)
        if len(ocps.jobs) >= number:
            ctx.fire(fault)
            await asyncio.sleep(release_after)
    finally:
        ocps.in_progress_ack_gate = None
        gate.set()


async def _stop_between_execute_and_job_id(fault: Fault, ctx: _Context, number: int) -> None:
    """Stop once OCPS has created job ``number`` and before the script gets its id."""
    from ..sal import ScriptState

    ocps = ctx.observatory.ocps
    if not await _previous_job_acknowledged(ctx, number):
        return
    gate = asyncio.Event()
    ocps.in_progress_ack_gate = gate
    try:
        await ctx.poll(lambda: ctx.script_done() or len(ocps.jobs) >= number)
        if len(ocps.jobs) >= number and not ctx.script_done():
            ctx.fire(fault)
            await ctx.stop()
            # The job id is let through once the stop has reached the script: its state is STOPPING,
            # or its run is being cancelled (a script that stops its work inside run, e.g.
            # MakeComCamCalibrations, is STOPPING only once run has aborted its jobs).
            await ctx.poll(
                lambda: ctx.script_done()
                or ctx.script.state.state in (ScriptState.STOPPING, ScriptState.FAILING)
                or _run_cancelled(ctx.script)
            )
    finally:
        ocps.in_progress_ack_gate = None
        gate.set()


def _run_cancelled(script: typing.Any) -> bool:
    """True once the script's ``run`` task has been asked to cancel (the stop command reached it)."""
    task = getattr(script, "_run_task", None)
    return task is not None and (task.done() or task.cancelling() > 0)


_index = iter(range(1000, 10**9))


async def run_schedule(schedule: Schedule, workdir: str, templates: Templates) -> ScheduleResult:
    """Run one schedule in ``workdir`` (which it leaves behind) and check the invariants."""
    from .. import report
    from ..calib import butler_ops
    from ..sal import BACKEND, salobj
    from ..sim import SimulatedObservatory
    from ..sim.interfaces import NullDataPlane

    started = time.monotonic()
    cpu_started = time.process_time()
    result = ScheduleResult(seed=schedule.seed, recipe=schedule.recipe())
    entry = SCRIPTS[schedule.script]
    salobj.set_test_topic_subname(randomize=True)
    previous_delivery = None
    if BACKEND == "sim":
        from ..simsal.salobj import _bus

        previous_delivery = _bus.set_delivery(
            _bus.Delivery(schedule.delivery, seed=schedule.delivery_seed or None)
        )
    repo = os.path.join(workdir, "repo")
    template = templates.conflict if schedule.has(FaultKind.CERTIFY_CONFLICT) else templates.plain
    shutil.copytree(template, repo, symlinks=True)
    report_dir = os.path.join(workdir, "reports")
    config = {**schedule.config_dict, "repo": repo, "report_dir": report_dir}
    dataset_types = sorted(
        {*PRIOR_CALIB_TYPES} | {r.dataset_type for r in entry.requested(schedule.config_dict)}
    )
    before = {
        dataset_type: list(templates.certified[template].get(dataset_type, []))
        for dataset_type in dataset_types
    }
    options = observatory_options(schedule, repo)
    runner = SoakJobRunner(
        job_scripts(schedule), time_scale=TIME_SCALE, log_dir=os.path.join(workdir, "job_logs")
    )
    runner.physical_filter = schedule.config_dict.get("filter")
    capture = _LogCapture()
    root = logging.getLogger()
    root.addHandler(capture)
    lag = _LagMonitor()
    lag.start()
    real_certify = {name: getattr(butler_ops, name) for name in ("certify_biases", "certify_calibs")}
    observatory = SimulatedObservatory(options, data_plane=NullDataPlane(), job_runner=runner)
    script = None
    drivers: list[asyncio.Task] = []
    try:
        await observatory.start()
        script = entry.make(next(_index))
        await script.start_task
        # Short waits for events that normally come within milliseconds (all real seconds).
        if hasattr(script, "jobs"):
            script.jobs.result_grace = 0.5
            script.jobs.ack_timeout = 5.0
        data = script.cmd_configure.DataType()
        data.config = yaml.safe_dump(config)
        await script.do_configure(data)
        group = script.cmd_setGroupId.DataType()
        group.groupId = GROUP_ID
        await script.do_setGroupId(group)
        async with salobj.Domain() as domain:
            ctx = _Context(schedule, script, observatory, domain)

            def certify_hook(name: str) -> typing.Callable[..., typing.Any]:
                def certify(*args: typing.Any, **kwargs: typing.Any) -> typing.Any:
                    ctx.loop.call_soon_threadsafe(ctx.certify_started.set)
                    time.sleep(0.02)  # the butler transaction takes a moment: a stop lands during it
                    return real_certify[name](*args, **kwargs)

                return certify

            with (
                mock.patch.object(butler_ops, "certify_biases", certify_hook("certify_biases")),
                mock.patch.object(butler_ops, "certify_calibs", certify_hook("certify_calibs")),
                mock.patch.object(report, "write_run_pictures", _no_pictures),
                mock.patch("lsst.ts.calibscripts.calib.procedure.CAMERA_EVENT_GRACE", 0.2),
            ):
                for fault in schedule.faults:
                    drivers.append(asyncio.ensure_future(_drive(fault, ctx)))
                run_task = asyncio.ensure_future(script.do_run(script.cmd_run.DataType()))
                try:
                    await asyncio.wait_for(asyncio.shield(script.done_task), RUN_TIMEOUT)
                except asyncio.TimeoutError:
                    result.violations.append(f"run_ended: no final state within {RUN_TIMEOUT:g} s")
                for task in drivers:
                    task.cancel()
                await asyncio.gather(*drivers, return_exceptions=True)
                for task in drivers:
                    if not task.cancelled() and task.exception() is not None:
                        result.violations.append(f"soak driver failed: {task.exception()!r}")
                run_task.cancel()
                await asyncio.gather(run_task, return_exceptions=True)
                # Let OCPS finish writing what an abort causes (the second job_result).
                await asyncio.sleep(0.05)
            result.fired = list(ctx.fired) + _fired_by_options(schedule, observatory, runner)
        result.state = _state_name(script)
        result.reason = str(script.state.reason)
        after = {
            dataset_type: await asyncio.to_thread(
                butler_ops.list_certifications, repo, CALIB_COLLECTION, dataset_type
            )
            for dataset_type in dataset_types
        }
        result.violations += check_invariants(
            schedule,
            script,
            observatory,
            runner,
            before=before,
            after=after,
            report_dir=report_dir,
            fired=result.fired,
        )
    except Exception as e:
        logging.getLogger("soak").exception("Schedule %s could not run", schedule.seed)
        result.violations.append(f"soak harness failed: {e!r}")
    finally:
        await lag.stop()
        if script is not None:
            await script.close()
        await observatory.close()
        root.removeHandler(capture)
        if previous_delivery is not None:
            from ..simsal.salobj import _bus

            _bus.set_delivery(previous_delivery)
    result.max_loop_lag = lag.max_lag
    result.max_wall_lag = lag.max_wall_lag
    if lag.max_lag > MAX_LOOP_LAG:
        result.violations.append(f"loop_not_blocked: the event loop was blocked for {lag.max_lag:.2f} s")
    result.violations += [f"no_traceback: {p}" for p in capture.problems]
    result.seconds = time.monotonic() - started
    result.cpu_seconds = time.process_time() - cpu_started
    return result


def _no_pictures(summary: typing.Any, repo: typing.Any = None, *, log: typing.Any = None) -> typing.Any:
    """Stand-in for `lsst.ts.calibscripts.report.write_run_pictures`: draws nothing (about 1 s of CPU)."""
    import pathlib

    from .. import report

    path = pathlib.Path(summary.report_path or ".")
    return report.RunReport(
        directory=path.parent, summary_path=path, problems=["pictures not drawn in the soak"]
    )


def _state_value(name: str) -> int:
    """The `ScriptState` called ``name``."""
    from ..sal import ScriptState

    return int(ScriptState[name])


def _state_name(script: typing.Any) -> str:
    from ..sal import ScriptState

    try:
        return ScriptState(script.state.state).name
    except ValueError:
        return str(script.state.state)


def _fired_by_options(schedule: Schedule, observatory: typing.Any, runner: typing.Any) -> list[str]:
    """The frame- and job-indexed faults that the mocks reached."""
    camera = observatory.cccamera
    oods = observatory.ccoods
    ocps = observatory.ocps
    fired = []
    for fault in schedule.faults:
        kind = fault.kind
        frame = fault.get("frame")
        job = fault.get("job")
        if kind is FaultKind.CSC_NOT_ENABLED:
            hit = True
        elif kind in (
            FaultKind.TAKE_IMAGES_FAIL,
            FaultKind.TAKE_IMAGES_NO_ACK,
            FaultKind.CAMERA_FAULT,
            FaultKind.DROP_START_INTEGRATION,
        ):
            hit = camera.frames_received >= frame
        elif kind is FaultKind.DROP_END_READOUT:
            hit = len(camera.images) >= frame
        elif kind in (FaultKind.INGEST_FAILURE, FaultKind.INGEST_MISSING):
            hit = oods.images_received >= frame
        elif kind is FaultKind.OODS_FAULT_AFTER:
            hit = oods.images_done >= frame
        elif kind in (FaultKind.INGEST_LAG, FaultKind.UNRELATED_IMAGES):
            hit = oods.images_received >= 1
        elif kind is FaultKind.EXECUTE_REJECTED:
            hit = bool(ocps.executes)
        elif kind is FaultKind.OCPS_FAULT_ON_JOB:
            hit = sum(1 for e in ocps.executes if not e.rejected or "back-end failure" in e.rejected) >= job
        elif kind in (FaultKind.JOB_FAIL, FaultKind.JOB_HANG, FaultKind.JOB_SLOW):
            hit = len(runner.requests) >= job
        elif kind is FaultKind.CERTIFY_CONFLICT:
            hit = True
        else:
            continue
        if hit:
            fired.append(fault.recipe())
    return fired


# ---------------------------------------------------------------------------
# Invariants
# ---------------------------------------------------------------------------
#: What a FAILED reason says when each kind of fault ended the run (case-insensitive regexes).
REASON_PATTERNS: dict[FaultKind, str] = {
    FaultKind.CSC_NOT_ENABLED: r"DISABLED",
    FaultKind.CSC_FAULT: r"FAULT|not allowed in state|ingest|imageInOODS|CCOODS|frame_timeout|endReadout|"
    r"startIntegration|execute|job",
    FaultKind.CSC_DISABLE: r"DISABLED|not allowed in state|ingest|imageInOODS|CCOODS|frame_timeout|"
    r"endReadout|startIntegration|execute|job",
    FaultKind.TAKE_IMAGES_FAIL: r"Simulated CCS failure",
    FaultKind.TAKE_IMAGES_NO_ACK: r"frame_timeout|not acknowledged",
    FaultKind.CAMERA_FAULT: r"FAULT \(errorCode 42|Simulated camera fault",
    FaultKind.DROP_START_INTEGRATION: r"no startIntegration|frame_timeout",
    FaultKind.DROP_END_READOUT: r"no endReadout|frame_timeout",
    FaultKind.INGEST_FAILURE: r"ingest failure|metadata failure|failed to ingest",
    FaultKind.INGEST_MISSING: r"wait_ingest failed|missing",
    FaultKind.INGEST_LAG: r"wait_ingest failed|missing",
    FaultKind.OODS_FAULT_AFTER: r"wait_ingest failed|missing|CCOODS",
    FaultKind.UNRELATED_IMAGES: r"Gave up waiting for CCOODS",
    FaultKind.EXECUTE_REJECTED: r"UWS back end is unreachable",
    FaultKind.OCPS_FAULT_ON_JOB: r"back-end failure|FAULT|not allowed in state",
    FaultKind.JOB_FAIL: r"failed \(exit_code 1\)",
    FaultKind.JOB_HANG: r"did not end within|no job_result",
    FaultKind.JOB_SLOW: r"did not end within|no job_result",
    FaultKind.DELAYED_JOB_ID: r"did not acknowledge execute",
    FaultKind.ABORT_BY_OTHER: r"was aborted \(exit_code 255\)",
    FaultKind.CERTIFY_CONFLICT: r"certify failed",
}


def _fired_kinds(fired: typing.Iterable[str]) -> set[FaultKind]:
    kinds = set()
    for text in fired:
        name = re.match(r"[a-z_]+", text)
        if name:
            kinds.add(FaultKind(name.group(0)))
    return kinds


def check_invariants(
    schedule: Schedule,
    script: typing.Any,
    observatory: typing.Any,
    runner: typing.Any,
    *,
    before: list[typing.Any] | typing.Mapping[str, list[typing.Any]],
    after: list[typing.Any] | typing.Mapping[str, list[typing.Any]],
    report_dir: str,
    fired: list[str],
    entry: ScriptEntry | None = None,
) -> list[str]:
    """Return the invariants the run broke (empty if none); see the module documentation.

    ``before`` and ``after`` are the certifications in `CALIB_COLLECTION`
    by dataset type (a list: the biases); ``entry`` is the schedule's
    script entry (default ``SCRIPTS[schedule.script]``).
    """
    from ..sal import State

    violations: list[str] = []
    entry = SCRIPTS[schedule.script] if entry is None else entry
    config = schedule.config_dict
    requested = entry.requested(config)
    state = _state_name(script)
    reason = str(script.state.reason)
    ocps = observatory.ocps
    jobs = ocps.jobs
    before_by_type = before if isinstance(before, typing.Mapping) else {"bias": before}
    after_by_type = after if isinstance(after, typing.Mapping) else {"bias": after}
    # New (dataset, range) associations; "added" ones are of datasets not certified before (a
    # supersede also re-certifies a prior dataset over what is left of its range).
    new_by_type: dict[str, list[typing.Any]] = {}
    added_by_type: dict[str, list[typing.Any]] = {}
    for dataset_type, certifications in after_by_type.items():
        prior = before_by_type.get(dataset_type, [])
        before_keys = {(c.dataset_id, c.begin, c.end) for c in prior}
        before_ids = {c.dataset_id for c in prior}
        new_by_type[dataset_type] = [
            c for c in certifications if (c.dataset_id, c.begin, c.end) not in before_keys
        ]
        added_by_type[dataset_type] = [c for c in certifications if c.dataset_id not in before_ids]
    new = [c for certifications in new_by_type.values() for c in certifications]
    report, problem = _read_reports(report_dir, one=len(requested) == 1)
    if problem:
        violations.append(problem)

    images = [i.exposure_id for i in observatory.images]
    offset = 0
    by_type = {r.calib_type: r for r in requested}
    fully_certified: dict[str, bool] = {}
    completed_runs: dict[str, set[str]] = {}
    for calib in requested:
        name = calib.calib_type
        own_jobs = [
            j
            for j in jobs.values()
            if calib.build_task in j.request.pipeline.rsplit("/", 1)[-1] and j.exit_code == 0
        ]
        runs = {f"u/ocps/{j.request.job_id}/run" for j in own_jobs}
        if calib.build_job_id:
            runs.add(f"u/ocps/{calib.build_job_id}/run")
        completed_runs[name] = runs
        if calib.exposure_ids:
            exposures = list(calib.exposure_ids)[: calib.n_combined]
        else:
            taken = images[offset : offset + calib.n_taken]
            exposures = taken[calib.n_discard : calib.n_discard + calib.n_combined]
        offset += calib.n_taken
        source_run = (
            f"u/ocps/{calib.build_job_id}/run"
            if calib.build_job_id
            else (f"u/ocps/{own_jobs[-1].request.job_id}/run" if own_jobs else "")
        )
        missing = _uncertified(
            calib, config, after_by_type.get(calib.dataset_type, []), source_run, exposures
        )
        fully_certified[name] = bool(source_run) and not missing
        # The final state is DONE only if every requested type is certified over the requested range.
        if state == "DONE" and calib.builds:
            if not source_run:
                violations.append(f"done_means_certified: DONE but no {calib.build_task} job completed")
            elif calib.certify:
                violations += [f"done_means_certified: DONE but {m}" for m in missing]
        # Nothing is certified from a build job that did not complete.
        for c in added_by_type.get(calib.dataset_type, []):
            if c.run not in runs:
                violations.append(
                    f"nothing_certified_early: {c.describe()} is not from a completed {calib.build_task} job "
                    f"of this run"
                )
    # Every type has its own finished summary, listing its OCPS jobs (ended, or aborted on a stop) and
    # what it certified.
    if not problem:
        violations += _per_type_violations(requested, _reports_by_type(report_dir), jobs, added_by_type)
    # A failed prerequisite means its dependents are not certified.
    for calib in requested:
        failed = [
            d
            for d in calib.depends_on
            if d in by_type and (not completed_runs[d] or (by_type[d].certify and not fully_certified[d]))
        ]
        if failed and added_by_type.get(calib.dataset_type):
            violations.append(
                f"prerequisite_failed: {calib.calib_type} certified although its prerequisite(s) {failed} "
                "failed: " + "; ".join(c.describe() for c in added_by_type[calib.dataset_type])
            )
    # Nothing is certified after the run failed or stopped before the certify stage (one type:
    # the stage says it; several types are certified one by one, as each is ready).
    if state != "DONE" and new and len(requested) == 1:
        last = report.get("failed_stage") or getattr(script, "last_checkpoint", "")
        if last not in ("certify", "summary"):
            violations.append(
                f"nothing_certified_early: {state} in stage {last!r} but certified "
                + "; ".join(c.describe() for c in new)
            )
    # No OCPS job the script started is left running.
    ocps_enabled = ocps.summary_state == State.ENABLED
    for job_id, job in jobs.items():
        if job.exit_code is None:
            recorded = [
                j
                for j in report.get("jobs", [])
                if j.get("job_id") == job_id and "could not abort" in j.get("error", "")
            ]
            if not (recorded and not ocps_enabled):
                violations.append(
                    f"no_job_left_running: job {job_id} ({job.request.pipeline.rsplit('/', 1)[-1]}) is still "
                    f"running (OCPS {State(ocps.summary_state).name}); report says "
                    f"{[j for j in report.get('jobs', []) if j.get('job_id') == job_id]}"
                )
    # Every exposure taken is reported in the summary or the reason.
    reported = set(report.get("exposures_taken", []) or [])
    text = reason + "\n" + str(report.get("reason", "")) + "\n" + str(report.get("what_was_done", ""))
    for image in observatory.images:
        if (
            image.exposure_id not in reported
            and str(image.exposure_id) not in text
            and image.obs_id not in text
        ):
            violations.append(
                f"exposures_reported: {image.obs_id} ({image.exposure_id}) taken but not reported"
            )
    # The reason names the first fault that mattered.
    kinds = _fired_kinds(fired)
    stopped = FaultKind.STOP in kinds
    if state == "STOPPED" and not stopped:
        violations.append(f"reason_names_fault: STOPPED but no stop was sent: {reason[:200]}")
    elif state == "FAILED":
        named = [k for k in kinds if k in REASON_PATTERNS and re.search(REASON_PATTERNS[k], reason, re.I)]
        if not named:
            violations.append(f"reason_names_fault: FAILED; fired {fired}; reason {reason[:400]!r}")
        if "unexpected" in reason:
            violations.append(f"reason_names_fault: unexpected error: {reason[:400]!r}")
    elif state == "DONE" and kinds & _ALWAYS_FATAL:
        violations.append(
            f"reason_names_fault: DONE although {sorted(k.value for k in kinds & _ALWAYS_FATAL)} fired"
        )
    elif state not in ("DONE", "FAILED", "STOPPED"):
        violations.append(f"run_ended: final state {state}")
    return violations


_ALWAYS_FATAL = {
    FaultKind.TAKE_IMAGES_FAIL,
    FaultKind.CAMERA_FAULT,
    FaultKind.EXECUTE_REJECTED,
    FaultKind.JOB_FAIL,
    FaultKind.JOB_HANG,
    FaultKind.ABORT_BY_OTHER,
}
"""Fault kinds that, once they fired, leave no way to end DONE."""


def _per_type_violations(
    requested: typing.Sequence[RequestedCalib],
    reports: typing.Mapping[str, dict[str, typing.Any]],
    jobs: typing.Mapping[str, typing.Any],
    added_by_type: typing.Mapping[str, list[typing.Any]],
) -> list[str]:
    """The ``summary_per_type``, ``jobs_per_type`` and ``certified_as_reported`` violations.

    Each requested type has a finished YAML summary with a reason; every
    OCPS job of the type (its build or verification pipeline) is in that
    summary by job id and recorded as ended (or aborted, or OCPS refused the
    abort); every dataset of the type newly certified is for a detector the
    summary reports certified.
    """
    violations: list[str] = []
    for calib in requested:
        name = calib.calib_type
        report = reports.get(name)
        if report is None:
            violations.append(f"summary_per_type: no YAML summary of {name} in report_dir")
            continue
        if report.get("outcome") in (None, "running") or not report.get("reason"):
            violations.append(
                f"summary_per_type: the {name} summary is not finished with a reason: "
                f"outcome {report.get('outcome')!r}, reason {report.get('reason')!r}"
            )
        records = {j.get("job_id"): j for j in report.get("jobs", []) or [] if j.get("job_id")}
        tasks = (calib.build_task, str(calib.spec.verify_pipeline).removesuffix(".yaml"))
        for job_id, job in jobs.items():
            pipeline = job.request.pipeline.rsplit("/", 1)[-1]
            if pipeline.removesuffix(".yaml") not in tasks:
                continue
            record = records.get(job_id)
            if record is None:
                violations.append(f"jobs_per_type: {name} job {job_id} ({pipeline}) is not in its summary")
            elif not (
                record.get("outcome")
                or record.get("aborted")
                or record.get("exit_code") is not None
                or "could not abort" in str(record.get("error", ""))
            ):
                phase = getattr(job, "phase", None)
                violations.append(
                    f"jobs_per_type: {name} job {job_id} ({pipeline}) ended {phase!r} but its summary "
                    f"records it unfinished: {record}"
                )
        reported = set(report.get("certified_detectors", []) or [])
        certified = {c.detector for c in added_by_type.get(calib.dataset_type, [])}
        if certified - reported:
            violations.append(
                f"certified_as_reported: {calib.dataset_type} certified for detector(s) {sorted(certified)} "
                f"but the {name} summary reports {sorted(reported)}"
            )
    return violations


def _reports_by_type(report_dir: str) -> dict[str, dict[str, typing.Any]]:
    """The YAML summaries in ``report_dir`` by calibration type (``calib_type``: ``bias`` ...)."""
    reports: dict[str, dict[str, typing.Any]] = {}
    if not os.path.isdir(report_dir):
        return reports
    for name in sorted(f for f in os.listdir(report_dir) if f.endswith(".yaml")):
        with open(os.path.join(report_dir, name)) as stream:
            data = yaml.safe_load(stream) or {}
        reports[str(data.get("calib_type", "")).lower()] = data
    return reports


def _read_reports(report_dir: str, one: bool) -> tuple[dict[str, typing.Any], str]:
    """The run's YAML summaries in ``report_dir`` as one (a script of several types writes one per type).

    Returns the merged summary (``exposures_taken`` and ``jobs`` of every
    file; ``reason``, ``what_was_done`` joined; ``failed_stage`` of a single
    file) and a violation if there is no file (or more than one when ``one``).
    """
    files = (
        sorted(f for f in os.listdir(report_dir) if f.endswith(".yaml")) if os.path.isdir(report_dir) else []
    )
    if not files or (one and len(files) != 1):
        expected = "one YAML summary" if one else "a YAML summary per type"
        return {}, f"report: expected {expected} in report_dir, found {files}"
    reports = []
    for name in files:
        with open(os.path.join(report_dir, name)) as stream:
            reports.append(yaml.safe_load(stream) or {})
    if len(reports) == 1:
        return reports[0], ""
    merged: dict[str, typing.Any] = {
        "exposures_taken": [e for r in reports for e in r.get("exposures_taken", []) or []],
        "jobs": [j for r in reports for j in r.get("jobs", []) or []],
        "reason": "\n".join(str(r.get("reason", "")) for r in reports),
        "what_was_done": "\n".join(str(r.get("what_was_done", "")) for r in reports),
        "failed_stage": None,
    }
    return merged, ""


def _uncertified(
    calib: RequestedCalib,
    config: typing.Mapping[str, typing.Any],
    certifications: list[typing.Any],
    source_run: str,
    exposures: list[int],
) -> list[str]:
    """What of ``calib`` is not certified from ``source_run`` over its exposures' day_obs range."""
    from ..calib import butler_ops
    from ..calib import config as calib_config

    if not exposures:
        return [f"no {calib.calib_type} exposure to certify"]
    begin, end = butler_ops.parse_validity_range(*calib_config.day_obs_validity_range(exposures))
    missing = []
    for detector in config["detectors"]:
        covering = [
            c
            for c in certifications
            if c.detector == detector
            and c.run == source_run
            and _covers(c, begin, end)
            and (calib.physical_filter is None or c.data_id.get("physical_filter") == calib.physical_filter)
        ]
        if not covering:
            in_filter = f" in {calib.physical_filter}" if calib.physical_filter else ""
            missing.append(
                f"detector {detector} has no {calib.dataset_type}{in_filter} from {source_run or 'no job'} "
                f"certified over [{begin.isot}, {end.isot})"
            )
    return missing


def _covers(cert: typing.Any, begin: typing.Any, end: typing.Any) -> bool:
    from ..calib import butler_ops

    c_begin, c_end = butler_ops.parse_validity_range(
        None if cert.begin == "-inf" else cert.begin, None if cert.end == "+inf" else cert.end
    )
    return (c_begin is None or c_begin <= begin) and (c_end is None or c_end >= end)


# ---------------------------------------------------------------------------
# The soak
# ---------------------------------------------------------------------------
_templates: Templates | None = None
_workroot: str | None = None


def _worker_init(workroot: str) -> None:
    global _templates, _workroot
    os.environ.setdefault("CALIBSCRIPTS_SAL", "sim")
    # The mocks and the script log the injected faults; the soak judges by its invariants
    # (its own handler on the root logger keeps the records with a traceback).
    logging.getLogger().addHandler(logging.NullHandler())
    _workroot = tempfile.mkdtemp(prefix="worker-", dir=workroot)
    # Import now what the schedules would otherwise import on their event loop.
    import lsst.daf.butler  # noqa: F401

    from ..maintel import MakeComCamBias  # noqa: F401
    from ..sim.csc import camera, header_service, ocps, oods  # noqa: F401
    from ..sim.observatory import SimulatedObservatory  # noqa: F401
    from ..sim.runners import scripted  # noqa: F401

    _templates = Templates.make(os.path.join(_workroot, "templates"))


def _run_one(seed: int) -> dict[str, typing.Any]:
    assert _templates is not None and _workroot is not None
    schedule = draw_schedule(seed)
    workdir = tempfile.mkdtemp(prefix=f"s{seed}-", dir=_workroot)
    try:
        result = asyncio.run(run_schedule(schedule, workdir, _templates))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    data = result.to_dict()
    data["injected"] = [f.kind.value for f in schedule.faults]
    data["delivery"] = schedule.delivery
    return data


def summarize(
    results: list[dict[str, typing.Any]], seed: int, jobs: int, seconds: float
) -> dict[str, typing.Any]:
    """The soak summary: counts of schedules, outcomes, faults and violations."""
    injected: dict[str, int] = {}
    fired: dict[str, int] = {}
    outcomes: dict[str, int] = {}
    for r in results:
        for kind in r["injected"]:
            injected[kind] = injected.get(kind, 0) + 1
        for kind in _fired_kinds(r["fired"]):
            fired[kind.value] = fired.get(kind.value, 0) + 1
        outcomes[r["state"] or "none"] = outcomes.get(r["state"] or "none", 0) + 1
    failing = [r for r in results if r["violations"]]
    return {
        "seed": seed,
        "jobs": jobs,
        "schedules": len(results),
        "unordered_delivery": sum(1 for r in results if r["delivery"] == "unordered"),
        "outcomes": dict(sorted(outcomes.items())),
        "faults_injected": dict(sorted(injected.items())),
        "faults_fired": dict(sorted(fired.items())),
        "violations": sum(len(r["violations"]) for r in results),
        "schedules_with_violations": len(failing),
        "failing": [
            {"recipe": r["recipe"], "state": r["state"], "violations": r["violations"]} for r in failing
        ],
        "max_loop_lag_s": round(max((r["max_loop_lag"] for r in results), default=0.0), 3),
        "max_wall_lag_s": round(max((r["max_wall_lag"] for r in results), default=0.0), 3),
        "seconds": round(seconds, 1),
        "cpu_seconds_per_schedule": round(sum(r["cpu_seconds"] for r in results) / max(1, len(results)), 3),
    }


def default_workdir() -> str | None:
    """Where the schedules' repositories go: a memory file system if there is one.

    Each schedule commits a few dozen SQLite transactions; on a disk each
    costs a sync.
    """
    shm = "/dev/shm"
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else None


def run_soak(
    n: int,
    seed: int,
    jobs: int = 1,
    seeds: list[int] | None = None,
    progress: typing.TextIO | None = None,
    workdir: str | None = None,
) -> dict[str, typing.Any]:
    """Run ``n`` schedules (or those of ``seeds``) on ``jobs`` worker processes; return the summary."""
    seeds = schedule_seeds(seed, n) if seeds is None else seeds
    started = time.monotonic()
    results: list[dict[str, typing.Any]] = []
    with tempfile.TemporaryDirectory(
        prefix="calibscripts-soak-", dir=workdir or default_workdir()
    ) as workroot:
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(
            max_workers=jobs, mp_context=context, initializer=_worker_init, initargs=(workroot,)
        ) as pool:
            for i, data in enumerate(pool.map(_run_one, seeds, chunksize=1), 1):
                results.append(data)
                if progress is not None and data["violations"]:
                    print(f"VIOLATION {data['recipe']}", file=progress)
                    for violation in data["violations"]:
                        print(f"    {violation}", file=progress)
                if progress is not None and i % 100 == 0:
                    print(f"{i}/{len(seeds)} schedules, {time.monotonic() - started:.0f} s", file=progress)
    return summarize(results, seed, jobs, time.monotonic() - started)


def format_summary(summary: dict[str, typing.Any]) -> str:
    """The summary as text."""
    lines = [
        f"soak: {summary['schedules']} schedules (seed {summary['seed']}, {summary['jobs']} workers, "
        f"{summary['unordered_delivery']} with unordered delivery) in {summary['seconds']} s, "
        f"{summary['cpu_seconds_per_schedule']} s CPU per schedule",
        f"outcomes: {summary['outcomes']}",
        "faults injected (fired) by kind: "
        + ", ".join(
            f"{k} {v} ({summary['faults_fired'].get(k, 0)})" for k, v in summary["faults_injected"].items()
        ),
        f"max event-loop lag: {summary['max_loop_lag_s']} s of this process's work (limit {MAX_LOOP_LAG} s); "
        f"{summary['max_wall_lag_s']} s of wall time",
        f"violations: {summary['violations']} in {summary['schedules_with_violations']} schedule(s)",
    ]
    for failing in summary["failing"]:
        lines.append(f"  {failing['recipe']} -> {failing['state']}")
        lines += [f"    {v}" for v in failing["violations"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command line: run a soak, print and write its summary; exit 1 if any invariant was broken."""
    parser = argparse.ArgumentParser(
        prog="python -m lsst.ts.calibscripts.testing.soak",
        description="Run calibration scripts under drawn fault schedules; check invariants after each run.",
    )
    parser.add_argument("--schedules", type=int, default=1000, help="number of schedules (default 1000)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the schedule seeds (default 1)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="worker processes")
    parser.add_argument("--replay", type=int, nargs="*", default=None, help="run these schedule seeds only")
    parser.add_argument("--json", default="soak_summary.json", help="where to write the summary (JSON)")
    parser.add_argument("--show", action="store_true", help="print the schedules' recipes and exit")
    args = parser.parse_args(argv)
    seeds = args.replay if args.replay else schedule_seeds(args.seed, args.schedules)
    if args.show:
        for seed in seeds:
            print(draw_schedule(seed).recipe())
        return 0
    os.environ.setdefault("CALIBSCRIPTS_SAL", "sim")
    summary = run_soak(len(seeds), args.seed, max(1, args.jobs), seeds=seeds, progress=sys.stdout)
    text = format_summary(summary)
    print(text)
    if args.json:
        with open(args.json, "w") as stream:
            json.dump(summary, stream, indent=1)
        print(f"summary written to {os.path.abspath(args.json)}")
    return 1 if summary["violations"] else 0


if __name__ == "__main__":
    sys.exit(main())
