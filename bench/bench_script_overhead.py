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

"""Benchmark: MakeComCamBias's own time, beyond camera, ingest and OCPS job time.

The script runs on the simulated observatory with real ComCam timing (2 s
readout, per-frame overheads and ingest delay from `Timing`) scaled by
``--time-scale``, a temporary butler repository and OCPS jobs run in process.
Measured in one run, side by side:

* ``total``: from the ``run`` command to the script's end.
* ``camera``: first ``startIntegration`` to last ``endReadout`` (CCCamera).
* ``ingest tail``: last ``endReadout`` to the last ``imageInOODS`` the
  script needs (its combined frames on its detectors; CCOODS latency).
* ``jobs``: time the OCPS back end spent running each job.
* ``script``: total - camera - ingest tail - jobs: preflight, checkpoints,
  judging ``verifyBiasStats``, certifying, writing the report, SAL round
  trips. Its share of the total is printed at the measured scale and
  projected to real timing. Target <= 1 %.

The projection to real timing puts in the denominator the camera and
ingest time the run *represents*, from the simulator's `Timing` in real
seconds: per frame the readout start delay, the readout and the
end-of-image telemetry delay (the camera is busy until then), and after the
last readout the ingest delay plus one detector interval per further
detector. It does not divide the measured spans by the time scale: they
also hold real (unscaled) time, the simulator's butler ingest and the
script's own work between frames, which the division would blow up.
That real time between frames is printed as ``frame gaps``: the measured
camera span less the represented camera time at the run's scale. It is
script, SAL and simulator time together, so its share is an upper bound
of what the script adds while frames are taken. The share computed the old
way (measured spans divided by the time scale) is printed last, for
comparison.
* ``last imageInOODS -> execute``: from the last ingest event the script
  needed to the moment OCPS started the cpBias job. Target <= 50 ms.

Usage::

    python bench/bench_script_overhead.py [--n-bias 20] [--detectors 9] [--time-scale 0.05]
"""

import argparse
import asyncio
import dataclasses
import os
import tempfile
import time
import typing

import yaml

os.environ.setdefault("CALIBSCRIPTS_SAL", "sim")
os.environ.setdefault("LSST_TOPIC_SUBNAME", "bench")

from bench_common import TimedRunner, print_medians  # noqa: E402
from lsst.ts.calibscripts.calib.naming import obs_id_from_exposure_id, raft_sensor  # noqa: E402
from lsst.ts.calibscripts.maintel import MakeComCamBias  # noqa: E402
from lsst.ts.calibscripts.sal import ScriptState, salobj  # noqa: E402
from lsst.ts.calibscripts.sim import ObservatoryOptions, SimulatedObservatory  # noqa: E402
from lsst.ts.calibscripts.sim.runners.inprocess import InProcessRunner  # noqa: E402


@dataclasses.dataclass
class Timeline:
    """Monotonic times of the events the benchmark watches."""

    start_integration: list[float] = dataclasses.field(default_factory=list)
    end_readout: list[float] = dataclasses.field(default_factory=list)
    image_in_oods: dict[str, float] = dataclasses.field(default_factory=dict)


async def run_once(args: argparse.Namespace, workdir: str) -> dict[str, float]:
    repo = os.path.join(workdir, "repo")
    runner = TimedRunner(InProcessRunner(repo, os.path.join(workdir, "logs")))
    options = ObservatoryOptions(time_scale=args.time_scale, repo=repo)
    timeline = Timeline()
    async with SimulatedObservatory(options, job_runner=runner) as observatory:
        async with salobj.Domain() as domain:
            camera = salobj.Remote(domain, "CCCamera", include=["startIntegration", "endReadout"])
            oods = salobj.Remote(domain, "CCOODS", include=["imageInOODS"])
            await asyncio.gather(camera.start_task, oods.start_task)

            async def on_start(data: typing.Any) -> None:
                timeline.start_integration.append(time.monotonic())

            async def on_end(data: typing.Any) -> None:
                timeline.end_readout.append(time.monotonic())

            async def on_oods(data: typing.Any) -> None:
                timeline.image_in_oods[f"{data.obsid} {data.sensor}"] = time.monotonic()

            camera.evt_startIntegration.callback = on_start
            camera.evt_endReadout.callback = on_end
            oods.evt_imageInOODS.callback = on_oods

            script = MakeComCamBias(index=1)
            await script.start_task
            draw_pictures = script.draw_report_pictures
            picture_spans: list[float] = []

            async def timed_draw_pictures() -> None:
                start = time.monotonic()
                try:
                    await draw_pictures()
                finally:
                    picture_spans.append(time.monotonic() - start)

            script.draw_report_pictures = timed_draw_pictures  # type: ignore[method-assign]
            config = {
                "n_bias": args.n_bias,
                "detectors": list(range(args.detectors)),
                "calib_collection": "LSSTComCam/calib/bench",
                "repo": repo,
                "n_processes": 1,
                "report_dir": os.path.join(workdir, "reports"),
            }
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
            needed = {
                f"{obs_id_from_exposure_id(e)} {raft_sensor(d)[1]}"
                for e in script.summary.exposures_combined
                for d in config["detectors"]
            }
            last_oods = max(t for key, t in timeline.image_in_oods.items() if key in needed)
            assert len(observatory.images) == args.n_bias + 1
            timing = observatory.timing
            n_frames = len(observatory.images)
    camera_time = timeline.end_readout[-1] - timeline.start_integration[0]
    ingest_tail = max(0.0, last_oods - timeline.end_readout[-1])
    jobs = sum(end - start for _, start, end in runner.spans)
    first_job_start = min(start for _, start, _ in runner.spans)
    total = t_end - t0
    pictures = sum(picture_spans)
    script_time = total - camera_time - ingest_tail - jobs
    procedure_time = script_time - pictures
    # Real seconds of camera and ingest work that the run represents (summit timing).
    per_frame = timing.readout_start_delay + timing.readout_time + timing.end_of_image_telemetry_delay
    represented_camera = n_frames * per_frame
    represented_ingest = timing.ingest_delay + (args.detectors - 1) * timing.ingest_detector_interval
    # The last frame's readout ends the camera span: its telemetry delay is not in it.
    frame_gaps = max(
        0.0, camera_time - (represented_camera - timing.end_of_image_telemetry_delay) * args.time_scale
    )
    real_total = represented_camera + represented_ingest + jobs + script_time
    return {
        "total": total,
        "camera": camera_time,
        "ingest tail": ingest_tail,
        "jobs": jobs,
        "script": script_time,
        "  of which report pictures": pictures,
        "  of which the procedure": procedure_time,
        "camera represented (real timing)": represented_camera,
        "ingest tail represented (real timing)": represented_ingest,
        "frame gaps (real time in the camera span)": frame_gaps,
        "script share (measured)": script_time / total,
        "script share (real timing)": script_time / real_total,
        "procedure share (real timing)": procedure_time / real_total,
        "script + frame gaps share (upper bound)": (script_time + frame_gaps) / (real_total + frame_gaps),
        "script share (spans / scale: inflated)": script_time
        / ((camera_time + ingest_tail) / args.time_scale + jobs + script_time),
        "last imageInOODS -> execute": first_job_start - last_oods,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-bias", type=int, default=20)
    parser.add_argument("--detectors", type=int, default=9, help="use detectors 0..N-1")
    parser.add_argument("--time-scale", type=float, default=0.05)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    results = []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as workdir:
            results.append(asyncio.run(run_once(args, workdir)))
    print(
        f"MakeComCamBias, {args.n_bias} biases (+1 discarded) x {args.detectors} detector(s), "
        f"time scale {args.time_scale}, {args.repeat} run(s) (median):"
    )
    print_medians(results)
    print("  target: script share (real timing) <= 1 %; the report pictures are drawn after the")
    print("  certification, so the procedure share is what delays the master bias")


if __name__ == "__main__":
    main()
