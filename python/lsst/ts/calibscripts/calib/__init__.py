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

"""The calibration engine: one stage flow for any calibration type, and its units.

Importing this package imports nothing else: pick the module you need.

`~lsst.ts.calibscripts.calib.procedure`
    `CalibProcedure`: the stage flow of one calibration type (take, wait for
    ingest, build, verify, judge, certify, report; resume, stop, cleanup);
    `TypeConfig`, `RunSettings`, `CalibButler`.
`~lsst.ts.calibscripts.calib.types`
    `CalibType`, `CalibTypeSpec`, `CALIB_TYPES`: bias, dark and flat as data.

`~lsst.ts.calibscripts.calib.stages`
    `Stage`, `StageKind`, `stage_for`: the stages and their checkpoint names.
`~lsst.ts.calibscripts.calib.naming`
    exposure id <-> obs id, detector names, `build_data_query`.
`~lsst.ts.calibscripts.calib.ingest`
    `IngestTracker`: the ``CCOODS.imageInOODS`` callback and the ingest wait.
`~lsst.ts.calibscripts.calib.ocps`
    `OcpsJobClient` (execute/job_result/abort_job), `JobResult`, `JobFailed`,
    CSC state and OCPS configuration preflight checks.
`~lsst.ts.calibscripts.calib.verification`
    `judge_verify_stats`: the verdict on ``verify<Type>Stats``.
`~lsst.ts.calibscripts.calib.butler_ops`
    synchronous daf_butler work (read statistics, certify any calibration),
    meant for `asyncio.to_thread`.
`~lsst.ts.calibscripts.calib.summary`
    `RunSummary`: the final report (YAML file and log text).

`~lsst.ts.calibscripts.calib.plan`
    `make_plan`: a calibration sequence's configuration -> `CalibrationPlan`.
`~lsst.ts.calibscripts.calib.sequence`
    `CalibrationSequence`: serial takes, processing overlapping the next
    take, dependencies, stop with cleanup.

``config`` and ``metadata`` (configuration schema and script metadata) are
written alongside the script.
"""
