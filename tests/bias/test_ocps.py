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

"""Tests of bias.ocps against a tiny OCPS-like controller on the simulated SAL."""

import asyncio
import contextlib
import json
import typing
import uuid

import pytest
from lsst.ts.calibscripts.bias import ocps
from lsst.ts.calibscripts.sal import SalRetCode, State, salobj

QUERY = "instrument='LSSTComCam' AND detector IN (0) AND exposure IN (2026112500001)"


class TinyOcps(salobj.Controller):
    """OCPS:2 as dm_OCPS behaves, with knobs.

    ``plan`` maps the pipeline name to what the job does: ``(delay, exit_code)``,
    ``"hang"`` (until aborted) or ``"reject"``.
    """

    def __init__(self) -> None:
        super().__init__("OCPS", index=2, do_callbacks=True, allow_missing_callbacks=True)
        self.cmd_execute.allow_multiple_callbacks = True
        self.plan: dict[str, typing.Any] = {}
        self.executes: list[typing.Any] = []
        self.aborts: list[str] = []
        self.legacy_cmd_ack = False
        self.json_job_id = True
        self.fail_abort = False
        self.jobs: dict[str, asyncio.Future] = {}

    async def do_execute(self, data: typing.Any) -> None:
        self.executes.append(data)
        action = self.plan.get(data.pipeline, (0.0, 0))
        if action == "reject":
            raise salobj.ExpectedError("execute not allowed in state=<State.DISABLED: 1>")
        job_id = uuid.uuid4().hex
        if self.legacy_cmd_ack:
            ackcmd = self.salinfo.make_ackcmd(private_seqNum=data.private_seqNum, ack=SalRetCode.CMD_ACK)
            await self.cmd_execute.ack(data, ackcmd)
        await self.cmd_execute.ack_in_progress(data, timeout=600, result=json.dumps({"job_id": job_id}))
        finished: asyncio.Future = asyncio.get_running_loop().create_future()
        self.jobs[job_id] = finished
        if action == "hang":
            await finished
            return
        if action == "fail_after_progress":
            await asyncio.sleep(0.05)  # dm_OCPS polls the back end before it can fail
            raise salobj.ExpectedError("lost contact with the UWS back end")
        if action == "fail_at_once":
            raise salobj.ExpectedError("lost contact with the UWS back end")
        if action == "result_then_fail":
            await self.write_result(job_id, 1, "error")
            raise salobj.ExpectedError("lost contact with the UWS back end")
        delay, exit_code = action
        await asyncio.sleep(delay)
        await self.write_result(job_id, exit_code, "completed" if exit_code == 0 else "error")

    async def write_result(self, job_id: str, exit_code: int, final_phase: str) -> None:
        document: dict[str, typing.Any] = {
            # dm_OCPS reports the submission document: the phase is stale.
            "phase": "pending",
            "errorSummary": {"message": "" if exit_code == 0 else "pipetask failed: NOISE out of range"},
            "results": [{"id": "log", "uri": f"file:///jobs/{job_id}/out/ocps.log"}],
        }
        if self.json_job_id:
            document["jobId"] = job_id
        await self.evt_job_result.set_write(
            job_id=job_id, exit_code=exit_code, result=json.dumps(document), force_output=True
        )
        self.jobs[job_id].set_result(None) if not self.jobs[job_id].done() else None

    async def do_abort_job(self, data: typing.Any) -> None:
        self.aborts.append(data.job_id)
        if self.fail_abort or data.job_id not in self.jobs:
            raise salobj.ExpectedError(f"Unknown job {data.job_id}")
        await self.evt_job_result.set_write(
            job_id=data.job_id, exit_code=255, result=json.dumps({"phase": "aborted"}), force_output=True
        )
        if not self.jobs[data.job_id].done():
            self.jobs[data.job_id].set_result(None)


@contextlib.asynccontextmanager
async def ocps_pair(
    stale_result: bool = False,
) -> typing.AsyncIterator[tuple[TinyOcps, ocps.OcpsJobClient]]:
    controller = TinyOcps()
    await controller.start_task
    await controller.evt_summaryState.set_write(summaryState=State.ENABLED)
    if stale_result:
        await controller.evt_job_result.set_write(job_id="old", exit_code=1, result="{}", force_output=True)
    domain = salobj.Domain()
    client = ocps.OcpsJobClient.make(domain, job_timeout=10, ack_timeout=5, result_grace=0.3)
    await client.start()
    try:
        yield controller, client
    finally:
        client.close()
        await client.remote.close()
        await domain.close()
        await controller.close()


async def test_job_completes_and_is_judged_by_exit_code() -> None:
    async with ocps_pair(stale_result=True) as (controller, client):
        seen: list[str] = []
        result = await client.run_job(
            "cp_bias", "cpBias.yaml", "-j 2 -i LSSTComCam/calib", QUERY, on_job_id=seen.append
        )
        assert result.succeeded and result.exit_code == 0
        assert result.phase == "pending"  # stale phase does not matter
        assert seen == [result.job_id] and len(result.job_id) == 32
        assert result.output_collection == f"u/ocps/{result.job_id}"
        assert result.output_run == f"u/ocps/{result.job_id}/run"
        assert result.log_path == f"file:///jobs/{result.job_id}/out/ocps.log"
        assert result.final_ack.startswith("CMD_COMPLETE") or result.final_ack == "final ack already received"
        (execute,) = controller.executes
        assert (execute.pipeline, execute.config, execute.data_query) == (
            "cpBias.yaml",
            "-j 2 -i LSSTComCam/calib",
            QUERY,
        )
        assert client.active_jobs == {}


async def test_failed_job_raises_with_actionable_message() -> None:
    async with ocps_pair() as (controller, client):
        controller.plan["cpBias.yaml"] = (0.05, 1)
        with pytest.raises(ocps.JobFailed) as excinfo:
            await client.run_job("cp_bias", "cpBias.yaml", "", QUERY)
        error = excinfo.value
        job_id = error.result.job_id
        text = str(error)
        assert f"cp_bias job {job_id} failed (exit_code 1)" in text
        assert "pipetask failed: NOISE out of range" in text
        assert f"log: file:///jobs/{job_id}/out/ocps.log" in text
        assert client.active_jobs == {}
        result = await client.run_job("cp_bias", "cpBias.yaml", "", QUERY, raise_on_failure=False)
        assert result.exit_code == 1 and not result.succeeded


async def test_instant_job_result_before_final_ack() -> None:
    # The job ends at once: job_result and CMD_COMPLETE arrive before the client asks.
    async with ocps_pair() as (controller, client):
        controller.plan["true.yaml"] = (0.0, 0)
        controller.json_job_id = False  # like dm_OCPS simulation mode: no jobId in the JSON
        results = [await client.run_job("verify_bias", "true.yaml", "", QUERY) for _ in range(3)]
        assert all(r.succeeded for r in results)
        assert len({r.job_id for r in results}) == 3
        # The race really happened: the command was finished before next_ackcmd could be called.
        assert "final ack already received" in {r.final_ack for r in results}


async def test_concurrent_jobs_do_not_steal_results() -> None:
    async with ocps_pair() as (controller, client):
        controller.plan["slow_ok.yaml"] = (0.3, 0)
        controller.plan["fast_fail.yaml"] = (0.05, 1)
        slow, fast = await asyncio.gather(
            client.run_job("a", "slow_ok.yaml", "", QUERY),
            client.run_job("b", "fast_fail.yaml", "", QUERY, raise_on_failure=False),
        )
        assert slow.exit_code == 0 and fast.exit_code == 1
        assert slow.job_id != fast.job_id
        assert slow.result is not None and slow.result["jobId"] == slow.job_id


async def test_legacy_cmd_ack_first_is_tolerated() -> None:
    async with ocps_pair() as (controller, client):
        controller.legacy_cmd_ack = True
        controller.plan["x.yaml"] = (0.05, 0)
        assert (await client.run_job("cp_bias", "x.yaml", "", QUERY)).succeeded


async def test_execute_fails_after_the_job_started() -> None:
    async with ocps_pair() as (controller, client):
        controller.plan["lost.yaml"] = "fail_after_progress"
        with pytest.raises(ocps.JobFailed, match="execute ended with CMD_FAILED.*lost contact") as excinfo:
            await client.run_job("cp_bias", "lost.yaml", "", QUERY)
        # The job may still run on the back end: it stays active so cleanup aborts it.
        assert client.active_jobs == {excinfo.value.result.job_id: "cp_bias"}
        controller.plan["both.yaml"] = "result_then_fail"
        with pytest.raises(ocps.JobFailed, match="exit_code 1.*NOISE out of range"):
            await client.run_job("cp_bias", "both.yaml", "", QUERY)
        # Failing at once: the final ack arrives before it can be asked for (salobj forgets
        # finished commands), so only the missing job_result tells; the job stays active.
        controller.plan["at_once.yaml"] = "fail_at_once"
        with pytest.raises(
            ocps.JobTimeout, match="no job_result for it arrived within 0.3 s"
        ) as timeout_info:
            await client.run_job("cp_bias", "at_once.yaml", "", QUERY)
        assert timeout_info.value.job_id in client.active_jobs


async def test_rejected_execute() -> None:
    async with ocps_pair() as (controller, client):
        controller.plan["x.yaml"] = "reject"
        with pytest.raises(ocps.JobSubmitError, match="rejected execute for cp_bias: CMD_FAILED.*DISABLED"):
            await client.run_job("cp_bias", "x.yaml", "", QUERY)
        assert client.active_jobs == {}


async def test_timeout_leaves_job_active_and_abort_unfinished_aborts_it() -> None:
    async with ocps_pair() as (controller, client):
        controller.plan["hang.yaml"] = "hang"
        with pytest.raises(ocps.JobTimeout, match="did not end within 0.2 s") as excinfo:
            await client.run_job("cp_bias", "hang.yaml", "", QUERY, timeout=0.2)
        job_id = excinfo.value.job_id
        assert client.active_jobs == {job_id: "cp_bias"}
        outcomes = await client.abort_unfinished()
        assert [(o.job_id, o.ok) for o in outcomes] == [(job_id, True)]
        assert controller.aborts == [job_id]
        assert client.active_jobs == {}
        assert await client.abort_unfinished() == []


async def test_cancelled_run_is_aborted_at_cleanup_and_abort_failure_tolerated() -> None:
    async with ocps_pair() as (controller, client):
        controller.plan["hang.yaml"] = "hang"
        controller.fail_abort = True
        started = asyncio.Event()
        task = asyncio.create_task(
            client.run_job("verify_bias", "hang.yaml", "", QUERY, on_job_id=lambda _: started.set())
        )
        await asyncio.wait_for(started.wait(), 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        (job_id,) = client.active_jobs
        outcomes = await client.abort_unfinished()
        assert len(outcomes) == 1 and not outcomes[0].ok
        assert "Unknown job" in outcomes[0].message
        assert controller.aborts == [job_id]
        assert client.active_jobs == {}


async def test_no_ocps_running() -> None:
    domain = salobj.Domain()
    client = ocps.OcpsJobClient.make(domain, ack_timeout=0.2)
    try:
        await client.start()
        with pytest.raises(ocps.JobSubmitError, match="did not acknowledge execute"):
            await client.run_job("cp_bias", "x.yaml", "", QUERY)
    finally:
        client.close()
        await client.remote.close()
        await domain.close()


async def test_preflight_checks() -> None:
    async with ocps_pair() as (controller, client):
        oods = salobj.Controller("CCOODS")
        await oods.start_task
        await oods.evt_summaryState.set_write(summaryState=State.DISABLED)
        domain = client.remote.salinfo.domain
        remotes = [
            client.remote,
            salobj.Remote(domain, "CCOODS"),
            salobj.Remote(domain, "CCHeaderService"),
        ]
        await asyncio.gather(*(r.start_task for r in remotes[1:]))
        try:
            states = await ocps.check_enabled(remotes[:1], timeout=1)
            assert states == {"OCPS:2": State.ENABLED}
            with pytest.raises(ocps.CscNotReady) as excinfo:
                await ocps.check_enabled(remotes, timeout=0.2)
            assert excinfo.value.problems == {
                "CCOODS": "DISABLED (must be ENABLED)",
                "CCHeaderService": "no summaryState within 0.2 s (is it running?)",
            }
            assert "CCOODS: DISABLED" in str(excinfo.value)

            with pytest.raises(ocps.CscNotReady, match="no configurationApplied"):
                await ocps.check_ocps_configuration(client.remote, timeout=0.2)
            await controller.evt_configurationApplied.set_write(configurations="_init.yaml,LATISS.yaml")
            with pytest.raises(ocps.CscNotReady, match="not for LSSTComCam"):
                await ocps.check_ocps_configuration(client.remote, timeout=1)
            await controller.evt_configurationApplied.set_write(configurations="_init.yaml,LSSTComCam.yaml")
            await asyncio.sleep(0.05)
            assert "LSSTComCam.yaml" in await ocps.check_ocps_configuration(client.remote, timeout=1)
        finally:
            for remote in remotes[1:]:
                await remote.close()
            await oods.close()


async def test_against_the_simulated_observatory_ocps() -> None:
    """The client works with the package's mock OCPS:2 (succeed, fail, hang + abort)."""
    from lsst.ts.calibscripts.sim.csc.ocps import OCPSCsc
    from lsst.ts.calibscripts.sim.runners.scripted import ScriptedRunner
    from lsst.ts.calibscripts.sim.timing import Timing

    runner = ScriptedRunner({"cpBias": "succeed", "verifyBias": "fail", "hang": "hang"}, duration=0.05)
    csc = OCPSCsc(job_runner=runner, timing=Timing(time_scale=0.01))
    await csc.start_task
    domain = salobj.Domain()
    client = ocps.OcpsJobClient.make(domain, job_timeout=10, ack_timeout=5)
    try:
        await client.start()
        assert await ocps.check_enabled([client.remote], timeout=2) == {"OCPS:2": State.ENABLED}
        assert "LSSTComCam" in await ocps.check_ocps_configuration(client.remote, timeout=2)
        ok = await client.run_job("cp_bias", "${CP_PIPE_DIR}/pipelines/LSSTComCam/cpBias.yaml", "", QUERY)
        assert ok.succeeded and ok.job_id in csc.jobs
        with pytest.raises(ocps.JobFailed, match=r"exit_code 1"):
            await client.run_job("verify_bias", "${CP_VERIFY_DIR}/verifyBias.yaml", "", QUERY)
        with pytest.raises(ocps.JobTimeout) as excinfo:
            await client.run_job("cp_bias", "hang.yaml", "", QUERY, timeout=0.3)
        outcomes = await client.abort_unfinished()
        assert [(o.job_id, o.ok) for o in outcomes] == [(excinfo.value.job_id, True)]
        for _ in range(50):
            if csc.jobs[excinfo.value.job_id].exit_code is not None:
                break
            await asyncio.sleep(0.02)
        assert csc.jobs[excinfo.value.job_id].exit_code == 255
    finally:
        client.close()
        await client.remote.close()
        await domain.close()
        await csc.close()
