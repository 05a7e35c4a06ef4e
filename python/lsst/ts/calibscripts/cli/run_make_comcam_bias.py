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

"""``run_make_comcam_bias``: run MakeComCamBias in this process.

It does what ts_scriptqueue's ``run_one_script`` does, without starting a
separate process: it makes the script with a SAL index, then, through a
`Remote` to the Script component (as the ScriptQueue does), sends
``configure`` with the YAML text, ``setGroupId`` with the current TAI time,
and ``run``; it prints the script's ``logMessage`` events and progress, and
exits with the final state: 0 only for DONE.

It runs on whatever SAL `lsst.ts.calibscripts.sal` selects: the real
ts_salobj on a test stand (talking to real CSCs), or the simulated SAL.
With ``--simulate`` it first starts the simulated observatory in the same
process (mock CCCamera, CCHeaderService, CCOODS and OCPS:2, all ENABLED, on
a real butler repository) and points the script's ``repo`` at it.

Examples::

    run_make_comcam_bias --simulate
    run_make_comcam_bias my_config.yaml --simulate --noisy 4=1.3
    run_make_comcam_bias my_config.yaml --index 12 --log-level DEBUG
    run_make_comcam_bias --schema

It is ``run_calib_script make_comcam_bias`` (`lsst.ts.calibscripts.cli.command`).
"""

from __future__ import annotations

__all__ = ["amain", "build_parser", "expected_counts", "main", "patch_config", "run_script"]

import argparse
import sys
import typing

from . import command
from .command import parse_log_level, patch_config  # noqa: F401 (this command's names)
from .progress import Progress
from .registry import get_script

ENTRY = get_script("make_comcam_bias")
"""The script this command runs."""
PROG = "run_make_comcam_bias"


def build_parser() -> argparse.ArgumentParser:
    """Return the command-line parser."""
    return command.build_parser(ENTRY, PROG)


def expected_counts(config_text: str) -> tuple[int | None, int]:
    """Return (frames the script will take, detectors per frame), using schema defaults.

    The number of frames is None if the configuration cannot be read.
    """
    return command.expected_counts(config_text, ENTRY)


async def run_script(
    config_text: str, index: int, log_level: int, progress: Progress, out: typing.TextIO
) -> tuple[int, str, str, list[str]]:
    """Make, configure and run MakeComCamBias; see `lsst.ts.calibscripts.cli.command.run_script`."""
    return await command.run_script(ENTRY, config_text, index, log_level, progress, out)


async def amain(args: argparse.Namespace, config_text: str, out: typing.TextIO | None = None) -> int:
    """Run the script (and the simulated observatory with ``--simulate``); return the exit code."""
    return await command.amain(ENTRY, args, config_text, out, run=run_script)


def main(argv: typing.Sequence[str] | None = None) -> int:
    """Entry point of ``run_make_comcam_bias``; returns the exit code."""
    return command.main(ENTRY, argv, PROG, run_main=amain)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
