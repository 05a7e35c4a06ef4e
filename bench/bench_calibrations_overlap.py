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

"""Benchmark: a BIAS_DARK_FLAT run of MakeComCamCalibrations, overlapped against serial.

The script runs on the simulated observatory with real ComCam timing (2 s
readout, per-frame overheads, shutter, filter change and ingest delays from
`Timing`) scaled by ``--time-scale``, a temporary butler repository and OCPS
jobs run in process (real pipelines, real seconds). Printed side by side:

* ``camera``: the camera time the run represents at real timing: per frame
  the shutter (flats), the exposure, the readout start delay, the readout
  and the end-of-image telemetry delay, plus the filter change (counted
  with the flats); and the camera span measured at the run's scale.
* per type: its camera time, ``jobs`` (seconds the OCPS back end ran its
  build and verification jobs) and ``processing`` (from the start of its
  processing to its end: the jobs plus the script's own work between and
  after them: output checks, judging, certifying, the report).
* ``wall, overlapped``: the run at real timing, as the sequence runs it:
  each type's processing starts when its frames are ingested (the
  represented ingest delay after its last readout) and its prerequisites
  have ended, and lasts what it measured (jobs and the script's work are
  real seconds, not scaled).
* ``wall, serial``: the same work one type after another: take, ingest,
  process, then the next type.
* ``script``: the script's own work: before the first frame (preflight),
  frame gaps (real time between one frame's ``endReadout`` and the next
  ``startIntegration`` beyond the simulator's own delay: script, SAL and
  simulator together, so an upper bound), in processing outside the jobs
  (of which the report pictures, timed apart), and after the last type
  ended. Its share of the represented camera time is the overhead; target
  <= 1 %. The denominator is the camera time the run represents at real
  timing, never a measured span divided by the time scale (spans also hold
  unscaled time: SAL round trips, the simulator's butler ingest, which the
  division would blow up). Most of that work runs while the camera takes
  the next type: ``added to the overlapped wall`` is the overlapped wall
  less the same model with no script time at all (processing = jobs), the
  time the script really adds. ``alone`` is the measured time in which
  nothing but the script ran (no frame, no filter change, no ingest it
  waited for, no job); at a small time scale little overlaps the short
  camera time, so it is an inflated bound.

Usage::

    python bench/bench_calibrations_overlap.py [--n 20] [--detectors 3] [--time-scale 0.02]

The default, 20 frames per type (+1 discarded), darks of 30 s and flats of
5 s, is close to the script's own defaults (20 biases, 22 darks up to 30 s,
20 flats of 5 s): the script's work is mostly per type (jobs' checks,
judging, certifying, the pictures), so a short run (``--n 5``) shows a
larger share of a much shorter camera time.
"""

import argparse
import asyncio
import dataclasses
import os
import statistics
import tempfile
import time
import typing

import yaml

os.environ.setdefault("CALIBSCRIPTS_SAL", "sim")
os.environ.setdefault("LSST_TOPIC_SUBNAME", "bench_overlap")

from bench_common import TimedRunner, print_medians  # noqa: E402
from lsst.ts.calibscripts import report  # noqa: E402
from lsst.ts.calibscripts.calib.naming import obs_id_from_exposure_id, raft_sensor  # noqa: E402
from lsst.ts.calibscripts.calib.sequence import TypeProgress, TypeState  # noqa: E402
from lsst.ts.calibscripts.maintel import MakeComCamCalibrations  # noqa: E402
from lsst.ts.calibscripts.sal import ScriptState, salobj  # noqa: E402
from lsst.ts.calibscripts.sim import ObservatoryOptions, SimulatedObservatory  # noqa: E402
from lsst.ts.calibscripts.sim.runners.inprocess import InProcessRunner  # noqa: E402

TYPES = ("BIAS", "DARK", "FLAT")
PIPELINE_TYPES = {"Bias": "BIAS", "Dark": "DARK", "Flat": "FLAT"}
FILTER = "g_01"
"""Not ComCam's default filter: the run changes the filter before the flats."""


def job_type(pipeline: str) -> str:
    """The calibration type of a job's pipeline (``.../cpDark.yaml`` -> ``DARK``)."""
    name = os.path.basename(pipeline)
    for word, calib_type in PIPELINE_TYPES.items():
        if word in name:
            return calib_type
    raise ValueError(f"no type for pipeline {pipeline}")


@dataclasses.dataclass
class Timeline:
    """Monotonic times of the events the benchmark watches."""

    start_integration: list[float] = dataclasses.field(default_factory=list)
    end_readout: dict[str, float] = dataclasses.field(default_factory=dict)
    set_filter: list[float] = dataclasses.field(default_factory=list)
    image_in_oods: dict[str, float] = dataclasses.field(default_factory=dict)
    pictures: dict[str, float] = dataclasses.field(default_factory=dict)
    states: list[tuple[float, TypeProgress]] = dataclasses.field(default_factory=list)


def union_length(intervals: list[tuple[float, float]]) -> float:
    """Total length covered by ``intervals`` (overlaps counted once)."""
    total, end = 0.0, float("-inf")
    for start, stop in sorted(intervals):
        if stop <= end:
            continue
        total += stop - max(start, end)
        end = stop
    return total


def config_of(args: argparse.Namespace, repo: str, workdir: str) -> dict[str, typing.Any]:
    return {
        "script_mode": "BIAS_DARK_FLAT",
        "generate_calibrations": True,
        "calib_collection": "LSSTComCam/calib/bench",
        "repo": repo,
        "report_dir": os.path.join(workdir, "reports"),
        "detectors": list(range(args.detectors)),
        "n_processes": 1,
        "filter": FILTER,
        **{f"n_{t.lower()}": args.n for t in TYPES},
        **{f"n_discard_{t.lower()}": 1 for t in TYPES},
        "exp_times_dark": args.dark_time,
        "exp_times_flat": args.flat_time,
    }


async def run_once(args: argparse.Namespace, workdir: str) -> dict[str, float]:
    repo = os.path.join(workdir, "repo")
    runner = TimedRunner(InProcessRunner(repo, os.path.join(workdir, "logs")))
    options = ObservatoryOptions(time_scale=args.time_scale, repo=repo)
    timeline = Timeline()
    config = config_of(args, repo, workdir)
    draw = report.write_run_pictures

    def timed_pictures(summary: typing.Any, *args: typing.Any, **kwargs: typing.Any) -> typing.Any:
        start = time.monotonic()
        try:
            return draw(summary, *args, **kwargs)
        finally:
            timeline.pictures[summary.calib_type.upper()] = time.monotonic() - start

    report.write_run_pictures = timed_pictures  # type: ignore[assignment]
    try:
        return await _run(args, config, runner, options, timeline)
    finally:
        report.write_run_pictures = draw  # type: ignore[assignment]


async def _run(
    args: argparse.Namespace,
    config: dict[str, typing.Any],
    runner: TimedRunner,
    options: ObservatoryOptions,
    timeline: Timeline,
) -> dict[str, float]:
    async with SimulatedObservatory(options, job_runner=runner) as observatory:
        async with salobj.Domain() as domain:
            camera = salobj.Remote(
                domain,
                "CCCamera",
                include=["startIntegration", "endReadout", "startSetFilter", "endSetFilter"],
            )
            oods = salobj.Remote(domain, "CCOODS", include=["imageInOODS"])
            await asyncio.gather(camera.start_task, oods.start_task)

            def stamp(target: list[float]) -> typing.Callable[[typing.Any], typing.Awaitable[None]]:
                async def callback(data: typing.Any) -> None:
                    target.append(time.monotonic())

                return callback

            async def on_end(data: typing.Any) -> None:
                timeline.end_readout[data.imageName] = time.monotonic()

            async def on_oods(data: typing.Any) -> None:
                timeline.image_in_oods[f"{data.obsid} {data.sensor}"] = time.monotonic()

            camera.evt_startIntegration.callback = stamp(timeline.start_integration)
            camera.evt_endReadout.callback = on_end
            camera.evt_startSetFilter.callback = stamp(timeline.set_filter)
            camera.evt_endSetFilter.callback = stamp(timeline.set_filter)
            oods.evt_imageInOODS.callback = on_oods

            script = MakeComCamCalibrations(index=1)
            await script.start_task
            keep_progress = script.on_progress

            def on_progress(progress: TypeProgress) -> None:
                timeline.states.append((time.monotonic(), progress))
                keep_progress(progress)

            script.on_progress = on_progress  # type: ignore[method-assign]
            data = script.cmd_configure.DataType()
            data.config = yaml.safe_dump(config)
            await script.do_configure(data)
            group = script.cmd_setGroupId.DataType()
            group.groupId = "bench"
            await script.do_setGroupId(group)
            t0 = time.monotonic()
            await script.do_run(script.cmd_run.DataType())
            t_end = time.monotonic()
            await script.done_task
            if script.state.state != ScriptState.DONE:
                raise RuntimeError(
                    f"Script ended {ScriptState(script.state.state).name}: {script.state.reason}"
                )
            images = list(observatory.camera.images)
            summaries = {t: script.type_summary(t) for t in TYPES}
            timing = observatory.timing
    return measure(args, config, timing, timeline, runner, images, summaries, t0, t_end)


def measure(
    args: argparse.Namespace,
    config: dict[str, typing.Any],
    timing: typing.Any,
    timeline: Timeline,
    runner: TimedRunner,
    images: list[typing.Any],
    summaries: dict[str, typing.Any],
    t0: float,
    t_end: float,
) -> dict[str, float]:
    scale = args.time_scale
    detectors = config["detectors"]
    assert len(images) == 3 * (args.n + 1), len(images)
    assert len(timeline.start_integration) == len(images) == len(timeline.end_readout)
    assert len(timeline.set_filter) == 2, "one filter change (start and end)"
    # Camera: the time each type's frames represent at real timing.
    shutter = {"BIAS": 0.0, "DARK": 0.0, "FLAT": 2 * timing.shutter_time}
    per_frame_fixed = timing.readout_start_delay + timing.readout_time + timing.end_of_image_telemetry_delay
    camera_of = {
        t: sum(i.exp_time + shutter[t] + per_frame_fixed for i in images if i.image_type == t) for t in TYPES
    }
    camera_of["FLAT"] += timing.filter_change_time
    represented_camera = sum(camera_of.values())
    ends = [timeline.end_readout[image.obs_id] for image in images]
    camera_span = ends[-1] - timeline.start_integration[0]
    # Real time between one frame's end and the next one's start, beyond the simulator's own delay.
    gaps = [start - end for start, end in zip(timeline.start_integration[1:], ends[:-1])]
    gap_delay = timing.end_of_image_telemetry_delay * scale
    frame_gaps = sum(max(0.0, g - gap_delay) for g in gaps if g < timing.filter_change_time * scale)
    busy = [(s, e) for s, e in zip(timeline.start_integration, ends)]
    busy.append((timeline.set_filter[0], timeline.set_filter[1]))
    represented_ingest = timing.ingest_delay + (len(detectors) - 1) * timing.ingest_detector_interval
    before_first_frame = timeline.start_integration[0] - t0
    results: dict[str, float] = {}
    processing: dict[str, float] = {}
    script_in_processing = 0.0
    for calib_type in TYPES:
        summary = summaries[calib_type]
        needed = {
            f"{obs_id_from_exposure_id(e)} {raft_sensor(d)[1]}"
            for e in summary.exposures_combined + summary.exposures_verify
            for d in detectors
        }
        type_ends = [timeline.end_readout[i.obs_id] for i in images if i.image_type == calib_type]
        ingested = max(t for key, t in timeline.image_in_oods.items() if key in needed)
        busy.append((type_ends[-1], ingested))
        spans = [(s, e) for p, s, e in runner.spans if job_type(p) == calib_type]
        busy.extend(spans)
        jobs = sum(e - s for s, e in spans)
        states = [(t, p.state) for t, p in timeline.states if p.calib_type == calib_type]
        start = min(t for t, state in states if state is TypeState.PROCESSING)
        end = max(t for t, state in states if state.is_final)
        processing[calib_type] = end - start
        script_in_processing += processing[calib_type] - jobs
        results[f"{calib_type.lower()}: camera (real timing)"] = camera_of[calib_type]
        results[f"{calib_type.lower()}: jobs"] = jobs
        results[f"{calib_type.lower()}: processing (jobs + script)"] = processing[calib_type]
        results[f"{calib_type.lower()}:   of which report pictures"] = timeline.pictures.get(calib_type, 0.0)

    # Real timing, overlapped: each type's processing starts when its frames are ingested and
    # its prerequisites have ended (as the sequence does); the processing spans are real seconds.
    def overlapped(before: float, spans: dict[str, float], after: float) -> float:
        frames_in = before
        ended: dict[str, float] = {}
        for calib_type, prerequisites in zip(TYPES, ((), ("BIAS",), ("BIAS", "DARK"))):
            frames_in += camera_of[calib_type]
            begin = max([frames_in + represented_ingest] + [ended[p] for p in prerequisites])
            ended[calib_type] = begin + spans[calib_type]
        return max(ended.values()) + after

    last_final = max(t for t, p in timeline.states if p.state.is_final)
    tail = t_end - last_final
    wall_overlapped = overlapped(before_first_frame + frame_gaps, processing, tail)
    # The same run if the script took no time of its own: processing = the jobs only.
    jobs_only = {t: results[f"{t.lower()}: jobs"] for t in TYPES}
    wall_without_script = overlapped(0.0, jobs_only, 0.0)
    wall_serial = (
        before_first_frame
        + frame_gaps
        + represented_camera
        + sum(represented_ingest + processing[t] for t in TYPES)
        + tail
    )
    total = t_end - t0
    script_alone = total - union_length(busy)
    script_work = before_first_frame + frame_gaps + script_in_processing + tail
    return {
        "camera (represented, real timing)": represented_camera,
        "camera span (measured at the run's scale)": camera_span,
        "ingest tail per type (real timing)": represented_ingest,
        **results,
        "wall, overlapped (real timing)": wall_overlapped,
        "wall, serial (real timing)": wall_serial,
        "wall, measured at the run's scale": total,
        "script: before the first frame": before_first_frame,
        "script: frame gaps": frame_gaps,
        "script: in processing (not in jobs)": script_in_processing,
        "script: after the last type": tail,
        "script: its own work, all": script_work,
        "script: alone at the run's scale": script_alone,
        "script: added to the overlapped wall": wall_overlapped - wall_without_script,
        "script work share of camera time": script_work / represented_camera,
        "script work less pictures share": (script_work - sum(timeline.pictures.values()))
        / represented_camera,
        "script added to the wall share": (wall_overlapped - wall_without_script) / represented_camera,
        "script alone share (scale-inflated bound)": script_alone / represented_camera,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20, help="frames combined per type (+1 discarded)")
    parser.add_argument("--detectors", type=int, default=3, help="use detectors 0..N-1")
    parser.add_argument("--dark-time", type=float, default=30.0, help="dark exposure time (s)")
    parser.add_argument("--flat-time", type=float, default=5.0, help="flat exposure time (s)")
    parser.add_argument("--time-scale", type=float, default=0.02)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    results = []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as workdir:
            results.append(asyncio.run(run_once(args, workdir)))
    print(
        f"MakeComCamCalibrations BIAS_DARK_FLAT, {args.n} frames (+1 discarded) per type x "
        f"{args.detectors} detector(s), darks {args.dark_time:g} s, flats {args.flat_time:g} s in {FILTER}, "
        f"time scale {args.time_scale}, {args.repeat} run(s) (median):"
    )
    print_medians(results, width=46)
    overlapped = statistics.median(r["wall, overlapped (real timing)"] for r in results)
    serial = statistics.median(r["wall, serial (real timing)"] for r in results)
    saved = serial - overlapped
    print(f"  overlap saves {saved:.1f} s of {serial:.1f} s ({100 * saved / serial:.0f} %)")
    print("  target: script work share of camera time <= 1 %")


if __name__ == "__main__":
    main()
