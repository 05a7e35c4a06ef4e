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

"""`lsst.ts.calibscripts.calib.metadata`: the duration estimate."""

import pytest
from lsst.ts.calibscripts.calib import metadata
from lsst.ts.calibscripts.calib.config import make_config


def test_estimate_parts() -> None:
    config = make_config({"calib_collection": "c", "n_bias": 20, "n_discard_bias": 1, "n_processes": 9})
    est = metadata.estimate_duration(config, read_out_time=2.0)
    assert est.camera == pytest.approx(21 * (2.0 + metadata.FRAME_OVERHEAD))
    assert est.ingest == metadata.OODS_LATENCY
    # 20 exposures x 9 detectors over 9 processes: 20 rounds of one pair each.
    assert est.bias_job == pytest.approx(metadata.JOB_STARTUP_TIME + 20 * metadata.PAIR_PROCESS_TIME)
    assert est.verify_job == pytest.approx(est.bias_job)
    assert est.total == pytest.approx(est.camera + est.ingest + est.bias_job + est.verify_job + est.certify)


def test_estimate_grows_with_frames_and_shrinks_with_processes() -> None:
    small = metadata.estimate_duration(make_config({"calib_collection": "c", "n_bias": 3}))
    large = metadata.estimate_duration(make_config({"calib_collection": "c", "n_bias": 60}))
    assert large.total > small.total
    slow = metadata.estimate_duration(make_config({"calib_collection": "c", "n_processes": 1}))
    fast = metadata.estimate_duration(make_config({"calib_collection": "c", "n_processes": 16}))
    assert slow.bias_job > fast.bias_job


def test_estimate_resume_and_no_verify() -> None:
    config = make_config(
        {
            "calib_collection": "c",
            "exposure_ids": [2026112500002, 2026112500003],
            "bias_job_id": "abc",
            "do_verify": False,
        }
    )
    est = metadata.estimate_duration(config)
    assert est.camera == 0 and est.ingest == 0
    assert est.bias_job == 0 and est.verify_job == 0
    assert est.certify == metadata.CERTIFY_TIME
    assert est.total == metadata.CERTIFY_TIME
