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

"""Benchmark: full-size LSSTComCam master bias build (9 detectors x 20 frames).

Runs the cpBias stand-in tasks directly (no butler) on full-size simulated
raws (16 amps of 576 x 2048, assembled 4072 x 4000):

1. raws from the simulated data plane's frame generator;
2. ``cpBiasIsr`` (`CpBiasIsrTask.run`), each processed frame written to a
   FITS file as the butler would store ``cpBiasIsrExp``;
3. ``cpBiasCombine`` (`CpBiasCombineTask.run`) reading those files one at a
   time through deferred handles (as with ``deferLoad``), MEANCLIP in blocks
   of at most 200 rows bounded to 64 MiB; the master is written as the
   ``bias`` file.

Printed: time per stage, total, and the process peak RSS against the 1.5 GB
budget, measured in this one run. Usage::

    python bench/bench_master_full.py [--detectors 9] [--frames 20] [--workdir DIR]
"""

import argparse
import os
import resource
import shutil
import tempfile
import time

import numpy as np
from astropy.io import fits
from lsst.ts.calibscripts.sim.cp.tasks import CpBiasCombineTask, CpBiasIsrTask
from lsst.ts.calibscripts.sim.data.frames import make_image_info, make_raw
from lsst.ts.calibscripts.sim.data.options import DataOptions

BUDGET_BYTES = 1.5e9


class FileHandle:
    """Stand-in for a butler DeferredDatasetHandle on a FITS file."""

    def __init__(self, path: str) -> None:
        self.path = path

    def get(self) -> fits.HDUList:
        with fits.open(self.path, memmap=False, lazy_load_hdus=False) as hdul:
            return fits.HDUList([hdu.copy() for hdu in hdul])


def peak_rss_bytes() -> int:
    """Peak resident set size of this process (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detectors", type=int, default=9)
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--workdir", default=None, help="scratch folder (default: a temporary one)")
    args = parser.parse_args()
    options = DataOptions(geometry="full")
    images = [make_image_info(20261125, i + 1) for i in range(args.frames)]
    workdir = args.workdir or tempfile.mkdtemp(prefix="bench_master_full")
    os.makedirs(workdir, exist_ok=True)
    isr_task, combine_task = CpBiasIsrTask(), CpBiasCombineTask()
    t_raw = t_isr = t_write = t_combine = 0.0
    start = time.perf_counter()
    try:
        for det in range(args.detectors):
            handles = []
            for image in images:
                t0 = time.perf_counter()
                raw = make_raw(image, det, options)
                t1 = time.perf_counter()
                processed = isr_task.run(raw, image.exposure_id, det).outputExposure
                t2 = time.perf_counter()
                path = os.path.join(workdir, f"cpBiasIsrExp_{det}_{image.exposure_id}.fits")
                processed.writeto(path, overwrite=True)
                handles.append(FileHandle(path))
                del raw, processed
                t3 = time.perf_counter()
                t_raw += t1 - t0
                t_isr += t2 - t1
                t_write += t3 - t2
            t0 = time.perf_counter()
            master = combine_task.run(handles, [image.exposure_id for image in images]).outputData
            master.writeto(os.path.join(workdir, f"bias_{det}.fits"), overwrite=True)
            t_combine += time.perf_counter() - t0
            shape = master["IMAGE"].data.shape
            level = float(np.median(master["IMAGE"].data))
            del master
            for handle in handles:
                os.remove(handle.path)
            print(
                f"detector {det}: master {shape[1]} x {shape[0]}, median {level:+.2f} e-, "
                f"peak RSS so far {peak_rss_bytes() / 1e9:.2f} GB",
                flush=True,
            )
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    total = time.perf_counter() - start
    rss = peak_rss_bytes()
    n = args.detectors * args.frames
    print(f"{args.detectors} detectors x {args.frames} frames, full size")
    print(f"  raw generation   {t_raw:8.1f} s  ({t_raw / n:.2f} s/frame, not part of cpBias)")
    print(f"  cpBiasIsr        {t_isr:8.1f} s  ({t_isr / n:.2f} s/frame)")
    print(f"  cpBiasIsrExp I/O {t_write:8.1f} s")
    print(
        f"  cpBiasCombine    {t_combine:8.1f} s  ({t_combine / args.detectors:.1f} s/detector, incl. reads)"
    )
    print(f"  cpBias total     {t_isr + t_write + t_combine:8.1f} s (wall with generation {total:.1f} s)")
    print(f"  peak RSS {rss / 1e9:.2f} GB = {rss / BUDGET_BYTES:.2f} x the 1.5 GB budget")


if __name__ == "__main__":
    main()
