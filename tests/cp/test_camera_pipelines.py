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


"""LSSTCam and LATISS pipelines run the same stand-in tasks as LSSTComCam's."""

from __future__ import annotations

import os

import pytest
from lsst.pipe.base import Pipeline
from lsst.ts.calibscripts.sim.cp import pipeline_env

PIPELINES = [("CP_PIPE_DIR", f"cp{t}") for t in ("Bias", "Dark", "Flat")] + [
    ("CP_VERIFY_DIR", f"verify{t}") for t in ("Bias", "Dark", "Flat")
]


def _tasks(variable: str, camera: str, name: str) -> dict[str, str]:
    path = os.path.join(pipeline_env()[variable], "pipelines", camera, f"{name}.yaml")
    pipeline = Pipeline.from_uri(path)
    return {label: pipeline.to_graph().tasks[label].task_class_name for label in pipeline.task_labels}


@pytest.mark.parametrize("camera", ["LSSTCam", "LATISS"])
@pytest.mark.parametrize("variable, name", PIPELINES)
def test_camera_pipeline_imports_the_stand_ins(
    monkeypatch: pytest.MonkeyPatch, camera: str, variable: str, name: str
) -> None:
    for key, value in pipeline_env().items():
        monkeypatch.setenv(key, value)
    tasks = _tasks(variable, camera, name)
    assert tasks == _tasks(variable, "LSSTComCam", name)
    assert tasks and all(cls.startswith("lsst.ts.calibscripts.sim.cp.") for cls in tasks.values())
