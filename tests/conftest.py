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

"""Test-wide settings and shared fixtures.

* The simulated SAL unless ``CALIBSCRIPTS_SAL`` asks for another: the suite
  never reaches a real broker by accident; only an explicit
  ``CALIBSCRIPTS_SAL=real`` (or ``auto`` where ts_salobj is installed) runs
  it on the real SAL stack.
* Hypothesis runs derandomized (the same examples on every run and machine)
  and keeps no example database, so parallel workers share no files.
* ``template_repo``: one simulated butler repository made once per test
  run (the pytest-xdist workers share it); ``fresh_repo`` gives each test
  its own copy, so no test sees another's datasets.
* Markers (``pyproject.toml``): ``slow`` tests run only in the full tier
  (``make test-all``), ``integration`` tests start processes or the real
  ``pipetask`` and are scheduled first, ``serial`` tests run one at a time
  in one worker.
"""

import os

os.environ.setdefault("CALIBSCRIPTS_SAL", "sim")
os.environ.setdefault("LSST_TOPIC_SUBNAME", "test_calibscripts")
os.environ.setdefault("MPLBACKEND", "Agg")

import pathlib  # noqa: E402
import shutil  # noqa: E402

import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

settings.register_profile("deterministic", derandomize=True, database=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))

SERIAL_GROUP = "serial"
"""pytest-xdist group of the tests marked ``serial`` (run with ``--dist loadgroup``)."""


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """``-n auto``: two workers per CPU, at most eight.

    About a third of a worker's time is spent waiting (simulated SAL
    timeouts that are the subject of a test, subprocesses, the butler
    thread), so one worker per CPU leaves the CPUs idle that long; a
    second worker per CPU fills those waits. More than two per CPU only
    adds start-up cost (each worker imports the stack and makes its
    template repository). ``PYTEST_XDIST_AUTO_NUM_WORKERS`` still wins.
    """
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(2 * cpus, 8))


def xdist_group_of(item: pytest.Item) -> str | None:
    """The pytest-xdist group of ``item`` (its ``xdist_group`` markers' names), or None."""
    names = {
        str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
        for mark in item.iter_markers("xdist_group")
    }
    return "_".join(sorted(names)) or None


def _tag_with_group(item: pytest.Item, group: str) -> None:
    """Suffix the node id with ``@group``, which ``--dist loadgroup`` schedules by.

    pytest-xdist sets ``item._nodeid``; since pytest 9 the node id is
    ``item._id`` (a `NodeId`), so xdist's suffix is lost and every test of
    a group may run on any worker (each worker then builds the group's
    session fixtures: the wheel, the documentation, the dark/flat chains).
    """
    if item.nodeid.endswith(f"@{group}"):
        return  # pytest-xdist did it
    tagged = f"{item.nodeid}@{group}"
    if hasattr(item, "_id"):
        from _pytest.nodeid import NodeId

        item._id = NodeId.parse(tagged)
    else:
        item._nodeid = tagged


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Put ``serial`` tests in one xdist group; schedule ``integration`` tests first.

    Integration tests are the longest; starting them first keeps a worker
    from picking one up when the others have nothing left to do. In a
    pytest-xdist worker with ``--dist loadgroup``, each grouped test's node
    id gets its group suffix, so that the tests of a group run in one worker.
    """
    for item in items:
        if item.get_closest_marker("serial") is not None:
            item.add_marker(pytest.mark.xdist_group(SERIAL_GROUP))
        group = xdist_group_of(item)
        if group is not None and getattr(config.option, "loadgroup", False):
            _tag_with_group(item, group)
    items.sort(key=lambda item: item.get_closest_marker("integration") is None)


@pytest.fixture(autouse=True)
def fresh_topic_subname() -> None:
    """Give every test its own topic namespace, as upstream tests do.

    Event history lives as long as the process for a given
    ``LSST_TOPIC_SUBNAME`` (as Kafka keeps it), so without this a test
    would see samples left by an earlier one.
    """
    from lsst.ts.calibscripts.sal import salobj

    salobj.set_test_topic_subname(randomize=True)


@pytest.fixture(scope="session")
def template_repo(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A new simulated LSSTComCam repository, made once per test run.

    The pytest-xdist workers of a run share it: the first to take the lock
    makes it in the run's temporary folder (above each worker's own), the
    others wait and use it. Never write to it: tests get copies
    (``fresh_repo``).
    """
    import fcntl

    from lsst.ts.calibscripts.sim.data.repo import create_or_open_repo

    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        return create_or_open_repo(tmp_path_factory.mktemp("template") / "repo")
    shared = tmp_path_factory.getbasetemp().parent / "template"
    shared.mkdir(exist_ok=True)
    with open(shared / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not (shared / "made").exists():
            create_or_open_repo(shared / "repo")
            (shared / "made").touch()
    return str(shared / "repo")


@pytest.fixture
def fresh_repo(template_repo: str, tmp_path: pathlib.Path) -> str:
    """This test's own copy of ``template_repo``, at ``tmp_path / "repo"``."""
    target = tmp_path / "repo"
    shutil.copytree(template_repo, target, symlinks=True)
    return str(target)
