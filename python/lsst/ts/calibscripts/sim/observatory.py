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

"""The simulated observatory: the four mock CSCs, a data plane and a job runner.

Example::

    options = ObservatoryOptions(time_scale=0.001, oods=OodsFaults(missing={(2, 4)}))
    async with SimulatedObservatory(options) as observatory:
        ...  # run a script; then e.g. observatory.ocps.executes[0].data_query
"""

from __future__ import annotations

__all__ = ["ObservatoryOptions", "SimulatedObservatory", "CSC_NAMES"]

import asyncio
import dataclasses
import logging
import os
import typing
from collections.abc import Callable, Mapping

from ..sal import OCPSIndex, State
from .faults import CameraFaults, HeaderServiceFaults, OcpsFaults, OodsFaults
from .interfaces import DataPlane, ImageInfo, JobRunner, NullDataPlane
from .runners import RUNNERS, make_runner
from .timing import Timing, simulated_clock

if typing.TYPE_CHECKING:
    from .csc.cccamera import CCCameraCsc
    from .csc.ccheaderservice import CCHeaderServiceCsc
    from .csc.ccoods import CCOODSCsc
    from .csc.ocps import ExecuteRecord, OCPSCsc
    from .data.options import DataOptions

CSC_NAMES = ("CCCamera", "CCHeaderService", "CCOODS", "OCPS")
SEQUENCE_STATE_FILE = "sim_cccamera_sequence.json"
"""File in the repository that remembers the camera's sequence numbers across runs."""


def _default_states() -> dict[str, State]:
    return {name: State.ENABLED for name in CSC_NAMES}


@dataclasses.dataclass
class ObservatoryOptions:
    """Options of `SimulatedObservatory`.

    Attributes
    ----------
    time_scale : `float`
        Factor applied to every simulated delay (1.0 = real time).
    timing : `Timing` or `None`
        Durations (real seconds); its ``time_scale`` is replaced by
        ``time_scale``.
    initial_states : `dict` [`str`, `State`]
        Initial summary state per CSC (``CCCamera``, ``CCHeaderService``,
        ``CCOODS``, ``OCPS``); missing names are ENABLED.
    camera : `CameraFaults`
        CCCamera faults and sequence options.
    header_service : `HeaderServiceFaults`
        CCHeaderService faults.
    oods : `OodsFaults`
        CCOODS faults.
    ocps : `OcpsFaults`
        OCPS faults, scripted job outcomes and configuration.
    ocps_index : `int`
        SAL index of the OCPS (2 = LSSTComCam).
    repo : `str` or `None`
        Butler repository. When set (or ``data`` is given) the data plane is
        a `lsst.ts.calibscripts.sim.data.ButlerDataPlane`, ``CP_PIPE_DIR``
        and ``CP_VERIFY_DIR`` are set in `os.environ`, and the camera's
        sequence numbers are remembered in the repository.
    runner : `str`
        Job runner, a name in `lsst.ts.calibscripts.sim.runners.RUNNERS`:
        ``scripted`` (no work; default), ``inprocess``, ``pipetask`` (real
        pipetask on the repository) or ``bps`` (``bps submit``).
    runner_options : `dict` [`str`, `typing.Any`]
        Extra keyword arguments of the pipeline runner
        (e.g. ``log_dir``).
    data : `lsst.ts.calibscripts.sim.data.options.DataOptions` or `None`
        Data-plane options (its ``repo`` defaults to ``repo``).
    clock : callable or `None`
        TAI clock of the camera and OODS (default `simulated_clock`: the
        real TAI clock, shifted to the date in ``CALIBSCRIPTS_SIM_DATE`` if
        set); tests use it to cross the 12:00 TAI day_obs rollover.
    """

    time_scale: float = 1.0
    timing: Timing | None = None
    initial_states: Mapping[str, State] = dataclasses.field(default_factory=_default_states)
    camera: CameraFaults = dataclasses.field(default_factory=CameraFaults)
    header_service: HeaderServiceFaults = dataclasses.field(default_factory=HeaderServiceFaults)
    oods: OodsFaults = dataclasses.field(default_factory=OodsFaults)
    ocps: OcpsFaults = dataclasses.field(default_factory=OcpsFaults)
    ocps_index: int = int(OCPSIndex.LSSTComCam)
    repo: str | None = None
    runner: str = "scripted"
    runner_options: Mapping[str, typing.Any] = dataclasses.field(default_factory=dict)
    data: DataOptions | None = None
    clock: Callable[[], float] | None = None

    def __post_init__(self) -> None:
        unknown = set(self.initial_states) - set(CSC_NAMES)
        if unknown:
            raise ValueError(f"initial_states: unknown CSC names {sorted(unknown)}; use {CSC_NAMES}")
        states = _default_states()
        for name, state in self.initial_states.items():
            state = State(state)
            if state in (State.FAULT, State.OFFLINE):
                raise ValueError(f"initial_states[{name!r}]={state!r}: use STANDBY, DISABLED or ENABLED")
            states[name] = state
        self.initial_states = states
        if self.runner not in RUNNERS:
            raise ValueError(f"runner={self.runner!r} must be one of {tuple(RUNNERS)}")
        if self.repo is not None:
            self.repo = os.fspath(self.repo)
        base = self.timing or Timing()
        self.timing = dataclasses.replace(base, time_scale=self.time_scale)

    @property
    def uses_repo(self) -> bool:
        """True if the observatory works on a butler repository."""
        return self.repo is not None or (self.data is not None and self.data.repo is not None)

    @property
    def repo_path(self) -> str | None:
        """The butler repository, if any."""
        if self.repo is not None:
            return self.repo
        if self.data is not None:
            return self.data.repo
        return None


class SimulatedObservatory:
    """The mock CCCamera, CCHeaderService, CCOODS and OCPS, started together.

    Parameters
    ----------
    options : `ObservatoryOptions`, optional
        Options; defaults: real time, everything ENABLED, no faults,
        `NullDataPlane` and a `ScriptedRunner` that succeeds.
    data_plane : `DataPlane`, optional
        Overrides the data plane built from ``options``.
    job_runner : `JobRunner`, optional
        Overrides the job runner built from ``options``.
    log : `logging.Logger`, optional
        Logger of the observatory.

    Notes
    -----
    Use as ``async with SimulatedObservatory(options) as observatory``, or
    call `start` and `close`. The CSCs are attributes (``cccamera``,
    ``ccheaderservice``, ``ccoods``, ``ocps``) for assertions, e.g.
    ``observatory.ocps.executes`` (every ``execute`` received) or
    ``observatory.cccamera.images`` (every image taken).
    """

    def __init__(
        self,
        options: ObservatoryOptions | None = None,
        *,
        data_plane: DataPlane | None = None,
        job_runner: JobRunner | None = None,
        log: logging.Logger | None = None,
    ) -> None:
        self.options = options or ObservatoryOptions()
        self.timing: Timing = typing.cast(Timing, self.options.timing)
        self.log = log or logging.getLogger("SimulatedObservatory")
        self._data_plane_arg = data_plane
        self._job_runner_arg = job_runner
        self.data_plane: DataPlane = data_plane if data_plane is not None else NullDataPlane()
        self.job_runner: JobRunner | None = job_runner
        self.cccamera: CCCameraCsc
        self.ccheaderservice: CCHeaderServiceCsc
        self.ccoods: CCOODSCsc
        self.ocps: OCPSCsc
        self._started = False
        self._closed = False
        self._saved_env: dict[str, str | None] = {}
        self._owns_data_plane = False

    @property
    def cscs(self) -> list[typing.Any]:
        """The four CSCs, in start order."""
        return [self.cccamera, self.ccheaderservice, self.ccoods, self.ocps]

    @property
    def execute_requests(self) -> list[ExecuteRecord]:
        """Every ``execute`` command OCPS received (verbatim fields + the JobRequest)."""
        return self.ocps.executes

    @property
    def images(self) -> list[ImageInfo]:
        """Every image the camera started."""
        return self.cccamera.images

    def _build_data_plane(self) -> DataPlane:
        options = self.options
        if not options.uses_repo:
            return NullDataPlane()
        from .data.dataplane import ButlerDataPlane
        from .data.options import DataOptions

        data = options.data or DataOptions(repo=options.repo)
        if data.repo is None:
            data = dataclasses.replace(data, repo=options.repo)
        self._owns_data_plane = True
        return ButlerDataPlane(data, log=self.log.getChild("data"))

    def _build_job_runner(self) -> JobRunner:
        options = self.options
        if not RUNNERS[options.runner].runs_pipelines:
            return make_runner(options.runner, time_scale=self.timing.time_scale)
        if options.repo_path is None:
            raise ValueError(f"runner={options.runner!r} needs a butler repository (ObservatoryOptions.repo)")
        return make_runner(options.runner, repo=options.repo_path, **dict(options.runner_options))

    def _set_pipeline_env(self) -> None:
        from .cp import pipeline_env

        for key, value in pipeline_env().items():
            self._saved_env.setdefault(key, os.environ.get(key))
            os.environ[key] = value

    def _restore_env(self) -> None:
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env = {}

    async def start(self) -> None:
        """Build and start the data plane, the job runner and the four CSCs."""
        if self._started:
            raise RuntimeError("Already started")
        self._started = True
        from .csc.base import ImageFeed, SequenceCounter
        from .csc.cccamera import CCCameraCsc
        from .csc.ccheaderservice import CCHeaderServiceCsc
        from .csc.ccoods import CCOODSCsc
        from .csc.ocps import OCPSCsc

        options = self.options
        try:
            if options.uses_repo:
                self._set_pipeline_env()
            if self._data_plane_arg is None:
                self.data_plane = self._build_data_plane()
            if self._job_runner_arg is None:
                self.job_runner = self._build_job_runner()
            start = getattr(self.data_plane, "start", None)
            if self._owns_data_plane and start is not None:
                await start()
            state_path = None
            if options.repo_path is not None:
                state_path = os.path.join(options.repo_path, SEQUENCE_STATE_FILE)
            sequence = await asyncio.to_thread(
                SequenceCounter, first_seq_num=options.camera.first_seq_num, state_path=state_path
            )
            feed = ImageFeed()
            clock = options.clock or simulated_clock()
            states = options.initial_states
            self.cccamera = CCCameraCsc(
                initial_state=states["CCCamera"],
                timing=self.timing,
                faults=options.camera,
                data_plane=self.data_plane,
                sequence=sequence,
                image_feed=feed,
                clock=clock,
            )
            await self.cccamera.start_task
            self.ccheaderservice = CCHeaderServiceCsc(
                initial_state=states["CCHeaderService"], timing=self.timing, faults=options.header_service
            )
            self.ccoods = CCOODSCsc(
                image_feed=feed,
                initial_state=states["CCOODS"],
                timing=self.timing,
                faults=options.oods,
                data_plane=self.data_plane,
                sequence=sequence,
                clock=clock,
            )
            self.ocps = OCPSCsc(
                index=options.ocps_index,
                initial_state=states["OCPS"],
                job_runner=self.job_runner,
                butler_repo=options.repo_path or "",
                timing=self.timing,
                faults=options.ocps,
            )
            await asyncio.gather(
                self.ccheaderservice.start_task, self.ccoods.start_task, self.ocps.start_task
            )
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        """Close the CSCs and the data plane; restore the environment. Idempotent."""
        if self._closed:
            return
        self._closed = True
        cscs = [getattr(self, name, None) for name in ("ocps", "ccoods", "ccheaderservice", "cccamera")]
        await asyncio.gather(*[csc.close() for csc in cscs if csc is not None], return_exceptions=True)
        close = getattr(self.data_plane, "close", None)
        if self._owns_data_plane and close is not None:
            try:
                await close()
            except Exception:
                self.log.exception("Closing the data plane failed")
        self._restore_env()

    async def __aenter__(self) -> SimulatedObservatory:
        await self.start()
        return self

    async def __aexit__(self, *args: typing.Any) -> None:
        await self.close()
