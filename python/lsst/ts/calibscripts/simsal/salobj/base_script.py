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

"""BaseScript: the base class of SAL scripts."""

from __future__ import annotations

__all__ = ["BaseScript"]

import abc
import argparse
import asyncio
import re
import sys
import types
import typing
import warnings

import yaml

from .. import utils
from ..xml.enums.Script import MetadataCoordSys, MetadataDome, MetadataRotSys, ScriptState
from . import _signals
from .base import ExpectedError
from .controller import Controller
from .validator import DefaultingValidator

#: Interval between heartbeat events (s).
HEARTBEAT_INTERVAL = 5

_FINAL_STATES = {
    ScriptState.ENDING: ScriptState.DONE,
    ScriptState.STOPPING: ScriptState.STOPPED,
    ScriptState.FAILING: ScriptState.FAILED,
    ScriptState.CONFIGURE_FAILED: ScriptState.CONFIGURE_FAILED,
}


class BaseScript(Controller, abc.ABC):
    """Base class of SAL scripts: a ``Script`` controller with the script state machine.

    A script is configured (``configure`` command, validated against
    `get_schema`), given a group ID (``setGroupId``), then run (``run``);
    it may be paused and stopped at checkpoints, or stopped at any time
    (``stop``). Subclasses implement `get_schema`, `configure`,
    `set_metadata` and `run`, and optionally `cleanup`.

    The constructor must be called in a running event loop (in the main
    thread, to install SIGINT/SIGTERM handlers).

    Parameters
    ----------
    index : `int`
        SAL index of the script (nonzero).
    descr : `str`
        Short description of what the script does.
    help : `str`, optional
        More detailed help.

    Raises
    ------
    ValueError
        If ``index`` is 0.
    """

    def __init__(self, index: int, descr: str, help: str = "") -> None:
        if index == 0:
            raise ValueError("index must be nonzero")
        schema = self.get_schema()
        self.config_validator: DefaultingValidator | None = (
            None if schema is None else DefaultingValidator(schema=schema)
        )
        self._run_task: asyncio.Task | None = None
        self._pause_future: asyncio.Future | None = None
        self._sub_group_id = 0
        self._is_exiting = False
        self._close_tasks_set: set[asyncio.Task] = set()
        self.final_state_delay = 0.3
        self.num_checkpoints = 0
        self.last_checkpoint = ""
        self.timestamps: dict[ScriptState, float] = {}
        loop = asyncio.get_running_loop()
        self._heartbeat_task: asyncio.Future = loop.create_future()
        _signals.install_signal_handlers(self, self.signal_handler)
        super().__init__("Script", index, do_callbacks=True)
        self.evt_description.set(classname=type(self).__name__, description=str(descr), help=str(help))

    # Abstract and overridable methods

    @classmethod
    @abc.abstractmethod
    def get_schema(cls) -> dict[str, typing.Any] | None:
        """Return the configuration jsonschema as a dict, or None if there is no configuration."""
        raise NotImplementedError()

    @abc.abstractmethod
    async def configure(self, config: types.SimpleNamespace) -> None:
        """Configure the script.

        Parameters
        ----------
        config : `types.SimpleNamespace`
            The validated configuration, with defaults filled in.
        """
        raise NotImplementedError()

    @abc.abstractmethod
    def set_metadata(self, metadata: typing.Any) -> None:
        """Set fields of the ``metadata`` event (called after `configure`).

        Parameters
        ----------
        metadata : ``evt_metadata.DataType``
            The metadata to update in place.
        """
        raise NotImplementedError()

    @abc.abstractmethod
    async def run(self) -> None:
        """Do the work; call `checkpoint` where pausing or stopping is safe."""
        raise NotImplementedError()

    async def cleanup(self) -> None:
        """Clean up after `run` ends, fails or is stopped (look at ``self.state.state``)."""
        pass

    # Properties

    @property
    def state(self) -> typing.Any:
        """The current ``state`` event data."""
        return self.evt_state.data

    @property
    def state_name(self) -> str:
        """Name of the current script state."""
        try:
            return ScriptState(self.state.state).name
        except ValueError:
            return f"UNKNOWN({self.state.state})"

    @property
    def checkpoints(self) -> typing.Any:
        """The current ``checkpoints`` event data (``pause`` and ``stop`` regexes)."""
        return self.evt_checkpoints.data

    @property
    def group_id(self) -> str:
        """The group ID ("" if not set)."""
        return self.evt_state.data.groupId

    @property
    def obs_id(self) -> str:
        """The block ID (deprecated name)."""
        return self.evt_state.data.blockId

    @obs_id.setter
    def obs_id(self, value: str) -> None:
        warnings.warn("obs_id cannot be set; it is ignored", DeprecationWarning, stacklevel=2)
        self.log.warning("obs_id cannot be set; ignoring the value")

    # Start, heartbeat, signals, close

    async def start(self) -> None:
        """Start; once every remote in the domain has started, report UNCONFIGURED."""
        await super().start()
        self._heartbeat_task = asyncio.create_task(self._heartbeat_loop())
        other_salinfos = [salinfo for salinfo in list(self.domain.salinfo_set) if salinfo is not self.salinfo]
        await asyncio.gather(*[salinfo.start_task for salinfo in other_salinfos])
        await self.set_state(ScriptState.UNCONFIGURED)
        remotes = ",".join(sorted(f"{salinfo.name}:{salinfo.index}" for salinfo in other_salinfos))
        await self.evt_description.set_write(remotes=remotes, force_output=True)

    async def _heartbeat_loop(self) -> None:
        # As in real salobj, the first heartbeat comes one interval after start.
        while True:
            await asyncio.sleep(HEARTBEAT_INTERVAL)
            try:
                await self.evt_heartbeat.write()
            except Exception:
                self.log.exception("Heartbeat output failed")

    def signal_handler(self) -> None:
        """Handle SIGINT/SIGTERM: end at once, with no final state event."""
        self.log.info("Handling termination signal.")
        if not self.done_task.done():
            self.done_task.set_result(None)

    async def close_tasks(self) -> None:
        """Stop the heartbeat, the run task and any pause."""
        await super().close_tasks()
        _signals.remove_signal_handlers(self)
        self._is_exiting = True
        self._heartbeat_task.cancel()
        if self._run_task is not None:
            self._run_task.cancel()
        if self._pause_future is not None:
            self._pause_future.cancel()

    # State

    async def set_state(
        self,
        state: ScriptState | int | None = None,
        reason: str | None = None,
        keep_old_reason: bool = False,
        force_output: bool = False,
    ) -> None:
        """Set (and write, if changed or forced) the ``state`` event.

        Parameters
        ----------
        state : `ScriptState` or `int`, optional
            New state; None keeps the current one.
        reason : `str`, optional
            Reason; None keeps the current one.
        keep_old_reason : `bool`, optional
            Append ``reason`` to the current reason (with "; ")?
        force_output : `bool`, optional
            Write even if nothing changed?

        Raises
        ------
        ValueError
            If ``state`` is not a valid `ScriptState`.
        """
        if state is not None:
            state = ScriptState(state)
            self.timestamps[state] = utils.current_tai()
        if keep_old_reason and reason is not None:
            old_reason = self.evt_state.data.reason
            separator = "; " if old_reason else ""
            reason = old_reason + separator + reason
        await self.evt_state.set_write(
            state=state,
            reason=reason,
            lastCheckpoint=self.last_checkpoint,
            numCheckpoints=self.num_checkpoints,
            force_output=force_output,
        )

    def assert_state(self, action: str, states: typing.Iterable[ScriptState]) -> None:
        """Raise `ExpectedError` if exiting or not in one of ``states``.

        Parameters
        ----------
        action : `str`
            What is being attempted (for the message).
        states : `list` [`ScriptState`]
            Allowed states.
        """
        if self._is_exiting:
            raise ExpectedError(f"Cannot {action}: script is exiting")
        states = list(states)
        if self.state.state not in states:
            states_str = ", ".join(ScriptState(state).name for state in states)
            raise ExpectedError(f"Cannot {action}: state={self.state_name} instead of {states_str}")

    def next_supplemented_group_id(self) -> str:
        """Return the group ID followed by ``#<n>``, n = 1, 2, ... (reset by ``setGroupId``).

        Raises
        ------
        RuntimeError
            If there is no group ID.
        """
        if not self.group_id:
            raise RuntimeError("No group ID")
        self._sub_group_id += 1
        return f"{self.group_id}#{self._sub_group_id}"

    async def checkpoint(self, name: str = "") -> None:
        """Stop or pause here if ``name`` matches the stop or pause regex.

        Call only from `run`. The stop regex is checked first. Note that
        the default stop regex "" matches an empty name.

        Parameters
        ----------
        name : `str`, optional
            Checkpoint name.

        Raises
        ------
        RuntimeError
            If not called from `run` while RUNNING.
        asyncio.CancelledError
            If the script is to stop here.
        """
        if self.state.state != ScriptState.RUNNING:
            raise RuntimeError(
                f"checkpoint error: state={self.state_name} instead of RUNNING; "
                "did you call checkpoint from somewhere other than `run`?"
            )
        if self._run_task is None:
            raise RuntimeError("checkpoint error: state is RUNNING but no run_task")
        if self._run_task.done():
            raise RuntimeError("checkpoint error: state is RUNNING but run_task is done")
        self.num_checkpoints += 1
        self.last_checkpoint = name
        if re.fullmatch(self.checkpoints.stop, name):
            await self.set_state(ScriptState.STOPPING)
            raise asyncio.CancelledError(
                f"stop by request: checkpoint {name!r} matches {self.checkpoints.stop!r}"
            )
        elif re.fullmatch(self.checkpoints.pause, name):
            self._pause_future = asyncio.get_running_loop().create_future()
            await self.set_state(ScriptState.PAUSED)
            await self._pause_future
            await self.set_state(ScriptState.RUNNING)
        else:
            await self.set_state(force_output=True)
            await asyncio.sleep(0.001)

    def _set_checkpoints(self, *, pause: str, stop: str) -> None:
        for name, value in (("pause", pause), ("stop", stop)):
            try:
                re.compile(value)
            except Exception as e:
                raise ExpectedError(f"{name}={value!r} not a valid regex: {e}")
        self.evt_checkpoints.set(pause=pause, stop=stop)

    # Commands

    async def do_configure(self, data: typing.Any) -> None:
        """Configure the script; on failure go to CONFIGURE_FAILED and exit."""
        self.assert_state("configure", [ScriptState.UNCONFIGURED])
        config_yaml = data.config
        try:
            if self.config_validator is None:
                if config_yaml:
                    raise RuntimeError(
                        f"This script has no configuration so config={config_yaml} must be empty."
                    )
                config = types.SimpleNamespace()
            else:
                user_config = yaml.safe_load(config_yaml) if config_yaml else {}
                if user_config is None:
                    user_config = {}
                if isinstance(user_config, dict):
                    user_config.pop("metadata", None)
                full_config = self.config_validator.validate(user_config)
                config = types.SimpleNamespace(**full_config)
            await self.configure(config)
        except Exception as e:
            errmsg = f"config({config_yaml}) failed"
            self.log.exception(errmsg)
            full_errmsg = f"{errmsg}: {e}"
            await self.set_state(ScriptState.CONFIGURE_FAILED, reason=full_errmsg)
            await self._exit()
            raise ExpectedError(full_errmsg)

        self._set_checkpoints(pause=data.pauseCheckpoint, stop=data.stopCheckpoint)
        await self.evt_checkpoints.set_write(force_output=True)
        if data.logLevel != 0:
            self.log.setLevel(data.logLevel)
            await self.put_log_level()
        metadata = self.evt_metadata.data
        metadata.coordinateSystem = MetadataCoordSys.NONE
        metadata.rotationSystem = MetadataRotSys.NONE
        metadata.filters = ""
        metadata.dome = MetadataDome.EITHER
        metadata.duration = 0
        self.set_metadata(metadata)
        self.evt_state.set(blockId=data.blockId)
        await self.evt_metadata.write()
        await self.set_state(ScriptState.CONFIGURED)

    async def do_run(self, data: typing.Any) -> None:
        """Run the script and exit; the command completes when the script has finished."""
        self.assert_state("run", [ScriptState.CONFIGURED])
        if not self.group_id:
            raise ExpectedError("Group ID not set")
        try:
            await self.set_state(ScriptState.RUNNING)
            self._run_task = asyncio.create_task(self.run())
            await self._run_task
            await self.set_state(ScriptState.ENDING)
        except asyncio.CancelledError:
            if self.state.state != ScriptState.STOPPING:
                await self.set_state(ScriptState.STOPPING)
        except Exception as e:
            if not isinstance(e, ExpectedError):
                self.log.exception("Error in run")
            await self.set_state(ScriptState.FAILING, reason=f"Error in run: {e}")
        await asyncio.sleep(0.001)
        await self._exit()

    async def do_resume(self, data: typing.Any) -> None:
        """Resume a paused script."""
        self.assert_state("resume", [ScriptState.PAUSED])
        assert self._pause_future is not None
        if not self._pause_future.done():
            self._pause_future.set_result(None)

    async def do_setCheckpoints(self, data: typing.Any) -> None:
        """Set the pause and stop checkpoint regexes (deprecated; use ``configure``)."""
        self.assert_state(
            "setCheckpoints",
            [ScriptState.UNCONFIGURED, ScriptState.CONFIGURED, ScriptState.RUNNING, ScriptState.PAUSED],
        )
        self._set_checkpoints(pause=data.pause, stop=data.stop)
        await self.evt_checkpoints.set_write(force_output=True)

    async def do_setGroupId(self, data: typing.Any) -> None:
        """Set or clear the group ID."""
        self.assert_state("setGroupId", [ScriptState.CONFIGURED])
        await self.evt_state.set_write(groupId=data.groupId, force_output=True)
        self._sub_group_id = 0

    async def do_stop(self, data: typing.Any) -> None:
        """Stop the script: cancel `run` if running, else exit as STOPPED."""
        if self._is_exiting:
            return
        if self._run_task is not None and not self._run_task.done():
            self._run_task.cancel()
        else:
            await self.set_state(ScriptState.STOPPING)
            await self._exit()

    async def _exit(self) -> None:
        """Call `cleanup` (if `run` was started), write the final state and close.

        The script is marked as exiting before `cleanup` is called, so a
        second call (e.g. from a ``stop`` command during cleanup) does
        nothing and `assert_state` refuses further commands.
        """
        if self._is_exiting:
            return
        self._is_exiting = True
        try:
            if self._run_task is not None:
                await self.cleanup()
            self._heartbeat_task.cancel()
            reason = None
            final_state = _FINAL_STATES.get(self.state.state)
            if final_state is None:
                reason = f"unexpected state for _exit {self.state_name}"
                final_state = ScriptState.FAILED
            self.log.info(f"Setting final state to {final_state!r}")
            await self.set_state(final_state, reason=reason, keep_old_reason=True)
            self._start_close()
        except Exception as e:
            if not isinstance(e, ExpectedError):
                self.log.exception("Error in _exit")
            await self.set_state(ScriptState.FAILED, reason=f"failed in _exit: {e}", keep_old_reason=True)
            self._start_close(exception=e)

    def _start_close(self, exception: Exception | None = None) -> None:
        task = asyncio.create_task(self.close(exception=exception))
        self._close_tasks_set.add(task)
        task.add_done_callback(self._close_tasks_set.discard)

    # Command line

    @classmethod
    def make_from_cmd_line(cls, **kwargs: typing.Any) -> BaseScript | None:
        """Make a script from command-line arguments (``index`` and ``--schema``).

        With ``--schema`` print the configuration schema as YAML to stdout
        and return None without making the script.

        Parameters
        ----------
        **kwargs
            Other arguments for the constructor.

        Raises
        ------
        RuntimeError
            If ``index`` is in ``kwargs``.
        """
        if "index" in kwargs:
            raise RuntimeError(f"index must not appear in kwargs={kwargs}")
        parser = argparse.ArgumentParser(f"Run {cls.__name__} from the command line")
        parser.add_argument(
            "index", type=int, help="Script SAL Component index; must be unique among running Scripts"
        )
        parser.add_argument(
            "--schema",
            action="store_true",
            help="Print the configuration schema to stdout and quit without running the script. "
            "The index argument is ignored, though it is still required.",
        )
        args = parser.parse_args()
        if args.schema:
            schema = cls.get_schema()
            if schema is not None:
                print(yaml.safe_dump(schema))
            return None
        return cls(index=args.index, **kwargs)

    @classmethod
    async def amain(cls, **kwargs: typing.Any) -> None:
        """Make a script from the command line, wait for it to finish, and exit.

        The exit code is 0 if the final state is DONE or STOPPED, else 1.

        Parameters
        ----------
        **kwargs
            Other arguments for the constructor.
        """
        script = cls.make_from_cmd_line(**kwargs)
        if script is None:
            return
        try:
            await script.done_task
            await script.close()
        except Exception as e:
            if script.state.state != ScriptState.FAILED:
                warnings.warn(
                    f"Script {cls.__name__} failed in cleanup with {e!r}, "
                    f"but final state {script.state_name} != FAILED",
                    RuntimeWarning,
                )
            sys.exit(1)
        if script.state.state not in {ScriptState.DONE, ScriptState.STOPPED}:
            sys.exit(1)
