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

"""The soak: schedules reproduce from their seed, invariants catch what they should, and a few
dozen seeded schedules run without breaking any (``make soak`` runs a thousand)."""

import dataclasses
import os
import types

import pytest
import yaml
from lsst.ts.calibscripts.sal import State
from lsst.ts.calibscripts.testing import soak

SEED = 20261125
"""Seed of the fast tier's schedules."""
N_FAST = 12
"""Schedules in the fast tier (about a second each); the slow tier runs `N_SLOW` more."""
N_SLOW = 36


@pytest.fixture(scope="module")
def templates(template_repo: str, tmp_path_factory: pytest.TempPathFactory) -> soak.Templates:
    return soak.Templates.make(str(tmp_path_factory.mktemp("soak_templates")), base=template_repo)


def test_a_schedule_is_drawn_from_its_seed_alone() -> None:
    seeds = soak.schedule_seeds(7, 5)
    assert seeds == soak.schedule_seeds(7, 5) and len(set(seeds)) == 5
    first = [soak.draw_schedule(seed) for seed in seeds]
    assert first == [soak.draw_schedule(seed) for seed in seeds]
    assert len({schedule.recipe() for schedule in first}) == 5
    recipe = first[0].recipe()
    assert recipe.startswith(f"seed {seeds[0]}: MakeComCamBias [") and "faults:" in recipe


def test_schedules_cover_every_fault_kind_and_both_delivery_modes() -> None:
    schedules = [soak.draw_schedule(seed) for seed in soak.schedule_seeds(1, 400)]
    kinds = {fault.kind for schedule in schedules for fault in schedule.faults}
    assert kinds == set(soak.FaultKind)
    instants = {
        fault.get("at").split("#")[0].split("=")[0]
        for schedule in schedules
        for fault in schedule.faults
        if fault.kind is soak.FaultKind.STOP
    }
    assert {"t", "checkpoint", "execute", "certify", "CCCamera.endReadout", "CCOODS.imageInOODS"} <= instants
    assert {schedule.delivery for schedule in schedules} == {"ordered", "unordered"}
    assert any("exposure_ids" in schedule.config_dict for schedule in schedules)
    assert any("bias_job_id" in schedule.config_dict for schedule in schedules)


def test_adding_a_script_is_adding_an_entry() -> None:
    entry = dataclasses.replace(soak.SCRIPTS["MakeComCamBias"], name="Other")
    schedule = soak.draw_schedule(3, {"Other": entry})
    assert schedule.script == "Other" and schedule.recipe().startswith("seed 3: Other [")


def fake_run(tmp_path, *, state: str, job_exit_code, ocps_state=State.ENABLED, report_jobs=()):
    """A finished run as check_invariants sees it, without running anything."""
    report_dir = tmp_path / "reports"
    report_dir.mkdir()
    report = {
        "exposures_taken": [2026112500001],
        "jobs": list(report_jobs),
        "failed_stage": None,
        "reason": "",
    }
    (report_dir / "summary.yaml").write_text(yaml.safe_dump(report))
    job = types.SimpleNamespace(
        exit_code=job_exit_code, request=types.SimpleNamespace(job_id="j1", pipeline="x/cpBias.yaml")
    )
    observatory = types.SimpleNamespace(
        ocps=types.SimpleNamespace(jobs={"j1": job}, summary_state=ocps_state),
        images=[types.SimpleNamespace(exposure_id=2026112500001, obs_id="CC_O_20261125_000001")],
    )
    script = types.SimpleNamespace(
        state=types.SimpleNamespace(state=soak._state_value(state), reason="Error in run: x"),
        last_checkpoint="cp_bias",
    )
    schedule = soak.Schedule(
        seed=1,
        script="MakeComCamBias",
        config=tuple({"do_certify": True, "detectors": [0], "n_bias": 1, "n_discard_bias": 0}.items()),
        faults=(),
    )
    return dict(
        schedule=schedule,
        script=script,
        observatory=observatory,
        runner=None,
        before=[],
        after=[],
        report_dir=str(report_dir),
        fired=[],
    )


def test_invariants_catch_a_job_left_running_and_a_false_done(tmp_path) -> None:
    args = fake_run(tmp_path, state="DONE", job_exit_code=None)
    violations = soak.check_invariants(**args)
    assert any(v.startswith("no_job_left_running: job j1") for v in violations), violations
    assert any(v.startswith("done_means_certified") for v in violations), violations


def test_invariants_accept_a_job_ocps_refused_to_abort_when_the_summary_says_so(tmp_path) -> None:
    jobs = [{"job_id": "j1", "error": "could not abort: CMD_FAILED abort_job not allowed in state FAULT"}]
    args = fake_run(tmp_path, state="STOPPED", job_exit_code=None, ocps_state=State.FAULT, report_jobs=jobs)
    violations = soak.check_invariants(**args)
    assert not any(v.startswith("no_job_left_running") for v in violations), violations
    # Nobody sent stop: a STOPPED run is a violation.
    assert any(v.startswith("reason_names_fault: STOPPED") for v in violations), violations


SEEDS = soak.schedule_seeds(SEED, N_FAST + N_SLOW)


@pytest.mark.parametrize(
    "seed", SEEDS[:N_FAST] + [pytest.param(seed, marks=pytest.mark.slow) for seed in SEEDS[N_FAST:]]
)
async def test_schedule_keeps_every_invariant(seed: int, templates: soak.Templates, tmp_path) -> None:
    schedule = soak.draw_schedule(seed)
    result = await soak.run_schedule(schedule, str(tmp_path), templates)
    assert result.state in ("DONE", "FAILED", "STOPPED"), result
    assert result.violations == [], f"{schedule.recipe()}\n" + "\n".join(result.violations)
    assert os.path.isdir(tmp_path / "reports")
