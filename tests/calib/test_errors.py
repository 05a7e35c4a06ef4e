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

"""`lsst.ts.calibscripts.errors`: one base for the package's errors."""

import pytest
from lsst.ts.calibscripts.calib import butler_ops, config, ingest, ocps
from lsst.ts.calibscripts.errors import CalibScriptsError
from lsst.ts.calibscripts.sim.runners._common import RunOptionsError


@pytest.mark.parametrize(
    "error, builtin",
    [
        (config.ConfigError, ValueError),
        (ingest.IngestError, RuntimeError),
        (ingest.IngestFailed, RuntimeError),
        (ingest.IngestTimeout, RuntimeError),
        (ocps.OcpsError, RuntimeError),
        (ocps.JobFailed, RuntimeError),
        (ocps.JobTimeout, RuntimeError),
        (ocps.RepoMismatch, RuntimeError),
        (ocps.CscNotReady, RuntimeError),
        (butler_ops.CertificationError, RuntimeError),
        (butler_ops.CertificationConflict, RuntimeError),
        (butler_ops.RepoNotUsable, RuntimeError),
        (butler_ops.VerifyStatsNotFound, RuntimeError),
        (RunOptionsError, ValueError),
    ],
)
def test_every_error_has_the_one_base_and_keeps_its_builtin(error: type, builtin: type) -> None:
    assert issubclass(error, CalibScriptsError)
    assert issubclass(error, builtin)


def test_config_error_is_caught_by_the_base() -> None:
    with pytest.raises(CalibScriptsError, match="^detectors: "):
        config.make_config({"calib_collection": "a/b", "detectors": [9]})
