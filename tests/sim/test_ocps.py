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

"""Mock OCPS:2 driven through a Remote, the way scripts call it."""

from __future__ import annotations

import asyncio
import json

import pytest
from lsst.ts.calibscripts.sal import SalRetCode, State, salobj
from lsst.ts.calibscripts.sim import (
    JobAction,
    JobScript,
    ObservatoryOptions,
    OcpsFaults,
    SimulatedObservatory,
)
from lsst.ts.calibscripts.sim.runners.scripted import ScriptedRunner

SCALE = 0.001
PIPELINE = "${CP_PIPE_DIR}/pipelines/LSSTComCam/cpBias.yaml"
VERIFY = "${CP_VERIFY_DIR}/pipelines/LSSTComCam/verifyBias.yaml"
QUERY = "instrument='LSSTComCam' AND detector IN (0..8) AND exposure IN (2026112500002, 2026112500003)"


def execute_kwargs(pipeline: str = PIPELINE, **kwargs: str) -> dict[str, str]:
    fields = dict(
        pipeline=pipeline,
        version="",
        config="-j 2 -i LSSTComCam/calib --register-dataset-types",
        data_query=QUERY,
        prereq_jobs="",
        output_dataset_types="",
    )
    fields.update(kwargs)
    return fields


class HoldResults:
    """Hold the mock OCPS's job results, so execute's final acks, until ``n`` submissions wait.

    salobj forgets a command whose final ack arrived before ``next_ackcmd`` was called. With a
    job of a few milliseconds, whether the test asks in time would depend on the machine's
    load (a stalled event loop hands both acks over in one go); held, it always does.
    """

    def __init__(self, observatory: SimulatedObservatory, n: int = 1) -> None:
        self.gate = asyncio.Event()
        observatory.ocps.job_result_gate = self.gate
        self.not_waiting = n

    def one_waits(self) -> None:
        """A submission waits for its final ack; let the results go when all do."""
        self.not_waiting -= 1
        if self.not_waiting == 0:
            self.gate.set()


async def submit(
    ocps: salobj.Remote,
    recorder=None,
    label: str = "",
    final_ack: bool = True,
    hold: HoldResults | None = None,
    **kwargs: str,
) -> tuple[str, object]:
    """Execute as scripts do; return (job_id, final ack or None); record acks.

    With ``final_ack=False`` return at the in-progress ack: for a job that ends at once, the
    final ack may already have arrived, and salobj's ``next_ackcmd`` cannot return it then.
    With ``final_ack=True``, ``hold`` keeps the job's result (and final ack) back until this
    submission waits for the final ack.
    """
    ack = await ocps.cmd_execute.set_start(wait_done=False, timeout=10, **execute_kwargs(**kwargs))
    assert ack.ack == SalRetCode.CMD_INPROGRESS
    assert ack.timeout == pytest.approx(600.0)
    job_id = json.loads(ack.result)["job_id"]
    if recorder is not None:
        recorder.add(f"inprogress{label}", ack)
    if not final_ack:
        return job_id, None
    assert hold is not None, "a final ack is only waited for with the job's result held"
    final_task = asyncio.create_task(ocps.cmd_execute.next_ackcmd(ack, timeout=10))
    await asyncio.sleep(0)  # next_ackcmd has found the command
    hold.one_waits()
    final = await final_task
    if recorder is not None:
        recorder.add(f"complete{label}", final)
    return job_id, final


async def test_execute_ack_order_and_concurrent_jobs(recorder) -> None:
    runner = ScriptedRunner(
        outcomes={"cpBias": JobScript(JobAction.SUCCEED, duration=100.0)}, time_scale=SCALE
    )
    async with SimulatedObservatory(ObservatoryOptions(time_scale=SCALE), job_runner=runner) as observatory:
        async with salobj.Domain() as domain, salobj.Remote(domain, "OCPS", 2) as ocps:
            ocps.evt_job_result.flush()
            recorder.watch(ocps, "job_result")
            # cpBias takes 100 s, verifyBias 10 s: the second job ends first, whatever the delivery delays.
            hold = HoldResults(observatory, n=2)
            (id_a, final_a), (id_b, final_b) = await asyncio.gather(
                submit(ocps, recorder, "A", hold=hold),
                submit(ocps, recorder, "B", hold=hold, pipeline=VERIFY),
            )
            assert final_a.ack == final_b.ack == SalRetCode.CMD_COMPLETE
            assert len(id_a) == 32 and int(id_a, 16) >= 0 and id_a != id_b
            # A job_result may arrive after its command's final ack (no order across topics).
            await recorder.wait_count("job_result", 2)
            results = {data.job_id: data for data in recorder.data("job_result")}
            assert set(results) == {id_a, id_b}
            for label, job_id in (("A", id_a), ("B", id_b)):
                # As OCPS wrote them: in-progress ack, job_result, final ack.
                in_progress = recorder.data(f"inprogress{label}")[0]
                complete = recorder.data(f"complete{label}")[0]
                sent = results[job_id].private_sndStamp
                assert in_progress.private_sndStamp < sent < complete.private_sndStamp
                # As dm_OCPS since late 2022: the answer to the submission, not the final document.
                document = json.loads(results[job_id].result)
                assert document["jobId"] == job_id
                assert results[job_id].exit_code == 0
                assert document["phase"] == "queued"
                assert document["startTime"] is None and document["endTime"] is None
                assert document["results"] == []
                assert {"runId", "creationTime", "errorSummary", "parameters"} <= set(document)
                # The mock keeps the final document in its records.
                final = observatory.ocps.jobs[job_id].final_document()
                assert final["phase"] == "completed" and final["endTime"] is not None
            # job_result of B arrived first: scripts must match on job id.
            assert [data.job_id for data in recorder.data("job_result")] == [id_b, id_a]
    records = observatory.ocps.executes
    assert [r.pipeline for r in records] == [PIPELINE, VERIFY]
    assert records[0].data_query == QUERY
    assert records[0].config == "-j 2 -i LSSTComCam/calib --register-dataset-types"
    request = records[0].request
    assert request is not None and request.job_id == id_a
    assert request.run_id == str(records[0].private_seqNum)
    assert json.loads(results[id_a].result)["runId"] == request.run_id
    assert request.default_input == "LSSTComCam/raw/all"
    assert [r.job_id for r in runner.requests] == [id_a, id_b]


async def test_failed_job_completes_command_with_exit_code_1() -> None:
    faults = OcpsFaults(job_outcomes=[JobScript(JobAction.FAIL, message="cpBias crashed on detector 4")])
    async with SimulatedObservatory(ObservatoryOptions(time_scale=SCALE, ocps=faults)) as observatory:
        async with salobj.Domain() as domain, salobj.Remote(domain, "OCPS", 2) as ocps:
            job_id, final = await submit(ocps, hold=HoldResults(observatory))
            assert final.ack == SalRetCode.CMD_COMPLETE
            result = await ocps.evt_job_result.next(flush=False, timeout=10)
            assert (result.job_id, result.exit_code) == (job_id, 1)
            # The submission answer: the phase is stale and says nothing of the failure.
            document = json.loads(result.result)
            assert document["phase"] == "queued"
            assert document["errorSummary"]["message"] == ""
    job = observatory.ocps.jobs[job_id]
    assert (job.phase, job.exit_code, job.error_message) == ("error", 1, "cpBias crashed on detector 4")
    assert job.final_document()["errorSummary"]["message"] == "cpBias crashed on detector 4"
    assert job.final_document()["phase"] == "error"


async def test_abort_job_gives_exit_code_255_then_1_then_complete(recorder) -> None:
    """As dm_OCPS: abort_job writes exit_code 255; the aborted execute's poll loop
    then writes exit_code 1 (with the submission answer) and the execute command completes."""
    faults = OcpsFaults(job_outcomes=["hang"])
    async with SimulatedObservatory(ObservatoryOptions(time_scale=SCALE, ocps=faults)) as observatory:
        async with salobj.Domain() as domain, salobj.Remote(domain, "OCPS", 2) as ocps:
            recorder.watch(ocps, "job_result")
            ack = await ocps.cmd_execute.set_start(wait_done=False, timeout=10, **execute_kwargs())
            job_id = json.loads(ack.result)["job_id"]
            # A hung job: no job_result and the command stays in progress.
            with pytest.raises(asyncio.TimeoutError):
                await recorder.wait_count("job_result", 1, timeout=0.1)
            with pytest.raises(salobj.AckError) as info:
                await ocps.cmd_abort_job.set_start(job_id="0" * 32, timeout=5)
            assert info.value.ackcmd.ack == SalRetCode.CMD_FAILED
            assert "Unknown job_id" in info.value.ackcmd.result

            async def final_ack() -> object:
                final = await ocps.cmd_execute.next_ackcmd(ack, timeout=5)
                recorder.add("execute complete", final)
                return final

            # Wait for execute's final ack before aborting (salobj forgets a command
            # whose final ack arrived before anyone waited for it).
            final_task = asyncio.create_task(final_ack())
            await asyncio.sleep(0)
            abort_ack = await ocps.cmd_abort_job.set_start(job_id=job_id, timeout=5)
            recorder.add("abort_job complete", abort_ack)
            assert abort_ack.ack == SalRetCode.CMD_COMPLETE
            final = await final_task
            assert final.ack == SalRetCode.CMD_COMPLETE
            await recorder.wait_count("job_result", 2)
            # 255 first, then 1, then CMD_COMPLETE; abort_job itself ends after its own 255 result.
            assert recorder.labels_as_written("job_result", "execute complete") == [
                "job_result",
                "job_result",
                "execute complete",
            ]
            assert recorder.labels_as_written().index("abort_job complete") > 0
            aborted, polled = recorder.data("job_result")
            assert (aborted.job_id, aborted.exit_code) == (job_id, 255)
            assert (polled.job_id, polled.exit_code) == (job_id, 1)
            for data in (aborted, polled):
                assert json.loads(data.result)["jobId"] == job_id
            # abort_job reports the answer to the UWS DELETE; execute the submission answer.
            assert json.loads(aborted.result)["phase"] == "aborted"
            assert json.loads(polled.result)["phase"] == "queued"
            with pytest.raises(salobj.AckError):
                await ocps.cmd_abort_job.set_start(job_id=job_id, timeout=5)  # no longer running
            # No third result.
            with pytest.raises(asyncio.TimeoutError):
                await recorder.wait_count("job_result", 3, timeout=0.1)
    job = observatory.ocps.jobs[job_id]
    assert (job.exit_code, job.phase) == (255, "aborted")
    assert [code for code, _ in job.results] == [255, 1]


async def test_prereq_jobs_waited_for_and_failure_propagates() -> None:
    faults = OcpsFaults(job_outcomes=[JobScript(JobAction.SUCCEED, duration=30.0), "fail"])
    async with SimulatedObservatory(ObservatoryOptions(time_scale=SCALE, ocps=faults)) as observatory:
        async with salobj.Domain() as domain, salobj.Remote(domain, "OCPS", 2) as ocps:
            first = await ocps.cmd_execute.set_start(wait_done=False, timeout=10, **execute_kwargs())
            first_id = json.loads(first.result)["job_id"]
            second_id, _ = await submit(ocps, final_ack=False, pipeline=VERIFY, prereq_jobs=first_id)
            jobs = observatory.ocps.jobs
            # The dependent job was created only after its prerequisite ended.
            assert jobs[second_id].creation_time >= jobs[first_id].end_time
            results = [await ocps.evt_job_result.next(flush=False, timeout=10) for _ in range(2)]
            assert [(r.job_id, r.exit_code) for r in results] == [(first_id, 0), (second_id, 1)]
            # A job whose prerequisite failed fails.
            # It fails at once: its result is the verdict, whenever its final ack came.
            third_id, _ = await submit(ocps, final_ack=False, prereq_jobs=f"{first_id},{second_id}")
            third = await ocps.evt_job_result.next(flush=False, timeout=10)
            assert (third.job_id, third.exit_code) == (third_id, 1)
    assert second_id in jobs[third_id].final_document()["errorSummary"]["message"]


@pytest.mark.parametrize("reject", [True, "UWS server returned 503"])
async def test_execute_rejected(reject) -> None:
    faults = OcpsFaults(reject_execute=reject)
    async with SimulatedObservatory(ObservatoryOptions(time_scale=SCALE, ocps=faults)) as observatory:
        async with salobj.Domain() as domain, salobj.Remote(domain, "OCPS", 2) as ocps:
            with pytest.raises(salobj.AckError) as info:
                await ocps.cmd_execute.set_start(timeout=5, **execute_kwargs())
            assert info.value.ackcmd.ack == SalRetCode.CMD_FAILED
            if isinstance(reject, str):
                assert reject in info.value.ackcmd.result
    assert observatory.ocps.executes[0].rejected
    assert observatory.ocps.jobs == {}


async def test_execute_rejected_unless_enabled() -> None:
    options = ObservatoryOptions(time_scale=SCALE, initial_states={"OCPS": State.DISABLED})
    async with SimulatedObservatory(options):
        async with salobj.Domain() as domain, salobj.Remote(domain, "OCPS", 2) as ocps:
            with pytest.raises(salobj.AckError) as info:
                await ocps.cmd_execute.set_start(timeout=5, **execute_kwargs())
            assert "execute not allowed in state=<State.DISABLED: 1>" in info.value.ackcmd.result


async def test_fault_on_job() -> None:
    faults = OcpsFaults(fault_on_job=2)
    async with SimulatedObservatory(ObservatoryOptions(time_scale=SCALE, ocps=faults)) as observatory:
        async with salobj.Domain() as domain, salobj.Remote(domain, "OCPS", 2) as ocps:
            await submit(ocps, hold=HoldResults(observatory))
            with pytest.raises(salobj.AckError):
                await ocps.cmd_execute.set_start(timeout=5, **execute_kwargs())
            # The failed ack may arrive before the summaryState event (no order across topics).
            state = await ocps.evt_summaryState.aget(timeout=10)
            while state.summaryState != State.FAULT:
                state = await ocps.evt_summaryState.next(flush=False, timeout=10)
            error = await ocps.evt_errorCode.aget(timeout=10)
            while error.errorCode == 0:  # the errorCode of the start may still be the latest
                error = await ocps.evt_errorCode.next(flush=False, timeout=10)
            assert error.errorCode == 2


async def test_slow_job_is_still_running_when_a_client_gives_up() -> None:
    faults = OcpsFaults(job_outcomes=["slow"])
    async with SimulatedObservatory(ObservatoryOptions(time_scale=SCALE, ocps=faults)):
        async with salobj.Domain() as domain, salobj.Remote(domain, "OCPS", 2) as ocps:
            ack = await ocps.cmd_execute.set_start(wait_done=False, timeout=10, **execute_kwargs())
            with pytest.raises(asyncio.TimeoutError):
                await ocps.evt_job_result.next(flush=False, timeout=0.2)
            # SLOW lasts 1200 simulated s = 1.2 s here.
            final = await ocps.cmd_execute.next_ackcmd(ack, timeout=10)
            assert final.ack == SalRetCode.CMD_COMPLETE
            assert (await ocps.evt_job_result.next(flush=False, timeout=10)).exit_code == 0


async def test_configuration_and_index(tmp_path) -> None:
    """As a configurable CSC: configurationApplied lists the files read; jobs use its butler."""
    options = ObservatoryOptions(time_scale=SCALE, repo=None)
    runner = ScriptedRunner(time_scale=SCALE, log_dir=str(tmp_path / "jobs"))
    async with SimulatedObservatory(options, job_runner=runner) as observatory, salobj.Domain() as domain:
        observatory.ocps.butler_repo = "/repo/main"  # the butler of its site configuration
        async with salobj.Remote(domain, "OCPS", 2) as ocps:
            applied = await ocps.evt_configurationApplied.aget(timeout=10)
            assert applied.configurations == "_init.yaml,_summit.yaml"
            assert (applied.url, applied.schemaVersion) == ("file:///sim/ts_config_ocs/OCPS/v3", "v3")
            assert applied.version
            available = await ocps.evt_configurationsAvailable.aget(timeout=10)
            assert available.overrides.split(",") == ["LATISS.yaml", "LSSTComCam.yaml", "LSSTCam.yaml"]
            settings = observatory.ocps.settings
            assert (settings.instance, settings.input_collection) == ("LSSTComCam", "LSSTComCam/raw/all")
            # Restart with the override named after its own instrument: accepted and listed.
            await ocps.cmd_disable.start(timeout=5)
            await ocps.cmd_standby.start(timeout=5)
            ocps.evt_configurationApplied.flush()
            await ocps.cmd_start.set_start(configurationOverride="LSSTComCam.yaml", timeout=5)
            await ocps.cmd_enable.start(timeout=5)
            applied = await ocps.evt_configurationApplied.next(flush=False, timeout=10)
            assert applied.configurations == "_init.yaml,_summit.yaml,LSSTComCam.yaml"
            job_id, _ = await submit(ocps, hold=HoldResults(observatory))
            result = await ocps.evt_job_result.next(flush=False, timeout=10)
            document = json.loads(result.result)
            environment = {e["name"]: e["value"] for e in document["parameters"]["environment"]}
            assert environment["BUTLER_REPO"] == "/repo/main"
            assert environment["RUN_OPTIONS"].startswith("-i LSSTComCam/raw/all -j 2")
            # The job's log is in its output directory; the result (the submission answer)
            # does not name it, the final document on the service lists it first.
            log_path = tmp_path / "jobs" / job_id / "out" / "ocps.log"
            assert document["results"] == []
            final = observatory.ocps.jobs[job_id].final_document()
            assert final["results"][0] == {"id": "ocps.log", "uri": log_path.as_uri()}
            assert job_id in log_path.read_text()
        # OCPS:1 (LATISS) does not exist here: a command to it is never acknowledged.
        async with salobj.Remote(domain, "OCPS", 1) as wrong:
            with pytest.raises(salobj.AckTimeoutError):
                await wrong.cmd_execute.set_start(timeout=0.2, **execute_kwargs())


async def test_settings_for_another_instance_refused_at_start() -> None:
    """As dm_OCPS: another instance's settings are refused; the CSC stays in STANDBY."""
    options = ObservatoryOptions(time_scale=SCALE, ocps=OcpsFaults(configuration_override="LATISS.yaml"))
    async with SimulatedObservatory(options) as observatory, salobj.Domain() as domain:
        assert observatory.ocps.summary_state == State.STANDBY
        assert observatory.ocps.start_refusal == "configuration instance LATISS does not match CSC index 2"
        async with salobj.Remote(domain, "OCPS", 2) as ocps:
            assert (await ocps.evt_summaryState.aget(timeout=1)).summaryState == State.STANDBY
            with pytest.raises(salobj.AckError) as info:
                await ocps.cmd_start.set_start(configurationOverride="LSSTCam.yaml", timeout=5)
            assert "configuration instance LSSTCam does not match CSC index 2" in info.value.ackcmd.result
            with pytest.raises(salobj.AckError, match="not found"):
                await ocps.cmd_start.set_start(configurationOverride="nope.yaml", timeout=5)
            assert observatory.ocps.summary_state == State.STANDBY
            with pytest.raises(asyncio.TimeoutError):
                await ocps.evt_configurationApplied.aget(timeout=0.1)
            # Started without the override it is configured for LSSTComCam.
            await ocps.cmd_start.set_start(configurationOverride="", timeout=5)
            applied = await ocps.evt_configurationApplied.aget(timeout=1)
            assert applied.configurations == "_init.yaml,_summit.yaml"


async def test_ocps_that_does_not_check_its_instance() -> None:
    options = ObservatoryOptions(
        time_scale=SCALE, ocps=OcpsFaults(configuration_override="LATISS.yaml", check_instance=False)
    )
    async with SimulatedObservatory(options) as observatory, salobj.Domain() as domain:
        async with salobj.Remote(domain, "OCPS", 2) as ocps:
            applied = await ocps.evt_configurationApplied.aget(timeout=10)
            assert applied.configurations == "_init.yaml,_summit.yaml,LATISS.yaml"
            await submit(ocps, hold=HoldResults(observatory))
    request = observatory.ocps.executes[0].request
    assert (request.default_input, request.butler_repo) == ("LATISS/raw/all", "/repo/LATISS")


async def test_in_progress_ack_and_job_result_can_be_held_back() -> None:
    """Test controls of the mock: the job exists before its id is acknowledged; a result can wait."""
    async with SimulatedObservatory(ObservatoryOptions(time_scale=SCALE)) as observatory:
        mock = observatory.ocps
        mock.in_progress_ack_gate = asyncio.Event()
        mock.job_result_gate = asyncio.Event()
        async with salobj.Domain() as domain, salobj.Remote(domain, "OCPS", 2) as ocps:
            sending = asyncio.create_task(
                ocps.cmd_execute.set_start(wait_done=False, timeout=10, **execute_kwargs())
            )
            for _ in range(1000):
                if mock.jobs:
                    break
                await asyncio.sleep(0.005)
            (job_id,) = mock.jobs
            assert not sending.done() and mock.jobs[job_id].phase == "queued"
            mock.in_progress_ack_gate.set()
            ack = await sending
            assert json.loads(ack.result)["job_id"] == job_id
            for _ in range(1000):
                if mock.jobs[job_id].outcome is not None:
                    break
                await asyncio.sleep(0.005)
            job = mock.jobs[job_id]
            assert job.phase == "completed" and job.exit_code is None and job.results == []
            with pytest.raises(salobj.AckError, match="is not running"):
                await ocps.cmd_abort_job.set_start(job_id=job_id, timeout=5)
            mock.job_result_gate.set()
            final = await ocps.cmd_execute.next_ackcmd(ack, timeout=10)
            assert final.ack == SalRetCode.CMD_COMPLETE
            assert [code for code, _ in job.results] == [0]


async def test_job_client_keeps_the_first_result_of_an_aborted_job(recorder) -> None:
    """The script's OCPS client sees 255 (aborted) and keeps it when exit_code 1 follows."""
    from lsst.ts.calibscripts.calib import ocps as ocps_client

    faults = OcpsFaults(job_outcomes=["hang"])
    async with SimulatedObservatory(ObservatoryOptions(time_scale=SCALE, ocps=faults)) as observatory:
        async with salobj.Domain() as domain, salobj.Remote(domain, "OCPS", 2) as operator:
            client = ocps_client.OcpsJobClient.make(domain, job_timeout=10, ack_timeout=5)
            try:
                await client.start()
                recorder.watch(operator, "job_result")
                job_id, ack = await client.submit("cp_bias", PIPELINE, "", QUERY)
                waiting = asyncio.create_task(client.wait_job("cp_bias", job_id, ack))
                await asyncio.sleep(0)
                # Someone else (an operator) aborts the job.
                await operator.cmd_abort_job.set_start(job_id=job_id, timeout=5)
                result = await asyncio.wait_for(waiting, 10)
                assert (result.exit_code, result.aborted, result.outcome) == (255, True, "aborted")
                assert "was aborted (exit_code 255)" in result.describe()
                # dm_OCPS's second result (exit_code 1) arrives later ...
                await recorder.wait_count("job_result", 2)
                assert [d.exit_code for d in recorder.data("job_result")] == [255, 1]
                # ... and does not replace the first: waiting again gives 255.
                again = await client.wait_job("cp_bias", job_id, ack, timeout=10)
                assert again.exit_code == 255 and again.aborted
                assert client.active_jobs == {} and await client.abort_unfinished() == []
            finally:
                client.close()
                await client.remote.close()
    assert [code for code, _ in observatory.ocps.jobs[job_id].results] == [255, 1]
