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

"""``--simulate`` of the command line: start the simulated observatory.

Turns the command-line options into `ObservatoryOptions` (repository,
runner, geometry, time scale, faults), and prepares what a fault needs in
the repository (a pre-existing certified bias for
``--conflicting-certification``).
"""

from __future__ import annotations

__all__ = [
    "SimulationSettings",
    "certify_previous_bias",
    "configured_physical_filter",
    "job_log_dir",
    "job_pipelines",
    "job_runner",
    "observatory_options",
    "parse_fail_ingest",
    "parse_noisy",
    "prior_calibration_filters",
    "register_calibration_collection",
    "previous_bias_validity",
]

import dataclasses
import os
import typing

#: RUN that holds the pre-existing bias of ``--conflicting-certification``.
PREVIOUS_BIAS_RUN = "LSSTComCam/calib/sim_previous_bias"


def job_pipelines(specs: typing.Iterable[typing.Any] | None = None) -> dict[str, str]:
    """OCPS job names and their pipelines (``cp_bias`` -> ``cpBias``), for ``--fail-job``.

    Parameters
    ----------
    specs : iterable of `~lsst.ts.calibscripts.calib.types.CalibTypeSpec`, optional
        The calibration types; default every type.
    """
    from ..calib.types import CALIB_TYPES

    jobs: dict[str, str] = {}
    for spec in CALIB_TYPES.values() if specs is None else specs:
        jobs[spec.build_job_name] = spec.build_pipeline.removesuffix(".yaml")
        jobs[spec.verify_job_name] = spec.verify_pipeline.removesuffix(".yaml")
    return jobs


JOB_PIPELINES = job_pipelines()
"""Every job ``--fail-job`` can name, with its pipeline."""


@dataclasses.dataclass
class SimulationSettings:
    """The simulation options of the command line.

    Attributes
    ----------
    repo : `str`
        Butler repository (created if missing, reused otherwise).
    runner : `str`
        ``pipetask`` or ``inprocess``.
    full_size : `bool`
        Full-size CCDs instead of the reduced geometry.
    time_scale : `float`
        Factor on the simulated delays (camera readout, ingest, ...).
    fail_ingest : `list` [`tuple` [`int`, `int` or `None`]]
        (frame, detector) pairs CCOODS fails to ingest (frame 1 = first).
    fail_job : `list` [`str`]
        These OCPS jobs fail (``cp_bias``, ``verify_dark`` ...; `JOB_PIPELINES`).
    noisy : `dict` [`int`, `float`]
        Detector -> read-noise factor.
    conflicting_certification : `bool`
        Certify a bias over the run's day in ``calib_collection`` first.
    prior_calibrations : `str` or `None`
        ``--prior-calibrations``: ``current``, ``all`` or comma-separated
        physical filters (`prior_calibration_filters`); None: none made.
    """

    repo: str
    runner: str = "pipetask"
    full_size: bool = False
    time_scale: float = 1.0
    fail_ingest: list[tuple[int, int | None]] = dataclasses.field(default_factory=list)
    fail_job: list[str] = dataclasses.field(default_factory=list)
    noisy: dict[int, float] = dataclasses.field(default_factory=dict)
    conflicting_certification: bool = False
    prior_calibrations: str | None = None


PRIOR_CURRENT = "current"
"""``--prior-calibrations`` value: a flat of the configuration's ``filter``, else of the one in the
beam at start."""
PRIOR_ALL = "all"
"""``--prior-calibrations`` value: a flat of every filter of the camera."""


def prior_calibration_filters(text: str, camera: typing.Any) -> tuple[str, ...]:
    """The physical filters of ``--prior-calibrations`` (empty: the filter in the beam at start).

    Parameters
    ----------
    text : `str`
        ``current``, ``all`` or comma-separated physical filters (butler
        names; LATISS ``FILTER~GRATING``).
    camera : `~lsst.ts.calibscripts.cameras.CameraProfile`
        The camera.

    Raises
    ------
    ValueError
        A filter the camera does not have, or nothing named; the message
        lists the camera's filters.
    """
    text = text.strip()
    if text == PRIOR_CURRENT:
        return ()
    known = [name for name, _ in camera.physical_filter_bands]
    if text == PRIOR_ALL:
        return tuple(known)
    names = tuple(dict.fromkeys(name.strip() for name in text.split(",") if name.strip()))
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        raise ValueError(
            f"--prior-calibrations {text!r}: {', '.join(unknown) or 'no filter'} is not a physical filter "
            f"of {camera.instrument}; give {PRIOR_CURRENT}, {PRIOR_ALL} or some of {', '.join(known)}"
        )
    return names


def parse_fail_ingest(text: str) -> tuple[int, int | None]:
    """Parse ``FRAME[:DETECTOR]`` (e.g. ``3`` or ``3:4``)."""
    frame_text, _, detector_text = text.partition(":")
    try:
        frame = int(frame_text)
        detector = int(detector_text) if detector_text else None
    except ValueError:
        raise ValueError(f"--fail-ingest {text!r}: expected FRAME[:DETECTOR], e.g. 3 or 3:4") from None
    if frame < 1:
        raise ValueError(f"--fail-ingest {text!r}: frames are numbered from 1")
    if detector is not None and not 0 <= detector <= 8:
        raise ValueError(f"--fail-ingest {text!r}: detector must be 0..8")
    return frame, detector


def parse_noisy(text: str) -> tuple[int, float]:
    """Parse ``DETECTOR=FACTOR`` (e.g. ``4=1.3``)."""
    detector_text, sep, factor_text = text.partition("=")
    try:
        if not sep:
            raise ValueError
        detector, factor = int(detector_text), float(factor_text)
    except ValueError:
        raise ValueError(f"--noisy {text!r}: expected DETECTOR=FACTOR, e.g. 4=1.3") from None
    if not 0 <= detector <= 8:
        raise ValueError(f"--noisy {text!r}: detector must be 0..8")
    if not factor > 0:
        raise ValueError(f"--noisy {text!r}: factor must be > 0")
    return detector, factor


def configured_physical_filter(config: typing.Mapping[str, typing.Any], camera: typing.Any) -> str | None:
    """The physical filter a configuration's flats are taken through, if it names a valid one.

    Parameters
    ----------
    config : `dict`
        The script's configuration (``filter``, and for LATISS ``grating``).
    camera : `~lsst.ts.calibscripts.cameras.CameraProfile`
        The camera.

    Returns
    -------
    physical_filter : `str` or `None`
        E.g. ``g_01`` or ``SDSSr_65mm~empty``; None without ``filter`` or
        when the camera has no such filter (configure reports it).
    """
    name = config.get("filter")
    if not name:
        return None
    grating = config.get("grating")
    physical_filter = camera.physical_filter(str(name), None if grating is None else str(grating))
    try:
        camera.physical_filter_band(physical_filter)
    except ValueError:
        return None
    return physical_filter


def register_calibration_collection(repo: str, collection: str) -> bool:
    """Register ``collection`` as a CALIBRATION collection if the repository lacks it (blocking).

    Returns
    -------
    registered : `bool`
        True if it was made; False if it existed (whatever its type: the
        script's preflight judges it).
    """
    from lsst.daf.butler import Butler, CollectionType
    from lsst.daf.butler.registry import MissingCollectionError

    butler = Butler.from_config(repo, writeable=True)
    try:
        try:
            butler.collections.get_info(collection)
            return False
        except MissingCollectionError:
            return butler.collections.register(collection, CollectionType.CALIBRATION)
    finally:
        butler.close()


def observatory_options(settings: SimulationSettings, camera: typing.Any = None) -> typing.Any:
    """Build the `ObservatoryOptions` of a simulated run.

    Parameters
    ----------
    settings : `SimulationSettings`
        The command line's simulation options.
    camera : `~lsst.ts.calibscripts.cameras.CameraProfile`, optional
        The camera of the observatory (default ComCam).

    Returns
    -------
    options : `lsst.ts.calibscripts.sim.observatory.ObservatoryOptions`
        All four CSCs ENABLED, a butler data plane on ``settings.repo`` and
        the requested runner, geometry, time scale and faults.
    """
    from ..sim.data.camera_model import GeometryScale
    from ..sim.data.options import DataOptions
    from ..sim.faults import JobAction, JobScript, OcpsFaults, OodsFaults
    from ..sim.observatory import ObservatoryOptions

    data = DataOptions(
        repo=settings.repo,
        geometry=GeometryScale.FULL if settings.full_size else GeometryScale.REDUCED,
        read_noise_factors=dict(settings.noisy),
    )
    oods = OodsFaults(status_codes={(frame, detector): 1 for frame, detector in settings.fail_ingest})
    outcomes = {
        JOB_PIPELINES[name]: JobScript(
            JobAction.FAIL, message=f"simulated failure of the {name} job (--fail-job {name})"
        )
        for name in settings.fail_job
    }
    extra: dict[str, typing.Any] = {} if camera is None else {"instrument": camera.instrument}
    if settings.prior_calibrations is not None:
        from ..cameras import COMCAM

        extra["prior_calibrations"] = prior_calibration_filters(settings.prior_calibrations, camera or COMCAM)
    return ObservatoryOptions(
        **extra,
        time_scale=settings.time_scale,
        repo=settings.repo,
        runner=settings.runner,
        data=data,
        oods=oods,
        ocps=OcpsFaults(job_outcomes=outcomes),
    )


def job_log_dir(settings: SimulationSettings) -> str:
    """Folder of the simulated OCPS jobs' output directories: ``ocps_logs`` beside the repository.

    A job's log is ``<folder>/<job_id>/out/ocps.log``.
    """
    return os.path.join(os.path.dirname(os.path.abspath(settings.repo)), "ocps_logs")


def job_runner(settings: SimulationSettings) -> typing.Any:
    """Make the OCPS job runner of a simulated run.

    Job logs go to ``ocps_logs`` beside the repository.
    """
    log_dir = job_log_dir(settings)
    os.makedirs(log_dir, exist_ok=True)
    from ..sim.runners import make_runner

    return make_runner(settings.runner, settings.repo, log_dir)


def previous_bias_validity(clock: typing.Callable[[], float] | None = None) -> tuple[typing.Any, typing.Any]:
    """The validity range of ``--conflicting-certification``'s bias: two days either side of now.

    "Now" is the simulated observatory's (`simulated_clock`: shifted to
    ``CALIBSCRIPTS_SIM_DATE`` if set), so the range covers the day the run
    certifies over, whatever date the observatory runs on.

    Parameters
    ----------
    clock : callable, optional
        TAI clock (default `lsst.ts.calibscripts.sim.timing.simulated_clock`).

    Returns
    -------
    begin, end : `astropy.time.Time`
        TAI times.
    """
    from astropy.time import TimeDelta

    from ..sim.timing import simulated_clock, tai_to_astropy

    now = tai_to_astropy((clock or simulated_clock())())
    return now - TimeDelta(2, format="jd"), now + TimeDelta(2, format="jd")


def certify_previous_bias(repo: str, calib_collection: str, begin: typing.Any, end: typing.Any) -> list[int]:
    """Certify a stand-in bias for every detector in ``calib_collection``.

    Used by ``--conflicting-certification``: the run's own certification
    then overlaps it (blocking I/O; call in a thread).

    Parameters
    ----------
    repo : `str`
        Butler repository.
    calib_collection : `str`
        CALIBRATION collection (registered if missing).
    begin, end : `astropy.time.Time`
        Validity range of the pre-existing bias.

    Returns
    -------
    detectors : `list` [`int`]
        Detectors certified.
    """
    import numpy as np
    from astropy.io import fits
    from lsst.daf.butler import Butler, CollectionType, Timespan
    from lsst.daf.butler.registry import ConflictingDefinitionError

    butler = Butler.from_config(repo, writeable=True)
    try:
        butler.collections.register(PREVIOUS_BIAS_RUN, CollectionType.RUN)
        butler.collections.register(calib_collection, CollectionType.CALIBRATION)
        refs = []
        for detector in range(9):
            hdus = fits.HDUList(
                [
                    fits.PrimaryHDU(header=fits.Header([("OBSTYPE", "bias")])),
                    fits.ImageHDU(np.zeros((8, 8), dtype=np.float32), name="IMAGE"),
                ]
            )
            existing = butler.find_dataset(
                "bias", instrument="LSSTComCam", detector=detector, collections=PREVIOUS_BIAS_RUN
            )
            if existing is None:
                existing = butler.put(
                    hdus, "bias", instrument="LSSTComCam", detector=detector, run=PREVIOUS_BIAS_RUN
                )
            refs.append(existing)
        try:
            butler.registry.certify(calib_collection, refs, Timespan(begin.tai, end.tai))
        except ConflictingDefinitionError:
            # Something is already certified over that range: the conflict exists.
            pass
        return list(range(9))
    finally:
        butler.close()


def default_repo() -> str:
    """The default repository of ``--simulate``: ``sim_observatory/repo`` under the current folder."""
    return os.path.join(os.getcwd(), "sim_observatory", "repo")
