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

"""A tiny CSC written only from the real ts_salobj API: the ``Test`` component."""

import asyncio
import typing

from lsst.ts.calibscripts.sal import salobj

__version__ = "0.1.0"


class ExampleCsc(salobj.BaseCsc):
    """Echo ``setScalars``/``setArrays`` as events; ``wait`` acks in progress then sleeps."""

    version = __version__
    valid_simulation_modes = (0,)

    def __init__(self, index: int, initial_state: salobj.State = salobj.State.STANDBY) -> None:
        super().__init__(name="Test", index=index, initial_state=initial_state)

    async def do_setScalars(self, data: typing.Any) -> None:
        self.assert_enabled("setScalars")
        fields = {name: getattr(data, name) for name in ("boolean0", "int0", "double0", "string0")}
        await self.evt_scalars.set_write(**fields, force_output=True)
        await self.tel_scalars.set_write(**fields)

    async def do_setArrays(self, data: typing.Any) -> None:
        self.assert_enabled("setArrays")
        await self.evt_arrays.set_write(int0=data.int0, double0=data.double0, force_output=True)

    async def do_fault(self, data: typing.Any) -> None:
        await self.fault(code=1, report="Fault command received")

    async def do_wait(self, data: typing.Any) -> None:
        self.assert_enabled("wait")
        await self.cmd_wait.ack_in_progress(data, timeout=data.duration + 5)
        await asyncio.sleep(data.duration)
