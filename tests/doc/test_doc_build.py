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

"""The documentation builds with ``sphinx-build -W`` and the configuration
reference shows every option of the shipped schema."""

import html
import json
import pathlib
import re
import shutil
import subprocess
import sys

import pytest
import yaml

# One worker builds the documentation once for the module's tests (Sphinx: the slow tier).
pytestmark = [pytest.mark.xdist_group("docs"), pytest.mark.slow]

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOC = ROOT / "doc"
SCHEMA = ROOT / "python" / "lsst" / "ts" / "calibscripts" / "schemas" / "make_comcam_bias.yaml"


def build(source: pathlib.Path, out: pathlib.Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", str(source), str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    out = tmp_path_factory.mktemp("html")
    result = build(DOC, out)
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def page_text(path: pathlib.Path) -> str:
    text = re.sub(r"<[^>]+>", " ", path.read_text(encoding="utf-8"))
    return " ".join(html.unescape(text).split())


def test_pages_built(built: pathlib.Path) -> None:
    for page in ("index", "operator_guide", "configuration", "developer_guide", "version_history"):
        assert (built / f"{page}.html").is_file(), page


def test_configuration_reference_matches_schema(built: pathlib.Path) -> None:
    schema = yaml.safe_load(SCHEMA.read_text())
    text = page_text(built / "configuration.html")
    for name, spec in schema["properties"].items():
        assert name in text, name
        description = " ".join(str(spec["description"]).split())
        assert description in text, name
        if "default" in spec:
            assert json.dumps(spec["default"]) in text, name
    for name in schema.get("required", []):
        assert "(required)" in text and name in text


def test_configuration_reference_shows_the_calibrations_schema_with_its_shared_options(
    built: pathlib.Path,
) -> None:
    from lsst.ts.calibscripts.schemas import load_schema

    schema = load_schema("make_comcam_calibrations.yaml")
    text = page_text(built / "configuration.html")
    for name in ("script_mode", "exp_times_dark", "generate_calibrations", "filter", "pipeline_flat"):
        description = " ".join(str(schema["properties"][name]["description"]).split())
        assert description in text, name


def test_configuration_reference_shows_the_lsstcam_schema(built: pathlib.Path) -> None:
    from lsst.ts.calibscripts.schemas import load_schema

    schema = load_schema("make_lsstcam_calibrations.yaml")
    text = page_text(built / "configuration.html")
    assert "MakeLSSTCamCalibrations" in text
    for name in ("detectors", "ignore", "filter", "repo"):
        description = " ".join(str(schema["properties"][name]["description"]).split())
        assert description in text, name
    assert json.dumps(schema["properties"]["detectors"]["default"]) in text


def test_schema_change_changes_reference(tmp_path: pathlib.Path) -> None:
    """The table is generated from the schema file, so a change shows up (and a bad schema fails)."""
    copy = tmp_path / "repo"
    shutil.copytree(DOC, copy / "doc", ignore=shutil.ignore_patterns("_build"))
    schema_path = copy / SCHEMA.relative_to(ROOT)
    # Every schema the reference shows (the calibrations schema and its shared options too).
    shutil.copytree(SCHEMA.parent, schema_path.parent, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    schema = yaml.safe_load(SCHEMA.read_text())
    schema["properties"]["brand_new_option"] = dict(
        type="integer", default=42, description="An option added to the schema only."
    )
    schema_path.write_text(yaml.safe_dump(schema))
    out = tmp_path / "html"
    result = build(copy / "doc", out)
    assert result.returncode == 0, result.stdout + result.stderr
    text = page_text(out / "configuration.html")
    assert "brand_new_option" in text and "An option added to the schema only." in text

    schema["properties"]["undocumented"] = dict(type="integer")
    schema_path.write_text(yaml.safe_dump(schema))
    result = build(copy / "doc", tmp_path / "html2")
    assert result.returncode != 0
    assert "undocumented" in result.stdout + result.stderr
