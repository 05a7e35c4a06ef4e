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

"""Common behaviour of the mock CSCs, and the image path from camera to OODS.

`SimCsc` is a `salobj.BaseCsc` (written against the public salobj API, so
the mocks also run on the real salobj): it starts in a chosen summary state
and, for configurable components, publishes ``configurationsAvailable`` at
start and ``configurationApplied`` whenever it leaves STANDBY.

`SequenceCounter` allocates image names per observing day and `ImageFeed`
stands for the DAQ → file system path (not SAL): the camera puts each image
read out on it and CCOODS takes them from it, as the real OODS watches for
new files.
"""

from __future__ import annotations

__all__ = ["ImageFeed", "ImageName", "SequenceCounter", "SimCsc", "make_image_name"]

import asyncio
import dataclasses
import json
import os
import pathlib
import typing

from ... import __version__
from ...sal import State, salobj
from ..interfaces import ImageInfo
from ..timing import day_obs_of

MAX_SEQ_NUM = 99_999
"""Largest sequence number that still makes a valid exposure id."""


@dataclasses.dataclass(frozen=True)
class ImageName:
    """An allocated image name and its parts."""

    name: str
    day_obs: int
    seq_num: int
    exposure_id: int


def make_image_name(day_obs: int, seq_num: int, controller: str = "O", camera_code: str = "CC") -> ImageName:
    """Build ``<camera>_<controller>_<dayobs>_<seq:06d>`` and its exposure id.

    Parameters
    ----------
    day_obs : `int`
        Observing day YYYYMMDD.
    seq_num : `int`
        Sequence number within the day (1..99999).
    controller : `str`, optional
        ``O`` (commanded through OCS) or ``C`` (CCS).
    camera_code : `str`, optional
        ``CC`` for LSSTComCam, ``MC`` for LSSTCam, ``AT`` for LATISS.

    Returns
    -------
    image_name : `ImageName`
        e.g. ``CC_O_20261125_000001`` and exposure id ``2026112500001``.
    """
    if not 1 <= seq_num <= MAX_SEQ_NUM:
        raise ValueError(f"seq_num={seq_num} must be in [1, {MAX_SEQ_NUM}]")
    return ImageName(
        name=f"{camera_code}_{controller}_{day_obs}_{seq_num:06d}",
        day_obs=day_obs,
        seq_num=seq_num,
        exposure_id=int(f"{day_obs}{seq_num:05d}"),
    )


class SequenceCounter:
    """Per-day image sequence numbers that never repeat.

    Parameters
    ----------
    first_seq_num : `int`, optional
        First number of each observing day.
    state_path : path-like, optional
        JSON file that remembers the last number of each day across runs
        (e.g. in the butler repository, so that a second run does not reuse
        exposure ids). Read at construction; written with `save`.
    camera_code : `str`, optional
        Obs-id code of the camera's image names (``CC``, ``MC``, ``AT``).
    """

    def __init__(
        self, first_seq_num: int = 1, state_path: str | os.PathLike | None = None, camera_code: str = "CC"
    ) -> None:
        self.first_seq_num = first_seq_num
        self.camera_code = camera_code
        self.state_path = None if state_path is None else pathlib.Path(state_path)
        self._last: dict[int, int] = {}
        # Saves come from several CSCs (camera images, unrelated OODS images);
        # one at a time, each writing the state as it is when its turn comes.
        self._save_lock = asyncio.Lock()
        if self.state_path is not None and self.state_path.exists():
            data = json.loads(self.state_path.read_text())
            self._last = {int(day): int(seq) for day, seq in data.get("last_seq_num", {}).items()}

    def last_seq_num(self, day_obs: int) -> int:
        """Return the last number used on a day (``first_seq_num - 1`` if none)."""
        return self._last.get(day_obs, self.first_seq_num - 1)

    def allocate(self, tai: float, controller: str = "O") -> ImageName:
        """Allocate the next image name for an image started at ``tai``.

        Raises
        ------
        RuntimeError
            If the day's sequence numbers are exhausted.
        """
        day_obs = day_obs_of(tai)
        seq_num = self.last_seq_num(day_obs) + 1
        if seq_num > MAX_SEQ_NUM:
            raise RuntimeError(f"No sequence numbers left for day_obs {day_obs}")
        self._last[day_obs] = seq_num
        return make_image_name(day_obs, seq_num, controller=controller, camera_code=self.camera_code)

    async def save(self) -> None:
        """Write the state file, if any (off the event loop)."""
        if self.state_path is None:
            return
        path = self.state_path
        async with self._save_lock:
            text = json.dumps({"last_seq_num": {str(k): v for k, v in sorted(self._last.items())}}, indent=1)

            def write() -> None:
                tmp = path.with_name(path.name + ".tmp")
                tmp.write_text(text)
                tmp.replace(path)

            await asyncio.to_thread(write)


class ImageFeed:
    """Images read out by the camera, as the DAQ hands them to the OODS."""

    def __init__(self) -> None:
        self._queues: list[asyncio.Queue[ImageInfo]] = []

    def subscribe(self) -> asyncio.Queue[ImageInfo]:
        """Return a queue that receives every image published from now on."""
        queue: asyncio.Queue[ImageInfo] = asyncio.Queue()
        self._queues.append(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[ImageInfo]) -> None:
        """Stop feeding a queue."""
        if queue in self._queues:
            self._queues.remove(queue)

    def publish(self, image: ImageInfo) -> None:
        """Hand an image to every subscriber."""
        for queue in self._queues:
            queue.put_nowait(image)


class SimCsc(salobj.BaseCsc):
    """Base of the mock CSCs.

    Parameters
    ----------
    name : `str`
        SAL component name.
    index : `int` or `None`
        SAL index (indexed components only).
    initial_state : `State`
        Summary state to start in (ENABLED for the demo; STANDBY as a
        freshly started real CSC).
    configurations : `str` or `None`
        For configurable components: the configuration applied when the CSC
        leaves STANDBY (``configurationApplied.configurations``).
    overrides_available : `str`
        ``configurationsAvailable.overrides`` (configurable components).
    **kwargs
        Passed to `salobj.BaseCsc`.
    """

    version = __version__
    valid_simulation_modes = (0,)

    def __init__(
        self,
        name: str,
        index: int | None = None,
        initial_state: State = State.ENABLED,
        configurations: str | None = None,
        overrides_available: str = "",
        **kwargs: typing.Any,
    ) -> None:
        self._configurations = configurations
        self._overrides_available = overrides_available
        self._configured = False
        self._sim_tasks: set[asyncio.Task] = set()
        self._hangs: set[asyncio.Future[None]] = set()
        super().__init__(name=name, index=index, initial_state=State(initial_state), **kwargs)

    @property
    def is_configurable(self) -> bool:
        """True if this component publishes the configuration events."""
        return self._configurations is not None

    async def start(self) -> None:
        await super().start()
        if self.is_configurable:
            await self.evt_configurationsAvailable.set_write(
                overrides=self._overrides_available,
                version=self.version,
                url="file:///sim/config",
                schemaVersion="v1",
            )

    async def handle_summary_state(self) -> None:
        """Publish ``configurationApplied`` when leaving STANDBY."""
        if self.summary_state in (State.DISABLED, State.ENABLED):
            if self.is_configurable and not self._configured:
                self._configured = True
                await self.evt_configurationApplied.set_write(
                    configurations=typing.cast(str, self._configurations),
                    version=self.version,
                    url="file:///sim/config",
                    schemaVersion="v1",
                    otherInfo="",
                    force_output=True,
                )
        elif self.summary_state in (State.STANDBY, State.OFFLINE):
            self._configured = False

    def run_in_background(self, coro: typing.Coroutine[typing.Any, typing.Any, typing.Any]) -> asyncio.Task:
        """Run a coroutine as a task cancelled when the CSC closes."""
        task = asyncio.create_task(coro)
        self._sim_tasks.add(task)
        task.add_done_callback(self._sim_task_done)
        return task

    def _sim_task_done(self, task: asyncio.Task) -> None:
        self._sim_tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.log.error("Background task failed", exc_info=task.exception())

    async def hang(self) -> None:
        """Wait until the CSC closes (a command that is never acknowledged)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._hangs.add(future)
        try:
            await future
        finally:
            self._hangs.discard(future)

    async def close_tasks(self) -> None:
        for future in list(self._hangs):
            future.cancel()
        for task in list(self._sim_tasks):
            task.cancel()
        if self._sim_tasks:
            await asyncio.gather(*self._sim_tasks, return_exceptions=True)
        await super().close_tasks()
