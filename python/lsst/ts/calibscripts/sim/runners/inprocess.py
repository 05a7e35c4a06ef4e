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

"""In-process OCPS job runner (pipe_base's simple executor, off the event loop).

Same tasks, same collections and the same error outcomes as `PipetaskRunner`,
without a subprocess, for fast tests:

* output CHAINED ``u/ocps/<job_id>`` → RUN ``u/ocps/<job_id>/run`` followed
  by the flattened inputs (``-i <default_input>`` then the ``-i`` of the
  job's ``config``), exactly the chain ``pipetask -o ... --output-run ...``
  makes;
* collections are created only once the quantum graph is built, so a bad
  data query or an empty graph leaves the repository untouched, as with
  pipetask;
* the data query is parsed by daf_butler, so a malformed query fails with
  the same ``InvalidQueryError`` text, and a query that selects nothing ends
  with ``QuantumGraph was empty; ERROR logs above should provide details.``;
* ``-j`` is accepted and ignored: quanta always run one at a time in one
  worker thread;
* ``-c label:key=value`` and ``-C label:file`` are applied to the pipeline;
  an unknown option fails with click's ``Error: No such option: ...``.

The quanta read and write through one quantum-backed butler, as
``pipetask run-qbb`` does, and the datasets they wrote are registered in the
repository in one transfer at the end of the job, also when a quantum fails
or the job is cancelled: the repository then holds the same datasets as
after ``pipetask run`` (a dataset costs a file write and no registry
transaction of its own, about a third of a quantum's cost).

Each job writes its log (``lsst`` loggers, records of its own worker thread
only) to its ``ocps.log`` in its output directory ``<log_dir>/<job_id>/out``.
Cancelling `InProcessRunner.run` stops
the job between quanta: the quantum being executed finishes (a quantum is
never cut in half, so the repository stays consistent), no further quantum
starts, and the cancellation propagates once the worker thread is done.
"""

from __future__ import annotations

__all__ = ["InProcessRunner"]

import asyncio
import logging
import os
import sys
import threading
import traceback
import typing

if typing.TYPE_CHECKING:
    from lsst.daf.butler import Butler, DatasetRef
    from lsst.pipe.base.quantum_graph import PredictedQuantumGraph

from ... import butlers
from ..interfaces import JobOutcome, JobPhase, JobRequest
from ._common import (
    RunOptions,
    RunOptionsError,
    job_collections,
    job_paths,
    log_tail,
    output_results,
    resolve_pipeline,
    runner_env,
)

_LOG_FORMAT = "%(levelname)s %(asctime)s %(name)s (%(threadName)s) - %(message)s"


_level_lock = threading.Lock()
_level_users = 0
_level_saved = logging.NOTSET


def _raise_lsst_log_level() -> None:
    """Make the ``lsst`` logger pass INFO while at least one job runs."""
    global _level_users, _level_saved
    with _level_lock:
        logger = logging.getLogger("lsst")
        if _level_users == 0:
            _level_saved = logger.level
            if logger.getEffectiveLevel() > logging.INFO:
                logger.setLevel(logging.INFO)
        _level_users += 1


def _restore_lsst_log_level() -> None:
    """Undo `_raise_lsst_log_level` when the last job ends."""
    global _level_users
    with _level_lock:
        _level_users -= 1
        if _level_users == 0:
            logging.getLogger("lsst").setLevel(_level_saved)


class _JobCancelled(Exception):
    """Raised in the worker thread when the job is cancelled between quanta."""


class _EmptyGraph(RuntimeError):
    """The quantum graph has no quanta (pipetask's click error)."""


class _ThreadFilter(logging.Filter):
    """Pass records emitted by one thread only."""

    def __init__(self, thread_id: int) -> None:
        super().__init__()
        self.thread_id = thread_id

    def filter(self, record: logging.LogRecord) -> bool:
        return record.thread == self.thread_id


class InProcessRunner:
    """Run OCPS jobs with `lsst.pipe.base.SimplePipelineExecutor` in a thread.

    Parameters
    ----------
    repo : `str`, optional
        Butler repository, used when a request has no ``butler_repo``.
    log_dir : `str`, optional
        Folder of the job directories ``<job_id>/out/ocps.log`` (created if
        needed); default ``<repo>_ocps_logs`` beside the job's repository.
    env : `~collections.abc.Mapping` [`str`, `str`], optional
        Environment used to expand ``$VAR`` in pipeline locations; default
        (read at each job) `os.environ` on top of
        `lsst.ts.calibscripts.sim.cp.pipeline_env`.
    """

    def __init__(
        self,
        repo: str | None = None,
        log_dir: str | None = None,
        env: typing.Mapping[str, str] | None = None,
    ) -> None:
        self.repo = os.fspath(repo) if repo is not None else None
        self.log_dir = os.fspath(log_dir) if log_dir is not None else None
        self.env = dict(env) if env is not None else None

    async def run(self, request: JobRequest) -> JobOutcome:
        """Run one job; cancelling stops it between quanta."""
        try:
            repo, log_path = job_paths(self.repo, self.log_dir, request.butler_repo, request.job_id)
        except (ValueError, OSError) as e:
            return JobOutcome(phase=JobPhase.ERROR, error_message=str(e))
        stop = threading.Event()
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(None, self._run_blocking, request, repo, log_path, stop)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            stop.set()
            try:
                await future
            except BaseException:
                pass
            raise

    def _run_blocking(
        self, request: JobRequest, repo: str, log_path: str, stop: threading.Event
    ) -> JobOutcome:
        """Build and execute the quantum graph (worker thread)."""
        handler = logging.FileHandler(log_path, mode="w")
        handler.setFormatter(logging.Formatter(_LOG_FORMAT))
        handler.addFilter(_ThreadFilter(threading.get_ident()))
        handler.setLevel(logging.INFO)
        lsst_log = logging.getLogger("lsst")
        lsst_log.addHandler(handler)
        _raise_lsst_log_level()
        log = logging.getLogger("lsst.ts.calibscripts.sim.runners.inprocess")
        try:
            results = self._execute(request, repo, stop, log)
            return JobOutcome(phase=JobPhase.COMPLETED, results=results, log_path=log_path)
        except _JobCancelled:
            log.warning("Job %s cancelled between quanta.", request.job_id)
            raise
        except Exception as e:
            if isinstance(e, RunOptionsError):
                log.error("%s", e)
            elif isinstance(e, _EmptyGraph):
                log.error("Error: %s", e)
            else:
                log.error("Job failed:\n%s", "".join(traceback.format_exception(e)).rstrip())
            handler.flush()
            return JobOutcome(phase=JobPhase.ERROR, error_message=log_tail(log_path), log_path=log_path)
        finally:
            lsst_log.removeHandler(handler)
            _restore_lsst_log_level()
            handler.close()

    def _execute(
        self, request: JobRequest, repo: str, stop: threading.Event, log: logging.Logger
    ) -> list[dict[str, str]]:
        """Job body: parse, build graph, make collections, run quanta, list results."""
        from lsst.daf.butler import CollectionType, MissingCollectionError
        from lsst.daf.butler.registry import RegistryDefaults
        from lsst.pipe.base import Pipeline
        from lsst.pipe.base.simple_pipeline_executor import SimplePipelineExecutor

        options = RunOptions.parse(request.default_input, request.config)
        output, run = job_collections(request.job_id)
        location = resolve_pipeline(request.pipeline, runner_env(self.env))
        log.info(
            "Job %s: pipeline %s, data query %r, inputs %s",
            request.job_id,
            location,
            request.data_query,
            options.inputs,
        )
        pipeline = Pipeline.from_uri(location)
        for label, key, value in options.config_overrides:
            pipeline.addConfigOverride(label, key, value)
        for label, path in options.config_files:
            pipeline.addConfigFile(label, path)
        butler = butlers.open_butler(repo, writeable=True)
        try:
            try:
                butler.collections.get_info(run)
            except MissingCollectionError:
                pass
            else:
                raise ValueError(f"Output run '{run}' already exists, but --extend-run was not given.")
            inputs = list(butler.collections.query(options.inputs, flatten_chains=True, include_chains=False))
            for name in options.inputs:
                butler.collections.get_info(name)  # MissingCollectionError, as pipetask
            butler.registry.defaults = RegistryDefaults(collections=inputs)
            graph = pipeline.to_graph(registry=butler.registry)
            executor = SimplePipelineExecutor.from_pipeline_graph(
                graph,
                where=request.data_query,
                butler=butler,
                output=output,
                output_run=run,
                attach_datastore_records=True,
            )
            predicted = executor.predicted
            n_quanta = len(predicted)
            if n_quanta == 0:
                raise _EmptyGraph("QuantumGraph was empty; ERROR logs above should provide details.")
            log.info("QuantumGraph contains %d quanta for %d tasks.", n_quanta, len(graph.tasks))
            butler.registry.registerCollection(run, CollectionType.RUN)
            butler.registry.registerCollection(output, CollectionType.CHAINED)
            butler.registry.setCollectionChain(output, [run, *inputs])
            butler.registry.defaults = RegistryDefaults(collections=[output], run=run)
            done, written = _run_quanta(butler, repo, predicted, options.register_dataset_types, stop)
            log.info(
                "Executed %d quanta successfully, 0 failed and 0 remain out of total %d quanta.",
                done,
                n_quanta,
            )
            return output_results(butler, run, request.output_dataset_types, refs=written)
        finally:
            butler.close()


_packages_lock = threading.Lock()
_packages_cache: dict[frozenset[str], typing.Any] = {}


def _system_packages() -> typing.Any:
    """`lsst.utils.packages.Packages.fromSystem`, computed once per set of imported packages.

    Finding the versions of the imported packages takes about a tenth of a
    second; pipetask does it once per job, in a process of its own. Here jobs
    share a process, whose imported packages (``sys.modules``' top-level
    names) change rarely, so the result is kept for as long as they are
    the same.
    """
    from lsst.utils.packages import Packages

    key = frozenset(name.partition(".")[0] for name in list(sys.modules))
    with _packages_lock:
        if key not in _packages_cache:
            _packages_cache.clear()
            _packages_cache[key] = Packages.fromSystem()
        return _packages_cache[key]


def _run_quanta(
    butler: "Butler",
    repo: str,
    predicted: "PredictedQuantumGraph",
    register_dataset_types: bool,
    stop: threading.Event,
) -> tuple[int, list["DatasetRef"]]:
    """Execute the quanta in order; return how many ran and the datasets written.

    The quanta read and write through one quantum-backed butler (as
    ``pipetask run-qbb`` does, with the datastore records of the graph's
    inputs), so that a dataset written costs a file and no registry
    transaction; the datasets written are then registered in the repository
    in one `~lsst.daf.butler.Butler.transfer_from` (as ``butler
    transfer-from-graph``), also when a quantum fails or the job is cancelled
    between quanta, so that the repository holds the outputs of the quanta
    that ran, as after ``pipetask run``. Init-outputs (configurations,
    package versions) go straight to the repository, as with pipetask.
    """
    from lsst.daf.butler import QuantumBackedButler
    from lsst.daf.butler.datastore.record_data import DatastoreRecordData
    from lsst.pipe.base import TaskFactory
    from lsst.pipe.base.single_quantum_executor import SingleQuantumExecutor

    if register_dataset_types:
        predicted.pipeline_graph.register_dataset_types(butler)
    predicted.write_configs(butler, compare_existing=False)
    predicted.write_init_outputs(butler, skip_existing=False)
    # The job's RUN is new (checked above), so there is no packages dataset to compare with.
    (packages_ref,) = predicted.get_init_outputs("").values()
    butler.put(_system_packages(), packages_ref)
    written = [packages_ref]
    for label in predicted.pipeline_graph.tasks:
        written.extend(predicted.get_init_outputs(label).values())
    quanta = predicted.build_execution_quanta()
    inputs, outputs = set(), []
    records: dict[str, DatastoreRecordData] = {}
    for quantum in quanta.values():
        inputs.update(ref.id for refs in quantum.inputs.values() for ref in refs)
        outputs.extend(ref for refs in quantum.outputs.values() for ref in refs)
        for name, data in (quantum.datastore_records or {}).items():
            records.setdefault(name, DatastoreRecordData()).update(data)
    dataset_types = {name: node.dataset_type for name, node in predicted.pipeline_graph.dataset_types.items()}
    qbb = QuantumBackedButler.from_predicted(
        config=repo,
        predicted_inputs=inputs,
        predicted_outputs=[ref.id for ref in outputs],
        dimensions=butler.dimensions,
        datastore_records=records,
        dataset_types=dataset_types,
    )
    # SingleQuantumExecutor closes the butler its factory gives after each quantum; this one
    # (its records in an in-memory database) serves the whole job and is closed at its end.
    qbb.close = lambda: None  # type: ignore[method-assign]
    executor = SingleQuantumExecutor(
        task_factory=TaskFactory(), limited_butler_factory=lambda quantum: qbb, raise_on_partial_outputs=True
    )
    nodes = predicted.quantum_only_xgraph.nodes
    done = 0
    try:
        for quantum_id in predicted:
            executor.execute(nodes[quantum_id]["pipeline_node"], nodes[quantum_id]["quantum"], quantum_id)
            done += 1
            if stop.is_set() and done < len(quanta):
                raise _JobCancelled()
    finally:
        try:
            written.extend(butler.transfer_from(qbb, outputs, transfer="auto", skip_missing=True))
        finally:
            QuantumBackedButler.close(qbb)
    return done, written
