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

"""What the benchmarks share: a job runner that times each job, and the median table.

The benchmarks run as scripts (``python bench/<name>.py``), so this module
is imported from their folder.
"""

import statistics
import time
import typing

from lsst.ts.calibscripts.sim.interfaces import JobOutcome, JobRequest


class TimedRunner:
    """A job runner that records when each job starts and ends (monotonic).

    Parameters
    ----------
    inner : job runner
        The runner that runs the jobs.

    Attributes
    ----------
    spans : `list` [`tuple` [`str`, `float`, `float`]]
        (pipeline, start, end) of every job, in the order they ended.
    """

    def __init__(self, inner: typing.Any) -> None:
        self.inner = inner
        self.spans: list[tuple[str, float, float]] = []

    async def run(self, request: JobRequest) -> JobOutcome:
        start = time.monotonic()
        try:
            return await self.inner.run(request)
        finally:
            self.spans.append((request.pipeline, start, time.monotonic()))


def print_medians(results: list[dict[str, float]], width: int = 42) -> None:
    """Print the median over runs of each measure: shares in %, ``->`` latencies in ms, others in s."""
    for key in results[0]:
        value = statistics.median(r[key] for r in results)
        if "share" in key:
            print(f"  {key:{width}s} {100 * value:8.2f} %")
        elif "->" in key:
            print(f"  {key:{width}s} {1000 * value:8.1f} ms   (target <= 50 ms)")
        else:
            print(f"  {key:{width}s} {value:8.2f} s")
