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

"""``run_calib_script``: run any of the package's SAL scripts in this process.

``run_calib_script <script> [config] [options]`` runs the script called
``<script>`` in `lsst.ts.calibscripts.cli.registry` (``make_comcam_bias``,
``make_comcam_calibrations``, ...) as ``run_make_comcam_bias`` runs the bias
script: the same options, ``--simulate`` included (see
`lsst.ts.calibscripts.cli.command`). ``run_calib_script --list`` lists the
scripts.

``run_make_comcam_calibrations`` is ``run_calib_script
make_comcam_calibrations``.

Examples::

    run_calib_script --list
    run_calib_script make_comcam_calibrations --simulate
    run_calib_script make_comcam_calibrations my_config.yaml --simulate --fail-job cp_dark
    run_make_comcam_calibrations --schema
"""

from __future__ import annotations

__all__ = ["main", "main_make_comcam_calibrations"]

import sys
import typing

from . import command
from .registry import SCRIPTS, get_script

PROG = "run_calib_script"
USAGE = f"""usage: {PROG} SCRIPT [config] [options]   (or {PROG} SCRIPT --help, {PROG} --list)

Run one of the package's SAL scripts in this process and exit 0 only if it ends DONE.
With --simulate, first start a simulated observatory of the script's camera.
"""


def _listing() -> str:
    lines = ["scripts:"]
    for entry in SCRIPTS.values():
        lines.append(f"  {entry.name:<28} {entry.class_name} (camera {entry.camera.instrument})")
    return "\n".join(lines) + "\n"


def main(argv: typing.Sequence[str] | None = None) -> int:
    """Entry point of ``run_calib_script``; returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        sys.stdout.write(USAGE + "\n" + _listing())
        return 0 if args else command.EXIT_NOT_RUN
    if args[0] == "--list":
        sys.stdout.write(_listing())
        return 0
    try:
        entry = get_script(args[0])
    except KeyError as e:
        sys.stderr.write(f"{PROG}: {e.args[0]}\n")
        return command.EXIT_NOT_RUN
    return command.main(entry, args[1:], prog=f"{PROG} {entry.name}")


def main_make_comcam_calibrations(argv: typing.Sequence[str] | None = None) -> int:
    """Entry point of ``run_make_comcam_calibrations``; returns the exit code."""
    return command.main(get_script("make_comcam_calibrations"), argv, prog="run_make_comcam_calibrations")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
