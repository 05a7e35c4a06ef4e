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

"""Image naming, day_obs rollover, keyValueMap/sensor parsing and fault options (no SAL)."""

from __future__ import annotations

import asyncio
import datetime

import pytest
from lsst.ts.calibscripts.sal import salobj
from lsst.ts.calibscripts.sim.csc.base import SequenceCounter, make_image_name
from lsst.ts.calibscripts.sim.csc.camera import parse_key_value_map, parse_sensors
from lsst.ts.calibscripts.sim.faults import CameraFaults, JobAction, OcpsFaults, OodsFaults, image_key_matches
from lsst.ts.calibscripts.sim.timing import SIM_DATE_ENV_VAR, Timing, day_obs_of, simulated_clock


def tai_at(year: int, month: int, day: int, hour: int, minute: int = 0, second: float = 0.0) -> float:
    """TAI unix seconds of a TAI calendar time."""
    moment = datetime.datetime(year, month, day, hour, minute, tzinfo=datetime.timezone.utc)
    return moment.timestamp() + second


def test_day_obs_rolls_over_at_noon_tai() -> None:
    assert day_obs_of(tai_at(2026, 11, 25, 11, 59, 59.999)) == 20261124
    assert day_obs_of(tai_at(2026, 11, 25, 12)) == 20261125
    assert day_obs_of(tai_at(2026, 11, 26, 6)) == 20261125
    assert day_obs_of(tai_at(2027, 1, 1, 11)) == 20261231


def test_simulated_clock_shifts_to_the_chosen_date(monkeypatch: pytest.MonkeyPatch) -> None:
    real_now = tai_at(2026, 11, 30, 16, 30, 12.5)
    ticks = iter([real_now, real_now, real_now + 3.0])

    def real_clock() -> float:
        return next(ticks)

    clock = simulated_clock("2027-03-14", current_tai=real_clock)
    shifted = clock()
    # Same time of day, whole days later; runs at the real rate.
    assert shifted - real_now == 104 * 86400
    assert clock() - shifted == 3.0
    assert day_obs_of(shifted) == 20270314
    # From the environment; empty or unset means the real clock itself.
    monkeypatch.setenv(SIM_DATE_ENV_VAR, "2025-01-02")
    assert day_obs_of(simulated_clock(current_tai=lambda: real_now)()) == 20250102
    monkeypatch.setenv(SIM_DATE_ENV_VAR, "")
    assert simulated_clock(current_tai=real_clock) is real_clock
    monkeypatch.delenv(SIM_DATE_ENV_VAR)
    assert simulated_clock(current_tai=real_clock) is real_clock


@pytest.mark.parametrize("bad", ["2026-13-01", "26-11-30", "20261130", "tomorrow"])
def test_simulated_clock_refuses_a_bad_date(monkeypatch: pytest.MonkeyPatch, bad: str) -> None:
    monkeypatch.setenv(SIM_DATE_ENV_VAR, bad)
    with pytest.raises(ValueError, match=f"{SIM_DATE_ENV_VAR}='{bad}' is not a date of the form YYYY-MM-DD"):
        simulated_clock(current_tai=lambda: 0.0)


def test_image_name_and_exposure_id() -> None:
    name = make_image_name(20261125, 1)
    assert name.name == "CC_O_20261125_000001"
    assert name.exposure_id == 2026112500001
    other = make_image_name(20261125, 99999, controller="C")
    assert other.name == "CC_C_20261125_099999"
    assert other.exposure_id == 2026112599999
    with pytest.raises(ValueError):
        make_image_name(20261125, 100000)
    with pytest.raises(ValueError):
        make_image_name(20261125, 0)


def test_sequence_counter_per_day(tmp_path) -> None:
    counter = SequenceCounter()
    before = tai_at(2026, 11, 25, 11, 59, 59.0)
    after = tai_at(2026, 11, 25, 12, 0, 1.0)
    names = [counter.allocate(before).name, counter.allocate(before).name, counter.allocate(after).name]
    names.append(counter.allocate(after).name)
    assert names == [
        "CC_O_20261124_000001",
        "CC_O_20261124_000002",
        "CC_O_20261125_000001",
        "CC_O_20261125_000002",
    ]
    seeded = SequenceCounter(first_seq_num=40)
    assert seeded.allocate(after).seq_num == 40


async def test_sequence_counter_persists(tmp_path) -> None:
    path = tmp_path / "seq.json"
    tai = tai_at(2026, 11, 25, 20)
    counter = SequenceCounter(state_path=path)
    counter.allocate(tai)
    counter.allocate(tai)
    await counter.save()
    again = SequenceCounter(state_path=path)
    assert again.allocate(tai).name == "CC_O_20261125_000003"


def test_parse_key_value_map() -> None:
    text = (
        "imageType: BIAS, groupId: 2026-11-25T12:34:56.789, testType: BIAS, stutterRows: 0, "
        "stutterNShifts: 0, stutterDelay: 0.0, reason: daily, program: BLOCK-T1"
    )
    parsed = parse_key_value_map(text)
    assert parsed == {
        "imageType": "BIAS",
        "groupId": "2026-11-25T12:34:56.789",
        "testType": "BIAS",
        "stutterRows": "0",
        "stutterNShifts": "0",
        "stutterDelay": "0.0",
        "reason": "daily",
        "program": "BLOCK-T1",
    }
    assert parse_key_value_map("") == {}
    with pytest.raises(salobj.ExpectedError):
        parse_key_value_map("no pairs here")


def test_parse_sensors() -> None:
    assert parse_sensors("") == tuple(range(9))
    assert parse_sensors("R22_S00:R22_S11") == (0, 4)
    assert parse_sensors("S22:S01") == (1, 8)
    with pytest.raises(salobj.ExpectedError, match="R23_S00"):
        parse_sensors("R23_S00")


def test_image_keys() -> None:
    assert image_key_matches(3, 3, "CC_O_20261125_000004", 2026112500004)
    assert not image_key_matches(4, 3, "CC_O_20261125_000004", 2026112500004)
    assert image_key_matches(2026112500004, 3, "CC_O_20261125_000004", 2026112500004)
    assert image_key_matches("CC_O_20261125_000004", 3, "CC_O_20261125_000004", 2026112500004)
    assert not image_key_matches("CC_O_20261125_000005", 3, "CC_O_20261125_000004", 2026112500004)


def test_fault_options_validate() -> None:
    with pytest.raises(ValueError):
        CameraFaults(fail_take_images_on_frame=0)
    with pytest.raises(ValueError):
        CameraFaults(drop_end_readout_frames={0})
    with pytest.raises(ValueError):
        OodsFaults(status_codes={(1, 0): 3})
    with pytest.raises(ValueError):
        OodsFaults(unrelated_images=-1)
    with pytest.raises(ValueError):
        Timing(time_scale=0)
    with pytest.raises(ValueError):
        OcpsFaults(job_outcomes=["explode"])
    faults = CameraFaults(never_ack_on_frame=3)
    assert [faults.hangs_on(frame) for frame in (1, 2, 3, 4)] == [False, False, True, True]
    oods = OodsFaults(status_codes={(2, None): 1, ("CC_O_20261125_000009", 4): 2}, missing={(1, 8)})
    assert oods.status_code_for(2, "x", 0, 5) == 1
    assert oods.status_code_for(7, "CC_O_20261125_000009", 0, 4) == 2
    assert oods.status_code_for(7, "CC_O_20261125_000009", 0, 3) == 0
    assert oods.is_missing(1, "x", 0, 8) and not oods.is_missing(1, "x", 0, 7)


def test_job_outcomes_by_order_and_pipeline() -> None:
    ordered = OcpsFaults(job_outcomes=["fail", JobAction.HANG])
    assert ordered.script_for(1, "cpBias.yaml").action is JobAction.FAIL
    assert ordered.script_for(2, "cpBias.yaml").action is JobAction.HANG
    assert ordered.script_for(3, "cpBias.yaml").action is JobAction.RUN
    by_pipeline = OcpsFaults(job_outcomes={"verifyBias": "slow"})
    assert (
        by_pipeline.script_for(1, "${CP_VERIFY_DIR}/pipelines/LSSTComCam/verifyBias.yaml").action
        is JobAction.SLOW
    )
    assert (
        by_pipeline.script_for(1, "${CP_PIPE_DIR}/pipelines/LSSTComCam/cpBias.yaml").action is JobAction.RUN
    )
    assert OcpsFaults(reject_execute=True).reject_reason
    assert OcpsFaults(reject_execute="no back end").reject_reason == "no back end"
    assert OcpsFaults().reject_reason is None


async def test_concurrent_saves_keep_the_latest_state(tmp_path) -> None:
    """Camera and OODS save the counter at the same time: no error, newest state on disk."""
    path = tmp_path / "seq.json"
    tai = tai_at(2026, 11, 25, 20)
    counter = SequenceCounter(state_path=path)

    async def allocate_and_save() -> None:
        counter.allocate(tai)
        await counter.save()

    await asyncio.gather(*[allocate_and_save() for _ in range(30)])
    assert SequenceCounter(state_path=path).last_seq_num(20261125) == 30
    assert [p.name for p in tmp_path.iterdir()] == ["seq.json"]
