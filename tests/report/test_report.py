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

"""Tests of the run report: master bias reader, per-amp aggregation, pictures."""

import enum
import pathlib
import shutil
import subprocess
import sys
import typing

import astropy.units as u
import numpy as np
import pytest
import yaml
from astropy.io import fits
from astropy.time import Time
from lsst.daf.butler import Butler, DatasetRef, DatasetType, FileDataset
from lsst.ts.calibscripts import report
from lsst.ts.calibscripts.report import AMP_NAMES, DETECTOR_NAMES
from lsst.ts.calibscripts.sim.data.formatter import FORMATTER_NAME
from lsst.ts.calibscripts.sim.data.repo import register_exposure
from lsst.ts.calibscripts.sim.interfaces import ImageInfo
from PIL import Image

INSTRUMENT = "LSSTComCam"
EXPOSURES = (2026112500001, 2026112500002, 2026112500003)
SHAPE = (40, 36)


class FinalState(enum.IntEnum):
    DONE = 8


def nominal_noise(det: int, amp_index: int) -> float:
    return 6.0 + 0.5 * det + 0.1 * amp_index


def make_det_stats(det: int, exposure: int, noisy: set[tuple[int, str]]) -> dict:
    """A verifyBiasDetStats dict of the real shape with predictable values."""
    amp_stats, metadata, verify = {}, {}, {}
    for amp_index, amp in enumerate(AMP_NAMES):
        nominal = nominal_noise(det, amp_index)
        noise = nominal * (1.5 if (det, amp) in noisy else 1.01) + 0.001 * (exposure % 10)
        mean = 0.01 * amp_index - 0.02
        amp_stats[amp] = dict(MEAN=mean, NOISE=noise, CR_NOISE=noise * 1.01, AMP_CORNER=0.3)
        metadata[amp] = noise / 1.4
        noise_ok = (noise - nominal) / nominal <= 0.05
        verify[amp] = dict(
            MEAN=bool(abs(mean) < noise),
            NOISE=bool(noise_ok),
            CR_NOISE=True,
            SUCCESS=bool(noise_ok),
            READ_NOISE_CONSISTENT=True,
        )
    return dict(
        AMP=amp_stats,
        METADATA=dict(READ_NOISE_ADU=metadata),
        CATALOG={},
        DET={},
        ISR={},
        VERIFY=dict(AMP=verify),
        SUCCESS=all(v["SUCCESS"] for v in verify.values()),
    )


def master_pixels(det: int) -> np.ndarray:
    rng = np.random.default_rng(det)
    return (rng.normal(0.0, 1.0, SHAPE) + 0.25 * det).astype(np.float32)


def write_exposuref_like(path: pathlib.Path, det: int, compressed: bool = False) -> np.ndarray:
    """Write a file shaped like an afw ExposureF: IMAGE, MASK, VARIANCE, tables."""
    pixels = master_pixels(det)
    image_header = fits.Header()
    image_header["EXTTYPE"] = "IMAGE"
    image_header["BUNIT"] = "electron"
    for amp_index, amp in enumerate(AMP_NAMES):
        image_header[f"HIERARCH LSST ISR READNOISE {amp}"] = nominal_noise(det, amp_index)
    mask = np.zeros(SHAPE, dtype=np.int32)
    mask[0, 0] = 1 << 0  # BAD
    mask[1, 1] = 1 << 8  # NO_DATA
    mask[2, 2] = 1 << 5  # DETECTED: still drawn
    mask_header = fits.Header()
    mask_header["EXTTYPE"] = "MASK"
    mask_header["MP_BAD"] = 0
    mask_header["HIERARCH MP_DETECTED"] = 5
    mask_header["HIERARCH MP_NO_DATA"] = 8
    image_hdu_type = fits.CompImageHDU if compressed else fits.ImageHDU
    hdus = fits.HDUList(
        [
            fits.PrimaryHDU(header=fits.Header([("OBSTYPE", "bias"), ("DETECTOR", det)])),
            image_hdu_type(pixels, header=image_header, name="IMAGE"),
            image_hdu_type(mask, header=mask_header, name="MASK"),
            image_hdu_type(np.ones(SHAPE, dtype=np.float32), name="VARIANCE"),
            fits.BinTableHDU.from_columns([fits.Column(name="id", format="K", array=np.arange(3))]),
        ]
    )
    hdus.writeto(path)
    return pixels


def write_sim_like(path: pathlib.Path, det: int) -> np.ndarray:
    """Write a file shaped like the simulated master: primary + IMAGE."""
    pixels = master_pixels(det)
    header = fits.Header()
    for amp_index, amp in enumerate(AMP_NAMES):
        header[f"HIERARCH LSST ISR READNOISE {amp}"] = nominal_noise(det, amp_index)
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(pixels, header=header, name="IMAGE")]).writeto(path)
    return pixels


# The tests that read the repository below run in one worker, which builds it once.
READS_REPO = pytest.mark.xdist_group("report_repo")


@pytest.fixture(scope="module")
def repo(template_repo: str, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A small butler repository with 9 master biases and verifyBiasDetStats.

    Made once per module and only read by the tests (each writes its
    pictures and summaries in its own ``tmp_path``).
    """
    tmp_path = tmp_path_factory.mktemp("report_repo")
    root = str(tmp_path / "repo")
    shutil.copytree(template_repo, root, symlinks=True)
    butler = Butler.from_config(root, writeable=True)
    for exposure in EXPOSURES:
        begin = Time("2026-11-25T20:00:00", scale="tai") + (exposure % 100) * u.min
        image = ImageInfo(
            obs_id=f"CC_O_20261125_{exposure % 100000:06d}",
            exposure_id=exposure,
            day_obs=20261125,
            seq_num=exposure % 100000,
            group_id="2026-11-25T20:00:00.000",
            image_type="BIAS",
            exp_time=0.0,
            date_begin=begin,
            date_end=begin + 2 * u.s,
            detectors=tuple(range(9)),
        )
        register_exposure(butler, image)
    bias_type = butler.get_dataset_type("bias")
    stats_type = butler.get_dataset_type("verifyBiasDetStats")
    registry = butler.registry
    bias_run, verify_run = "u/ocps/cafe/run", "u/ocps/beef/run"
    registry.registerRun(bias_run)
    registry.registerRun(verify_run)
    files = tmp_path / "files"
    files.mkdir()
    pixels = {}
    datasets = []
    for det in range(9):
        path = files / f"bias_{det}.fits"
        if det == 4:
            pixels[det] = write_exposuref_like(path, det, compressed=True)
        elif det % 2 == 0:
            pixels[det] = write_exposuref_like(path, det)
        else:
            pixels[det] = write_sim_like(path, det)
        ref = DatasetRef(bias_type, dict(instrument=INSTRUMENT, detector=det), run=bias_run)
        datasets.append(FileDataset(path=str(path), refs=[ref], formatter=FORMATTER_NAME))
    butler.ingest(*datasets, transfer="copy")
    noisy = {(4, "C10"), (7, "C03")}
    for exposure in EXPOSURES:
        for det in range(9):
            butler.put(
                make_det_stats(det, exposure, noisy),
                stats_type,
                dict(instrument=INSTRUMENT, exposure=exposure, detector=det),
                run=verify_run,
            )
    return dict(root=root, bias_run=bias_run, verify_run=verify_run, pixels=pixels, noisy=noisy, files=files)


def test_layout() -> None:
    assert DETECTOR_NAMES == tuple(f"R22_S{r}{c}" for r in range(3) for c in range(3))
    assert AMP_NAMES[:8] == tuple(f"C1{i}" for i in range(8))
    assert AMP_NAMES[8:] == ("C07", "C06", "C05", "C04", "C03", "C02", "C01", "C00")
    assert report.focal_plane_position(0) == (2, 0)  # S00 bottom left
    assert report.focal_plane_position(2) == (2, 2)  # S02 bottom right
    assert report.focal_plane_position(6) == (0, 0)  # S20 top left
    assert report.focal_plane_position(4) == (1, 1)
    assert report.detector_id("S21") == 7
    assert report.detector_name(5) == "R22_S12"
    with pytest.raises(ValueError):
        report.detector_name(9)
    with pytest.raises(ValueError):
        report.detector_id("R21_S00")


def test_read_exposuref(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "bias.fits"
    pixels = write_exposuref_like(path, 3)
    master = report.read_master_bias(path)
    np.testing.assert_array_equal(master.image, pixels.astype(np.float64))
    assert master.extensions[:4] == ["PRIMARY", "IMAGE", "MASK", "VARIANCE"]
    assert master.hidden is not None
    assert master.hidden[0, 0] and master.hidden[1, 1] and not master.hidden[2, 2]
    assert int(master.hidden.sum()) == 2
    shown = master.display_image()
    assert np.isnan(shown[0, 0]) and np.isnan(shown[1, 1]) and np.isfinite(shown[2, 2])
    assert master.header["OBSTYPE"] == "bias"  # primary header kept
    assert master.header["BUNIT"] == "electron"  # image header merged
    noise = report.header_read_noise(master.header)
    assert set(noise) == set(AMP_NAMES)
    assert noise["C00"] == pytest.approx(nominal_noise(3, AMP_NAMES.index("C00")))


def test_read_compressed_and_sim(tmp_path: pathlib.Path) -> None:
    compressed = tmp_path / "compressed.fits"
    pixels = write_exposuref_like(compressed, 1, compressed=True)
    master = report.read_master_bias(f"file://{compressed}")
    assert master.image.shape == SHAPE
    # Tile compression of floats is lossy (quantized); the values stay close.
    assert np.max(np.abs(master.image - pixels)) < 0.1
    assert master.hidden is not None and master.hidden[0, 0]

    sim = tmp_path / "sim.fits"
    pixels = write_sim_like(sim, 2)
    master = report.read_master_bias(sim)
    np.testing.assert_array_equal(master.image, pixels)
    assert master.hidden is None
    np.testing.assert_array_equal(master.display_image(), master.image)


def test_read_errors(tmp_path: pathlib.Path) -> None:
    with pytest.raises(FileNotFoundError):
        report.read_master_bias(tmp_path / "missing.fits")
    text = tmp_path / "not.fits"
    text.write_text("hello")
    with pytest.raises(ValueError):
        report.read_master_bias(text)
    table_only = tmp_path / "table.fits"
    fits.HDUList(
        [fits.PrimaryHDU(), fits.BinTableHDU.from_columns([fits.Column(name="a", format="K", array=[1])])]
    ).writeto(table_only)
    with pytest.raises(ValueError, match="IMAGE"):
        report.read_master_bias(table_only)


def test_bin_image() -> None:
    image = np.arange(16, dtype=float).reshape(4, 4)
    binned, factor = report.bin_image(image, max_size=2)
    assert factor == 2
    np.testing.assert_array_equal(binned, [[2.5, 4.5], [10.5, 12.5]])
    image[0, 0] = np.nan
    binned, _ = report.bin_image(image, max_size=2)
    assert binned[0, 0] == pytest.approx((1 + 4 + 5) / 3)
    image[:2, :2] = np.nan
    binned, _ = report.bin_image(image, max_size=2)
    assert np.isnan(binned[0, 0])
    same, factor = report.bin_image(np.ones((3, 3)), max_size=10)
    assert factor == 1 and same.shape == (3, 3)


def test_collect_amp_verification() -> None:
    noisy = {(4, "C10")}
    stats = [(e, d, make_det_stats(d, e, noisy)) for e in EXPOSURES for d in (0, 4)]
    # One exposure where C11 of detector 0 fails CR_NOISE only.
    stats[0][2]["VERIFY"]["AMP"]["C11"]["CR_NOISE"] = False
    verification = report.collect_amp_verification(stats)
    assert verification.exposures == list(EXPOSURES)
    assert verification.detectors_measured == [0, 4]
    c10 = AMP_NAMES.index("C10")
    assert verification.n_measured[4, c10] == 3 and verification.n_measured[1, c10] == 0
    assert verification.n_failed["NOISE"][4, c10] == 3
    assert verification.n_failed["CR_NOISE"][0, AMP_NAMES.index("C11")] == 1
    expected = np.median([nominal_noise(4, c10) * 1.5 + 0.001 * (e % 10) for e in EXPOSURES])
    assert verification.values["NOISE"][4, c10] == pytest.approx(expected)
    assert np.isnan(verification.values["NOISE"][1, c10])
    assert verification.failures() == ["R22_S00 C11 CR_NOISE (1/3)", "R22_S11 C10 NOISE (3/3)"]


def png_size(path: pathlib.Path) -> tuple[int, int]:
    with Image.open(path) as image:
        assert image.format == "PNG"
        return image.size


@pytest.mark.slow
@READS_REPO
def test_write_report_from_butler(repo: dict, tmp_path: pathlib.Path) -> None:
    summary = dict(final_state=FinalState.DONE, exposures=np.array(EXPOSURES), n=np.int64(3))
    out = tmp_path / "report"
    result = report.write_report(
        out,
        summary,
        repo["root"],
        bias_collections=repo["bias_run"],
        verify_collections=[repo["verify_run"]],
    )
    assert result.problems == []
    assert set(result.pictures) == {"mosaic", "verification", "noise"}
    assert png_size(result.pictures["mosaic"]) == report.MOSAIC_SIZE
    assert png_size(result.pictures["verification"]) == report.VERIFICATION_SIZE
    assert png_size(result.pictures["noise"]) == report.NOISE_SIZE
    assert result.failures == ["R22_S11 C10 NOISE (3/3)", "R22_S21 C03 NOISE (3/3)"]

    written = yaml.safe_load(result.summary_path.read_text())
    assert written["final_state"] == "DONE"
    assert written["exposures"] == list(EXPOSURES)
    assert written["n"] == 3
    assert written["report"]["pictures"] == {k: report.PICTURE_FILES[k] for k in result.pictures}
    assert written["report"]["failed_amp_tests"] == result.failures
    assert written["report"]["problems"] == []


@pytest.mark.slow
@READS_REPO
def test_pictures_show_the_data(repo: dict, tmp_path: pathlib.Path) -> None:
    butler = Butler.from_config(str(repo["root"]))
    masters = {}
    for det in range(9):
        uri = butler.getURI("bias", instrument=INSTRUMENT, detector=det, collections=repo["bias_run"])
        masters[det] = report.read_master_bias(uri)
    mosaic = report.plot_focal_plane_mosaic(masters, tmp_path / "m.png")
    assert png_size(mosaic.path) == report.MOSAIC_SIZE
    for det in range(9):
        shown = repo["pixels"][det].astype(np.float64)
        if det % 2 == 0 and det != 4:  # ExposureF-like: BAD and NO_DATA pixels are not drawn
            shown = shown.copy()
            shown[0, 0] = shown[1, 1] = np.nan
        if det != 4:  # det 4 is lossy-compressed
            assert mosaic.data["median"][det] == pytest.approx(np.nanmedian(shown))
        assert mosaic.data["binned"][det].shape == SHAPE  # small enough not to be binned
    # Each detector is drawn at its place on the focal plane.
    assert mosaic.data["positions"][0] == (2, 0) and mosaic.data["positions"][8] == (0, 2)
    # The colour scale follows the data (offsets 0 .. 2 e-).
    assert -3 < mosaic.data["vmin"] < 0 < 2 < mosaic.data["vmax"] < 5

    stats = []
    for exposure in EXPOSURES:
        for det in range(9):
            stats.append((exposure, det, make_det_stats(det, exposure, repo["noisy"])))
    verification = report.collect_amp_verification(stats)
    vmap = report.plot_verification_map(verification, tmp_path / "v.png")
    assert png_size(vmap.path) == report.VERIFICATION_SIZE
    c03 = AMP_NAMES.index("C03")
    assert vmap.data["n_failed"]["NOISE"][7, c03] == 3
    assert int(vmap.data["n_failed"]["NOISE"].sum()) == 6
    assert vmap.data["annotations"]["NOISE"][7][c03] == f"{verification.values['NOISE'][7, c03]:.2f}"
    assert all(text for row in vmap.data["annotations"]["MEAN"] for text in row)

    nominal = {
        name: {amp: nominal_noise(d, i) for i, amp in enumerate(AMP_NAMES)}
        for d, name in enumerate(DETECTOR_NAMES)
    }
    noise = report.plot_noise_vs_nominal(verification, nominal, tmp_path / "n.png")
    assert png_size(noise.path) == report.NOISE_SIZE
    assert noise.data["over_limit"] == ["R22_S11 C10", "R22_S21 C03"]
    assert noise.data["nominal"][0] == pytest.approx(nominal_noise(0, 0))
    assert noise.data["excess"][4 * 16] == pytest.approx(0.5, abs=0.01)
    assert noise.data["measured"].shape == (144,)


@pytest.mark.slow
@READS_REPO
def test_noise_reference_from_master_headers(repo: dict, tmp_path: pathlib.Path) -> None:
    """Without an explicit nominal, the masters' LSST ISR READNOISE keys are used."""
    result = report.write_report(
        tmp_path / "r",
        {},
        repo["root"],
        bias_collections=repo["bias_run"],
        verify_collections=repo["verify_run"],
    )
    assert "noise" in result.pictures
    assert not [p for p in result.problems if "nominal" in p]


def test_write_report_without_data(tmp_path: pathlib.Path) -> None:
    result = report.write_report(tmp_path / "empty", dict(state="FAILED", reason="OODS ingest failed"))
    assert result.pictures == {}
    assert any("no master bias collection" in p for p in result.problems)
    assert any("no verification statistics" in p for p in result.problems)
    written = yaml.safe_load(result.summary_path.read_text())
    assert written["reason"] == "OODS ingest failed"
    assert written["report"]["problems"] == result.problems


def test_write_report_bad_repo(tmp_path: pathlib.Path) -> None:
    result = report.write_report(
        tmp_path / "r", {}, tmp_path / "no_repo", bias_collections="u/ocps/x", verify_collections="u/ocps/y"
    )
    assert result.pictures == {}
    assert any("cannot open butler repository" in p for p in result.problems)
    assert result.summary_path.exists()


@pytest.mark.slow
def test_det_stats_given_directly(tmp_path: pathlib.Path) -> None:
    stats = [(EXPOSURES[0], d, make_det_stats(d, EXPOSURES[0], set())) for d in range(9)]
    nominal = {"R22_S00": {"C10": 1.0}}
    result = report.write_report(tmp_path / "r", {}, det_stats=stats, nominal_read_noise=nominal)
    assert set(result.pictures) == {"verification", "noise"}
    assert result.failures == []


@pytest.mark.slow
async def test_write_report_async(tmp_path: pathlib.Path) -> None:
    stats = [(EXPOSURES[0], 0, make_det_stats(0, EXPOSURES[0], set()))]
    result = await report.write_report_async(
        tmp_path / "a", dict(x=1), det_stats=stats, summary_name="run_7.yaml", prefix="run_7_"
    )
    assert result.summary_path == tmp_path / "a" / "run_7.yaml"
    assert yaml.safe_load(result.summary_path.read_text())["x"] == 1
    assert result.pictures["verification"] == tmp_path / "a" / "run_7_verification_map.png"
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == [
        "run_7.yaml",
        "run_7_noise_vs_nominal.png",
        "run_7_verification_map.png",
    ]


def test_read_structured_reads_what_the_butler_reads(
    fresh_repo: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fast path (libyaml on the YAML file) gives what butler.get gives, without butler.get."""
    butler = Butler.from_config(fresh_repo, writeable=True)
    stats_type = DatasetType(
        "calibscriptsTestDetStats",
        ("instrument", "detector"),
        "StructuredDataDict",
        universe=butler.dimensions,
    )
    butler.registry.registerDatasetType(stats_type)
    butler.registry.registerRun("u/test/stats")
    value = make_det_stats(4, EXPOSURES[0], {(4, "C10")})
    value["DET"] = dict(odd=[float("inf"), -0.0, 1e-300, 7, "07", None, "yes", True])
    ref = butler.put(value, stats_type, dict(instrument=INSTRUMENT, detector=4), run="u/test/stats")
    assert butler.getURI(ref).getExtension() == ".yaml"
    expected = butler.get(ref)

    class NoGet:
        """The butler, but get refuses: the fast path must not need it."""

        def getURI(self, ref: DatasetRef) -> typing.Any:
            return butler.getURI(ref)

        def get(self, ref: DatasetRef) -> typing.Any:
            raise AssertionError("butler.get called for a YAML dataset")

    fast = report.read_structured(NoGet(), ref)
    assert fast == expected
    assert [type(v) for v in fast["DET"]["odd"]] == [type(v) for v in expected["DET"]["odd"]]
    assert fast["SUCCESS"] is False and fast["VERIFY"]["AMP"]["C10"]["NOISE"] is False

    # Without libyaml, the butler reads it.
    monkeypatch.setattr(report.writer, "_C_SAFE_LOADER", None)
    assert report.read_structured(butler, ref) == expected


def test_read_structured_leaves_other_files_to_the_butler() -> None:
    """A dataset that is not a YAML file (JSON, say) is read by butler.get, never parsed as YAML."""
    from lsst.resources import ResourcePath

    class JsonButler:
        def getURI(self, ref: typing.Any) -> ResourcePath:
            return ResourcePath("file:///nonexistent/stats.json")

        def get(self, ref: typing.Any) -> dict:
            return {"read": "by the butler"}

    assert report.read_structured(JsonButler(), object()) == {"read": "by the butler"}


def test_import_does_not_load_matplotlib() -> None:
    code = "import sys, lsst.ts.calibscripts.report; print('matplotlib' in sys.modules)"
    output = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert output.strip() == "False"


@pytest.mark.slow
@READS_REPO
def test_write_run_pictures_from_run_summary(
    repo: dict, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The script's call: pictures beside the RunSummary's YAML, collections from its jobs."""
    from lsst.ts.calibscripts.calib.summary import JobRecord, RunSummary

    summary = RunSummary(
        salindex=7, repo=str(repo["root"]), detectors=list(range(9)), started="2026-11-25T20:00:00"
    )
    summary.add_job(
        JobRecord(
            name="cp_bias",
            job_id="cafe",
            exit_code=0,
            output_collection="u/ocps/cafe",
            output_run=repo["bias_run"],
        )
    )
    summary.add_job(
        JobRecord(
            name="verify_bias",
            job_id="beef",
            exit_code=0,
            output_collection="u/ocps/beef",
            output_run=repo["verify_run"],
        )
    )
    with pytest.raises(ValueError, match="the summary has no path yet"):
        report.write_run_pictures(summary)
    yaml_path = pathlib.Path(summary.write(tmp_path / "reports"))
    result = report.write_run_pictures(summary)
    assert result.problems == []
    stem = yaml_path.stem
    assert {k: p.name for k, p in result.pictures.items()} == {
        "mosaic": f"{stem}_master_bias_mosaic.png",
        "verification": f"{stem}_verification_map.png",
        "noise": f"{stem}_noise_vs_nominal.png",
    }
    assert all(p.parent == yaml_path.parent for p in result.pictures.values())
    assert result.summary_path == yaml_path
    assert sorted(p.name for p in yaml_path.parent.iterdir()) == sorted(
        [yaml_path.name, *(p.name for p in result.pictures.values())]
    )  # the script's YAML is left alone; no other YAML written

    # Which pictures the other cases draw: the figures are made but not rendered
    # to PNG (rendering is the costly part, checked above).
    from lsst.ts.calibscripts.report import figures

    monkeypatch.setattr(figures, "_save", lambda figure, path, size: pathlib.Path(path))
    # A failed verify job: no verification pictures, and the reason is recorded.
    summary.job("verify_bias").exit_code = 1
    partial = report.write_run_pictures(summary)
    assert set(partial.pictures) == {"mosaic"}
    assert any("no verification statistics" in p for p in partial.problems)

    # Resumed from an earlier bias job (no cp_bias job in this run): the master's
    # collection is known, so the mosaic and the noise plot are drawn too.
    summary.jobs = [job for job in summary.jobs if job.name != "cp_bias"]
    summary.job("verify_bias").exit_code = 0
    without = report.write_run_pictures(summary)
    assert set(without.pictures) == {"verification", "noise"}
    assert any("nominal read noise unknown" in p for p in without.problems)
    summary.bias_collection = repo["bias_run"]
    resumed = report.write_run_pictures(summary)
    assert set(resumed.pictures) == {"mosaic", "verification", "noise"}, resumed.problems
    assert resumed.problems == []


@pytest.mark.slow
def test_flat_verification_map_has_the_flat_test_only(tmp_path: pathlib.Path) -> None:
    """A flat's statistics (MEAN, NOISE; the NOISE test) make a one-panel map."""
    stats = []
    for exposure in EXPOSURES:
        for det in range(9):
            amps = {amp: {"MEAN": 1000.0, "NOISE": 30.0} for amp in AMP_NAMES}
            verdicts = {amp: {"NOISE": not (det == 2 and amp == "C11"), "SUCCESS": True} for amp in AMP_NAMES}
            stats.append((exposure, det, {"AMP": amps, "VERIFY": {"AMP": verdicts}}))
    verification = report.collect_amp_verification(
        stats, report.TYPE_STATISTICS["flat"], report.TYPE_TESTS["flat"]
    )
    assert verification.tests == ("NOISE",)
    assert verification.failures() == ["R22_S02 C11 NOISE (3/3)"]
    vmap = report.plot_verification_map(verification, tmp_path / "flat.png", title="cp_verify flat tests")
    assert png_size(vmap.path) == report.VERIFICATION_SIZE
    assert set(vmap.data["n_failed"]) == {"NOISE"}
    assert vmap.data["annotations"]["NOISE"][0][0] == "30.00"
