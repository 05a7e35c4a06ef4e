#!/usr/bin/env python
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

"""A tiny SAL script written only from the real ts_salobj API.

It enables nothing and commands one CSC: it sends ``setScalars`` to a
``Test`` CSC, waits for the ``scalars`` event that confirms it, and
reports the value in a log message.
"""

import asyncio
import types
import typing

import yaml
from lsst.ts.calibscripts.sal import ScriptState, salobj


class ExampleScript(salobj.BaseScript):
    """Send ``setScalars(int0=value)`` to ``Test:<csc_index>`` and check the echo."""

    def __init__(self, index: int) -> None:
        super().__init__(index=index, descr="Send a value to a Test CSC and check the echo")
        self.remote: salobj.Remote | None = None
        self.config: types.SimpleNamespace | None = None

    @classmethod
    def get_schema(cls) -> dict[str, typing.Any]:
        return yaml.safe_load("""
            $schema: http://json-schema.org/draft-07/schema#
            $id: https://github.com/lsst-ts/ts_calibscripts/tests/simsal/examples/example_script.yaml
            title: ExampleScript v1
            type: object
            properties:
              csc_index:
                description: SAL index of the Test CSC.
                type: integer
                minimum: 1
              value:
                description: Value to send.
                type: integer
                default: 42
              timeout:
                description: Time limit for the command and the echo (s).
                type: number
                exclusiveMinimum: 0
                default: 10
            required: [csc_index]
            additionalProperties: false
            """)

    async def configure(self, config: types.SimpleNamespace) -> None:
        self.config = config
        if self.remote is None:
            self.remote = salobj.Remote(self.domain, "Test", index=config.csc_index, include=["scalars"])
            await self.remote.start_task

    def set_metadata(self, metadata: typing.Any) -> None:
        metadata.duration = 1

    async def run(self) -> None:
        assert self.remote is not None and self.config is not None
        await self.checkpoint("send")
        self.remote.evt_scalars.flush()
        await self.remote.cmd_setScalars.set_start(int0=self.config.value, timeout=self.config.timeout)
        data = await self.remote.evt_scalars.next(flush=False, timeout=self.config.timeout)
        if data.int0 != self.config.value:
            raise salobj.ExpectedError(f"Echo {data.int0} != sent {self.config.value}")
        self.log.info(f"Test:{self.config.csc_index} echoed {data.int0}")
        await self.checkpoint("done")

    async def cleanup(self) -> None:
        if self.state.state != ScriptState.ENDING:
            self.log.warning(f"Cleaning up after state {self.state_name}")


if __name__ == "__main__":
    asyncio.run(ExampleScript.amain())
