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

"""The conda recipe asks for what pyproject.toml asks for."""

import pathlib
import re
import tomllib

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]

#: PyPI name -> conda-forge name, where they differ.
CONDA_NAMES = {"matplotlib": "matplotlib-base", "build": "python-build"}


def requirement_name(text: str) -> str:
    """``numpy >=1.26`` / ``numpy>=1.26`` -> ``numpy`` (normalized)."""
    name = re.split(r"[\s<>=!~;\[]", text.strip(), maxsplit=1)[0]
    return name.lower().replace("_", "-")


def conda_recipe() -> dict:
    text = (ROOT / "conda" / "meta.yaml").read_text()
    text = re.sub(r"\{%.*?%\}", "", text)
    text = re.sub(r"\{\{.*?\}\}", "X", text)
    return yaml.safe_load(text)


def test_run_and_test_requirements_match_pyproject() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    recipe = conda_recipe()
    run = {requirement_name(r) for r in recipe["requirements"]["run"]}
    constrained = {requirement_name(r) for r in recipe["requirements"].get("run_constrained", [])}
    tests = {requirement_name(r) for r in recipe["test"]["requires"]}

    def conda(name: str) -> str:
        name = requirement_name(name)
        return CONDA_NAMES.get(name, name)

    for dependency in project["dependencies"]:
        assert conda(dependency) in run, dependency
    for dependency in project["optional-dependencies"]["sim"]:
        assert conda(dependency) in constrained, dependency
        assert conda(dependency) in tests, dependency  # the tests run the simulation
    for dependency in project["optional-dependencies"]["test"]:
        assert conda(dependency) in tests, dependency
    assert recipe["build"]["entry_points"] == [
        f"{name} = {target}" for name, target in project["scripts"].items()
    ]
