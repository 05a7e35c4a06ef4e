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
from lsst.ts.calibscripts.cameras import (
    AMP_LAYOUTS,
    COMCAM,
    LATISS,
    LSSTCAM,
    PROFILES,
    CameraProfile,
    DetectorKind,
    profile,
    raft_detectors,
)

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


def test_lsstcam_profile_counts_and_sal() -> None:
    assert LSSTCAM.instrument == "LSSTCam" and LSSTCAM.ocps_index == 3 and LSSTCAM.group_name == "LSSTCam"
    assert LSSTCAM.sal_components == ("MTCamera", "MTHeaderService", "MTOODS")
    assert LSSTCAM.obs_id(20260315, 51) == "MC_O_20260315_000051"
    assert LSSTCAM.detector_ids == tuple(range(205))
    kinds = [d.kind for d in LSSTCAM.detectors]
    assert kinds.count(DetectorKind.SCIENCE) == 189
    assert kinds.count(DetectorKind.GUIDER) == 8 and kinds.count(DetectorKind.WAVEFRONT) == 8
    assert LSSTCAM.default_detectors == tuple(range(189))
    assert len({d.raft for d in LSSTCAM.detectors if d.kind is DetectorKind.SCIENCE}) == 21
    vendors = [d.vendor for d in LSSTCAM.detectors if d.kind is DetectorKind.SCIENCE]
    assert vendors.count("ITL") == 72 and vendors.count("E2V") == 117
    assert LSSTCAM.filters == ("u_24", "g_6", "r_57", "i_39", "z_20", "y_10")
    assert LSSTCAM.filter_band("r_57") == "r" and LSSTCAM.physical_filter("g_6") == "g_6"
    assert LSSTCAM.filter_change_timeout == 120.0


@pytest.mark.parametrize(
    "detector, name, vendor, kind",
    [
        (0, "R01_S00", "ITL", DetectorKind.SCIENCE),
        (27, "R10_S00", "ITL", DetectorKind.SCIENCE),
        (36, "R11_S00", "E2V", DetectorKind.SCIENCE),
        (94, "R22_S11", "E2V", DetectorKind.SCIENCE),
        (72, "R20_S00", "ITL", DetectorKind.SCIENCE),
        (188, "R43_S22", "ITL", DetectorKind.SCIENCE),
        (189, "R00_SG0", "ITL", DetectorKind.GUIDER),
        (190, "R00_SG1", "ITL", DetectorKind.GUIDER),
        (191, "R00W_SW0", "ITL", DetectorKind.WAVEFRONT),
        (192, "R00W_SW1", "ITL", DetectorKind.WAVEFRONT),
        (193, "R04_SG0", "ITL", DetectorKind.GUIDER),
        (196, "R04W_SW1", "ITL", DetectorKind.WAVEFRONT),
        (197, "R40_SG0", "ITL", DetectorKind.GUIDER),
        (200, "R40W_SW1", "ITL", DetectorKind.WAVEFRONT),
        (201, "R44_SG0", "ITL", DetectorKind.GUIDER),
        (204, "R44W_SW1", "ITL", DetectorKind.WAVEFRONT),
    ],
)
def test_lsstcam_known_detectors(detector: int, name: str, vendor: str, kind: DetectorKind) -> None:
    info = LSSTCAM.detector(detector)
    assert (info.name, info.vendor, info.kind) == (name, vendor, kind)
    assert LSSTCAM.detector_id(name) == detector
    assert LSSTCAM.detector_from_raft_sensor(*name.split("_")) == detector


def test_lsstcam_raft_first_ids_and_round_trip() -> None:
    first_ids = {d.raft: d.id for d in reversed(LSSTCAM.detectors)}
    assert [first_ids[r] for r in ("R01", "R02", "R14", "R20", "R22", "R34", "R41", "R43")] == [
        0, 9, 63, 72, 90, 153, 162, 180,
    ]  # fmt: skip
    for raft in ("R11", "R12", "R13", "R14", "R21", "R23", "R24", "R30", "R31", "R32", "R33", "R34"):
        assert {d.vendor for d in LSSTCAM.detectors if d.raft == raft} == {"E2V"}
    for raft in ("R01", "R02", "R03", "R10", "R20", "R41", "R42", "R43"):
        assert {d.vendor for d in LSSTCAM.detectors if d.raft == raft} == {"ITL"}
    assert all(LSSTCAM.detector_id(LSSTCAM.detector_name(d)) == d for d in LSSTCAM.detector_ids)
    with pytest.raises(ValueError, match="not a LSSTCam detector .*0..204"):
        LSSTCAM.detector_name(205)


def test_amp_layouts_per_vendor() -> None:
    itl, e2v = LSSTCAM.detector(0).amp_layout, LSSTCAM.detector(36).amp_layout
    assert itl == AMP_LAYOUTS["ITL"] and itl.ccd_shape == (4072, 4000) and itl.n_amps == 16
    assert e2v == AMP_LAYOUTS["E2V"] and e2v.ccd_shape == (4096, 4004)
    assert (e2v.prescan, e2v.serial_overscan, e2v.parallel_overscan) == (10, 54, 46)
    assert (itl.prescan, itl.serial_overscan, itl.parallel_overscan) == (3, 64, 48)
    wavefront = LSSTCAM.detector(191).amp_layout
    assert wavefront.n_amps == 8 and wavefront.ccd_shape == (4072, 2000)
    assert LSSTCAM.detector(189).amp_layout.n_amps == 16
    reduced = e2v.reduced()
    assert (reduced.data_width, reduced.data_height, reduced.prescan) == (52, 200, 10)
    assert COMCAM.detector(0).amp_layout == LATISS.detector(0).amp_layout == itl


def test_latiss_profile() -> None:
    assert LATISS.instrument == "LATISS" and LATISS.ocps_index == 1
    assert LATISS.sal_components == ("ATCamera", "ATSpectrograph", "ATHeaderService", "ATOODS")
    assert LATISS.obs_id(20260315, 7) == "AT_O_20260315_000007"
    assert LATISS.detector_ids == (0,) == LATISS.default_detectors
    assert LATISS.detector_name(0) == "RXX_S00" and LATISS.detector_id("RXX_S00") == 0
    assert LATISS.raft_sensor(0) == ("RXX", "S00")
    assert LATISS.instrument_setup_attributes == ("filter", "grating", "linear_stage")
    assert LATISS.physical_filter() == "SDSSr_65mm~empty"
    assert LATISS.physical_filter("SDSSg_65mm", "holo4_003") == "SDSSg_65mm~holo4_003"
    assert LATISS.physical_filter("SDSSg_65mm", "") == "SDSSg_65mm~empty"
    assert LATISS.physical_filter_band("SDSSi_65mm~blue300lpmm_qn1") == "i"
    assert len(LATISS.physical_filter_bands) == 4 * 4
    # obs_lsst reads an empty_<n> filter slot as "empty", as it does an empty grating.
    assert LATISS.physical_filter("empty_1", "holo4_003") == "empty~holo4_003"
    assert LATISS.physical_filter("EMPTY_2", "Empty_1") == "empty~empty"
    assert "empty~empty" in dict(LATISS.physical_filter_bands)
    assert "empty_1~empty" not in dict(LATISS.physical_filter_bands)
    with pytest.raises(ValueError, match="not a LATISS detector"):
        LATISS.detector(1)
    with pytest.raises(ValueError, match="default grating"):
        CameraProfile(**{**vars(LATISS), "default_grating": "nope"})


def test_profiles_by_instrument() -> None:
    assert set(PROFILES) == {"LSSTComCam", "LSSTCam", "LATISS"}
    assert profile("LSSTCam") is LSSTCAM and profile("LATISS") is LATISS
    assert {p.ocps_index for p in PROFILES.values()} == {1, 2, 3}
    with pytest.raises(ValueError, match="known: LSSTComCam, LSSTCam, LATISS"):
        profile("LSSTCam-imSim")


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
        "sim/csc/oods.py",
        "sim/csc/header_service.py",
        "sim/csc/spectrograph.py",
        "sim/observatory.py",
        "sim/csc/camera.py",
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
