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

"""Run one of the package's SAL scripts in this process (the command line's engine).

It does what ts_scriptqueue's ``run_one_script`` does, without starting a
separate process: it makes the script with a SAL index, then, through a
`Remote` to the Script component (as the ScriptQueue does), sends
``configure`` with the YAML text, ``setGroupId`` with the current TAI time,
and ``run``; it prints the script's ``logMessage`` events and progress, and
exits with the final state: 0 only for DONE. A script that makes several
calibration types prints, per type, how it ended, what was certified and
its report files.

It runs on whatever SAL `lsst.ts.calibscripts.sal` selects: the real
ts_salobj on a test stand (talking to real CSCs), or the simulated SAL.
With ``--simulate`` it first starts the simulated observatory of the
script's camera in the same process (mock camera, header service, OODS and
OCPS, all ENABLED, on a real butler repository) and points the script's
``repo`` at it.

The scripts are those of `lsst.ts.calibscripts.cli.registry`; the commands
are ``run_calib_script <name>``, ``run_make_comcam_bias`` and
``run_make_comcam_calibrations``.
"""

from __future__ import annotations

__all__ = [
    "amain",
    "build_parser",
    "expected_counts",
    "main",
    "parse_log_level",
    "patch_config",
    "run_script",
]

import argparse
import asyncio
import datetime
import logging
import os
import pathlib
import random
import re
import signal
import sys
import traceback
import typing

import yaml

from ..sim.runners import RUNNERS, pipeline_runner_names
from .progress import Progress
from .registry import ScriptEntry
from .simulation import (
    PRIOR_CURRENT,
    SimulationSettings,
    certify_previous_bias,
    configured_physical_filter,
    default_repo,
    job_log_dir,
    job_runner,
    parse_fail_ingest,
    parse_noisy,
    previous_bias_validity,
    prior_calibration_filters,
    register_calibration_collection,
)

MAX_INDEX = 2**31 - 1
EXIT_NOT_RUN = 2
"""Exit code when the script could not be run at all (bad options, simulation start-up failure)."""
CONFIGURE_TIMEOUT = 60.0
"""Seconds for the configure command (as the ScriptQueue)."""
SET_GROUP_ID_TIMEOUT = 5.0
STOP_TIMEOUT = 10.0
RUN_ACK_TIMEOUT = 7 * 24 * 3600.0
"""The run command is acknowledged when the script ends; its end is awaited otherwise."""

PREFLIGHT_NO_CALIBRATIONS = re.compile(r"preflight failed: (no (bias|dark|flat)\b|.* not exist in repo )")
"""A preflight refusal for want of certified calibrations (`~lsst.ts.calibscripts.calib.butler_ops`)."""

SIM_ONLY_OPTIONS = (
    "repo",
    "full_size",
    "prior_calibrations",
    "fail_ingest",
    "fail_job",
    "noisy",
    "conflicting_certification",
)


def parse_log_level(text: str) -> int:
    """Parse a log level name (INFO) or number (20)."""
    try:
        return int(text)
    except ValueError:
        level = logging.getLevelName(text.upper())
        if isinstance(level, int):
            return level
    raise argparse.ArgumentTypeError(f"{text!r} is not a log level (DEBUG, INFO, WARNING, ERROR or a number)")


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be > 0")
    return value


def _index(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if not 0 < value <= MAX_INDEX:
        raise argparse.ArgumentTypeError(f"index must be in 1..{MAX_INDEX}")
    return value


def _wrap(parser_function: typing.Callable[[str], typing.Any]) -> typing.Callable[[str], typing.Any]:
    def parse(text: str) -> typing.Any:
        try:
            return parser_function(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    return parse


def build_parser(entry: ScriptEntry, prog: str | None = None) -> argparse.ArgumentParser:
    """Return the command-line parser of one script.

    Parameters
    ----------
    entry : `ScriptEntry`
        The script.
    prog : `str`, optional
        The command's name (default ``run_<script name>``).
    """
    parser = argparse.ArgumentParser(
        prog=prog or f"run_{entry.name}",
        description=(
            f"Run the {entry.class_name} SAL script in this process (as run_one_script does) and exit 0 "
            "only if it ends DONE. With --simulate, first start a simulated observatory in the same process."
        ),
    )
    parser.add_argument(
        "config",
        nargs="?",
        help="YAML configuration file (sent verbatim as the configure command's config). "
        f"Default: none, or with --simulate the shipped example {entry.example}.",
    )
    parser.add_argument("--schema", action="store_true", help="Print the configuration schema and exit.")
    parser.add_argument(
        "--index", type=_index, default=None, help="SAL index of the script (default: random in 1..99999)."
    )
    parser.add_argument(
        "--log-level",
        type=parse_log_level,
        default=logging.INFO,
        help="Log level of the script: DEBUG, INFO (default), WARNING, ERROR or a number.",
    )
    parser.add_argument(
        "--report-dir", help="Folder for the run summary and pictures (overrides report_dir of the config)."
    )
    sim = parser.add_argument_group("simulated observatory")
    sim.add_argument(
        "--simulate",
        action="store_true",
        help="Start a simulated observatory in this process first and run the script against it.",
    )
    sim.add_argument(
        "--repo",
        help="Butler repository of the simulation, created or reused (default: ./sim_observatory/repo).",
    )
    sim.add_argument(
        "--runner",
        choices=pipeline_runner_names(),
        default=None,
        help="How the simulated OCPS runs jobs (default pipetask): "
        + "; ".join(f"{name}: {RUNNERS[name].description}" for name in pipeline_runner_names())
        + ".",
    )
    sim.add_argument(
        "--full-size", action="store_true", help="Full-size 4072x4000 CCDs instead of the reduced geometry."
    )
    sim.add_argument(
        "--time-scale",
        type=_positive_float,
        default=None,
        help="Factor on the simulated camera and CSC delays (default 1: real time; 0.1 is 10x faster).",
    )
    camera = entry.camera

    def check_prior(text: str) -> str:
        prior_calibration_filters(text, camera)
        return text

    sim.add_argument(
        "--prior-calibrations",
        nargs="?",
        const=PRIOR_CURRENT,
        default=None,
        type=_wrap(check_prior),
        metavar="FILTERS",
        help="Before the run, give the repository what a summit repository holds: a bias, a dark and a "
        f"flat certified in {camera.instrument}/calib/unbounded (chained by {camera.instrument}/calib), "
        "made from frames of a past night, for the camera's default detectors; needed by a run that "
        "only verifies its frames (generate_calibrations: false) or builds on calibrations it does not "
        "build (DARK, FLAT, DARK_FLAT); calib_collection is made too if missing. FILTERS: 'current' "
        "(default: the configuration's filter, else the one in the beam), 'all', "
        "or comma-separated physical filters. Made once per repository, per detector and filter "
        "(about 2 minutes for the bias, the dark and one flat of 9 reduced-size detectors); those "
        "already there are kept.",
    )
    faults = parser.add_argument_group("faults to rehearse (with --simulate)")
    faults.add_argument(
        "--fail-ingest",
        type=_wrap(parse_fail_ingest),
        action="append",
        default=[],
        metavar="FRAME[:DETECTOR]",
        help="The OODS fails to ingest that frame (1 = first frame taken), one detector or all.",
    )
    faults.add_argument(
        "--fail-job",
        choices=tuple(entry.job_pipelines()),
        action="append",
        default=[],
        help="That OCPS job fails.",
    )
    faults.add_argument(
        "--noisy",
        type=_wrap(parse_noisy),
        action="append",
        default=[],
        metavar="DETECTOR=FACTOR",
        help="The detector's true read noise is FACTOR x nominal (the NOISE test fails above 1.05).",
    )
    faults.add_argument(
        "--conflicting-certification",
        action="store_true",
        help="Certify a bias over the run's day in calib_collection before the run.",
    )
    return parser


def patch_config(config_text: str, **overrides: typing.Any) -> str:
    """Return ``config_text`` with top-level options replaced.

    The text is returned verbatim when there is nothing to override, or
    when it is not a YAML mapping (the script then reports the problem).
    """
    overrides = {key: value for key, value in overrides.items() if value is not None}
    if not overrides:
        return config_text
    try:
        config = yaml.safe_load(config_text) if config_text.strip() else {}
    except yaml.YAMLError:
        return config_text
    if not isinstance(config, dict):
        return config_text
    config.update(overrides)
    return yaml.safe_dump(config, sort_keys=False)


def _config_dict(config_text: str) -> dict[str, typing.Any]:
    try:
        config = yaml.safe_load(config_text) if config_text.strip() else {}
    except yaml.YAMLError:
        return {}
    return config if isinstance(config, dict) else {}


def expected_counts(config_text: str, entry: ScriptEntry | None = None) -> tuple[int | None, int]:
    """Return (frames the script will take, detectors per frame), using schema defaults.

    The number of frames is None if the configuration cannot be read.

    Parameters
    ----------
    config_text : `str`
        The YAML configuration.
    entry : `ScriptEntry`, optional
        The script: a bias script (the default) counts its bias options; a
        script of several types counts its plan.
    """
    if entry is not None and getattr(entry.load(), "spec", None) is None:
        return _plan_counts(config_text, entry)
    from ..calib.config import ALL_DETECTORS, parse_detectors, schema_defaults

    config = _config_dict(config_text)
    defaults = schema_defaults()

    def option(name: str) -> typing.Any:
        return config.get(name, defaults.get(name))

    try:
        detectors = len(parse_detectors(option("detectors") or list(ALL_DETECTORS)))
    except Exception:
        detectors = len(ALL_DETECTORS)
    if option("exposure_ids"):
        return 0, detectors
    try:
        frames = (
            int(option("n_discard_bias") or 0) + int(option("n_bias")) + int(option("n_verify_bias") or 0)
        )
    except (TypeError, ValueError):
        return None, detectors
    return frames, detectors


def _plan_counts(config_text: str, entry: ScriptEntry) -> tuple[int | None, int]:
    """(frames, detectors) of a script of several types, from its plan (None frames if no plan)."""
    from ..calib.plan import make_plan

    script_class = entry.load()
    config = _config_dict(config_text)
    detectors = len(script_class.camera.default_detectors)
    try:
        plan = make_plan(config, script_class.schema_name, script_class.camera)
    except Exception:
        return None, detectors
    return plan.n_frames_to_take, len(plan.detectors)


def _print_log_message(progress: Progress, data: typing.Any, show_traceback: bool) -> None:
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%H:%M:%S")
    level = logging.getLevelName(int(data.level))
    progress.print(f"{stamp} {level}: {data.message}")
    if show_traceback and getattr(data, "traceback", ""):
        progress.print(str(data.traceback).rstrip())


async def run_script(
    entry: ScriptEntry,
    config_text: str,
    index: int,
    log_level: int,
    progress: Progress,
    out: typing.TextIO,
) -> tuple[int, str, str, list[str]]:
    """Make, configure and run the script.

    Returns
    -------
    code, state, reason, files : `int`, `str`, `str`, `list` [`str`]
        Exit code, final state name, reason, and the full path of every
        report file the script wrote.

    Parameters
    ----------
    entry : `ScriptEntry`
        The script to run.
    config_text : `str`
        YAML configuration, sent verbatim.
    index : `int`
        SAL index of the script.
    log_level : `int`
        Log level sent with ``configure``.
    progress : `Progress`
        Progress display.
    out : file-like
        Where to print.
    """
    from astropy.time import Time

    from ..sal import ScriptState, salobj

    script_class = entry.load()
    profile = script_class.camera

    loop = asyncio.get_running_loop()
    async with salobj.Domain() as domain:
        remote = salobj.Remote(
            domain, "Script", index=index, evt_max_history=0, include=["state", "logMessage"]
        )
        camera = salobj.Remote(
            domain, profile.camera_component, readonly=True, include=["endReadout"], evt_max_history=0
        )
        oods = salobj.Remote(
            domain, profile.oods_component, readonly=True, include=["imageInOODS"], evt_max_history=0
        )
        show_traceback = log_level <= logging.DEBUG

        remote.evt_logMessage.callback = lambda data: _print_log_message(progress, data, show_traceback)
        remote.evt_state.callback = lambda data: progress.on_state(
            _state_name(ScriptState, data.state), data.lastCheckpoint
        )
        camera.evt_endReadout.callback = lambda data: progress.on_end_readout(data.imageName)
        oods.evt_imageInOODS.callback = lambda data: progress.on_image_in_oods(data.obsid, data.statusCode)
        await asyncio.gather(remote.start_task, camera.start_task, oods.start_task)

        script = script_class(index=index)
        interrupts = 0
        stop_tasks: list[asyncio.Task] = []

        def on_interrupt() -> None:
            nonlocal interrupts
            interrupts += 1
            if interrupts == 1:
                progress.print("Interrupted: stopping the script (Ctrl-C again to quit at once)...")
                stop_tasks.append(asyncio.create_task(_send_stop(remote, progress)))
            else:
                script.signal_handler()

        loop.add_signal_handler(signal.SIGINT, on_interrupt)
        run_task: asyncio.Task | None = None
        ticker = asyncio.create_task(_tick(progress))
        try:
            await script.start_task
            progress.print(f"Script {entry.class_name} index {index} started; configuring.")
            try:
                await remote.cmd_configure.set_start(
                    config=config_text, logLevel=log_level, timeout=CONFIGURE_TIMEOUT
                )
            except salobj.AckError as e:
                progress.print(f"Configuration rejected: {e.ackcmd.result}")
            else:
                group_id = Time.now().tai.isot
                await remote.cmd_setGroupId.set_start(groupId=group_id, timeout=SET_GROUP_ID_TIMEOUT)
                progress.print(f"Running with group id {group_id}.")
                run_task = asyncio.create_task(remote.cmd_run.start(timeout=RUN_ACK_TIMEOUT))
            await script.done_task
        except Exception as e:
            progress.print(f"Error while running the script: {e!r}")
        finally:
            loop.remove_signal_handler(signal.SIGINT)
            ticker.cancel()
            for task in [run_task, *stop_tasks]:
                if task is not None and not task.done():
                    task.cancel()
            if not script.done_task.done():
                script.done_task.set_result(None)
            try:
                await script.close()
            except Exception:
                pass
            progress.finish()
            await remote.close()
            await camera.close()
            await oods.close()
        state = _state_name(ScriptState, script.state.state)
        reason = str(script.state.reason or "")
        for line in type_results(script):
            progress.print(line)
        return (0 if state == "DONE" else 1), state, reason, report_files(script)


def report_files(script: typing.Any) -> list[str]:
    """The full path of every report file the script wrote (every type's)."""
    if hasattr(script, "report_paths"):
        return list(script.report_paths())
    return list(script.summary.report_files)


def type_results(script: typing.Any) -> list[str]:
    """Lines saying, per calibration type, how it ended, what was certified and its report files.

    Empty for a script of one type (its summary and the final state say it all).
    """
    summaries = getattr(script, "summaries", None)
    if not summaries:
        return []
    result = getattr(script, "result", None)
    lines = ["Result per type:"]
    for calib_type, summary in summaries.items():
        ended, why = summary.outcome.value.upper(), summary.reason
        if result is not None:
            try:
                ended, why = result[calib_type].state.name, result[calib_type].reason
            except KeyError:
                pass
        # Why only when it did not succeed (a success's reason repeats the lines below).
        failed = ended not in ("SUCCEEDED", "TAKEN", "DONE")
        lines.append(f"  {calib_type}: {ended}" + (f": {why.splitlines()[0]}" if why and failed else ""))
        lines.append(f"    certified: {summary.certification_text or 'nothing'}")
        if summary.report_files:
            lines.append(f"    report: {', '.join(os.path.basename(p) for p in summary.report_files)}")
    return lines


def _state_name(enum_class: typing.Any, value: int) -> str:
    try:
        return enum_class(value).name
    except ValueError:
        return f"UNKNOWN({value})"


async def _send_stop(remote: typing.Any, progress: Progress) -> None:
    try:
        await remote.cmd_stop.start(timeout=STOP_TIMEOUT)
    except Exception as e:
        progress.print(f"Stop command failed: {e}")


async def _tick(progress: Progress) -> None:
    while True:
        await asyncio.sleep(1.0)
        progress.redraw()


async def amain(
    entry: ScriptEntry,
    args: argparse.Namespace,
    config_text: str,
    out: typing.TextIO | None = None,
    run: typing.Callable[..., typing.Awaitable[tuple[int, str, str, list[str]]]] | None = None,
) -> int:
    """Run the script (and the simulated observatory with ``--simulate``); return the exit code.

    ``run`` makes, configures and runs the script (default `run_script`
    with ``entry``).
    """
    out = out or sys.stdout
    progress = Progress(stream=out, live=out.isatty(), announce_stages=args.log_level > logging.INFO)
    index = args.index if args.index is not None else random.randint(1, 99999)
    observatory = None
    try:
        if args.simulate:
            try:
                observatory, config_text = await _start_simulation(entry, args, config_text, progress)
            except Exception as e:
                if args.log_level <= logging.DEBUG:
                    traceback.print_exc(file=out)
                out.write(f"Could not start the simulated observatory: {e!r}\n")
                out.flush()
                return EXIT_NOT_RUN
        elif args.report_dir is not None:
            config_text = patch_config(config_text, report_dir=args.report_dir)
        progress.n_frames, progress.n_detectors = expected_counts(config_text, entry)
        if run is None:
            code, state, reason, files = await run_script(
                entry, config_text, index, args.log_level, progress, out
            )
        else:
            code, state, reason, files = await run(config_text, index, args.log_level, progress, out)
    finally:
        if observatory is not None:
            await observatory.close()
    # Only the files this run wrote, as the script lists them (full paths).
    folders = sorted({os.path.dirname(path) for path in files})
    if len(folders) == 1:
        out.write(f"Run report in {folders[0]}:\n")
        out.writelines(f"  {os.path.basename(path)}\n" for path in files)
    elif files:
        out.write("Run report:\n")
        out.writelines(f"  {path}\n" for path in files)
    if state == "DONE":
        out.write("Final state: DONE\n")
    else:
        out.write(f"Final state: {state}" + (f": {reason}" if reason else "") + "\n")
        if (
            args.simulate
            and args.prior_calibrations is None
            and PREFLIGHT_NO_CALIBRATIONS.search(reason or "")
        ):
            out.write(
                "The simulated repository holds no certified calibrations unless asked: "
                "--prior-calibrations makes a bias, a dark and a flat first, as a summit repository has.\n"
            )
    out.flush()
    return code


async def _start_simulation(
    entry: ScriptEntry, args: argparse.Namespace, config_text: str, progress: Progress
) -> tuple[typing.Any, str]:
    """Start the simulated observatory; return it and the configuration pointed at its repository."""
    from ..sim.observatory import SimulatedObservatory

    settings = SimulationSettings(
        repo=os.path.abspath(args.repo or default_repo()),
        runner=args.runner or "pipetask",
        full_size=args.full_size,
        time_scale=args.time_scale or 1.0,
        fail_ingest=list(args.fail_ingest),
        fail_job=list(args.fail_job),
        noisy=dict(args.noisy),
        conflicting_certification=args.conflicting_certification,
        prior_calibrations=args.prior_calibrations,
    )
    os.makedirs(os.path.dirname(settings.repo), exist_ok=True)
    geometry = "full-size" if settings.full_size else "reduced"
    progress.print(
        f"Starting the simulated observatory: repository {settings.repo}, runner {settings.runner}, "
        f"{geometry} geometry, time scale {settings.time_scale:g}."
    )
    progress.print(
        f"Simulated OCPS execution service: a job's log is {job_log_dir(settings)}/<job_id>/out/ocps.log."
    )
    profile = entry.camera
    config = _config_dict(config_text)
    if settings.prior_calibrations == PRIOR_CURRENT:
        # The flats' filter of the configuration, else the one in the beam.
        settings.prior_calibrations = configured_physical_filter(config, profile) or PRIOR_CURRENT
    observatory = SimulatedObservatory(entry.observatory(settings, profile), job_runner=job_runner(settings))
    if settings.prior_calibrations is not None:
        progress.print(
            f"Prior calibrations ({settings.prior_calibrations}): made first if the repository lacks them."
        )
    await observatory.start()
    try:
        calib = str(config.get("calib_collection") or "")
        if observatory.prior_calibrations is not None:
            progress.print(f"Simulated repository: {observatory.prior_calibrations.describe()}.")
            # A DARK or FLAT run reads its calib_collection first: at the summit it exists.
            if calib and await asyncio.to_thread(register_calibration_collection, settings.repo, calib):
                progress.print(f"Simulated repository: made the empty CALIBRATION collection {calib}.")
        config_text = patch_config(config_text, repo=settings.repo, report_dir=args.report_dir)
        # calib_collection is required (no default): without it configure fails, naming it.
        if settings.conflicting_certification and calib:
            from ..calib.config import schema_defaults

            await asyncio.to_thread(
                certify_previous_bias, settings.repo, str(calib), *previous_bias_validity()
            )
            supersede = bool(_config_dict(config_text).get("supersede", schema_defaults()["supersede"]))
            progress.print(
                f"Fault: a bias is already certified in {calib} over the run's day"
                + (" (supersede: true, so the script will replace it)." if supersede else ".")
            )
        for frame, detector in settings.fail_ingest:
            which = "every detector" if detector is None else f"detector {detector}"
            progress.print(f"Fault: {profile.oods_component} fails to ingest frame {frame}, {which}.")
        for name in settings.fail_job:
            progress.print(f"Fault: the {name} job fails.")
        for detector, factor in settings.noisy.items():
            progress.print(f"Fault: detector {detector} read noise is {factor:g} x nominal.")
    except BaseException:
        await observatory.close()
        raise
    return observatory, config_text


def _configure_logging() -> None:
    """Show warnings of this process's own loggers (e.g. the simulated observatory) on stderr.

    The script's messages are not shown this way: they arrive as ``logMessage``
    events and are printed once, like run_one_script does.
    """
    handler = logging.StreamHandler()
    handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(lambda record: record.name != "Script" and not record.name.startswith("Script."))
    logging.getLogger().addHandler(handler)


def main(
    entry: ScriptEntry,
    argv: typing.Sequence[str] | None = None,
    prog: str | None = None,
    run_main: typing.Callable[[argparse.Namespace, str], typing.Awaitable[int]] | None = None,
) -> int:
    """Run the command of one script; return the exit code.

    Parameters
    ----------
    entry : `ScriptEntry`
        The script.
    argv : `list` [`str`], optional
        The arguments (default ``sys.argv[1:]``).
    prog : `str`, optional
        The command's name (default ``run_<script name>``).
    run_main : callable, optional
        ``await run_main(args, config_text)`` runs it (default `amain`).
    """
    prog = prog or f"run_{entry.name}"
    parser = build_parser(entry, prog)
    args = parser.parse_args(argv)
    if args.schema:
        sys.stdout.write(yaml.safe_dump(entry.load().get_schema(), sort_keys=False))
        return 0
    if not args.simulate:
        used = [name for name in SIM_ONLY_OPTIONS if getattr(args, name) not in (None, False, [], {})]
        used += [name for name in ("runner", "time_scale") if getattr(args, name) is not None]
        if used:
            parser.error("--" + ", --".join(n.replace("_", "-") for n in used) + " need --simulate")
        # Without --simulate the script talks to the observatory: never on the simulated bus by accident.
        from .. import sal

        try:
            sal.require_real_unless_sim_requested(f"{prog} without --simulate")
        except ImportError as e:
            sys.stderr.write(f"{prog}: {e}\n")
            return EXIT_NOT_RUN
    if args.config is not None:
        try:
            config_text = pathlib.Path(args.config).read_text(encoding="utf-8")
        except OSError as e:
            parser.error(f"cannot read the configuration file: {e}")
    elif args.simulate:
        from ..configs import load_example_text

        config_text = load_example_text(entry.example)
    else:
        config_text = ""
    if args.simulate:
        # Everything runs in this process: the simulated SAL unless the user
        # chose otherwise, and a topic sub-name of its own.
        os.environ.setdefault("CALIBSCRIPTS_SAL", "sim")
        os.environ.setdefault("LSST_TOPIC_SUBNAME", "calibscripts_simulation")
    _configure_logging()
    try:
        if run_main is not None:
            return asyncio.run(run_main(args, config_text))
        return asyncio.run(amain(entry, args, config_text))
    except KeyboardInterrupt:
        sys.stdout.write("\nInterrupted.\n")
        return 130
