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

"""A test-case mixin for SAL scripts, equivalent to ts_standardscripts' ``BaseScriptTestCase``.

Written only against `lsst.ts.calibscripts.sal`, so the same tests run on
the real and the simulated SAL. Use it as upstream does::

    class TestMyScript(BaseScriptTestCase, unittest.IsolatedAsyncioTestCase):
        async def basic_make_script(self, index):
            self.script = MyScript(index=index)
            return [self.script]

        async def test_run(self):
            async with self.make_script():
                await self.configure_script(n=3)
                await self.run_script()
"""

from __future__ import annotations

__all__ = ["BaseScriptTestCase", "MAKE_TIMEOUT"]

import abc
import asyncio
import collections.abc
import contextlib
import itertools
import logging
import os
import pathlib
import subprocess
import sys
import time
import types
import typing

import astropy.time
import yaml

from .. import sal
from ..sal import ScriptState, salobj

#: Time limit for making the script and its helpers and for closing them (s).
MAKE_TIMEOUT = 90

#: Time limit for a script executable to print its schema (s).
SCHEMA_TIMEOUT = 60

_index_counter = itertools.count(1)


class BaseScriptTestCase(metaclass=abc.ABCMeta):
    """Mixin for testing a SAL script.

    Subclasses implement `basic_make_script`, which sets ``self.script``.
    """

    script: typing.Any

    @abc.abstractmethod
    async def basic_make_script(self, index: int) -> collections.abc.Sequence[typing.Any]:
        """Make the script (as ``self.script``) and anything it talks to.

        Parameters
        ----------
        index : `int`
            SAL index for the script.

        Returns
        -------
        items : `list`
            The script, controllers and remotes: each has ``start_task`` and
            ``close()``.
        """
        raise NotImplementedError()

    async def close(self) -> None:
        """Hook called when `make_script` exits, before the items are closed."""
        pass

    def next_index(self) -> int:
        """Return the next SAL index for a script (1, 2, ...)."""
        return next(_index_counter)

    async def wait_for(
        self, coro: collections.abc.Awaitable, timeout: float, description: str, verbose: bool
    ) -> typing.Any:
        """Await ``coro`` with a time limit, optionally printing how long it took.

        Parameters
        ----------
        coro : awaitable
            What to wait for.
        timeout : `float`
            Time limit (s).
        description : `str`
            What is being waited for (for messages).
        verbose : `bool`
            Print the time taken?

        Raises
        ------
        asyncio.TimeoutError
            If ``coro`` does not finish in time.
        """
        t0 = time.monotonic()
        try:
            result = await asyncio.wait_for(coro, timeout=timeout)
        except asyncio.TimeoutError:
            raise asyncio.TimeoutError(f"{description} did not finish within {timeout} s")
        if verbose:
            print(f"{description} took {time.monotonic() - t0:0.2f} s")
        return result

    @contextlib.asynccontextmanager
    async def make_script(
        self,
        log_level: int = logging.INFO,
        timeout: float = MAKE_TIMEOUT,
        verbose: bool = False,
        randomize_topic_subname: bool = False,
    ) -> collections.abc.AsyncIterator[None]:
        """Make the script and its helpers, wait for them to start, and close them on exit.

        Parameters
        ----------
        log_level : `int`, optional
            Unused (as upstream).
        timeout : `float`, optional
            Time limit for making, starting and closing (s).
        verbose : `bool`, optional
            Print timings?
        randomize_topic_subname : `bool`, optional
            Use a random ``LSST_TOPIC_SUBNAME`` (isolates topic history)?
        """
        if hasattr(salobj, "set_test_topic_subname"):
            salobj.set_test_topic_subname(randomize=randomize_topic_subname)
        else:  # pragma: no cover - DDS-era salobj
            salobj.set_random_lsst_dds_partition_prefix()
        items = await self.wait_for(
            self.basic_make_script(index=self.next_index()),
            timeout=timeout,
            description="basic_make_script()",
            verbose=verbose,
        )
        try:
            await self.wait_for(
                asyncio.gather(*[item.start_task for item in items]),
                timeout=timeout,
                description=f"start of {len(items)} items",
                verbose=verbose,
            )
            yield
        finally:
            await self.close()
            await self.wait_for(
                asyncio.gather(*[item.close() for item in items]),
                timeout=timeout,
                description=f"close of {len(items)} items",
                verbose=verbose,
            )

    async def configure_script(self, **kwargs: typing.Any) -> types.SimpleNamespace:
        """Configure the script (any state is reset to UNCONFIGURED) and set a group ID.

        Parameters
        ----------
        **kwargs
            Configuration; dumped to YAML for the ``configure`` command.

        Returns
        -------
        config : `types.SimpleNamespace`
            ``kwargs`` as a namespace.

        Raises
        ------
        salobj.ExpectedError
            If the configuration is rejected.
        """
        script = self.script
        await script.set_state(ScriptState.UNCONFIGURED)
        config_data = script.cmd_configure.DataType()
        if kwargs:
            config_data.config = yaml.safe_dump(kwargs)
        await script.do_configure(config_data)
        if script.state.state != ScriptState.CONFIGURED:
            raise AssertionError(f"state={script.state_name} instead of CONFIGURED after configure")
        group_id_data = script.cmd_setGroupId.DataType()
        group_id_data.groupId = astropy.time.Time.now().isot
        await script.do_setGroupId(group_id_data)
        return types.SimpleNamespace(**kwargs)

    async def run_script(self, expected_final_state: ScriptState = ScriptState.DONE) -> None:
        """Run the configured script, wait for it to finish, and check its final state.

        Parameters
        ----------
        expected_final_state : `ScriptState`, optional
            The state the script must end in.

        Raises
        ------
        AssertionError
            If the final state is not ``expected_final_state``.
        """
        script = self.script
        await script.do_run(script.cmd_run.DataType())
        await script.done_task
        if script.state.state != expected_final_state:
            raise AssertionError(
                f"final state={script.state_name} instead of {ScriptState(expected_final_state).name}; "
                f"reason={script.state.reason!r}"
            )

    async def check_executable(self, script_path: str | os.PathLike) -> None:
        """Check that a script executable exists and is executable.

        If environment variable ``LSST_SAL_SCRIPT_CHECK_BIN`` is set, also
        run it: with the real SAL, start it and wait for it to report
        UNCONFIGURED; with the simulated SAL (which cannot reach another
        process) run it with ``--schema`` and check that it prints a schema
        and exits 0.

        Parameters
        ----------
        script_path : `str` or `os.PathLike`
            Path of the executable.
        """
        if hasattr(salobj, "set_test_topic_subname"):
            salobj.set_test_topic_subname()
        path = pathlib.Path(script_path).resolve()
        if not path.is_file():
            raise AssertionError(f"{path} is not a file")
        if not os.access(path, os.X_OK):
            raise AssertionError(f"{path} is not executable")
        if not os.environ.get("LSST_SAL_SCRIPT_CHECK_BIN"):
            return
        env = dict(os.environ)
        env["PATH"] = f"{path.parent}{os.pathsep}{env.get('PATH', '')}"
        index = self.next_index()
        if sal.BACKEND is sal.Backend.SIM:
            await self._check_schema_output(path, index, env)
        else:  # pragma: no cover - needs a real SAL installation
            await self._check_starts_unconfigured(path, index, env)

    async def _check_schema_output(self, path: pathlib.Path, index: int, env: dict[str, str]) -> None:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(path),
            str(index),
            "--schema",
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=SCHEMA_TIMEOUT)
        if process.returncode != 0:
            raise AssertionError(f"{path} --schema exited with {process.returncode}: {stderr.decode()}")
        if stdout.strip():
            schema = yaml.safe_load(stdout)
            if not isinstance(schema, dict):
                raise AssertionError(f"{path} --schema printed {stdout.decode()!r}, not a schema")

    async def _check_starts_unconfigured(
        self, path: pathlib.Path, index: int, env: dict[str, str]
    ) -> None:  # pragma: no cover - needs a real SAL installation
        async with (
            salobj.Domain() as domain,
            salobj.Remote(domain=domain, name="Script", index=index) as remote,
        ):
            process = await asyncio.create_subprocess_exec(str(path), str(index), env=env)
            try:
                state = await remote.evt_state.next(flush=False, timeout=MAKE_TIMEOUT)
                if state.state != ScriptState.UNCONFIGURED:
                    raise AssertionError(f"{path} started in state {state.state}, not UNCONFIGURED")
            finally:
                if process.returncode is None:
                    process.terminate()
                    await asyncio.wait_for(process.wait(), timeout=MAKE_TIMEOUT)

    async def asyncTearDown(self) -> None:
        """Delete test topics (a no-op on the simulated SAL), then chain up."""
        delete_kafka_topics = getattr(salobj, "delete_kafka_topics", None)
        if delete_kafka_topics is not None:
            await delete_kafka_topics()
        parent = getattr(super(), "asyncTearDown", None)
        if parent is not None:
            await parent()
