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

"""`lsst.ts.calibscripts.cameras`: one home for camera naming."""

import ast
import pathlib

import pytest
from lsst.ts.calibscripts import cameras
from lsst.ts.calibscripts.cameras import COMCAM, CameraProfile, DetectorKind, raft_detectors

PACKAGE = pathlib.Path(cameras.__file__).parents[1]


def test_comcam_profile() -> None:
    assert COMCAM.instrument == "LSSTComCam"
    assert COMCAM.obs_id(20261125, 12) == "CC_O_20261125_000012"
    assert COMCAM.sal_components == ("CCCamera", "CCHeaderService", "CCOODS")
    assert COMCAM.ocps_index == 2 and COMCAM.group_name == "ComCam"
    assert COMCAM.detector_ids == tuple(range(9)) == COMCAM.default_detectors
    assert [COMCAM.detector_name(d) for d in (0, 4, 8)] == ["R22_S00", "R22_S11", "R22_S22"]
    assert COMCAM.detector_id("R22_S21") == 7
    assert COMCAM.raft_sensor(5) == ("R22", "S12")
    assert {d.vendor for d in COMCAM.detectors} == {"ITL"}
    assert COMCAM.filters == ("u_02", "g_01", "r_03", "i_06", "z_03", "y_04")
    assert COMCAM.filter_band("i_06") == "i"
    with pytest.raises(ValueError, match="not a LSSTComCam detector"):
        COMCAM.detector_name(9)
    with pytest.raises(ValueError, match="not a LSSTComCam detector"):
        COMCAM.detector_id("R21_S00")
    with pytest.raises(ValueError, match="known: u_02"):
        COMCAM.filter_band("r_57")


def test_other_cameras_are_new_instances_only() -> None:
    """LSSTCam-like corner rafts and a one-detector LATISS need no new code."""
    corners = raft_detectors("R00", 189, "ITL_G", ("SG0", "SG1"), DetectorKind.GUIDER) + raft_detectors(
        "R00W", 191, "ITL", ("SW0", "SW1"), DetectorKind.WAVEFRONT
    )
    lsstcam_like = CameraProfile(
        instrument="LSSTCam",
        camera_code="MC",
        controller="O",
        group_name="LSSTCam",
        camera_component="MTCamera",
        header_service_component="MTHeaderService",
        oods_component="MTOODS",
        ocps_index=3,
        detectors=raft_detectors("R01", 0, "ITL") + raft_detectors("R11", 36, "E2V") + corners,
        default_detectors=tuple(range(9)),
        filter_bands=(("r_57", "r"),),
        default_filter="r_57",
        read_out_time=2.0,
    )
    assert lsstcam_like.detector_name(191) == "R00W_SW0"
    assert lsstcam_like.detector(190).kind is DetectorKind.GUIDER
    assert lsstcam_like.detector(40).vendor == "E2V"
    assert lsstcam_like.detector_id("R00W_SW1") == 192
    latiss_like = CameraProfile(
        instrument="LATISS",
        camera_code="AT",
        controller="O",
        group_name="LATISS",
        camera_component="ATCamera",
        header_service_component="ATHeaderService",
        oods_component="ATOODS",
        ocps_index=1,
        detectors=raft_detectors("RXX", 0, "ITL", ("S00",)),
        default_detectors=(0,),
        filter_bands=(),
        default_filter="",
        read_out_time=2.0,
    )
    assert latiss_like.detector_name(0) == "RXX_S00" and latiss_like.describe_ids() == "0..0"
    with pytest.raises(ValueError, match="repeated detector ids"):
        CameraProfile(**{**vars(latiss_like), "detectors": latiss_like.detectors * 2})


def _imports(path: pathlib.Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            names.add("." * node.level + (node.module or ""))
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_cameras_imports_no_other_room() -> None:
    imported = set()
    for path in (PACKAGE / "cameras").glob("*.py"):
        imported |= _imports(path)
    assert not [name for name in imported if name.startswith("..") or "calibscripts" in name], imported


@pytest.mark.parametrize(
    "relative",
    [
        "sim/data/camera_model.py",
        "sim/csc/ccoods.py",
        "sim/csc/cccamera.py",
        "calib/metadata.py",
        "calib/naming.py",
        "calib/butler_ops.py",
        "calib/summary.py",
        "report/writer.py",
        "report/layout.py",
    ],
)
def test_camera_names_are_not_hard_coded(relative: str) -> None:
    """Instrument name, obs-id code and raft come from the profile, not from string literals."""
    tree = ast.parse((PACKAGE / relative).read_text())
    literals = [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and not _is_docstring(tree, node)
    ]
    assert [s for s in literals if s in ("LSSTComCam", "CC", "R22") or s.startswith("R22_")] == []


def _is_docstring(tree: ast.AST, node: ast.Constant) -> bool:
    for parent in ast.walk(tree):
        body = getattr(parent, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) and body[0].value is node:
            return True
    return False
