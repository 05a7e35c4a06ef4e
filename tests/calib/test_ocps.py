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
from lsst.ts.calibscripts.calib import ocps
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
        self.result_phase = "pending"
        """The phase of the result JSON (dm_OCPS reports the submission answer: stale)."""
        self.result_log = True
        """Whether the result JSON lists the job's log."""
        self.jobs: dict[str, asyncio.Future] = {}
        self.background: set[asyncio.Task] = set()
        # Test controls: each, if set, holds back one step until the test sets it.
        self.ack_gate: asyncio.Event | None = None
        """Before the in-progress ack that carries the job id (the job exists already)."""
        self.end_gate: asyncio.Event | None = None
        """Before the job ends (its job_result, or the failure of execute)."""
        self.result_gate: asyncio.Event | None = None
        """If set, execute ends first and job_result is written once it is set."""

    async def do_execute(self, data: typing.Any) -> None:
        self.executes.append(data)
        action = self.plan.get(data.pipeline, (0.0, 0))
        if action == "reject":
            raise salobj.ExpectedError("execute not allowed in state=<State.DISABLED: 1>")
        job_id = uuid.uuid4().hex
        finished: asyncio.Future = asyncio.get_running_loop().create_future()
        self.jobs[job_id] = finished
        if self.legacy_cmd_ack:
            ackcmd = self.salinfo.make_ackcmd(private_seqNum=data.private_seqNum, ack=SalRetCode.CMD_ACK)
            await self.cmd_execute.ack(data, ackcmd)
        if self.ack_gate is not None:
            await self.ack_gate.wait()
        await self.cmd_execute.ack_in_progress(data, timeout=600, result=json.dumps({"job_id": job_id}))
        if action == "hang":
            await finished
            return
        if self.end_gate is not None:
            await self.end_gate.wait()
        if action == "fail":
            raise salobj.ExpectedError("lost contact with the UWS back end")
        if action == "result_then_fail":
            await self.write_result(job_id, 1)
            raise salobj.ExpectedError("lost contact with the UWS back end")
        delay, exit_code = action
        await asyncio.sleep(delay)
        if self.result_gate is not None:
            self.background.add(asyncio.create_task(self.write_result_later(job_id, exit_code)))
            return
        await self.write_result(job_id, exit_code)

    async def write_result_later(self, job_id: str, exit_code: int) -> None:
        assert self.result_gate is not None
        await self.result_gate.wait()
        await self.write_result(job_id, exit_code)

    async def write_result(self, job_id: str, exit_code: int) -> None:
        document: dict[str, typing.Any] = {
            "phase": self.result_phase,
            "errorSummary": {"message": "" if exit_code == 0 else "pipetask failed: NOISE out of range"},
            "results": [],
        }
        if self.result_log:
            document["results"].append({"id": "log", "uri": f"file:///jobs/{job_id}/out/ocps.log"})
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
        if self.jobs[data.job_id].done():
            raise salobj.ExpectedError(f"Job {data.job_id} is not running")
        await self.evt_job_result.set_write(
            job_id=data.job_id, exit_code=255, result=json.dumps({"phase": "aborted"}), force_output=True
        )
        if not self.jobs[data.job_id].done():
            self.jobs[data.job_id].set_result(None)


class Ack:
    """Stands for an ack of a command: ``next_ackcmd`` only needs its sequence number."""

    def __init__(self, private_seqNum: int) -> None:
        self.private_seqNum = private_seqNum


def watch_final_ack_wait(client: ocps.OcpsJobClient) -> asyncio.Event:
    """Return an event set when the client starts waiting for the final ack of execute.

    From then on, a final ack cannot be missed: salobj forgets a command only
    when its final ack arrives while nobody waits for it.
    """
    waiting = asyncio.Event()
    command = client.remote.cmd_execute
    original = command.next_ackcmd

    async def next_ackcmd(ackcmd: typing.Any, timeout: float = 10.0, wait_done: bool = True) -> typing.Any:
        if wait_done:
            waiting.set()
        return await original(ackcmd, timeout=timeout, wait_done=wait_done)

    command.next_ackcmd = next_ackcmd
    return waiting


async def wait_until(condition: typing.Callable[[], bool], what: str) -> None:
    """Poll a condition (no timing assumption; a generous limit against hangs)."""
    for _ in range(2000):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"timed out waiting for {what}")


@contextlib.asynccontextmanager
async def ocps_pair(
    stale_result: bool = False,
    result_grace: float = 10.0,
) -> typing.AsyncIterator[tuple[TinyOcps, ocps.OcpsJobClient]]:
    controller = TinyOcps()
    await controller.start_task
    await controller.evt_summaryState.set_write(summaryState=State.ENABLED)
    if stale_result:
        await controller.evt_job_result.set_write(job_id="old", exit_code=1, result="{}", force_output=True)
    domain = salobj.Domain()
    client = ocps.OcpsJobClient.make(domain, job_timeout=10, ack_timeout=10, result_grace=result_grace)
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
        assert result.outcome is ocps.JobOutcome.COMPLETED
        assert result.submitted_phase == "pending"  # stale phase does not matter
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
        # Job id, exit code, what the execution service said, where the log is.
        assert text == (
            f"cp_bias job {job_id} failed (exit_code 1); execution service said: "
            f"errorSummary 'pipetask failed: NOISE out of range' (phase at submission 'pending'); "
            f"log: file:///jobs/{job_id}/out/ocps.log"
        )
        assert client.active_jobs == {}
        result = await client.run_job("cp_bias", "cpBias.yaml", "", QUERY, raise_on_failure=False)
        assert result.exit_code == 1 and not result.succeeded


@pytest.mark.parametrize(
    "result_phase, exit_code, outcome",
    [
        ("completed", 1, ocps.JobOutcome.FAILED),
        ("aborted", 1, ocps.JobOutcome.FAILED),
        ("error", 0, ocps.JobOutcome.COMPLETED),
        ("queued", 3, ocps.JobOutcome.FAILED),
    ],
)
async def test_outcome_comes_from_the_exit_code_only(
    result_phase: str, exit_code: int, outcome: ocps.JobOutcome
) -> None:
    """The result's phase is the job's phase at submission: never the job's outcome."""
    async with ocps_pair() as (controller, client):
        controller.plan["cpBias.yaml"] = (0.0, exit_code)
        controller.result_phase = result_phase
        controller.result_log = False
        result = await client.run_job("cp_bias", "cpBias.yaml", "", QUERY, raise_on_failure=False)
        assert result.outcome is outcome
        assert result.succeeded is (outcome is ocps.JobOutcome.COMPLETED)
        assert not result.aborted
        assert result.submitted_phase == result_phase
        text = result.describe()
        if outcome is ocps.JobOutcome.FAILED:
            assert f"failed (exit_code {exit_code})" in text and "aborted" not in text.split(";")[0]
            # What the service said, labelled as the phase at submission; the log where OCPS keeps it.
            assert f"(phase at submission {result_phase!r})" in text
            assert text.endswith(
                f"log: ocps.log in the output directory of job {result.job_id} on the OCPS execution service"
            )
        else:
            assert text.startswith(f"cp_bias job {result.job_id} completed (exit_code 0)")


async def test_instant_job_result_before_final_ack() -> None:
    """The job ends at once: its job_result and the final ack both arrive before the client asks.

    The test makes it happen: the job ends only once the client has reported
    its id (``on_job_id``), and the client goes on only once it holds the
    job_result and the final ack has arrived (taken here, as any reader
    could), so salobj has forgotten the command.
    """
    async with ocps_pair() as (controller, client):
        controller.plan["true.yaml"] = (0.0, 0)
        controller.json_job_id = False  # like dm_OCPS simulation mode: no jobId in the JSON

        async def finish_before_the_client_waits(job_id: str) -> None:
            final = asyncio.ensure_future(
                client.remote.cmd_execute.next_ackcmd(Ack(controller.executes[-1].private_seqNum), timeout=10)
            )
            await asyncio.sleep(0)  # the wait is registered before the job may end
            controller.end_gate.set()
            await wait_until(lambda: client.has_result(job_id), "the job_result")
            assert (await final).ack == SalRetCode.CMD_COMPLETE

        results = []
        for _ in range(3):
            controller.end_gate = asyncio.Event()
            results.append(
                await client.run_job(
                    "verify_bias", "true.yaml", "", QUERY, on_job_id=finish_before_the_client_waits
                )
            )
        assert all(r.succeeded for r in results)
        assert len({r.job_id for r in results}) == 3
        assert {r.final_ack for r in results} == {"final ack already received"}
        assert client.active_jobs == {}


async def test_job_result_after_final_ack() -> None:
    """Topics are not ordered: the final ack may come first, then the job_result."""
    async with ocps_pair() as (controller, client):
        controller.plan["x.yaml"] = (0.0, 0)
        controller.end_gate = asyncio.Event()
        controller.result_gate = asyncio.Event()

        async def final_ack_then_result(job_id: str) -> None:
            final = asyncio.ensure_future(
                client.remote.cmd_execute.next_ackcmd(Ack(controller.executes[-1].private_seqNum), timeout=10)
            )
            await asyncio.sleep(0)  # the wait is registered before execute may end
            controller.end_gate.set()
            assert (await final).ack == SalRetCode.CMD_COMPLETE
            assert not client.has_result(job_id)
            controller.result_gate.set()

        result = await client.run_job("cp_bias", "x.yaml", "", QUERY, on_job_id=final_ack_then_result)
        assert result.succeeded and result.final_ack == "final ack already received"
        assert client.active_jobs == {}


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
    # A short grace where no job_result ever comes; a long one where it must come.
    async with ocps_pair(result_grace=0.3) as (controller, client):
        controller.plan["lost.yaml"] = "fail"
        # execute fails only once the client waits for its final ack: the client sees the failure.
        controller.end_gate = asyncio.Event()
        waiting = watch_final_ack_wait(client)

        async def release_when_waiting() -> None:
            await waiting.wait()
            controller.end_gate.set()

        releasing = asyncio.create_task(release_when_waiting())
        with pytest.raises(ocps.JobFailed, match="execute ended with CMD_FAILED.*lost contact") as excinfo:
            await client.run_job("cp_bias", "lost.yaml", "", QUERY)
        await releasing
        # The job may still run on the back end: it stays active so cleanup aborts it.
        assert client.active_jobs == {excinfo.value.result.job_id: "cp_bias"}
        assert f"log: ocps.log in the output directory of job {excinfo.value.result.job_id}" in str(
            excinfo.value
        )

        controller.end_gate = None
        controller.plan["both.yaml"] = "result_then_fail"
        client.result_grace = 10.0  # the job_result may come after the failed final ack
        with pytest.raises(ocps.JobFailed, match="exit_code 1.*NOISE out of range"):
            await client.run_job("cp_bias", "both.yaml", "", QUERY)
        client.result_grace = 0.3

        # The failed final ack arrives before the client can ask for it (taken here, as any
        # reader could): salobj forgets the command, so only the missing job_result tells.
        controller.plan["at_once.yaml"] = "fail"
        controller.end_gate = asyncio.Event()

        async def fail_before_the_client_waits(job_id: str) -> None:
            final = asyncio.ensure_future(
                client.remote.cmd_execute.next_ackcmd(Ack(controller.executes[-1].private_seqNum), timeout=10)
            )
            await asyncio.sleep(0)  # the wait is registered before execute may fail
            controller.end_gate.set()
            with pytest.raises(salobj.AckError, match="lost contact"):
                await final

        with pytest.raises(
            ocps.JobTimeout, match="no job_result for it arrived within 0.3 s"
        ) as timeout_info:
            await client.run_job("cp_bias", "at_once.yaml", "", QUERY, on_job_id=fail_before_the_client_waits)
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
    # The abort fails, so no job_result ever comes: a short grace for what must not happen.
    async with ocps_pair(result_grace=0.3) as (controller, client):
        controller.plan["hang.yaml"] = "hang"
        controller.fail_abort = True
        started = asyncio.Event()
        task = asyncio.create_task(
            client.run_job("verify_bias", "hang.yaml", "", QUERY, on_job_id=lambda _: started.set())
        )
        await asyncio.wait_for(started.wait(), 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        (job_id,) = client.active_jobs
        outcomes = await client.abort_unfinished()
        assert len(outcomes) == 1 and not outcomes[0].ok
        assert "Unknown job" in outcomes[0].message
        assert controller.aborts == [job_id]
        assert client.active_jobs == {}


async def test_stop_before_the_job_id_arrives_aborts_the_job() -> None:
    """Cancelled between execute and its in-progress ack: the job OCPS created is aborted."""
    async with ocps_pair() as (controller, client):
        controller.plan["hang.yaml"] = "hang"
        controller.ack_gate = asyncio.Event()
        task = asyncio.create_task(client.run_job("cp_bias", "hang.yaml", "", QUERY))
        await wait_until(lambda: bool(controller.jobs), "OCPS to create the job")
        (job_id,) = controller.jobs
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert client.pending_submissions == ["cp_bias"] and client.active_jobs == {}
        aborting = asyncio.create_task(client.abort_unfinished())
        controller.ack_gate.set()  # the in-progress ack, with the job id, arrives now
        outcomes = await aborting
        assert [(o.name, o.job_id, o.ok) for o in outcomes] == [("cp_bias", job_id, True)]
        assert outcomes[0].result is not None and outcomes[0].result.exit_code == 255
        assert controller.aborts == [job_id]
        assert client.pending_submissions == [] and client.active_jobs == {}


async def test_job_id_that_never_comes_is_reported() -> None:
    async with ocps_pair() as (controller, client):
        controller.ack_gate = asyncio.Event()  # never set
        task = asyncio.create_task(client.run_job("cp_bias", "x.yaml", "", QUERY))
        await wait_until(lambda: bool(controller.jobs), "OCPS to create the job")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        (outcome,) = await client.abort_unfinished(timeout=0.2)
        assert (outcome.name, outcome.job_id, outcome.ok) == ("cp_bias", "", False)
        assert "reported no job id for execute within 0.2 s" in outcome.message
        assert controller.aborts == [] and client.pending_submissions == []


async def test_job_that_ended_at_the_stop_is_reported_with_its_result() -> None:
    """Cancelled while the job ends: abort_unfinished reports its own result, not an abort."""
    async with ocps_pair() as (controller, client):
        controller.plan["x.yaml"] = (0.0, 0)
        controller.end_gate = asyncio.Event()
        started = asyncio.Event()
        task = asyncio.create_task(
            client.run_job("cp_bias", "x.yaml", "", QUERY, on_job_id=lambda _: started.set())
        )
        await asyncio.wait_for(started.wait(), 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        (job_id,) = client.active_jobs
        controller.end_gate.set()
        await wait_until(lambda: controller.jobs[job_id].done(), "the job to end")
        (outcome,) = await client.abort_unfinished()
        assert outcome.job_id == job_id and not outcome.ok
        assert outcome.result is not None and outcome.result.exit_code == 0
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


async def test_preflight_checks(caplog) -> None:
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
            states = await ocps.check_enabled(remotes[:1], timeout=10)
            assert states == {"OCPS:2": State.ENABLED}
            # The states that come are in; the short limit below is for the one that never comes.
            assert (await remotes[1].evt_summaryState.aget(timeout=10)).summaryState == State.DISABLED
            with pytest.raises(ocps.CscNotReady) as excinfo:
                await ocps.check_enabled(remotes, timeout=0.2)
            assert excinfo.value.problems == {
                "CCOODS": "DISABLED (must be ENABLED)",
                "CCHeaderService": "no summaryState within 0.2 s (is it running?)",
            }
            assert "CCOODS: DISABLED" in str(excinfo.value)
            # No configurationApplied seen: ENABLED is the requirement; a warning says so.
            assert await ocps.check_ocps_configuration(client.remote, timeout=0.2) is None
            assert "published no configurationApplied" in caplog.text
        finally:
            for remote in remotes[1:]:
                await remote.close()
            await oods.close()


@pytest.mark.parametrize(
    "configurations, named",
    [
        ("_init.yaml,_summit.yaml", None),  # per-instance settings from the site file
        ("_init.yaml", None),
        ("_init.yaml,_summit.yaml,LSSTComCam.yaml", None),
        ("_init.yaml,_base.yaml,lsstcomcam_test.yaml", None),
        ("_init.yaml,_summit.yaml,LATISS.yaml", "LATISS"),
        ("_init.yaml,_summit.yaml,LSSTCam.yaml", "LSSTCam"),
        ("_init.yaml,/config/latiss_summit.yaml", "LATISS"),
    ],
)
async def test_preflight_configuration_rule(caplog, configurations, named) -> None:
    """Only an applied file named after another instrument is refused; what was applied is logged."""
    caplog.set_level("INFO")
    async with ocps_pair() as (controller, client):
        await controller.evt_configurationApplied.set_write(
            configurations=configurations, version="v3.2.1", url="file:///config/OCPS/v3", schemaVersion="v3"
        )
        if named is None:
            applied = await ocps.check_ocps_configuration(client.remote, timeout=10)
            assert applied is not None and applied.configurations == configurations
            assert (applied.version, applied.url, applied.schema_version) == (
                "v3.2.1",
                "file:///config/OCPS/v3",
                "v3",
            )
        else:
            with pytest.raises(ocps.CscNotReady) as excinfo:
                await ocps.check_ocps_configuration(client.remote, timeout=10)
            text = str(excinfo.value)
            assert (
                f"OCPS:2 applied configuration {configurations!r}, named after {named}, not LSSTComCam"
                in text
            )
            assert "Restart OCPS:2" in text
        assert (
            f"OCPS:2 configurationApplied: configurations={configurations!r}, version='v3.2.1', "
            "url='file:///config/OCPS/v3', schemaVersion='v3'"
        ) in caplog.text


async def test_against_the_simulated_observatory_ocps() -> None:
    """The client works with the package's mock OCPS:2 (succeed, fail, hang + abort)."""
    from lsst.ts.calibscripts.sim.csc.ocps import OCPSCsc
    from lsst.ts.calibscripts.sim.runners.scripted import ScriptedRunner
    from lsst.ts.calibscripts.sim.timing import Timing

    runner = ScriptedRunner({"cpBias": "succeed", "verifyBias": "fail", "hang": "hang"}, duration=0.05)
    csc = OCPSCsc(job_runner=runner, timing=Timing(time_scale=0.01))
    await csc.start_task
    domain = salobj.Domain()
    client = ocps.OcpsJobClient.make(domain, job_timeout=10, ack_timeout=10)
    try:
        await client.start()
        assert await ocps.check_enabled([client.remote], timeout=10) == {"OCPS:2": State.ENABLED}
        applied = await ocps.check_ocps_configuration(client.remote, timeout=10)
        assert applied is not None and applied.configurations == "_init.yaml,_summit.yaml"
        ok = await client.run_job("cp_bias", "${CP_PIPE_DIR}/pipelines/LSSTComCam/cpBias.yaml", "", QUERY)
        assert ok.succeeded and ok.job_id in csc.jobs
        with pytest.raises(ocps.JobFailed, match=r"exit_code 1"):
            await client.run_job("verify_bias", "${CP_VERIFY_DIR}/verifyBias.yaml", "", QUERY)
        with pytest.raises(ocps.JobTimeout) as excinfo:
            await client.run_job("cp_bias", "hang.yaml", "", QUERY, timeout=0.3)
        outcomes = await client.abort_unfinished()
        assert [(o.job_id, o.ok) for o in outcomes] == [(excinfo.value.job_id, True)]
        await wait_until(lambda: csc.jobs[excinfo.value.job_id].exit_code is not None, "the abort result")
        assert csc.jobs[excinfo.value.job_id].exit_code == 255
    finally:
        client.close()
        await client.remote.close()
        await domain.close()
        await csc.close()
