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

"""Tests of the cpBias/verifyBias PipelineTasks and pipeline files."""

import os

import numpy as np
import pytest
from astropy.io import fits
from lsst.ts.calibscripts.sim.cp import pipeline_env
from lsst.ts.calibscripts.sim.cp.synthetic import make_raw
from lsst.ts.calibscripts.sim.data.camera_model import AMP_NAMES, amp_geometry

pipe_base = pytest.importorskip("lsst.pipe.base")
from lsst.ts.calibscripts.sim.cp import tasks  # noqa: E402

EXPOSURES = [2026112500001, 2026112500002, 2026112500003, 2026112500004]


def _raws(detector: int, factor: float = 1.0) -> list[fits.HDUList]:
    geom = amp_geometry("reduced")
    raws = []
    for i, e in enumerate(EXPOSURES):
        raw = make_raw(detector, e, geom, read_noise_factor=factor)
        raw[0].header["DATE-BEG"] = f"2026-11-25T22:00:{10 * i:02d}.000"
        raw[0].header["DATE-END"] = f"2026-11-25T22:00:{10 * i + 2:02d}.300"
        raws.append(raw)
    return raws


def _master(detector: int) -> fits.HDUList:
    isr_task = tasks.CpBiasIsrTask()
    processed = [isr_task.run(raw, e, detector).outputExposure for raw, e in zip(_raws(detector), EXPOSURES)]
    # Inputs given out of order: the task sorts them by exposure id.
    return tasks.CpBiasCombineTask().run(processed[::-1], EXPOSURES[::-1]).outputData


def test_isr_task_output_is_exposure_like() -> None:
    out = tasks.CpBiasIsrTask().run(_raws(0)[0], EXPOSURES[0], 0).outputExposure
    assert out[1].name == "IMAGE" and out[1].data.dtype == np.float32
    assert out[1].data.shape == (400, 408)
    header = out[0].header
    assert header["LSST ISR UNITS"] == "electron"
    assert header["BUNIT"] == "electron"
    assert header["LSST ISR GAIN C10"] == pytest.approx(1.3517)
    assert header["LSST ISR READNOISE C10"] == pytest.approx(8.7)
    assert header["LSST ISR OVERSCAN RESIDUAL SERIAL STDEV C10"] * 1.3517 == pytest.approx(8.7, rel=0.1)


def test_master_file_convention(tmp_path) -> None:
    master = _master(1)
    path = tmp_path / "bias.fits"
    master.writeto(path)
    with fits.open(path) as hdul:
        assert hdul[1].name == "IMAGE"
        assert hdul[1].data.shape == (400, 408)
        assert hdul[2].name == "MASK"
        header = hdul[0].header
        assert header["OBSTYPE"] == "bias"
        assert [header[f"CPP_INPUT_{i}"] for i in range(4)] == EXPOSURES
        assert header["CPP_INPUT_SCALE_0"] == 1.0
        assert header["DATE-BEG"].startswith("2026-11-25T22:00:00")
        assert header["DATE-END"].startswith("2026-11-25T22:00:32.3")
        assert header["MJD-BEG"] < header["MJD-END"]
        assert header["LSST ISR UNITS"] == "electron"
        assert header["BUNIT"] == "electron"
        assert header["LSST CALIB BIAS C10 BADPIX-NUM"] == 0
        low, mid, high = (header[f"LSST CALIB BIAS C07 DISTRIBUTION {p}-PCT"] for p in (0, 50, 100))
        assert low < mid < high
        assert "CALIB_CREATION_DATE" in header


def test_verify_tasks_chain_shapes() -> None:
    det = 2
    master = _master(det)
    isr_task, det_task = tasks.VerifyBiasIsrTask(), tasks.VerifyBiasDetTask()
    det_stats, det_tables = [], []
    for raw, e in zip(_raws(det), EXPOSURES):
        residual = isr_task.run(raw, master, e, det).outputExposure
        assert residual[0].header["LSST CALIB BIAS C10 DISTRIBUTION 50-PCT"] == pytest.approx(
            master[0].header["LSST CALIB BIAS C10 DISTRIBUTION 50-PCT"]
        )
        out = det_task.run(residual, "LSSTComCam", e, det)
        det_stats.append(out.outputStats)
        det_tables.append(out.outputResults)
    stats = det_stats[0]
    assert list(stats) == ["AMP", "METADATA", "CATALOG", "DET", "ISR", "VERIFY", "SUCCESS"]
    assert set(stats["AMP"]) == set(AMP_NAMES)
    assert set(stats["AMP"]["C10"]) == {"MEAN", "NOISE", "CR_NOISE", "AMP_CORNER"}
    assert set(stats["VERIFY"]["AMP"]["C10"]) == {
        "MEAN",
        "NOISE",
        "CR_NOISE",
        "SUCCESS",
        "READ_NOISE_CONSISTENT",
    }
    assert set(stats["METADATA"]["READ_NOISE_ADU"]) == set(AMP_NAMES)
    assert stats["ISR"]["MJD"] == pytest.approx(61369.9167, abs=0.01)
    assert set(stats["ISR"]["CALIBDIST"]["C10"]) == {"0", "5", "16", "50", "84", "95", "100"}
    table = det_tables[0]
    assert len(table) == 16 and list(table["amplifier"]) == list(AMP_NAMES)
    assert set(table.colnames) >= {
        "instrument", "exposure", "detector", "mjd", "amplifier", "BIAS_MEAN", "BIAS_NOISE", "BIAS_CR_NOISE",
        "BIAS_AMP_CORNER", "BIAS_VERIFY_MEAN", "BIAS_VERIFY_NOISE", "BIAS_VERIFY_CR_NOISE",
        "BIAS_VERIFY_SUCCESS",
        "BIAS_VERIFY_READ_NOISE_CONSISTENT", "BIAS_READ_NOISE_ADU", "BIAS_BIAS_DIST_50.0_PCT",
    }  # fmt: skip
    assert table["BIAS_NOISE"][0] == pytest.approx(stats["AMP"]["C10"]["NOISE"])
    assert table["BIAS_BIAS_DIST_50.0_PCT"][0] == pytest.approx(stats["ISR"]["CALIBDIST"]["C10"]["50"])
    assert set(table["exposure"]) == {EXPOSURES[0]} and set(table["detector"]) == {det}
    exp_out = tasks.VerifyBiasExpTask().run([det_stats[0]], [det], [det_tables[0]])
    exp = exp_out.outputStats
    assert stats["SUCCESS"] is True
    assert exp == {"R22_S02": {"SUCCESS": True}, "SUCCESS": True}
    run_out = tasks.VerifyBiasRunTask().run(
        [exp, exp], [EXPOSURES[1], EXPOSURES[0]], [exp_out.outputResults] * 2
    )
    assert list(run_out.outputStats) == [EXPOSURES[0], EXPOSURES[1], "SUCCESS"]
    assert len(run_out.outputResults) == 32


def test_verify_isr_rejects_wrong_master_shape() -> None:
    master = _master(0)
    master[1].data = master[1].data[:10]
    with pytest.raises(RuntimeError, match="shape"):
        tasks.VerifyBiasIsrTask().run(_raws(0)[0], master, EXPOSURES[0], 0)


def test_pipeline_env_and_pipelines(monkeypatch) -> None:
    env = pipeline_env()
    assert set(env) == {"CP_PIPE_DIR", "CP_VERIFY_DIR"}
    for key, name in (("CP_PIPE_DIR", "cpBias.yaml"), ("CP_VERIFY_DIR", "verifyBias.yaml")):
        assert os.path.isfile(os.path.join(env[key], "pipelines", "LSSTComCam", name))
        monkeypatch.setenv(key, env[key])
    cp_bias = pipe_base.Pipeline.from_uri("${CP_PIPE_DIR}/pipelines/LSSTComCam/cpBias.yaml").to_graph()
    assert set(cp_bias.tasks) == {"cpBiasIsr", "cpBiasCombine"}
    verify_bias = pipe_base.Pipeline.from_uri(
        "${CP_VERIFY_DIR}/pipelines/LSSTComCam/verifyBias.yaml"
    ).to_graph()
    assert set(verify_bias.tasks) == {"verifyBiasIsr", "verifyBiasDet", "verifyBiasExp", "verifyBias"}
    combine_config = cp_bias.tasks["cpBiasCombine"].config
    assert (combine_config.combine, combine_config.clip, combine_config.nIter) == ("MEANCLIP", 3.0, 3)
    assert list(combine_config.mask) == ["DETECTED", "INTRP"]


def test_connections_match_registered_dataset_types() -> None:
    from lsst.ts.calibscripts.sim.data.repo import DATASET_TYPES

    connections = {
        "bias": tasks.CpBiasCombineConnections.outputData,
        "raw": tasks.CpBiasIsrConnections.ccdExposure,
        "verifyBiasDetStats": tasks.VerifyBiasDetConnections.outputStats,
        "verifyBiasExpStats": tasks.VerifyBiasExpConnections.outputStats,
        "verifyBiasStats": tasks.VerifyBiasRunConnections.outputStats,
    }
    for name, connection in connections.items():
        dimensions, storage_class, is_calibration = DATASET_TYPES[name]
        assert connection.name == name
        assert set(connection.dimensions) == set(dimensions)
        assert connection.storageClass == storage_class
        assert getattr(connection, "isCalibration", False) is is_calibration
    assert tasks.VerifyBiasIsrConnections.bias.isCalibration is True


def test_make_exposure_mask_round_trip(tmp_path) -> None:
    image = np.arange(20, dtype=np.float32).reshape(4, 5)
    bad = np.zeros(image.shape, dtype=bool)
    bad[2, 3] = True
    path = tmp_path / "exp.fits"
    tasks.make_exposure(image, {"OBSTYPE": "bias", "LSST CALIB BIAS C10 BADPIX-NUM": 1}, bad=bad).writeto(
        path
    )
    with fits.open(path) as hdul:
        assert [h.name for h in hdul] == ["PRIMARY", "IMAGE", "MASK"]
        np.testing.assert_array_equal(hdul["IMAGE"].data, image)
        assert hdul["MASK"].header["MP_BAD"] == 0
        np.testing.assert_array_equal((hdul["MASK"].data & 1) != 0, bad)
        assert hdul[0].header["LSST CALIB BIAS C10 BADPIX-NUM"] == 1
