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

"""The one base of the package's own errors.

Every error that ts_calibscripts raises on purpose derives from
`CalibScriptsError`, so a caller can catch "any error this package
reported" in one clause; each keeps the builtin base its callers rely on
(``ConfigError`` is still a `ValueError`, ``IngestError`` a
`RuntimeError`, ...). This module imports nothing.

Public API
----------
`CalibScriptsError`
    the base (an `Exception`).
"""

from __future__ import annotations

__all__ = ["CalibScriptsError"]


class CalibScriptsError(Exception):
    """Base of every error ts_calibscripts raises on purpose.

    Subclasses also derive from the builtin error their callers catch
    (`ValueError`, `RuntimeError`), e.g.
    ``class ConfigError(CalibScriptsError, ValueError)``.
    """
