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

"""Benchmark: the bias procedure at LSSTCam scale (9, 47, 189 detectors x 20 biases).

`CalibProcedure` with ``camera=LSSTCAM`` runs on the simulated observatory
with the LSSTCam camera (MTCamera, MTHeaderService, MTOODS, OCPS:3), the
scripted job runner (no pipeline work) and no raws (`NullDataPlane`), at a
small ``--time-scale``: take 1 + 20 biases, wait for every
(exposure, detector) to be ingested, run cpBias, on the first N science
sensors. The camera reads out those N (``takeImages.sensors``), so the
number of imageInOODS events grows with N; ``--readout all`` has it read
all 189 in every frame, as the real camera does, whatever N.
No verification or certification: they read a repository, and this
measures the procedure's own cost per event, not butler work.

Printed side by side for each N:

* ``expected`` / ``received``: imageInOODS events the camera's frames
  make (frames x detectors read out) and the events a separate remote received;
  ``seen by the procedure``: the events its ingest tracker recorded
  before it stopped listening (it stops once its pairs are in: later
  events of detectors it does not process are not its business);
  ``needed`` / ``needed ingested``: its (combined exposure, detector)
  pairs and how many it saw ingested. All must match.
* ``script s``: total run time - camera span - ingest tail - job time, as in
  ``bench_script_overhead.py``: what the procedure itself adds.
* ``share %``: that time over the camera and ingest time the run
  *represents* at real timing (per frame: readout start delay, readout,
  end-of-image telemetry delay; after the last readout the ingest delay and
  one detector interval per further detector) plus the script time. The
  measured spans are not divided by the time scale (they also hold
  real-time simulator work). Target <= 1 %.
* ``frame gaps s``: real time in the camera span beyond the camera time
  represented at the run's scale (procedure, SAL and simulator work between
  frames), and the share with it added: an upper bound.
* ``record us/event``: the procedure's own handling of one imageInOODS
  event (`IngestTracker.record`, timed).
* ``CPU s``: process CPU time of the whole run (procedure, simulated SAL and
  mock CSCs in one process), ``CPU/event ms`` that per event, and a
  least-squares fit CPU = a + b x events over the detector counts: linear
  cost means the fit holds (a is the fixed cost of a run).
* ``ingest -> execute ms``: from the last imageInOODS the procedure needed
  to the moment OCPS started the cpBias job. Target <= 50 ms.
* ``peak MB``: tracemalloc peak of a second run of the same size (tracing
  slows Python down, so the timed run is not traced).

Usage::

    python bench/bench_lsstcam_scale.py [--detectors 9 47 189] [--n-bias 20] [--time-scale 0.01]
        [--repeat 3] [--readout processed|all] [--no-memory]
"""

import argparse
import asyncio
import dataclasses
import logging
import os
import statistics
import time
import tracemalloc
import types
import typing

os.environ.setdefault("CALIBSCRIPTS_SAL", "sim")
os.environ.setdefault("LSST_TOPIC_SUBNAME", "bench")

from bench_common import TimedRunner  # noqa: E402
from lsst.ts.calibscripts import sal  # noqa: E402
from lsst.ts.calibscripts.calib import ingest, ocps  # noqa: E402
from lsst.ts.calibscripts.calib.config import make_config  # noqa: E402
from lsst.ts.calibscripts.calib.procedure import CalibProcedure, TypeConfig  # noqa: E402
from lsst.ts.calibscripts.calib.types import CALIB_TYPES, CalibType  # noqa: E402
from lsst.ts.calibscripts.cameras import LSSTCAM  # noqa: E402
from lsst.ts.calibscripts.sal import ScriptState, salobj  # noqa: E402
from lsst.ts.calibscripts.sim import ObservatoryOptions, SimulatedObservatory  # noqa: E402
from lsst.ts.calibscripts.sim.runners import make_runner  # noqa: E402


class ReadoutGroup:
    """The camera group, reading out only ``sensors`` (``takeImages.sensors``) when given."""

    def __init__(self, group: typing.Any, sensors: str) -> None:
        self.group = group
        self.sensors = sensors

    def __getattr__(self, name: str) -> typing.Any:
        return getattr(self.group, name)

    async def take_bias(self, *args: typing.Any, **kwargs: typing.Any) -> typing.Any:
        if self.sensors:
            kwargs["sensors"] = self.sensors
        return await self.group.take_bias(*args, **kwargs)


class BenchHost:
    """What the procedure needs from its script: checkpoints, group id, log, state."""

    def __init__(self) -> None:
        self.log = logging.getLogger("bench")
        self.group_id = "bench"
        self.state = types.SimpleNamespace(state=ScriptState.RUNNING)

    async def checkpoint(self, name: str = "") -> None:
        await asyncio.sleep(0)


def settings(n_detectors: int, n_bias: int) -> typing.Any:
    """The bias options, on the first ``n_detectors`` LSSTCam science sensors."""
    config = make_config(
        {
            "calib_collection": "LSSTCam/calib/bench",
            "n_bias": n_bias,
            "pipeline_bias": "${CP_PIPE_DIR}/pipelines/LSSTCam/cpBias.yaml",
            "do_verify": False,
            "do_certify": False,
            "report_dir": "",
        }
    )
    return dataclasses.replace(config, detectors=LSSTCAM.default_detectors[:n_detectors])


class RecordTimer:
    """Times the procedure's handling of each imageInOODS event (`IngestTracker.record`)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.calls = 0

    def __enter__(self) -> "RecordTimer":
        original = self.original = ingest.IngestTracker.record

        def timed(tracker: ingest.IngestTracker, data: typing.Any) -> None:
            start = time.perf_counter()
            try:
                original(tracker, data)
            finally:
                self.seconds += time.perf_counter() - start
                self.calls += 1

        ingest.IngestTracker.record = timed  # type: ignore[method-assign]
        return self

    def __exit__(self, *args: typing.Any) -> None:
        ingest.IngestTracker.record = self.original  # type: ignore[method-assign]


async def run_once(n_detectors: int, args: argparse.Namespace) -> dict[str, float]:
    runner = TimedRunner(make_runner("scripted", time_scale=args.time_scale))
    options = ObservatoryOptions(time_scale=args.time_scale)
    config = settings(n_detectors, args.n_bias)
    spec = CALIB_TYPES[CalibType.BIAS]
    host = BenchHost()
    start_integration: list[float] = []
    end_readout: list[float] = []
    oods_times: dict[tuple[str, str], float] = {}
    async with SimulatedObservatory(options, camera=LSSTCAM, job_runner=runner) as observatory:
        async with salobj.Domain() as domain:
            camera = salobj.Remote(domain, "MTCamera", include=["startIntegration", "endReadout"])
            oods = salobj.Remote(domain, "MTOODS", include=["imageInOODS"])

            async def on_start(data: typing.Any) -> None:
                start_integration.append(time.monotonic())

            async def on_end(data: typing.Any) -> None:
                end_readout.append(time.monotonic())

            async def on_oods(data: typing.Any) -> None:
                oods_times[(data.obsid, f"{data.raft}_{data.sensor}")] = time.monotonic()

            camera.evt_startIntegration.callback = on_start
            camera.evt_endReadout.callback = on_end
            oods.evt_imageInOODS.callback = on_oods
            group = sal.camera_group(LSSTCAM.group_name)(domain=domain, log=host.log)
            ocps_remote = salobj.Remote(domain, "OCPS", index=LSSTCAM.ocps_index)
            await asyncio.gather(camera.start_task, oods.start_task, group.start_task, ocps_remote.start_task)
            jobs = ocps.OcpsJobClient(ocps_remote, log=host.log)
            sensors = "" if args.readout == "all" else ":".join(map(LSSTCAM.detector_name, config.detectors))
            procedure = CalibProcedure(
                host=host,
                spec=spec,
                settings=config,
                type_config=TypeConfig.from_options(spec, config),
                group=ReadoutGroup(group, sensors),
                ocps_remote=ocps_remote,
                jobs=jobs,
                camera=LSSTCAM,
            )
            cpu0 = time.process_time()
            t0 = time.monotonic()
            with RecordTimer() as record_timer:
                await procedure.run()
            t_end = time.monotonic()
            cpu = time.process_time() - cpu0
            # Events still in flight for the last frame's detectors not processed.
            n_frames = len(observatory.images)
            n_expected = sum(len(image.detectors) for image in observatory.images)
            deadline = time.monotonic() + 30
            while len(oods_times) < n_expected and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            tracker = procedure.ingest_tracker
            report = procedure.ingest_report
            assert tracker is not None and report is not None
            summary = procedure.summary
            needed = {
                (LSSTCAM.obs_id(e // 100000, e % 100000), LSSTCAM.detector_name(d))
                for e in summary.exposures_combined
                for d in config.detectors
            }
            last_needed = max(t for key, t in oods_times.items() if key in needed)
            timing = observatory.timing
            jobs.close()
            await group.close()
    camera_span = end_readout[-1] - start_integration[0]
    ingest_tail = max(0.0, last_needed - end_readout[-1])
    job_time = sum(end - start for _, start, end in runner.spans)
    first_job_start = min(start for _, start, _ in runner.spans)
    total = t_end - t0
    script_time = max(0.0, total - camera_span - ingest_tail - job_time)
    per_frame = timing.readout_start_delay + timing.readout_time + timing.end_of_image_telemetry_delay
    n_read = len(observatory.images[-1].detectors)
    ingest = timing.ingest_delay + (n_read - 1) * timing.ingest_detector_interval
    represented = n_frames * per_frame + ingest
    n_needed = len(summary.exposures_combined) * n_detectors
    # Real time inside the camera span beyond the camera time it represents at this scale:
    # the procedure's, the SAL's and the simulator's work between frames (an upper bound of the script's).
    frame_gaps = max(
        0.0, camera_span - (n_frames * per_frame - timing.end_of_image_telemetry_delay) * args.time_scale
    )
    return {
        "expected": n_expected,
        "received": len(oods_times),
        "seen by the procedure": report.n_events + report.n_other_events,
        "needed ingested": tracker.n_ingested,
        "needed": n_needed,
        "total s": total,
        "script s": script_time,
        "share %": 100 * script_time / (represented + script_time),
        "frame gaps s": frame_gaps,
        "share + gaps % (bound)": 100 * (script_time + frame_gaps) / (represented + script_time + frame_gaps),
        "record us/event": 1e6 * record_timer.seconds / max(1, record_timer.calls),
        "CPU s": cpu,
        "CPU/event ms": 1000 * cpu / max(1, len(oods_times)),
        "ingest -> execute ms": 1000 * (first_job_start - last_needed),
    }


def peak_memory(n_detectors: int, args: argparse.Namespace) -> float:
    """tracemalloc peak (MB) of one run."""
    tracemalloc.start()
    try:
        asyncio.run(run_once(n_detectors, args))
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--detectors", type=int, nargs="+", default=[9, 47, 189])
    parser.add_argument("--n-bias", type=int, default=20)
    parser.add_argument("--time-scale", type=float, default=0.01)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per size (median printed)")
    parser.add_argument("--no-memory", action="store_true", help="skip the traced runs")
    parser.add_argument(
        "--readout",
        choices=("processed", "all"),
        default="processed",
        help="the camera reads out the processed detectors (default) or all 189 science sensors",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    # Warm up every code path (imports, first SAL topics, caches) outside the timed runs.
    asyncio.run(run_once(min(args.detectors), argparse.Namespace(**{**vars(args), "n_bias": 2})))
    runs = {n: [asyncio.run(run_once(n, args)) for _ in range(args.repeat)] for n in args.detectors}
    rows = {
        n: {key: statistics.median(r[key] for r in results) for key in results[0]}
        for n, results in runs.items()
    }
    if not args.no_memory:
        for n in args.detectors:
            rows[n]["peak MB"] = peak_memory(n, args)
    print(
        f"CalibProcedure bias on LSSTCam, 1 + {args.n_bias} biases, scripted runner, no raws, "
        f"time scale {args.time_scale}, camera reads out "
        f"{'all 189 science sensors' if args.readout == 'all' else 'the processed detectors'}, "
        f"median of {args.repeat} run(s)"
    )
    keys = list(next(iter(rows.values())))
    print(f"  {'detectors':28s}" + "".join(f"{n:>12d}" for n in args.detectors))
    for key in keys:
        cells = "".join(
            (
                f"{rows[n][key]:12.0f}"
                if float(rows[n][key]).is_integer() and "ms" not in key and "%" not in key
                else f"{rows[n][key]:12.3f}"
            )
            for n in args.detectors
        )
        print(f"  {key:28s}{cells}")
    if len(args.detectors) > 1:
        events = [rows[n]["received"] for n in args.detectors]
        cpus = [rows[n]["CPU s"] for n in args.detectors]
        slope, intercept = statistics.linear_regression(events, cpus)
        worst = max(abs(c - (intercept + slope * e)) / c for e, c in zip(events, cpus))
        print(
            f"  CPU fit: {intercept:.3f} s + {1000 * slope:.3f} ms x events "
            f"(largest deviation {100 * worst:.1f} % of a run's CPU)"
        )
    print("  targets: share <= 1 %, ingest -> execute <= 50 ms, received == expected == seen,")
    print("  needed ingested == needed, CPU linear in events")


if __name__ == "__main__":
    main()
