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

"""What ``run_make_comcam_bias`` shows while the script runs.

On a terminal, a status line is redrawn in place under the log messages::

    [4/8 cp_bias] frames 6/6 | ingested 54/54 | job running 00:42 | elapsed 01:31

When the output is not a terminal (a log file, CI) only the log messages,
one line per stage and the final result are printed: no redrawn line.
"""

from __future__ import annotations

__all__ = ["Progress", "format_duration"]

import dataclasses
import time
import typing

from ..calib.stages import NUM_STAGES, Stage

#: Stages during which an OCPS job is running.
JOB_STAGES = (Stage.CP_BIAS.value, Stage.VERIFY_BIAS.value)


def format_duration(seconds: float) -> str:
    """Format seconds as ``MM:SS`` (or ``H:MM:SS``)."""
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


@dataclasses.dataclass
class Progress:
    """Progress of one script run, fed by SAL events.

    Parameters
    ----------
    stream : file-like
        Where to write (standard output).
    live : `bool`
        Redraw a status line (a terminal); otherwise print lines only.
    n_frames : `int` or `None`
        Frames the script will take (None if unknown).
    n_detectors : `int`
        Detectors per frame.
    clock : callable
        Monotonic clock (seconds).
    announce_stages : `bool`
        Print a line when a stage starts (the script itself logs its stages
        at INFO level, so this is for quieter log levels).
    """

    stream: typing.TextIO
    live: bool
    n_frames: int | None = None
    n_detectors: int = 9
    clock: typing.Callable[[], float] = time.monotonic
    announce_stages: bool = True
    stage: str = ""
    state: str = ""
    frames: int = 0
    ingested: int = 0
    ingest_failed: int = 0
    started: float | None = None
    stage_started: float | None = None
    _image_names: set[str] = dataclasses.field(default_factory=set)
    _line_shown: bool = False

    # Event handlers

    def on_state(self, state_name: str, checkpoint: str) -> None:
        """Handle a Script ``state`` event (state name and ``lastCheckpoint``)."""
        if state_name == "RUNNING" and self.started is None:
            self.started = self.clock()
        if state_name != self.state and state_name in ("PAUSED", "STOPPING", "FAILING"):
            self.print(f"Script state: {state_name}")
        self.state = state_name
        if checkpoint and checkpoint != self.stage:
            self.stage = checkpoint
            self.stage_started = self.clock()
            if not self.announce_stages:
                self.redraw()
                return
            try:
                stage = Stage.from_name(checkpoint)
                self.print(f"Stage {stage.number}/{NUM_STAGES} {stage.value}: {stage.title}")
            except ValueError:
                self.print(f"Checkpoint {checkpoint}")

    def on_end_readout(self, image_name: str) -> None:
        """Handle a CCCamera ``endReadout`` event of one of the script's frames."""
        if self.started is None or image_name in self._image_names:
            return
        self._image_names.add(image_name)
        self.frames += 1
        self.redraw()

    def on_image_in_oods(self, obsid: str, status_code: int) -> None:
        """Handle a CCOODS ``imageInOODS`` event; other scripts' images are ignored."""
        if obsid not in self._image_names:
            return
        if status_code == 0:
            self.ingested += 1
        else:
            self.ingest_failed += 1
        self.redraw()

    # Output

    def status_line(self) -> str:
        """Return the one-line status, e.g. ``[4/8 cp_bias] frames 6/6 | ...``."""
        parts = []
        try:
            stage = Stage.from_name(self.stage)
            parts.append(f"[{stage.number}/{NUM_STAGES} {stage.value}]")
        except ValueError:
            parts.append(f"[{self.state or 'starting'}]")
        total = "?" if self.n_frames is None else str(self.n_frames)
        parts.append(f"frames {self.frames}/{total}")
        expected = "?" if self.n_frames is None else str(self.n_frames * self.n_detectors)
        ingest = f"ingested {self.ingested}/{expected}"
        if self.ingest_failed:
            ingest += f" ({self.ingest_failed} failed)"
        parts.append(ingest)
        now = self.clock()
        if self.stage in JOB_STAGES and self.stage_started is not None and self.state == "RUNNING":
            parts.append(f"job running {format_duration(now - self.stage_started)}")
        if self.started is not None:
            parts.append(f"elapsed {format_duration(now - self.started)}")
        return parts[0] + " " + " | ".join(parts[1:])

    def _clear(self) -> None:
        if self.live and self._line_shown:
            self.stream.write("\r\x1b[2K")
            self._line_shown = False

    def redraw(self) -> None:
        """Redraw the status line (terminal only)."""
        if not self.live:
            return
        self._clear()
        self.stream.write(self.status_line())
        self.stream.flush()
        self._line_shown = True

    def print(self, text: str) -> None:
        """Print a permanent line (above the status line on a terminal)."""
        self._clear()
        self.stream.write(text + "\n")
        self.stream.flush()
        self.redraw()

    def finish(self) -> None:
        """Remove the status line for good."""
        self._clear()
        self.live = False
