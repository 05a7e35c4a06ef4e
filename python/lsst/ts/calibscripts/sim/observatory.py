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

"""The simulated observatory: a camera's mock CSCs and OCPS, a data plane and a job runner.

The camera (``ObservatoryOptions.instrument``, or ``camera=``) decides the
set: its camera, header service and OODS (CCCamera/CCHeaderService/CCOODS
for LSSTComCam, MTCamera/MTHeaderService/MTOODS for LSSTCam,
ATCamera/ATHeaderService/ATOODS and ATSpectrograph for LATISS), the OCPS of
its index (2, 3, 1), and for LSSTCam the dome components its flats check
(MTDome, MTDomeTrajectory; summary state only).

Example::

    options = ObservatoryOptions(time_scale=0.001, oods=OodsFaults(missing={(2, 4)}))
    async with SimulatedObservatory(options) as observatory:
        ...  # run a script; then e.g. observatory.ocps.executes[0].data_query
    async with SimulatedObservatory(ObservatoryOptions(time_scale=0.001), camera=LSSTCAM) as observatory:
        ...  # observatory.mtcamera, observatory.mtoods, observatory.ocps (OCPS:3)
"""

from __future__ import annotations

__all__ = ["ObservatoryOptions", "SimulatedObservatory", "CSC_NAMES", "csc_names"]

import asyncio
import dataclasses
import logging
import os
import typing
from collections.abc import Callable, Mapping

from ..cameras import COMCAM, CameraProfile, profile
from ..sal import State
from .faults import CameraFaults, HeaderServiceFaults, OcpsFaults, OodsFaults
from .interfaces import DataPlane, ImageInfo, JobRunner, NullDataPlane
from .runners import RUNNERS, make_runner
from .timing import Timing, simulated_clock

if typing.TYPE_CHECKING:
    from .csc.camera import CameraCsc, FilterChangerCameraCsc
    from .csc.header_service import HeaderServiceCsc
    from .csc.ocps import ExecuteRecord, OCPSCsc
    from .csc.oods import OodsCsc
    from .csc.spectrograph import ATSpectrographCsc
    from .data.options import DataOptions
    from .data.prior import PriorCalibrations

FLAT_CHECKED_COMPONENTS: dict[str, tuple[str, ...]] = {"LSSTCam": ("MTDome", "MTDomeTrajectory")}
"""Components whose state upstream checks before a camera's flats (state-only mocks)."""


def csc_names(camera: CameraProfile) -> tuple[str, ...]:
    """The mock CSCs of a camera's observatory, in start order (OCPS last but the domes)."""
    return (*camera.sal_components, "OCPS", *FLAT_CHECKED_COMPONENTS.get(camera.instrument, ()))


CSC_NAMES = csc_names(COMCAM)
"""The CSCs of the LSSTComCam observatory: CCCamera, CCHeaderService, CCOODS, OCPS."""


def sequence_state_file(camera: CameraProfile) -> str:
    """File in the repository that remembers the camera's sequence numbers across runs."""
    return f"sim_{camera.camera_component.lower()}_sequence.json"


SEQUENCE_STATE_FILE = sequence_state_file(COMCAM)


def _default_states() -> dict[str, State]:
    return {}


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
    instrument : `str`
        The camera: ``LSSTComCam`` (default), ``LSSTCam`` or ``LATISS``
        (`lsst.ts.calibscripts.cameras.PROFILES`).
    initial_states : `dict` [`str`, `State`]
        Initial summary state per CSC (`csc_names` of the camera, e.g.
        ``CCCamera``, ``CCHeaderService``, ``CCOODS``, ``OCPS``); missing
        names are ENABLED.
    camera : `CameraFaults`
        Camera faults and sequence options (LATISS: also the filter of
        ATSpectrograph).
    header_service : `HeaderServiceFaults`
        Header service faults.
    oods : `OodsFaults`
        OODS faults.
    ocps : `OcpsFaults`
        OCPS faults, scripted job outcomes and configuration.
    ocps_index : `int` or `None`
        SAL index of the OCPS; None (default) is the camera's (LSSTComCam 2,
        LSSTCam 3, LATISS 1).
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
    prior_calibrations : sequence of `str` or `None`
        If not None (a repository is needed): before the CSCs start, the
        repository gets what a summit repository holds, a bias, a dark and
        a flat of each of these physical filters (empty: the filter in the
        beam at start) for the camera's default detectors, certified in
        ``<instrument>/calib/unbounded`` over all times, made from frames of
        a past night by the stand-in pipelines
        (`lsst.ts.calibscripts.sim.data.prior.seed_prior_calibrations`);
        those already there are not made again.
    """

    time_scale: float = 1.0
    timing: Timing | None = None
    instrument: str = COMCAM.instrument
    initial_states: Mapping[str, State] = dataclasses.field(default_factory=_default_states)
    camera: CameraFaults = dataclasses.field(default_factory=CameraFaults)
    header_service: HeaderServiceFaults = dataclasses.field(default_factory=HeaderServiceFaults)
    oods: OodsFaults = dataclasses.field(default_factory=OodsFaults)
    ocps: OcpsFaults = dataclasses.field(default_factory=OcpsFaults)
    ocps_index: int | None = None
    repo: str | None = None
    runner: str = "scripted"
    runner_options: Mapping[str, typing.Any] = dataclasses.field(default_factory=dict)
    data: DataOptions | None = None
    clock: Callable[[], float] | None = None
    prior_calibrations: typing.Sequence[str] | None = None

    def __post_init__(self) -> None:
        names = csc_names(profile(self.instrument))
        unknown = set(self.initial_states) - set(names)
        if unknown:
            raise ValueError(
                f"initial_states: unknown CSC names {sorted(unknown)} for {self.instrument}; use {names}"
            )
        states = {name: State.ENABLED for name in names}
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
        if self.prior_calibrations is not None:
            if not self.uses_repo:
                raise ValueError("prior_calibrations needs a butler repository (repo)")
            self.prior_calibrations = tuple(self.prior_calibrations)
            for name in self.prior_calibrations:
                self.profile.physical_filter_band(name)  # ValueError naming the camera's filters

    @property
    def initial_physical_filter(self) -> str:
        """The physical filter in the beam when the observatory starts (butler name)."""
        return self.profile.physical_filter(self.camera.initial_filter)

    @property
    def profile(self) -> CameraProfile:
        """The camera's profile."""
        return profile(self.instrument)

    @property
    def ocps_sal_index(self) -> int:
        """SAL index of the OCPS: ``ocps_index``, else the camera's."""
        return self.profile.ocps_index if self.ocps_index is None else int(self.ocps_index)

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
    """A camera's mock CSCs and OCPS (and LSSTCam's domes), started together.

    Parameters
    ----------
    options : `ObservatoryOptions`, optional
        Options; defaults: LSSTComCam, real time, everything ENABLED, no
        faults, `NullDataPlane` and a `ScriptedRunner` that succeeds.
    camera : `CameraProfile` or `str`, optional
        The camera (a profile or instrument name); replaces
        ``options.instrument``.
    data_plane : `DataPlane`, optional
        Overrides the data plane built from ``options``.
    job_runner : `JobRunner`, optional
        Overrides the job runner built from ``options``.
    log : `logging.Logger`, optional
        Logger of the observatory.

    Notes
    -----
    Use as ``async with SimulatedObservatory(options) as observatory``, or
    call `start` and `close`. Each CSC is an attribute named after its
    component in lower case (``cccamera``, ``ccheaderservice``, ``ccoods``,
    ``ocps``; ``mtcamera``, ``mtdome``...; ``atcamera``,
    ``atspectrograph``...), and by role: `camera`, `header_service`,
    `oods`, `spectrograph`. E.g. ``observatory.ocps.executes`` (every
    ``execute`` received) or ``observatory.camera.images`` (every image
    taken).
    """

    def __init__(
        self,
        options: ObservatoryOptions | None = None,
        *,
        camera: CameraProfile | str | None = None,
        data_plane: DataPlane | None = None,
        job_runner: JobRunner | None = None,
        log: logging.Logger | None = None,
    ) -> None:
        options = options or ObservatoryOptions()
        if camera is not None:
            name = camera if isinstance(camera, str) else camera.instrument
            # Keep the states asked for (those not ENABLED); the others are the new camera's.
            asked = {csc: state for csc, state in options.initial_states.items() if state != State.ENABLED}
            options = dataclasses.replace(options, instrument=name, initial_states=asked)
        self.options = options
        self.profile: CameraProfile = options.profile
        self.timing: Timing = typing.cast(Timing, self.options.timing)
        self.log = log or logging.getLogger("SimulatedObservatory")
        self._data_plane_arg = data_plane
        self._job_runner_arg = job_runner
        self.data_plane: DataPlane = data_plane if data_plane is not None else NullDataPlane()
        self.job_runner: JobRunner | None = job_runner
        self.camera: CameraCsc
        self.header_service: HeaderServiceCsc
        self.oods: OodsCsc
        self.ocps: OCPSCsc
        self.spectrograph: ATSpectrographCsc | None = None
        # ComCam's, by component name (others are set the same way).
        self.cccamera: FilterChangerCameraCsc
        self.ccheaderservice: HeaderServiceCsc
        self.ccoods: OodsCsc
        self._cscs: list[typing.Any] = []
        self._started = False
        self._closed = False
        self._saved_env: dict[str, str | None] = {}
        self._owns_data_plane = False
        self.prior_calibrations: PriorCalibrations | None = None

    @property
    def cscs(self) -> list[typing.Any]:
        """The CSCs, in start order (`csc_names`)."""
        return list(self._cscs)

    def csc(self, name: str) -> typing.Any:
        """The mock CSC of a SAL component name (``MTCamera``, ``OCPS``...)."""
        for csc in self._cscs:
            if csc.salinfo.name == name:
                return csc
        raise ValueError(
            f"No {name} in the {self.profile.instrument} observatory; it has {csc_names(self.profile)}"
        )

    @property
    def execute_requests(self) -> list[ExecuteRecord]:
        """Every ``execute`` command OCPS received (verbatim fields + the JobRequest)."""
        return self.ocps.executes

    @property
    def images(self) -> list[ImageInfo]:
        """Every image the camera started."""
        return self.camera.images

    def _build_data_plane(self) -> DataPlane:
        options = self.options
        if not options.uses_repo:
            return NullDataPlane()
        from .data.dataplane import ButlerDataPlane
        from .data.options import DataOptions

        data = options.data or DataOptions(repo=options.repo, instrument=options.instrument)
        if data.repo is None:
            data = dataclasses.replace(data, repo=options.repo)
        if data.instrument != options.instrument:
            # The faults' detector ids are the observatory camera's (checked again here).
            data = dataclasses.replace(data, instrument=options.instrument)
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
        """Build and start the data plane, the job runner and the CSCs."""
        if self._started:
            raise RuntimeError("Already started")
        self._started = True
        from .csc.base import ImageFeed, SequenceCounter
        from .csc.camera import make_camera_csc
        from .csc.header_service import HeaderServiceCsc
        from .csc.ocps import OCPSCsc
        from .csc.oods import OodsCsc
        from .csc.spectrograph import ATSpectrographCsc, StateOnlyCsc

        options = self.options
        camera = self.profile
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
            if options.prior_calibrations is not None:
                self.prior_calibrations = await self._seed_prior_calibrations()
            state_path = None
            if options.repo_path is not None:
                state_path = os.path.join(options.repo_path, sequence_state_file(camera))
            sequence = await asyncio.to_thread(
                SequenceCounter,
                first_seq_num=options.camera.first_seq_num,
                state_path=state_path,
                camera_code=camera.camera_code,
            )
            feed = ImageFeed()
            clock = options.clock or simulated_clock()
            states = options.initial_states
            filter_source = None
            if camera.filter_component not in ("", camera.camera_component):
                self.spectrograph = ATSpectrographCsc(
                    profile=camera,
                    initial_state=states[camera.filter_component],
                    timing=self.timing,
                    faults=options.camera,
                )
                spectrograph = self.spectrograph
                filter_source = lambda: spectrograph.physical_filter  # noqa: E731
            self.camera = make_camera_csc(
                camera,
                initial_state=states[camera.camera_component],
                timing=self.timing,
                faults=options.camera,
                data_plane=self.data_plane,
                sequence=sequence,
                image_feed=feed,
                clock=clock,
                filter_source=filter_source,
            )
            self._add(self.camera)
            await self.camera.start_task
            if self.spectrograph is not None:
                self._add(self.spectrograph)
            self.header_service = HeaderServiceCsc(
                profile=camera,
                initial_state=states[camera.header_service_component],
                timing=self.timing,
                faults=options.header_service,
            )
            self._add(self.header_service)
            self.oods = OodsCsc(
                image_feed=feed,
                profile=camera,
                initial_state=states[camera.oods_component],
                timing=self.timing,
                faults=options.oods,
                data_plane=self.data_plane,
                sequence=sequence,
                clock=clock,
            )
            self._add(self.oods)
            self.ocps = OCPSCsc(
                index=options.ocps_sal_index,
                initial_state=states["OCPS"],
                job_runner=self.job_runner,
                butler_repo=options.repo_path or "",
                timing=self.timing,
                faults=options.ocps,
            )
            self._add(self.ocps)
            for name in FLAT_CHECKED_COMPONENTS.get(camera.instrument, ()):
                self._add(StateOnlyCsc(name, initial_state=states[name]))
            await asyncio.gather(*[csc.start_task for csc in self._cscs[1:]])
        except BaseException:
            await self.close()
            raise

    async def _seed_prior_calibrations(self) -> PriorCalibrations:
        """Certify the bias, dark and flats `ObservatoryOptions.prior_calibrations` asks for."""
        from .data.options import DataOptions
        from .data.prior import seed_prior_calibrations

        options = self.options
        assert options.repo_path is not None and options.prior_calibrations is not None
        data = options.data or DataOptions(instrument=options.instrument)
        # Made in the past, before any fault of the run: a noisy detector, a hot one or a dead amp
        # is to be found by verifying the run's frames against them.
        data = dataclasses.replace(data, repo=None, instrument=options.instrument).without_faults()
        return await seed_prior_calibrations(
            options.repo_path,
            self.profile,
            physical_filters=options.prior_calibrations or (options.initial_physical_filter,),
            data=data,
            log_dir=getattr(self.job_runner, "log_dir", None),
            log=self.log.getChild("prior"),
        )

    def _add(self, csc: typing.Any) -> None:
        """Keep a started CSC, as an attribute named after its component (``mtcamera``)."""
        self._cscs.append(csc)
        setattr(self, csc.salinfo.name.lower(), csc)

    async def close(self) -> None:
        """Close the CSCs and the data plane; restore the environment. Idempotent."""
        if self._closed:
            return
        self._closed = True
        cscs = list(reversed(self._cscs))
        await asyncio.gather(*[csc.close() for csc in cscs], return_exceptions=True)
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
