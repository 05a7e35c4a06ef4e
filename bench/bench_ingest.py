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

"""Benchmark: IngestTracker time per imageInOODS event as the pending pairs grow.

One run, side by side, at 9, 47 and 189 detectors x 20 frames (ComCam, a
partial and a full LSSTCam focal plane): 180, 940 and 3,780 (exposure,
detector) pairs. Ingest lags the camera as badly as it can: every pair is
expected before the first event arrives, the tracker is waiting, and the
waiter wakes up after every event. The tracker knows only the 9 LSSTComCam
detector names, so N detectors x 20 frames is laid out as 9 detectors x
ceil(20 N / 9) exposures: the same number of pending pairs and events.

Printed: microseconds per event (median of ``--repeat`` runs, taken round
robin after a warm-up of each size; each run feeds at least 3,780 events,
repeating the smaller waits) and its ratio
to the 9-detector case; O(1) per event means ratios near 1 (the v0.1.0
tracker re-sorted every pending pair on each wake-up: O(N log N) per event).

Usage::

    python bench/bench_ingest.py [--frames 20] [--repeat 5]
"""

import argparse
import asyncio
import math
import statistics
import time
import types

from lsst.ts.calibscripts.calib.ingest import IngestTracker
from lsst.ts.calibscripts.calib.naming import obs_id_from_exposure_id, raft_sensor

FIRST_ID = 2026112500001


def make_events(n_pairs: int) -> tuple[list[int], list[types.SimpleNamespace]]:
    """Exposure ids and one success event per pair, detector-major (ingest lags)."""
    n_exposures = math.ceil(n_pairs / 9)
    ids = [FIRST_ID + i for i in range(n_exposures)]
    events = []
    for detector in range(9):
        raft, sensor = raft_sensor(detector)
        for exposure_id in ids:
            events.append(
                types.SimpleNamespace(
                    camera="LSSTComCam",
                    obsid=obs_id_from_exposure_id(exposure_id),
                    raft=raft,
                    sensor=sensor,
                    statusCode=0,
                    description="file ingested",
                )
            )
    return ids, events


async def time_per_event(n_pairs: int, min_events: int = 3780) -> float:
    """Seconds per event of whole waits, repeated until ``min_events`` events were fed."""
    ids, events = make_events(n_pairs)
    rounds = math.ceil(min_events / len(events))
    elapsed = 0.0
    for _ in range(rounds):
        tracker = IngestTracker(max_other_events=1000)
        tracker.expect(ids, range(9))
        waiter = asyncio.create_task(tracker.wait(timeout=3600))
        await asyncio.sleep(0)
        t0 = time.perf_counter()
        for event in events:
            await tracker.callback(event)
            await asyncio.sleep(0)  # let the waiter wake up on each event
        report = await waiter
        elapsed += time.perf_counter() - t0
        assert report.n_events == len(events)
    return elapsed / (rounds * len(events))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    detector_counts = (9, 47, 189)
    for n in detector_counts:
        asyncio.run(time_per_event(n * args.frames))  # warm-up, not timed
    # Round robin, so that a spell of load on the machine hits every size alike.
    samples: dict[int, list[float]] = {n: [] for n in detector_counts}
    for _ in range(args.repeat):
        for n in detector_counts:
            samples[n].append(asyncio.run(time_per_event(n * args.frames)))
    per_event = {n: statistics.median(samples[n]) for n in detector_counts}
    print(
        f"IngestTracker, every pair pending, waiter woken per event; {args.frames} frames; "
        f"median of {args.repeat} runs"
    )
    print(f"{'detectors':>9s} {'pairs':>7s} {'us/event':>9s} {'ratio to 9':>11s}")
    for n in detector_counts:
        n_pairs = 9 * math.ceil(n * args.frames / 9)
        print(f"{n:9d} {n_pairs:7d} {1e6 * per_event[n]:9.1f} {per_event[n] / per_event[9]:10.2f}x")


if __name__ == "__main__":
    main()
