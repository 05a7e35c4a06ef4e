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

"""A parsl site for ``bps submit`` on one machine: a thread pool in the submit process.

``site.<computeSite>.class: lsst.ts.calibscripts.sim.runners.bps_site.ThreadPoolSite``
runs each BPS job's ``pipetask run-qbb`` command from one of ``cores``
threads of the ``bps submit`` process itself. Compared with the plugin's
``Local`` site (a HighThroughputExecutor with its interchange and worker
pool):

* no interchange and worker pool to start, so a small workflow starts
  seconds sooner;
* every job command stays in the process group (and session) of
  ``bps submit``: the worker pool that ``Local`` starts calls ``setpgrp``,
  so signalling the submit's process group would miss its ``pipetask``
  processes;
* the parsl configuration is built without the checkpoint arguments that
  parsl moved into a pluggable memoizer in December 2025 (the plugin's
  base class still passes ``checkpoint_mode``, which newer parsl rejects).
  Checkpoints only serve ``bps restart``; an OCPS job is never restarted
  (an aborted job is resubmitted as a new job), so nothing is lost.

Site settings (``site.<computeSite>``): ``cores`` (`int`, threads, default
1), ``retries`` (`int`, default 0), ``run_dir`` (`str`, parsl's run
directory, default ``runinfo``).

This module is imported by ``bps submit`` (it needs ``lsst-ctrl-bps-parsl``),
never by the runner itself.
"""

from __future__ import annotations

__all__ = ["ThreadPoolSite"]

import typing

import parsl.config
from lsst.ctrl.bps.parsl.configuration import get_bps_config_value
from lsst.ctrl.bps.parsl.site import SiteConfig
from parsl.executors import ThreadPoolExecutor

if typing.TYPE_CHECKING:
    from lsst.ctrl.bps.parsl.job import ParslJob
    from parsl.executors.base import ParslExecutor

LABEL = "threads"


class ThreadPoolSite(SiteConfig):
    """Run BPS jobs from a pool of threads of the submit process."""

    def get_executors(self) -> list["ParslExecutor"]:
        """One thread pool of ``cores`` threads."""
        cores = get_bps_config_value(self.site, "cores", int, 1)
        return [ThreadPoolExecutor(label=LABEL, max_threads=cores)]

    def select_executor(self, job: "ParslJob") -> str:
        """Every job runs on the thread pool."""
        return LABEL

    def get_parsl_config(self) -> parsl.config.Config:
        """The parsl configuration, without checkpointing (works on old and new parsl)."""
        return parsl.config.Config(
            executors=self.get_executors(),
            monitoring=self.get_monitor(),
            retries=get_bps_config_value(self.site, "retries", int, 0),
            run_dir=get_bps_config_value(self.site, "run_dir", str, "runinfo"),
        )
