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

"""Tests of bias.ingest with samples fed directly (no SAL)."""

import asyncio
import types

import pytest
from lsst.ts.calibscripts.calib.ingest import (
    IngestFailed,
    IngestGaveUp,
    IngestTimeout,
    IngestTracker,
    compact_ids,
)
from lsst.ts.calibscripts.calib.naming import obs_id_from_exposure_id, raft_sensor

IDS = [2026112500001, 2026112500002, 2026112500003]
OTHER = 2026112500099


def sample(
    exposure_id: int, detector: int | None, code: int = 0, description: str = "file ingested"
) -> object:
    raft, sensor = raft_sensor(detector) if detector is not None else ("R??", "S??")
    return types.SimpleNamespace(
        camera="LSSTComCam",
        obsid=obs_id_from_exposure_id(exposure_id),
        raft=raft,
        sensor=sensor,
        statusCode=code,
        description=description,
    )


async def feed(tracker: IngestTracker, samples: list) -> None:
    for s in samples:
        await tracker.callback(s)
        await asyncio.sleep(0)


async def test_all_ingested_with_duplicates_and_early_events() -> None:
    progress: list[tuple[int, int]] = []
    tracker = IngestTracker(progress=lambda n, total: progress.append((n, total)))
    # Events for the first image arrive before expect() is called: kept.
    await feed(tracker, [sample(IDS[0], d) for d in (0, 4)])
    tracker.expect(IDS[:1], [0, 4])
    tracker.expect([obs_id_from_exposure_id(IDS[1])], [0, 4])
    assert tracker.n_ingested == 2 and tracker.n_expected == 4
    waiter = asyncio.create_task(tracker.wait(timeout=10))
    await feed(tracker, [sample(IDS[1], 0), sample(IDS[1], 0), sample(OTHER, 0), sample(IDS[1], 4)])
    report = await waiter
    assert report.exposure_ids == IDS[:2]
    assert report.detectors == [0, 4]
    assert report.n_events == 5  # the duplicate is recorded, not double counted
    assert report.n_other_events == 1
    assert progress[-1] == (4, 4)
    assert (3, 4) in progress and (4, 4) in progress


async def test_failure_fails_when_every_pair_has_an_outcome() -> None:
    tracker = IngestTracker()
    tracker.expect(IDS, [0, 1])
    waiter = asyncio.create_task(tracker.wait(timeout=10))
    await feed(tracker, [sample(IDS[0], 0), sample(IDS[0], 1, 1, "ingest failure: bad file")])
    await asyncio.sleep(0.01)
    assert not waiter.done()  # other pairs still pending: keep waiting
    await feed(tracker, [sample(i, d) for i in IDS[1:] for d in (0, 1)][:-1])
    await feed(tracker, [sample(IDS[2], 1, 2, "metadata failure: no header")])
    with pytest.raises(IngestFailed) as excinfo:
        await waiter
    error = excinfo.value
    assert error.missing == []
    assert [(f.exposure_id, f.detector, f.status_code) for f in error.failed] == [
        (IDS[0], 1, 1),
        (IDS[2], 1, 2),
    ]
    text = str(error)
    assert "4 of 6 (exposure, detector) pairs ingested" in text
    assert "CC_O_20261125_000001 R22_S01: statusCode=1 'ingest failure: bad file'" in text
    assert "CC_O_20261125_000003 R22_S01: statusCode=2 'metadata failure: no header'" in text
    assert "Exposure ids taken (3): 2026112500001..2026112500003" in text


async def test_retry_after_failure_counts_as_ingested() -> None:
    tracker = IngestTracker()
    tracker.expect(IDS[:1], [0])
    await feed(tracker, [sample(IDS[0], 0, 1, "ingest failure: locked"), sample(IDS[0], 0)])
    report = await tracker.wait(timeout=10)
    assert [r.status_code for r in report.retried] == [1]


async def test_timeout_names_missing_and_failed_pairs() -> None:
    tracker = IngestTracker()
    tracker.expect(IDS[:2], range(9))
    await feed(tracker, [sample(IDS[0], d) for d in range(9)])
    await feed(tracker, [sample(IDS[1], d) for d in range(6)])
    await feed(tracker, [sample(IDS[1], 6, 1, "ingest failure: x")])
    with pytest.raises(IngestTimeout) as excinfo:
        await tracker.wait(timeout=0.05)
    error = excinfo.value
    assert error.missing == [(IDS[1], 7), (IDS[1], 8)]
    assert [f.detector for f in error.failed] == [6]
    assert error.exposure_ids == IDS[:2]
    assert "2 missing: CC_O_20261125_000002 [R22_S21, R22_S22]" in str(error)
    assert "Timed out after 0.05 s" in str(error)
    tracker.expect([IDS[2]], range(9))
    with pytest.raises(IngestTimeout, match=r"CC_O_20261125_000003 \[all 9 detectors\]"):
        await tracker.wait(timeout=0.01)


def test_compact_ids() -> None:
    assert compact_ids([5, 1, 2, 3, 7, 8, 3]) == "1..3, 5, 7..8"
    assert compact_ids([]) == ""


async def test_unattributed_failure_settles_a_pending_pair() -> None:
    tracker = IngestTracker()
    tracker.expect(IDS[:1], [0, 1])
    await feed(tracker, [sample(IDS[0], 0), sample(IDS[0], None, 2, "metadata failure: undef")])
    with pytest.raises(IngestFailed) as excinfo:
        await tracker.wait(timeout=10)
    assert excinfo.value.failed[0].detector is None
    assert "unknown detector: statusCode=2" in str(excinfo.value)


async def test_gives_up_after_consecutive_other_events() -> None:
    tracker = IngestTracker(max_other_events=5)
    tracker.expect(IDS[:1], [0, 1])
    # Other images before waiting do not count.
    await feed(tracker, [sample(OTHER, d) for d in range(9)])
    waiter = asyncio.create_task(tracker.wait(timeout=10))
    await asyncio.sleep(0)
    # 4 others, then one of ours resets the counter, then 4 more: still waiting.
    await feed(tracker, [sample(OTHER, 0)] * 4 + [sample(IDS[0], 0)] + [sample(OTHER, 1)] * 4)
    await asyncio.sleep(0.01)
    assert not waiter.done()
    await feed(tracker, [sample(OTHER, 2), types.SimpleNamespace(obsid="garbage", statusCode=0)])
    with pytest.raises(IngestGaveUp) as excinfo:
        await waiter
    assert "after 5 consecutive imageInOODS events for other images" in str(excinfo.value)
    assert excinfo.value.missing == [(IDS[0], 1)]


async def test_540_interleaved_events_none_lost() -> None:
    ids = [2026112500001 + i for i in range(60)]
    tracker = IngestTracker(max_other_events=1000)
    tracker.expect(ids, range(9))
    ours = [sample(i, d) for i in ids for d in range(9)]
    others = [sample(2026112500900 + k, k % 9) for k in range(100)]
    mixed = []
    for k, s in enumerate(ours):
        mixed.append(s)
        if k % 5 == 0 and others:
            mixed.append(others.pop())
    waiter = asyncio.create_task(tracker.wait(timeout=10))
    await feed(tracker, mixed)
    report = await waiter
    assert tracker.n_ingested == 540 and report.n_events == 540


async def test_bad_use() -> None:
    tracker = IngestTracker()
    with pytest.raises(ValueError, match="before expect"):
        await tracker.wait(timeout=1)
    with pytest.raises(ValueError):
        tracker.expect([IDS[0]], [9])
    with pytest.raises(ValueError):
        IngestTracker(max_other_events=0)


def test_install_sets_a_coroutine_callback() -> None:
    import inspect

    tracker = IngestTracker()
    topic = types.SimpleNamespace(callback=None)
    tracker.install(topic)
    assert inspect.iscoroutinefunction(topic.callback)
    tracker.uninstall(topic)
    assert topic.callback is None


async def test_failures_of_frames_not_waited_for() -> None:
    """A discarded frame's failures are reported without being waited for."""
    tracker = IngestTracker()
    discarded, used = IDS[0], IDS[1]
    await feed(
        tracker,
        [
            sample(discarded, 0, code=1, description="no such file"),
            sample(discarded, 4),
            sample(discarded, None, code=2, description="bad header"),
            sample(used, 0, code=1, description="retry me"),
            sample(used, 0),
        ],
    )
    tracker.expect([used], [0])
    report = await tracker.wait(timeout=10)
    assert report.exposure_ids == [used]
    failures = tracker.failures_of([discarded])
    assert [(f.exposure_id, f.detector, f.status_code) for f in failures] == [
        (discarded, 0, 1),
        (discarded, None, 2),
    ]
    assert "no such file" in failures[0].describe()
    # A pair ingested after a failure is no failure; other exposures are not mixed in.
    assert tracker.failures_of([used]) == []
    assert tracker.failures_of([]) == []


class CountingSet(set):
    """A set that counts the operations that walk all of its elements."""

    walks = 0

    def _walked(self) -> None:
        type(self).walks += 1

    def __iter__(self):  # type: ignore[no-untyped-def]
        self._walked()
        return super().__iter__()

    def __le__(self, other):  # type: ignore[no-untyped-def]
        self._walked()
        return super().__le__(other)

    def __and__(self, other):  # type: ignore[no-untyped-def]
        self._walked()
        return super().__and__(other)

    def __rand__(self, other):  # type: ignore[no-untyped-def]
        self._walked()
        return super().__rand__(other)

    def __sub__(self, other):  # type: ignore[no-untyped-def]
        self._walked()
        return super().__sub__(other)

    def __rsub__(self, other):  # type: ignore[no-untyped-def]
        self._walked()
        return super().__rsub__(other)

    def issubset(self, other):  # type: ignore[no-untyped-def]
        self._walked()
        return super().issubset(other)


@pytest.mark.parametrize("n_exposures", [20, 420])
async def test_each_event_costs_the_same_whatever_the_number_pending(
    n_exposures: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While waiting, no event walks or sorts the expected pairs: O(1) per event.

    420 exposures x 9 detectors = 3,780 pairs, as 20 LSSTCam biases x 189
    detectors. The work per event is counted, not timed: walks of the
    expected and ingested sets and calls of ``sorted`` in the module.
    """
    from lsst.ts.calibscripts.calib import ingest

    sorts = []

    def counting_sorted(*args, **kwargs):  # type: ignore[no-untyped-def]
        sorts.append(1)
        return sorted(*args, **kwargs)

    monkeypatch.setattr(ingest, "sorted", counting_sorted, raising=False)
    ids = [2026112500001 + i for i in range(n_exposures)]
    tracker = IngestTracker(max_other_events=1000)
    tracker._expected = CountingSet()
    tracker._ingested = CountingSet()
    tracker.expect(ids, range(9))
    waiter = asyncio.create_task(tracker.wait(timeout=60))
    await asyncio.sleep(0)
    CountingSet.walks = 0
    sorts.clear()
    events = [sample(i, d) for d in range(9) for i in ids]  # ingest lags: every image pending at once
    for event in events[:-1]:
        await tracker.callback(event)
        await asyncio.sleep(0)  # the waiter wakes up on each event
    assert not waiter.done()
    assert tracker.n_ingested == len(events) - 1
    assert (CountingSet.walks, len(sorts)) == (0, 0)
    await tracker.callback(events[-1])
    report = await waiter
    assert tracker.n_ingested == 9 * n_exposures == report.n_events


async def test_counters_agree_with_the_pairs_after_every_event() -> None:
    """Seeded random events (failures, retries, duplicates, unattributed, early, other images)."""
    import random

    rng = random.Random(20261130)
    ids = [2026112500001 + i for i in range(6)]
    tracker = IngestTracker(max_other_events=10_000)
    for step in range(600):
        if step == 150:
            tracker.expect(ids[:3], range(9))
        elif step == 300:
            tracker.expect(ids[3:], range(0, 9, 2))
        exposure = rng.choice(ids + [OTHER])
        roll = rng.random()
        if roll < 0.05:
            event = sample(exposure, None, code=2, description="bad header")
        else:
            event = sample(exposure, rng.randrange(9), code=0 if roll < 0.7 else 1)
        await tracker.callback(event)
        expected = tracker._expected
        assert tracker.n_ingested == len(expected & tracker._ingested)
        assert tracker.all_settled() == (not tracker.missing())
        assert tracker.is_complete() == (bool(expected) and expected <= tracker._ingested)


def lsstcam_sample(exposure_id: int, name: str, code: int = 0, description: str = "file ingested") -> object:
    from lsst.ts.calibscripts.cameras import LSSTCAM

    raft, _, sensor = name.partition("_")
    return types.SimpleNamespace(
        camera="LSSTCam",
        obsid=LSSTCAM.obs_id(exposure_id // 100000, exposure_id % 100000),
        raft=raft,
        sensor=sensor,
        statusCode=code,
        description=description,
    )


async def test_lsstcam_events_are_attributed_by_the_cameras_detector_names() -> None:
    from lsst.ts.calibscripts.cameras import LSSTCAM

    names = ("R01_S00", "R22_S11", "R00_SG0", "R00W_SW0")
    detectors = [LSSTCAM.detector_id(name) for name in names]
    tracker = IngestTracker(camera=LSSTCAM)
    # Detector ids beyond ComCam's 0..8 are expected, as LSSTCam names them.
    tracker.expect(IDS[:1], detectors)
    # ComCam's names for ids 0 and 4 (R22_S00, R22_S11 on LSSTCam are ids 90 and 94) settle nothing else.
    await feed(tracker, [lsstcam_sample(IDS[0], "R22_S00")])
    assert tracker.n_ingested == 0
    await feed(tracker, [lsstcam_sample(IDS[0], name) for name in names[:3]])
    assert tracker.n_ingested == 3 and not tracker.is_complete()
    assert tracker.missing() == [(IDS[0], LSSTCAM.detector_id("R00W_SW0"))]
    with pytest.raises(IngestTimeout) as caught:
        await tracker.wait(timeout=0.01)
    text = str(caught.value)
    assert "waiting for MTOODS" in text and "MC_O_20261125_000001 [R00W_SW0]" in text
    await feed(tracker, [lsstcam_sample(IDS[0], "R00W_SW0", code=1, description="ingest failure: x")])
    with pytest.raises(IngestFailed, match="(?s)MTOODS failed.*MC_O_20261125_000001 R00W_SW0: statusCode=1"):
        await tracker.wait(timeout=1)


async def test_a_stop_meeting_the_last_ingest_event_stops_the_wait() -> None:
    # The last event and the stop in one loop iteration: the wait must end
    # cancelled, not with a report (the take would go on as if never stopped).
    tracker = IngestTracker()
    tracker.expect(IDS[:1], [0])
    waiter = asyncio.create_task(tracker.wait(timeout=60))
    await asyncio.sleep(0)
    assert tracker.waiting
    tracker.record(sample(IDS[0], 0))
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert tracker.is_complete()
