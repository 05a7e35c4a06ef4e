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

"""Sphinx configuration of the ts_calibscripts documentation.

Build with ``python -m sphinx -W -b html doc doc/_build/html``; the build
needs only Sphinx and PyYAML (the package itself is not imported).
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "_ext"))

project = "ts_calibscripts"
author = "Rubin Observatory Telescope and Site Software"
copyright = "2026, Association of Universities for Research in Astronomy, Inc. (AURA)"

extensions = ["schema_table"]

#: The schema the configuration reference is generated from.
schema_table_root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")

templates_path: list[str] = []
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
html_theme = "alabaster"
html_static_path: list[str] = []
html_title = "ts_calibscripts"
# Option values and descriptions are shown exactly as typed.
smartquotes = False
