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

"""The scripted runner: no pipeline work, but a log and, on success, the job's collections."""

from lsst.ts.calibscripts.sim.faults import JobAction, JobScript
from lsst.ts.calibscripts.sim.interfaces import JobPhase
from lsst.ts.calibscripts.sim.runners.scripted import ScriptedRunner

from .conftest import make_request

QUERY = "instrument='LSSTComCam' AND detector IN (0) AND exposure IN (2026112500001)"


def collection_type(repo: str, name: str) -> str | None:
    from lsst.daf.butler import Butler, MissingCollectionError

    butler = Butler.from_config(repo)
    try:
        return butler.collections.get_info(name).type.name
    except MissingCollectionError:
        return None
    finally:
        butler.close()


async def test_completed_job_leaves_its_collections_and_log(small_repo, tmp_path) -> None:
    runner = ScriptedRunner(
        {"cpBias": JobAction.SUCCEED, "fail": JobScript(JobAction.FAIL, message="NOISE out of range")},
        duration=0.0,
        log_dir=str(tmp_path / "jobs"),
    )
    request = make_request(small_repo, "cpBias.yaml", QUERY)
    outcome = await runner.run(request)
    assert outcome.phase is JobPhase.COMPLETED
    assert outcome.log_path == str(tmp_path / "jobs" / request.job_id / "out" / "ocps.log")
    assert request.job_id in open(outcome.log_path).read()
    assert collection_type(small_repo, f"u/ocps/{request.job_id}") == "CHAINED"
    assert collection_type(small_repo, f"u/ocps/{request.job_id}/run") == "RUN"

    failed = make_request(small_repo, "fail.yaml", QUERY)
    outcome = await runner.run(failed)
    assert outcome.phase is JobPhase.ERROR
    assert "ERROR: NOISE out of range" in open(outcome.log_path).read()
    assert collection_type(small_repo, f"u/ocps/{failed.job_id}") is None


async def test_no_repository_no_collections(tmp_path) -> None:
    runner = ScriptedRunner(duration=0.0)
    outcome = await runner.run(make_request("", "cpBias.yaml", QUERY))
    assert outcome.phase is JobPhase.COMPLETED and outcome.log_path is None
    # A butler that is not a repository here (another instrument's): nothing written beside it.
    elsewhere = tmp_path / "elsewhere"
    outcome = await runner.run(make_request(str(elsewhere), "cpBias.yaml", QUERY))
    assert outcome.phase is JobPhase.COMPLETED and outcome.log_path is None
    assert list(tmp_path.iterdir()) == []
