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

"""Write the run report: the YAML summary and the PNG pictures.

`write_report` is what `MakeComCamBias` calls at its summary stage (in a
thread: ``await asyncio.to_thread(write_report, ...)``, or
`write_report_async`). It works the same at the summit and in the
simulation, because it only reads the butler registry (dataset URIs and the
small ``verifyBiasDetStats`` dicts, `read_structured`) and the master
bias files themselves.

Drawing is best effort: a picture that cannot be drawn is recorded in
`RunReport.problems` (and in the YAML), never raised, so a reporting
problem cannot hide a certified bias. The summary YAML is always written.
"""

from __future__ import annotations

__all__ = [
    "PICTURE_FILES",
    "SUMMARY_FILE",
    "RunReport",
    "mosaic_file",
    "read_structured",
    "sanitize",
    "write_report",
    "write_report_async",
    "write_run_pictures",
]

import asyncio
import dataclasses
import datetime
import enum
import logging
import math
import os
import pathlib
import typing

import numpy as np
import yaml

from ..cameras import COMCAM, profile
from .figures import plot_focal_plane_mosaic, plot_noise_vs_nominal, plot_verification_map
from .fits_reader import MasterBiasImage, header_read_noise, read_master_bias
from .verification import TYPE_STATISTICS, TYPE_TESTS, collect_amp_verification

SUMMARY_FILE = "summary.yaml"

#: File names of the pictures, by kind (the mosaic's is the bias's; `mosaic_file` gives each type's).
PICTURE_FILES: dict[str, str] = {
    "mosaic": "master_bias_mosaic.png",
    "verification": "verification_map.png",
    "noise": "noise_vs_nominal.png",
}


def mosaic_file(calib_type: str = "bias") -> str:
    """File name of a type's master mosaic: ``master_<type>_mosaic.png``."""
    return f"master_{calib_type.lower()}_mosaic.png"


@dataclasses.dataclass
class RunReport:
    """What `write_report` wrote.

    Attributes
    ----------
    directory : `pathlib.Path`
        The report folder.
    summary_path : `pathlib.Path`
        The YAML summary.
    pictures : `dict` [`str`, `pathlib.Path`]
        PNG files by kind (``mosaic``, ``verification``, ``noise``); a kind
        is absent if it could not be drawn.
    problems : `list` [`str`]
        Why something could not be drawn or read.
    failures : `list` [`str`]
        Failed verification tests, ``"R22_S11 C10 NOISE (2/5)"``.
    calib_type : `str`
        The type drawn (``bias``, ``dark``, ``flat``).
    medians : `dict` [`int`, `float`]
        Median of each detector's master as drawn in the mosaic.
    tests : `tuple` [`str`, ...]
        The amplifier tests drawn in the verification map.
    exposures : `list` [`int`]
        The exposures whose statistics the verification map shows.
    """

    directory: pathlib.Path
    summary_path: pathlib.Path
    pictures: dict[str, pathlib.Path] = dataclasses.field(default_factory=dict)
    problems: list[str] = dataclasses.field(default_factory=list)
    failures: list[str] = dataclasses.field(default_factory=list)
    calib_type: str = "bias"
    medians: dict[int, float] = dataclasses.field(default_factory=dict)
    tests: tuple[str, ...] = ()
    exposures: list[int] = dataclasses.field(default_factory=list)


def sanitize(value: typing.Any) -> typing.Any:
    """Turn a summary into plain YAML-safe types (dict, list, str, int, float, bool, None)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        number = float(value)
        return number if math.isfinite(number) else str(number)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.ndarray):
        return sanitize(value.tolist())
    if isinstance(value, (pathlib.PurePath, os.PathLike)):
        return os.fspath(value)
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return sanitize(dataclasses.asdict(value))
    if isinstance(value, typing.Mapping):
        return {
            str(sanitize(k)) if not isinstance(k, (int, str)) else k: sanitize(v) for k, v in value.items()
        }
    if isinstance(value, (set, frozenset)):
        return sorted((sanitize(v) for v in value), key=str)
    if isinstance(value, (list, tuple)):
        return [sanitize(v) for v in value]
    if hasattr(value, "isot"):  # astropy.time.Time
        return str(value.isot)
    return str(value)


def _as_list(collections: str | typing.Sequence[str] | None) -> list[str]:
    if collections is None:
        return []
    if isinstance(collections, str):
        return [collections]
    return list(collections)


def _open_butler(repo: typing.Any, butler: typing.Any) -> typing.Any:
    if butler is not None:
        return butler
    from .. import butlers

    return butlers.open_butler(str(repo), writeable=False)


def _query(butler: typing.Any, dataset_type: str, collections: list[str], where: str) -> list[typing.Any]:
    """Find datasets, first match per data id."""
    try:
        return list(
            butler.query_datasets(
                dataset_type, collections=collections, where=where, find_first=True, explain=False
            )
        )
    except Exception:
        # A CALIBRATION collection may refuse a find-first search without a
        # time; take every match and keep one per data id (the last found).
        # Pass the cpBias output collection to get exactly this run's masters.
        refs = list(
            butler.query_datasets(
                dataset_type, collections=collections, where=where, find_first=False, explain=False
            )
        )
        newest: dict[typing.Any, typing.Any] = {}
        for ref in refs:
            newest[ref.dataId] = ref
        return list(newest.values())


#: PyYAML's safe loader in C (libyaml), if this PyYAML was built with it.
_C_SAFE_LOADER: typing.Any = getattr(yaml, "CSafeLoader", None)

#: File extensions of YAML datasets, read with `_C_SAFE_LOADER`.
_YAML_EXTENSIONS = (".yaml", ".yml")


def read_structured(butler: typing.Any, ref: typing.Any) -> typing.Any:
    """Read a small structured dataset (a ``StructuredDataDict``), fast.

    daf_butler's YAML formatter parses with PyYAML's pure-Python safe
    loader: 20-30 ms of CPU for one exposure and detector's
    ``verify<Type>DetStats``, of which the report of a type of 20
    exposures on 3 detectors reads 60 (half the time of its pictures). A
    dataset stored as a YAML file is therefore read from its URI and
    parsed with libyaml's safe loader (the same safe subset of YAML, the
    same Python values, about ten times faster); any other dataset, or
    YAML without libyaml, is read with ``butler.get``.

    Parameters
    ----------
    butler : `lsst.daf.butler.Butler`
        The butler to read from.
    ref : `lsst.daf.butler.DatasetRef`
        The dataset.

    Returns
    -------
    value : `typing.Any`
        What ``butler.get(ref)`` returns for a ``StructuredDataDict``: the
        file's mapping.
    """
    if _C_SAFE_LOADER is not None:
        uri = butler.getURI(ref)
        if uri.getExtension().lower() in _YAML_EXTENSIONS:
            return yaml.load(uri.read(), Loader=_C_SAFE_LOADER)
    return butler.get(ref)


def _detector_where(instrument: str, detectors: typing.Sequence[int] | None) -> str:
    where = f"instrument = '{instrument}'"
    if detectors:
        where += " AND detector IN (" + ", ".join(str(int(d)) for d in detectors) + ")"
    return where


def write_report(
    report_dir: str | os.PathLike,
    summary: typing.Mapping[str, typing.Any],
    repo: str | os.PathLike | None = None,
    *,
    butler: typing.Any = None,
    bias_collections: str | typing.Sequence[str] | None = None,
    verify_collections: str | typing.Sequence[str] | None = None,
    instrument: str = COMCAM.instrument,
    detectors: typing.Sequence[int] | None = None,
    nominal_read_noise: typing.Mapping[str, typing.Mapping[str, float]] | None = None,
    det_stats: typing.Iterable[tuple[int, int, typing.Mapping[str, typing.Any]]] | None = None,
    log: logging.Logger | None = None,
    summary_name: str | None = SUMMARY_FILE,
    prefix: str = "",
    calib_type: str = "bias",
) -> RunReport:
    """Write ``summary.yaml`` and the report pictures to ``report_dir``.

    Parameters
    ----------
    report_dir : path-like
        Folder to write to (created if needed). Existing files of the same
        names are replaced.
    summary : `dict`
        The run summary (from ``bias.summary``); written as YAML with a
        ``report`` section added (picture files, problems, failed tests).
    repo : path-like, optional
        Butler repository (path or config URI). Not needed if ``butler`` is
        given.
    butler : `lsst.daf.butler.Butler`, optional
        An open butler to read from instead of ``repo``.
    bias_collections : `str` or sequence, optional
        Where the master biases are: the cpBias output collection
        ``u/ocps/<job_id>`` (preferred: exactly this run's masters) or the
        certified calibration collection. No mosaic without it.
    verify_collections : `str` or sequence, optional
        Where the ``verifyBiasDetStats`` datasets are: the verifyBias output
        collection ``u/ocps/<job_id>``. Not needed if ``det_stats`` is given.
    instrument : `str`, optional
        Butler instrument name; the pictures use its camera's detector
        names, layout and amplifiers (`lsst.ts.calibscripts.cameras.profile`).
    detectors : sequence of `int`, optional
        Detector ids to draw; default: all that are found. Every detector
        of a camera of up to nine detectors is drawn (absent ones empty).
    nominal_read_noise : `dict` [`str`, `dict` [`str`, `float`]], optional
        Nominal read noise (e-) by detector name and amp. By default it is
        read from the masters' ``LSST ISR READNOISE <amp>`` header keys.
    det_stats : iterable of (exposure, detector, `dict`), optional
        ``verifyBiasDetStats`` contents, instead of reading them.
    log : `logging.Logger`, optional
        Where to log problems (at INFO level: they are also returned).
    summary_name : `str` or `None`, optional
        File name of the YAML summary in ``report_dir``; `None`: write no
        YAML (the caller writes its own summary).
    prefix : `str`, optional
        Prefix of the picture file names (e.g. the summary's stem and an
        underscore), so that several runs can share one folder.
    calib_type : `str`, optional
        ``bias`` (default), ``dark`` or ``flat``: the masters are that
        dataset type (``master_<type>_mosaic.png``), the statistics
        ``verify<Type>DetStats`` with that type's amplifier tests
        (`~.verification.TYPE_TESTS`); the noise plot against the nominal
        read noise is drawn for biases only.

    Returns
    -------
    report : `RunReport`
        Files written, problems and failed verification tests.
    """
    log = log or logging.getLogger(__name__)
    directory = pathlib.Path(report_dir)
    directory.mkdir(parents=True, exist_ok=True)
    calib_type = calib_type.lower()
    report = RunReport(
        directory=directory, summary_path=directory / (summary_name or SUMMARY_FILE), calib_type=calib_type
    )

    def problem(text: str) -> None:
        report.problems.append(text)
        log.info("Run report: %s", text)

    try:
        camera = profile(instrument)
    except ValueError as e:
        camera = None
        problem(f"{e}: no pictures drawn; give the butler instrument name of a known camera")
    run_detectors = [int(d) for d in detectors] if detectors else []

    det_stats_type = f"verify{calib_type.capitalize()}DetStats"
    master_name = f"master {calib_type}"
    bias_list = _as_list(bias_collections)
    verify_list = _as_list(verify_collections)
    needs_butler = camera is not None and (bool(bias_list) or (det_stats is None and bool(verify_list)))
    opened = None
    if needs_butler:
        try:
            opened = _open_butler(repo, butler)
        except Exception as e:
            problem(f"cannot open butler repository {repo}: {e}")

    masters: dict[int, MasterBiasImage] = {}
    if opened is not None and bias_list:
        try:
            refs = _query(opened, calib_type, bias_list, _detector_where(instrument, detectors))
        except Exception as e:
            refs = []
            problem(f"cannot find {master_name}s in {bias_list}: {e}")
        for ref in refs:
            detector = int(ref.dataId["detector"])
            try:
                masters[detector] = read_master_bias(opened.getURI(ref))
            except Exception as e:
                problem(f"cannot read the {master_name} of {_describe(camera, detector)}: {e}")
        if not refs and not report.problems:
            problem(f"no {master_name} found in {bias_list}")
    elif not bias_list and camera is not None:
        problem(f"no {master_name} collection given; no mosaic drawn")

    if masters and camera is not None:
        try:
            picture = plot_focal_plane_mosaic(
                masters,
                directory / f"{prefix}{mosaic_file(calib_type)}",
                title=f"{instrument} {master_name} — {', '.join(bias_list)}",
                label=master_name,
                camera=camera,
                detectors=run_detectors,
            )
            report.pictures["mosaic"] = picture.path
            report.medians = dict(picture.data["median"])
        except Exception as e:
            problem(f"cannot draw the {master_name} mosaic: {e!r}")

    stats_list: list[tuple[int, int, typing.Mapping[str, typing.Any]]] = []
    if det_stats is not None:
        stats_list = list(det_stats)
    elif opened is not None and verify_list:
        try:
            for ref in _query(opened, det_stats_type, verify_list, _detector_where(instrument, detectors)):
                stats_list.append(
                    (int(ref.dataId["exposure"]), int(ref.dataId["detector"]), read_structured(opened, ref))
                )
        except Exception as e:
            problem(f"cannot read {det_stats_type} from {verify_list}: {e}")
    if camera is None:
        stats_list = []
    elif not stats_list:
        problem("no verification statistics; no verification map or noise plot drawn")
    else:
        verification = collect_amp_verification(
            stats_list,
            TYPE_STATISTICS.get(calib_type, TYPE_STATISTICS["bias"]),
            TYPE_TESTS.get(calib_type, TYPE_TESTS["bias"]),
            camera=camera,
            detectors=sorted(set(run_detectors) | {int(det) for _, det, _ in stats_list}),
        )
        report.failures = verification.failures()
        report.tests = verification.tests
        report.exposures = list(verification.exposures)
        try:
            picture = plot_verification_map(
                verification,
                directory / f"{prefix}{PICTURE_FILES['verification']}",
                title=f"cp_verify {calib_type} tests per amplifier",
            )
            report.pictures["verification"] = picture.path
        except Exception as e:
            problem(f"cannot draw the verification map: {e!r}")
    if stats_list and camera is not None and calib_type == "bias":
        nominal: dict[str, dict[str, float]] = {}
        if nominal_read_noise is not None:
            nominal = {name: dict(amps) for name, amps in nominal_read_noise.items()}
        else:
            for det, master in masters.items():
                values = header_read_noise(master.header)
                if values:
                    nominal[camera.detector_name(det)] = values
            if not nominal:
                problem(
                    "nominal read noise unknown (no LSST ISR READNOISE keys); noise plot has no reference"
                )
        try:
            picture = plot_noise_vs_nominal(
                verification, nominal, directory / f"{prefix}{PICTURE_FILES['noise']}"
            )
            report.pictures["noise"] = picture.path
        except Exception as e:
            problem(f"cannot draw the noise plot: {e!r}")

    if summary_name is None:
        return report
    document = dict(sanitize(summary))
    document["report"] = dict(
        directory=str(directory),
        pictures={kind: path.name for kind, path in report.pictures.items()},
        problems=list(report.problems),
        failed_amp_tests=list(report.failures),
    )
    tmp_path = report.summary_path.with_name(report.summary_path.name + ".tmp")
    with open(tmp_path, "w") as stream:
        yaml.safe_dump(document, stream, sort_keys=False, default_flow_style=False)
    os.replace(tmp_path, report.summary_path)
    return report


def _describe(camera: typing.Any, detector: int) -> str:
    """Name and id of a detector (``R22_S11 (4)``), or the id alone if the camera does not know it."""
    try:
        return f"{camera.detector_name(detector)} ({detector})"
    except (AttributeError, ValueError):
        return f"detector {detector}"


def _job_collection(summary: typing.Any, name: str) -> str | None:
    job = summary.job(name) if hasattr(summary, "job") else None
    if job is None or not getattr(job, "succeeded", False):
        return None
    return getattr(job, "output_run", None) or getattr(job, "output_collection", None)


def write_run_pictures(
    summary: typing.Any, repo: str | os.PathLike | None = None, *, log: logging.Logger | None = None
) -> RunReport:
    """Draw the pictures of a run of one calibration type next to its YAML summary.

    The one call the script needs at its summary stage, once the summary's
    path is known (blocking: run it in a thread)::

        self.summary.plan_report(config.report_dir)
        pictures = await asyncio.to_thread(write_run_pictures, self.summary, log=self.log)
        await asyncio.to_thread(self.summary.write, config.report_dir)

    Parameters
    ----------
    summary : `lsst.ts.calibscripts.calib.summary.RunSummary`
        The run summary, with ``report_path`` set (``summary.plan_report``
        or ``summary.write``); ``summary.calib_type`` is the type. The
        masters are read from the completed ``cp_<type>`` job's output RUN
        or, for a run resumed from an earlier build job, from
        ``summary.bias_collection``; the ``verify<Type>DetStats`` from the
        completed ``verify_<type>`` job's.
    repo : path-like, optional
        Butler repository; default ``summary.repo``.
    log : `logging.Logger`, optional
        Where to log problems.

    Returns
    -------
    report : `RunReport`
        The pictures (``<summary stem>_master_<type>_mosaic.png``, ...) and
        problems; no YAML is written.
    """
    if not getattr(summary, "report_path", None):
        raise ValueError(
            "the summary has no path yet (summary.plan_report(report_dir)); its folder holds the pictures"
        )
    summary_path = pathlib.Path(summary.report_path)
    calib_type = str(getattr(summary, "calib_type", "bias") or "bias").lower()
    report = write_report(
        summary_path.parent,
        {},
        repo or summary.repo,
        bias_collections=_job_collection(summary, f"cp_{calib_type}")
        or getattr(summary, "bias_collection", "")
        or None,
        verify_collections=_job_collection(summary, f"verify_{calib_type}"),
        instrument=getattr(summary, "instrument", COMCAM.instrument),
        detectors=list(getattr(summary, "detectors", []) or []) or None,
        log=log,
        summary_name=None,
        prefix=f"{summary_path.stem}_",
        calib_type=calib_type,
    )
    report.summary_path = summary_path
    return report


async def write_report_async(
    report_dir: str | os.PathLike,
    summary: typing.Mapping[str, typing.Any],
    *args: typing.Any,
    **kwargs: typing.Any,
) -> RunReport:
    """Run `write_report` in a thread, so the event loop keeps running."""
    return await asyncio.to_thread(write_report, report_dir, summary, *args, **kwargs)
