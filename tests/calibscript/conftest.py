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

"""Harness of the calibration scripts' tests (MakeComCamCalibrations by default).

`CalibRunner` runs any `BaseMakeCalibrations` subclass (``script_class``)
against a simulated observatory of that script's camera. A test gives the
observatory options and the script configuration; the harness runs
configure, setGroupId and run as the ScriptQueue would and returns a
`CalibRun` with the final state, the reason, the OCPS requests and the
repository. Scripted jobs (no pipeline run, no raws) unless the
test asks for the in-process runner.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import typing
from unittest import mock

import pytest
from lsst.ts.calibscripts.calib import butler_ops, ocps
from lsst.ts.calibscripts.calib.procedure import CalibButler
from lsst.ts.calibscripts.calib.script import BaseMakeCalibrations
from lsst.ts.calibscripts.maintel import MakeComCamCalibrations
from lsst.ts.calibscripts.sal import ScriptState
from lsst.ts.calibscripts.sim import ObservatoryOptions, SimulatedObservatory
from lsst.ts.calibscripts.sim.interfaces import NullDataPlane
from lsst.ts.calibscripts.testing import script_runs

TIME_SCALE = 0.002
CALIB = "LSSTComCam/calib/test"
GROUP_ID = "2026-11-25T15:00:00.000"
RUN_TIMEOUT = 120.0

SMALL = {
    "n_bias": 2,
    "n_discard_bias": 1,
    "n_dark": 2,
    "n_discard_dark": 1,
    "exp_times_dark": [5, 5, 5],
    "n_flat": 2,
    "n_discard_flat": 1,
    "exp_times_flat": 5,
    "detectors": [3, 4],
}
"""Few frames per type and 2 detectors: every stage, at little cost."""

_index = iter(range(200, 100000))


@dataclasses.dataclass
class CalibRun:
    """What a script run did."""

    script: BaseMakeCalibrations
    observatory: SimulatedObservatory
    repo: str | None
    report_dir: str
    butler: StandInButler | None = None

    @property
    def state(self) -> ScriptState:
        return ScriptState(self.script.state.state)

    @property
    def reason(self) -> str:
        return self.script.state.reason

    @property
    def executes(self) -> list[typing.Any]:
        return self.observatory.execute_requests

    @property
    def jobs(self) -> dict[str, typing.Any]:
        return self.observatory.ocps.jobs

    def job(self, pipeline: str) -> typing.Any:
        """The one job whose pipeline contains ``pipeline`` (e.g. ``cpDark``)."""
        found = [job for job in self.jobs.values() if pipeline in job.request.pipeline]
        assert len(found) == 1, [job.request.pipeline for job in self.jobs.values()]
        return found[0]

    def pipelines(self) -> list[str]:
        """The pipeline file names of every execute, in order."""
        return [os.path.basename(record.request.pipeline) for record in self.executes if record.request]

    def certifications(self, collection: str = CALIB) -> list[butler_ops.ExistingCertification]:
        assert self.repo is not None
        return butler_ops.list_certifications(self.repo, collection)


class StandInButler:
    """The script's butler reads and certification, for scripted jobs (which write nothing).

    Statistics list the exposures of the verification job as OCPS received
    it (its data query), passing unless the type is in ``failing``.
    Certification certifies every detector asked for (per filter for flats).
    The calibrations already certified (what the preflight finds in a
    job's input collections) are ``existing``: collection -> dataset type
    (or ``flat:<filter>``) -> detector ids (a collection not listed exists
    and holds none); by default every collection holds a bias, a dark and
    a flat of every filter for every detector of the camera. The
    collections in ``absent`` do not exist.
    """

    def __init__(
        self,
        observatory: SimulatedObservatory,
        failing: typing.Collection[str] = (),
        existing: typing.Mapping[str, typing.Mapping[str, typing.Collection[int]]] | None = None,
        absent: typing.Collection[str] = (),
    ) -> None:
        self.observatory = observatory
        self.failing = set(failing)
        self.certified: list[tuple[str, str]] = []
        self.existing = existing
        self.every_detector = {d.id for d in observatory.profile.detectors}
        self.absent = set(absent)
        self.searched: list[tuple[str, str]] = []

    def calibration_detectors(
        self,
        butler: typing.Any,
        collection: str,
        dataset_type: str,
        instrument: str,
        physical_filter: str | None = None,
        detectors: typing.Sequence[int] | None = None,
    ) -> set[int] | None:
        key = dataset_type if physical_filter is None else f"{dataset_type}:{physical_filter}"
        self.searched.append((collection, key))
        if collection in self.absent:
            return None
        if self.existing is None:
            return set(self.every_detector)
        held = self.existing.get(collection, {})
        return set(held.get(key, held.get(dataset_type, ())))

    def read_stats(self, butler: CalibButler, repo: str, collections: typing.Sequence[str]) -> dict:
        job_id = collections[0].removeprefix("u/ocps/")
        query = self.observatory.ocps.jobs[job_id].request.data_query
        exposures = [int(e) for e in query.split("exposure IN (")[1].rstrip(")").split(",")]
        ok = butler.spec.name not in self.failing
        camera = self.observatory.profile
        failures = [] if ok else [f"{d.name} C1{a} NOISE" for d in camera.detectors[:9] for a in range(8)]
        stats: dict[typing.Any, typing.Any] = {e: {"SUCCESS": ok, "FAILURES": failures} for e in exposures}
        stats["SUCCESS"] = ok
        return stats

    def certify(
        self,
        butler: CalibButler,
        repo: str,
        run: str,
        calib_collection: str,
        detectors: typing.Iterable[int],
        begin: str,
        end: str,
        supersede: bool,
    ) -> butler_ops.CertificationResult:
        self.certified.append((butler.spec.dataset_type, run))
        t_begin, t_end = butler_ops.parse_validity_range(begin, end)
        return butler_ops.CertificationResult(
            calib_collection=calib_collection,
            source_run=run,
            dataset_type=butler.spec.dataset_type,
            begin=butler_ops.format_time(t_begin, "-inf"),
            end=butler_ops.format_time(t_end, "+inf"),
            certified=[butler_ops.CertifiedDataset(d, f"id{d}", run) for d in detectors],
            already_certified=[],
            superseded=[],
            collection_created=True,
        )

    def patches(self) -> contextlib.ExitStack:
        stack = contextlib.ExitStack()
        stand_in = self

        def read_stats(butler: CalibButler, repo: str, collections: typing.Sequence[str]) -> dict:
            return stand_in.read_stats(butler, repo, collections)

        def certify(butler: CalibButler, *args: typing.Any) -> butler_ops.CertificationResult:
            return stand_in.certify(butler, *args)

        stack.enter_context(
            mock.patch.object(butler_ops, "calibration_detectors", stand_in.calibration_detectors)
        )
        stack.enter_context(mock.patch.object(CalibButler, "read_stats", read_stats))
        stack.enter_context(mock.patch.object(CalibButler, "certify", certify))
        stack.enter_context(mock.patch.object(ocps, "check_output_in_repo", lambda *args, **kwargs: None))
        return stack


class CalibRunner:
    """Runs a calibration script against a simulated observatory of its camera.

    Parameters
    ----------
    tmp_path, template_repo : `str`
        The test's folder and the repository copied into it.
    script_class : `type` [`BaseMakeCalibrations`], optional
        The script (default MakeComCamCalibrations); the observatory is its
        ``camera``'s.
    calib_collection : `str`, optional
        The CALIBRATION collection the runs certify into.
    """

    def __init__(
        self,
        tmp_path: str,
        template_repo: str,
        script_class: type[BaseMakeCalibrations] = MakeComCamCalibrations,
        calib_collection: str = CALIB,
    ) -> None:
        self.tmp_path = tmp_path
        self.template_repo = template_repo
        self.script_class = script_class
        self.calib_collection = calib_collection

    def fresh_repo(self) -> str:
        return script_runs.fresh_repo(self.tmp_path, self.template_repo)

    async def __call__(
        self,
        config: dict[str, typing.Any],
        options: ObservatoryOptions | None = None,
        *,
        runner: str = "scripted",
        stop_checkpoint: str = "",
        during: typing.Callable[[CalibRun], typing.Awaitable[None]] | None = None,
        before_run: typing.Callable[[SimulatedObservatory], None] | None = None,
        failing: typing.Collection[str] = (),
        pictures: bool = False,
        existing: typing.Mapping[str, typing.Mapping[str, typing.Collection[int]]] | None = None,
        absent: typing.Collection[str] = (),
    ) -> CalibRun:
        """Configure and run the script; return when it has ended.

        ``runner`` ``scripted`` makes no raws (CCOODS reports each ingest at
        once) and runs no pipeline; ``inprocess`` runs the stand-in
        pipelines on the repository. ``during`` is awaited concurrently
        with the run; ``before_run`` is called with the started observatory.
        With scripted jobs, `StandInButler` stands in for the statistics,
        the certification and the certified calibrations the preflight looks
        for (``existing``, ``absent``); the types in ``failing``
        fail verification.
        The report pictures are drawn only with ``pictures``.
        """
        repo = self.fresh_repo()
        report_dir = os.path.join(self.tmp_path, f"reports_{next(_index)}")
        options = options or ObservatoryOptions()
        options.time_scale = TIME_SCALE
        options.timing = dataclasses.replace(options.timing, time_scale=TIME_SCALE)
        options.repo = repo
        full_config = {
            "calib_collection": self.calib_collection,
            "repo": repo,
            "report_dir": report_dir,
            "n_processes": 1,
            **config,
        }
        job_runner = None
        if runner == "inprocess":
            from lsst.ts.calibscripts.sim.runners.inprocess import InProcessRunner

            job_runner = InProcessRunner(repo, os.path.join(self.tmp_path, "job_logs"))
        data_plane = NullDataPlane() if runner == "scripted" and options.data is None else None
        observatory = SimulatedObservatory(
            options, camera=self.script_class.camera, data_plane=data_plane, job_runner=job_runner
        )
        await observatory.start()
        if before_run is not None:
            before_run(observatory)
        script = self.script_class(index=next(_index))
        result = CalibRun(script=script, observatory=observatory, repo=repo, report_dir=report_dir)
        patches = []
        if runner == "scripted":
            result.butler = StandInButler(observatory, failing, existing, absent)
            patches.append(result.butler.patches())
        try:
            await script_runs.run_script(
                script,
                full_config,
                group_id=GROUP_ID,
                timeout=RUN_TIMEOUT,
                stop_checkpoint=stop_checkpoint,
                during=None if during is None else lambda: during(result),
                pictures=pictures,
                patches=patches,
            )
        finally:
            await script.close()
            await observatory.close()
        return result

    async def configure_only(self, config: dict[str, typing.Any]) -> BaseMakeCalibrations:
        """Configure a script (no observatory); return it after configure, failed or not."""
        script = self.script_class(index=next(_index))
        return await script_runs.configure_only(script, {"calib_collection": self.calib_collection, **config})

    wait_for = staticmethod(script_runs.wait_for)
    stop = staticmethod(script_runs.send_stop)


@pytest.fixture
def run_calibs(tmp_path: typing.Any, template_repo: str) -> CalibRunner:
    return CalibRunner(str(tmp_path), template_repo)


@pytest.fixture
def run_lsstcam(tmp_path: typing.Any, template_repo: str) -> CalibRunner:
    from lsst.ts.calibscripts.maintel import MakeLSSTCamCalibrations

    return CalibRunner(str(tmp_path), template_repo, script_class=MakeLSSTCamCalibrations)
