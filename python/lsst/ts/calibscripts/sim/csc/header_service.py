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

"""Mock header service (CCHeaderService, MTHeaderService, ATHeaderService).

One ``largeFileObjectAvailable`` per image. Like the real HeaderService it
listens to its camera (CCCamera, MTCamera, ATCamera) through SAL (a Remote)
and publishes the header's Large File Object announcement after the
camera's ``endOfImageTelemetry``.
"""

from __future__ import annotations

__all__ = ["CCHeaderServiceCsc", "HeaderServiceCsc"]

import hashlib

from ...cameras import COMCAM, CameraProfile
from ...sal import State, salobj
from ..faults import HeaderServiceFaults, image_key_matches
from ..timing import Timing
from .base import SimCsc


class HeaderServiceCsc(SimCsc):
    """Mock header service of a camera.

    Parameters
    ----------
    profile : `CameraProfile`, optional
        The camera (default LSSTComCam).
    initial_state : `State`, optional
        Initial summary state.
    timing : `Timing`, optional
        Durations and time scale (`Timing.header_delay`).
    faults : `HeaderServiceFaults`, optional
        Injected faults.

    Attributes
    ----------
    images_seen : `int`
        ``endOfImageTelemetry`` events received.
    """

    def __init__(
        self,
        profile: CameraProfile = COMCAM,
        initial_state: State = State.ENABLED,
        timing: Timing | None = None,
        faults: HeaderServiceFaults | None = None,
    ) -> None:
        self.profile = profile
        self.timing = timing or Timing()
        self.faults = faults or HeaderServiceFaults()
        self.images_seen = 0
        super().__init__(name=profile.header_service_component, initial_state=initial_state)
        self.camera = salobj.Remote(
            self.domain,
            profile.camera_component,
            readonly=True,
            include=["endOfImageTelemetry"],
            evt_max_history=0,
        )
        self.camera.evt_endOfImageTelemetry.callback = self._end_of_image_telemetry

    async def _end_of_image_telemetry(self, data: salobj.type_hints.BaseMsgType) -> None:
        self.images_seen += 1
        frame = self.images_seen
        if self.summary_state != State.ENABLED:
            self.log.warning(f"No header written for {data.imageName}: state is {self.summary_state!r}")
            return
        self.run_in_background(self._write_header(data.imageName, frame))

    async def _write_header(self, image_name: str, frame: int) -> None:
        parts = image_name.split("_")
        exposure_id = int(parts[2] + parts[3][1:]) if len(parts) == 4 and parts[3].isdigit() else -1
        if any(image_key_matches(key, frame, image_name, exposure_id) for key in self.faults.missing):
            self.log.warning(f"Simulated fault: no largeFileObjectAvailable for {image_name}")
            return
        await self.timing.sleep(self.timing.header_delay)
        header = f"OBSID: {image_name}\nINSTRUME: {self.profile.group_name}\n".encode()
        await self.evt_largeFileObjectAvailable.set_write(
            url=f"http://lfa.sim/{self.salinfo.name}/header/{image_name}.yaml",
            generator=self.salinfo.name,
            version=1,
            byteSize=len(header),
            checkSum=hashlib.md5(header).hexdigest(),
            mimeType="YAML",
            id=image_name,
            force_output=True,
        )

    async def close_tasks(self) -> None:
        await super().close_tasks()
        await self.camera.close()


CCHeaderServiceCsc = HeaderServiceCsc
"""The mock CCHeaderService: `HeaderServiceCsc` with the LSSTComCam profile (its default)."""
