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

"""Build hook: keep the ScriptQueue executables executable in the wheel.

Everything else is in ``pyproject.toml``. setuptools copies Python modules
into the build folder without their file mode, but the ScriptQueue runs
``data/scripts/<subdir>/<name>.py`` directly, so those files must keep their
executable bit in the wheel (pip restores it when installing).
"""

import os
import pathlib
import stat

from setuptools import setup
from setuptools.command.build_py import build_py

SCRIPTS_DIR = pathlib.Path("python", "lsst", "ts", "calibscripts", "data", "scripts")


class BuildPyKeepScriptModes(build_py):
    """``build_py`` that copies the executable bit of the SAL script files."""

    def run(self) -> None:
        super().run()
        for source in SCRIPTS_DIR.rglob("*.py"):
            mode = source.stat().st_mode
            if not mode & stat.S_IXUSR:
                continue
            built = pathlib.Path(self.build_lib, *source.parts[1:])
            if built.exists():
                os.chmod(built, built.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


setup(cmdclass={"build_py": BuildPyKeepScriptModes})
