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

"""A long run: 200 frames through the script's camera group, nothing lost, no queue alarms."""

import logging

import pytest
from lsst.ts.calibscripts.sal import ScriptState


@pytest.mark.slow
async def test_200_frames_lose_no_event_and_raise_no_queue_alarm(
    run_bias, caplog: pytest.LogCaptureFixture
) -> None:
    """The camera group's Remotes read every topic; those nobody reads keep
    their newest 100 messages silently (as in salobj), and the topics the
    script reads (imageInOODS through its callback, the camera events it
    waits for) never back up."""
    with caplog.at_level(logging.WARNING):
        run = await run_bias(
            # No repository: nothing is verified or certified (the run stops before cpBias anyway).
            {
                "n_bias": 199,
                "n_discard_bias": 1,
                "n_verify_bias": 0,
                "detectors": list(range(9)),
                "do_verify": False,
                "do_certify": False,
            },
            use_repo=False,
            runner="scripted",
            stop_checkpoint="cp_bias",  # the subject ends with the ingest wait
        )
    assert run.state == ScriptState.STOPPED, run.reason
    assert len(run.observatory.images) == 200
    report = run.script.ingest_report
    assert report is not None and len(report.exposure_ids) == 199
    assert report.n_events == 199 * 9
    queue_alarms = [r.getMessage() for r in caplog.records if "queue" in r.getMessage()]
    assert queue_alarms == []
    ccoods = run.script.comcam.rem.ccoods
    assert ccoods.evt_imageInOODS.nqueued == 0
