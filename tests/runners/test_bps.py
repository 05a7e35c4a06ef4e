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

"""Tests of the BPS OCPS job runner.

Fast: the submit configuration, the commands, the failed-quantum detection
from a ``pipetask report`` summary, stopping a whole session. Slow
(``bps submit`` takes 20-60 s each): the same datasets as the pipetask
runner, a failed quantum failing the job, an abort leaving no process.

The reference job of the "same datasets" test runs in process: the
in-process runner makes the same datasets as ``pipetask run``
(``test_pipetask.py::test_pipetask_and_inprocess_make_the_same_datasets``),
and costs no process of its own.
"""

import asyncio
import contextlib
import os
import shlex
import shutil
import sys
import textwrap

import numpy as np
import pytest
import yaml
from astropy.io import fits
from lsst.ts.calibscripts.sim.interfaces import JobPhase, JobRequest
from lsst.ts.calibscripts.sim.runners import make_runner
from lsst.ts.calibscripts.sim.runners._common import RunOptionsError
from lsst.ts.calibscripts.sim.runners.bps import (
    DEFAULT_SITE,
    BpsRunner,
    build_report_command,
    build_submit_command,
    build_submit_config,
    failed_quanta,
    remove_job_outputs,
    session_pids,
    stack_env,
    stop_session,
)
from lsst.ts.calibscripts.sim.runners.inprocess import InProcessRunner

from .conftest import EXPOSURES, build_repo, make_request

CP_BIAS = "${CP_PIPE_DIR}/pipelines/LSSTComCam/cpBias.yaml"
FRAMES = EXPOSURES[:2]
QUERY = f"instrument='LSSTComCam' AND detector IN (0, 1) AND exposure IN {tuple(FRAMES)}"
PER_DETECTOR = {"perDetector": {"pipetasks": "cpBiasIsr,cpBiasCombine", "dimensions": "detector"}}
JOB_ID = "0123456789abcdef0123456789abcdef"

# What `pipetask report --full-output-filename` wrote for cpBias with one raw unreadable.
FAILED_REPORT = textwrap.dedent("""\
    cpBiasCombine:
      failed_quanta: {}
      n_expected: 2
      n_quanta_blocked: 1
      n_succeeded: 1
      outputs:
        bias: {blocked: 1, expected: 2, failed: 0, not_produced: 0, produced: 1}
    cpBiasIsr:
      failed_quanta:
        01a22e61-061e-7393-834e-636b36b6c6b3:
          data_id: {detector: 1, exposure: 2026112500002, instrument: LSSTComCam}
          error:
          - 'Execution of task ''cpBiasIsr'' on quantum {instrument: ''LSSTComCam'', detector: 1}
            failed. Exception FileIntegrityError: Integrity failure in Datastore.'
      n_expected: 4
      n_quanta_blocked: 0
      n_succeeded: 3
      outputs:
        cpBiasIsrExp: {blocked: 0, expected: 4, failed: 1, not_produced: 0, produced: 3}
    """)


def _request(config: str = "-j 8 -i LSSTComCam/calib --register-dataset-types", query: str = QUERY):
    return JobRequest(
        job_id=JOB_ID,
        run_id="3",
        pipeline=CP_BIAS,
        version="",
        config=config,
        data_query=query,
        butler_repo="/repo",
    )


# --- fast ------------------------------------------------------------------------------------


def test_submit_config_is_the_ocps_job(tmp_path) -> None:
    query = """instrument='LSSTComCam' AND detector IN (0, 1) AND physical_filter = "r_03\""""
    request = _request("-j 8 -i u/ocps/abc,LSSTComCam/calib -c cpBiasIsr:doDither=False -C a:b.py", query)
    config = build_submit_config(request, "/repo", "/p/cpBias.yaml", str(tmp_path / "bps"))
    payload = config["payload"]
    assert payload["output"] == f"u/ocps/{JOB_ID}"
    assert payload["outputRun"] == f"u/ocps/{JOB_ID}/run"
    assert payload["payloadName"] == f"ocps_{JOB_ID}"
    assert payload["butlerConfig"] == "/repo"
    assert payload["inCollection"] == "LSSTComCam/raw/all,u/ocps/abc,LSSTComCam/calib"
    # BPS splits the quantum-graph command with shlex: the query survives both kinds of quotes.
    data_option = config["pipetaskDataQuery"].format(dataQuery=payload["dataQuery"])
    assert shlex.split(data_option) == ["-d", query]
    assert shlex.split(config["extraQgraphOptions"]) == [
        "--config=cpBiasIsr:doDither=False",
        "--config-file=a:b.py",
    ]
    assert config["pipelineYaml"] == "/p/cpBias.yaml"
    assert config["submitPath"] == str(tmp_path / "bps" / "submit")
    assert config["wmsServiceClass"] == "lsst.ctrl.bps.parsl.ParslService"
    site = config["site"][config["computeSite"]]
    assert site["class"] == "lsst.ts.calibscripts.sim.runners.bps_site.ThreadPoolSite"
    assert site["run_dir"] == str(tmp_path / "bps" / "runinfo")
    assert config["finalJob"]["requestCpus"] == 1
    assert "clusterAlgorithm" not in config and "cluster" not in config
    # The text written is YAML that reads back the same.
    assert yaml.safe_load(yaml.safe_dump(config)) == config


def test_submit_config_site_and_clustering(tmp_path) -> None:
    slurm = {
        "computeSite": "slurm",
        "site": {"slurm": {"class": "lsst.ctrl.bps.parsl.sites.Slurm", "nodes": 2, "run_dir": "/scratch"}},
        "payload": {"output": "u/someone/else"},
    }
    config = build_submit_config(
        _request(),
        "/repo",
        "/p.yaml",
        str(tmp_path),
        site_config=slurm,
        cluster=PER_DETECTOR,
        final_job_cpus=3,
    )
    assert config["computeSite"] == "slurm"
    assert config["site"]["slurm"] == {
        "class": "lsst.ctrl.bps.parsl.sites.Slurm",
        "nodes": 2,
        "run_dir": "/scratch",
    }
    assert config["payload"]["output"] == f"u/ocps/{JOB_ID}"  # the job's collections cannot be overridden
    assert config["clusterAlgorithm"] == "lsst.ctrl.bps.quantum_clustering_funcs.dimension_clustering"
    assert config["cluster"] == PER_DETECTOR
    assert config["finalJob"]["requestCpus"] == 3
    assert DEFAULT_SITE["computeSite"] == "ocps_local"  # the default is not modified by a merge


def test_submit_config_rejects_what_pipetask_rejects(tmp_path) -> None:
    with pytest.raises(RunOptionsError, match="No such option: --bogus"):
        build_submit_config(_request("--bogus"), "/repo", "/p.yaml", str(tmp_path))


def test_runner_site_config_from_file(tmp_path) -> None:
    site = tmp_path / "site.yaml"
    site.write_text("computeSite: slurm\nsite:\n  slurm:\n    class: lsst.ctrl.bps.parsl.sites.Slurm\n")
    runner = BpsRunner(str(tmp_path), str(tmp_path / "logs"), site_config=str(site), cores=1)
    assert runner.site_config["computeSite"] == "slurm"
    assert runner.site_config["site"]["ocps_local"]["cores"] == 1
    bad = tmp_path / "bad.yaml"
    bad.write_text("- a list\n")
    with pytest.raises(ValueError, match="not a mapping"):
        BpsRunner(str(tmp_path), site_config=str(bad))
    with pytest.raises(FileNotFoundError):
        BpsRunner(str(tmp_path), site_config=str(tmp_path / "missing.yaml"))


def test_commands_and_environment(tmp_path, monkeypatch) -> None:
    assert build_submit_command("/v/bin/bps", "/j/submit.yaml") == ["/v/bin/bps", "submit", "/j/submit.yaml"]
    assert build_report_command("/v/bin/pipetask", "/repo", "/j/x.qg", "/j/report.yaml") == [
        "/v/bin/pipetask", "report", "/repo", "/j/x.qg", "--full-output-filename", "/j/report.yaml",
    ]  # fmt: skip
    assert stack_env("/v/bin") == {"CTRL_MPEXEC_DIR": "/v", "DAF_BUTLER_DIR": "/v"}
    monkeypatch.delenv("CTRL_MPEXEC_DIR", raising=False)
    runner = BpsRunner(str(tmp_path))
    env = runner.subprocess_env()
    prefix = os.path.dirname(os.path.dirname(runner.pipetask))
    assert env["CTRL_MPEXEC_DIR"] == env["DAF_BUTLER_DIR"] == prefix
    assert os.access(os.path.join(env["CTRL_MPEXEC_DIR"], "bin", "pipetask"), os.X_OK)
    assert os.access(os.path.join(env["DAF_BUTLER_DIR"], "bin", "butler"), os.X_OK)
    assert "CP_PIPE_DIR" in env
    assert "CTRL_MPEXEC_DIR" not in os.environ  # only the subprocess gets it
    # An explicit environment keeps its own values.
    assert BpsRunner(str(tmp_path), env={"CTRL_MPEXEC_DIR": "/x"}).subprocess_env()["CTRL_MPEXEC_DIR"] == "/x"


def test_failed_quanta_from_report() -> None:
    failures = failed_quanta(yaml.safe_load(FAILED_REPORT))
    assert [(f.task, f.failed, f.blocked, f.missing) for f in failures] == [
        ("cpBiasCombine", 0, 1, 0),
        ("cpBiasIsr", 1, 0, 0),
    ]
    isr = failures[1]
    assert isr.data_ids == ["detector=1, exposure=2026112500002, instrument=LSSTComCam"]
    assert "FileIntegrityError" in isr.errors[0]
    assert "cpBiasIsr: 1 failed (detector=1, exposure=2026112500002" in isr.describe()
    assert failures[0].describe() == "cpBiasCombine: 1 blocked by an upstream failure"


def test_failed_quanta_success_and_missing() -> None:
    ok = {"t": {"failed_quanta": {}, "n_expected": 2, "n_quanta_blocked": 0, "n_succeeded": 2}}
    assert failed_quanta(ok) == []
    # Expected quanta neither succeeded nor failed (never run) fail the job too.
    lost = {"t": {"failed_quanta": {}, "n_expected": 3, "n_quanta_blocked": 0, "n_succeeded": 1}}
    assert [(f.task, f.missing) for f in failed_quanta(lost)] == [("t", 2)]
    assert "2 not run" in failed_quanta(lost)[0].describe()
    with pytest.raises(ValueError, match="no task summary"):
        failed_quanta({})
    with pytest.raises(ValueError, match="not a mapping"):
        failed_quanta({"t": 3})


async def test_bad_config_fails_before_submitting(tmp_path) -> None:
    runner = BpsRunner(str(tmp_path / "repo"), str(tmp_path / "logs"))
    request = make_request(str(tmp_path / "repo"), CP_BIAS, QUERY, "--bogus")
    outcome = await runner.run(request)
    assert outcome.phase is JobPhase.ERROR
    assert "No such option: --bogus" in outcome.error_message
    with open(outcome.log_path) as f:
        assert "No such option: --bogus" in f.read()
    assert not os.path.exists(tmp_path / "logs" / request.job_id / "bps" / "submit")


async def test_stop_session_reaches_processes_in_their_own_group() -> None:
    """A grandchild that left the process group (as parsl's local provider does) is stopped too."""
    code = (
        "import os, subprocess, sys, time\n"
        "subprocess.Popen([sys.executable, '-c', 'import os, time; os.setpgrp(); time.sleep(60)'])\n"
        "time.sleep(60)\n"
    )
    process = await asyncio.create_subprocess_exec(sys.executable, "-c", code, start_new_session=True)
    try:
        for _ in range(1000):  # until the grandchild has moved to its own group
            with contextlib.suppress(ProcessLookupError):
                if len({os.getpgid(pid) for pid in session_pids(process.pid)}) == 2:
                    break
            await asyncio.sleep(0.01)
        pids = session_pids(process.pid)
        assert len(pids) == 2
        assert len({os.getpgid(pid) for pid in pids}) == 2  # two process groups, one session
    finally:
        await stop_session(process, terminate_timeout=5.0)
    assert process.returncode is not None
    assert session_pids(process.pid) == []


def test_remove_job_outputs(fresh_repo) -> None:
    from lsst.daf.butler import Butler, CollectionType, MissingCollectionError

    butler = Butler.from_config(fresh_repo, writeable=True)
    try:
        butler.registry.registerCollection(f"u/ocps/{JOB_ID}/run", CollectionType.RUN)
        butler.registry.registerCollection(f"u/ocps/{JOB_ID}", CollectionType.CHAINED)
        butler.registry.setCollectionChain(f"u/ocps/{JOB_ID}", [f"u/ocps/{JOB_ID}/run", "LSSTComCam/calib"])
    finally:
        butler.close()
    assert remove_job_outputs(fresh_repo, JOB_ID) is True
    butler = Butler.from_config(fresh_repo)
    try:
        for name in (f"u/ocps/{JOB_ID}", f"u/ocps/{JOB_ID}/run"):
            with pytest.raises(MissingCollectionError):
                butler.collections.get_info(name)
        butler.collections.get_info("LSSTComCam/calib")
    finally:
        butler.close()
    assert remove_job_outputs(fresh_repo, JOB_ID) is False


def test_registered_and_made_by_make_runner(tmp_path) -> None:
    runner = make_runner("bps", str(tmp_path), str(tmp_path / "logs"), cluster=PER_DETECTOR, cores=1)
    assert isinstance(runner, BpsRunner)
    assert runner.cluster == PER_DETECTOR and runner.site_config["site"]["ocps_local"]["cores"] == 1


def test_thread_pool_site_builds_a_parsl_config(tmp_path) -> None:
    """The default site's parsl configuration, built without the checkpoint arguments newer parsl rejects."""
    from lsst.ctrl.bps import BpsConfig
    from lsst.ts.calibscripts.sim.runners.bps_site import ThreadPoolSite
    from parsl.executors import ThreadPoolExecutor

    config = build_submit_config(_request(), "/repo", "/p.yaml", str(tmp_path), cluster=PER_DETECTOR)
    site = ThreadPoolSite(BpsConfig(config))
    parsl_config = site.get_parsl_config()
    (executor,) = parsl_config.executors
    assert isinstance(executor, ThreadPoolExecutor) and executor.max_threads == 2
    assert parsl_config.retries == 0
    assert parsl_config.run_dir == str(tmp_path / "runinfo")
    assert site.select_executor(None) == executor.label


# --- slow: real bps submit -------------------------------------------------------------------


@pytest.fixture(scope="module")
def bps_repo(tmp_path_factory, template_repo: str) -> str:
    """2 detectors x 2 bias frames, the cheapest cpBias (built on a template copy)."""
    path = tmp_path_factory.mktemp("bps") / "repo"
    shutil.copytree(template_repo, path, symlinks=True)
    return build_repo(str(path), exposures=FRAMES)


def _bps_runner(repo: str, log_dir: str, **kwargs) -> BpsRunner:
    return BpsRunner(repo, log_dir, cores=2, cluster=PER_DETECTOR, final_job_cpus=1, **kwargs)


def _run_contents(butler, job_id: str) -> set[tuple[str, tuple]]:
    refs = butler.registry.queryDatasets(..., collections=f"u/ocps/{job_id}/run")
    return {(ref.datasetType.name, tuple(sorted(ref.dataId.required.items()))) for ref in refs}


@pytest.mark.slow
@pytest.mark.integration
async def test_bps_makes_the_same_datasets_as_pipetask(bps_repo, tmp_path) -> None:
    """The reference job runs in process, which makes the same datasets as pipetask (module docstring)."""
    from lsst.daf.butler import Butler

    config = "-j 8 -i LSSTComCam/calib --register-dataset-types"
    jobs = {}
    for name, runner in (
        ("reference", InProcessRunner(bps_repo, str(tmp_path / "pt"))),
        ("bps", _bps_runner(bps_repo, str(tmp_path / "bps"))),
    ):
        request = make_request(bps_repo, CP_BIAS, QUERY, config)
        outcome = await runner.run(request)
        assert outcome.phase is JobPhase.COMPLETED, outcome.error_message
        jobs[name] = (request.job_id, outcome)
    bps_job, bps_outcome = jobs["bps"]
    pt_job, pt_outcome = jobs["reference"]
    assert sorted(r["id"].replace(bps_job, "<job>") for r in bps_outcome.results) == sorted(
        r["id"].replace(pt_job, "<job>") for r in pt_outcome.results
    )
    # Logs in the job's folder: ocps.log, the submit directory with the per-quantum logs.
    job_dir = tmp_path / "bps" / bps_job
    assert os.path.isdir(job_dir / "bps" / "submit" / "logs")
    assert os.path.isdir(job_dir / "bps" / "runinfo")
    assert "Completed submitting" in (job_dir / "out" / "ocps.log").read_text()
    butler = Butler.from_config(bps_repo)
    try:
        contents = _run_contents(butler, bps_job)
        assert contents == _run_contents(butler, pt_job)
        assert {name for name, _ in contents} >= {"bias", "cpBiasIsrExp"}
        chains = [
            [c.replace(job, "<job>") for c in butler.registry.getCollectionChain(f"u/ocps/{job}")]
            for job in (bps_job, pt_job)
        ]
        assert chains[0][0] == "u/ocps/<job>/run" and chains[0] == chains[1]
        for detector in (0, 1):
            pixels = []
            for job in (bps_job, pt_job):
                uri = butler.getURI(
                    "bias", instrument="LSSTComCam", detector=detector, collections=f"u/ocps/{job}"
                )
                with fits.open(uri.ospath) as hdul:
                    pixels.append(np.array(hdul["IMAGE"].data))
            np.testing.assert_array_equal(pixels[0], pixels[1])
    finally:
        butler.close()


@pytest.mark.slow
@pytest.mark.integration
async def test_failed_quantum_fails_the_job(fresh_repo, tmp_path) -> None:
    """bps submit exits 0 with a failed quantum; the job still fails, with the reason in ocps.log."""
    from lsst.daf.butler import Butler

    repo = build_repo(fresh_repo, exposures=FRAMES)
    butler = Butler.from_config(repo)
    try:
        uri = butler.getURI(
            "raw", instrument="LSSTComCam", detector=1, exposure=FRAMES[1], collections="LSSTComCam/raw/all"
        )
    finally:
        butler.close()
    with open(uri.ospath, "wb") as f:  # the one quantum reading it fails
        f.write(b"not a FITS file")
    request = make_request(repo, CP_BIAS, QUERY, "-i LSSTComCam/calib --register-dataset-types")
    outcome = await _bps_runner(repo, str(tmp_path / "logs")).run(request)
    assert outcome.phase is JobPhase.ERROR
    assert "bps submit exited 0 but quanta did not succeed" in outcome.error_message
    assert f"cpBiasIsr: 1 failed (detector=1, exposure={FRAMES[1]}" in outcome.error_message
    assert "cpBiasCombine: 1 blocked by an upstream failure" in outcome.error_message
    with open(outcome.log_path) as f:
        log = f.read()
    assert log.rstrip().endswith(outcome.error_message)
    assert "Completed submitting" in log  # bps itself reported success


@pytest.mark.slow
@pytest.mark.integration
async def test_abort_stops_every_process(bps_repo, tmp_path) -> None:
    """Cancelling (abort_job) stops bps submit and its pipetask run-qbb; nothing stays registered."""
    psutil = pytest.importorskip("psutil")
    from lsst.daf.butler import Butler, MissingCollectionError

    runner = _bps_runner(bps_repo, str(tmp_path / "logs"), terminate_timeout=3.0)
    request = make_request(bps_repo, CP_BIAS, QUERY, "-i LSSTComCam/calib --register-dataset-types")
    task = asyncio.create_task(runner.run(request))
    me = psutil.Process()
    session = None
    for _ in range(1200):  # up to 120 s for the quantum graph and the first run-qbb
        for child in me.children(recursive=True):
            try:
                if "run-qbb" in child.cmdline():
                    session = os.getsid(child.pid)
            except (psutil.Error, ProcessLookupError):
                continue
        if session is not None:
            break
        assert not task.done(), task.result()
        await asyncio.sleep(0.1)
    assert session is not None, "no pipetask run-qbb started"
    members = [psutil.Process(pid) for pid in session_pids(session)]
    assert len(members) >= 2  # bps submit and at least one run-qbb
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert session_pids(session) == []
    # Every process of the submission has ended (an orphan may stay a zombie until its new parent reaps it).
    gone, alive = psutil.wait_procs(members, timeout=1)
    assert [p for p in alive if p.status() != psutil.STATUS_ZOMBIE] == []
    butler = Butler.from_config(bps_repo)
    try:
        for name in (f"u/ocps/{request.job_id}", f"u/ocps/{request.job_id}/run"):
            with pytest.raises(MissingCollectionError):
                butler.collections.get_info(name)
    finally:
        butler.close()
