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

"""A BIAS_DARK_FLAT run with the stand-in pipelines: certified masters built on this run's jobs.

One in-process run (2 detectors, 2 frames per type after one discarded):
the bias, dark and flat are certified for every detector, each from its
own job's RUN; the dark job was given this run's bias job output and the
flat job this run's bias and dark job outputs (the mock OCPS's job
requests), and the butler's provenance of the ISR products those jobs
wrote says that they read exactly that bias and dark. The report of each
type shows that type's masters and verification statistics.
"""

from __future__ import annotations

import pathlib
import typing

import astropy.time
import numpy as np
import pytest
import yaml
from lsst.ts.calibscripts import report
from lsst.ts.calibscripts.calib.sequence import TypeState
from lsst.ts.calibscripts.sal import ScriptState
from lsst.ts.calibscripts.sim.data import repo as sim_repo
from lsst.ts.calibscripts.sim.data.formatter import read_provenance

from .conftest import CALIB, SMALL

# Slow tier: a whole BIAS_DARK_FLAT run with the stand-in pipelines and pictures.
pytestmark = [pytest.mark.integration, pytest.mark.slow]

FILTER = "i_06"


def _inputs(config: str) -> list[str]:
    words = config.split()
    return words[words.index("-i") + 1].split(",")


def _read_inputs(path: str, run: str, dataset_type: str) -> dict[int, list[dict[str, str]]]:
    """The provenance inputs of every ``dataset_type`` dataset in ``run``, by detector."""
    butler = sim_repo.open_butler(path, writeable=False)
    try:
        refs = butler.query_datasets(dataset_type, collections=run)
        assert refs, f"no {dataset_type} in {run}"
        return {int(ref.dataId["detector"]): read_provenance(butler.get(ref)[0].header) for ref in refs}
    finally:
        butler.close()


async def test_bias_dark_flat_done_with_provenance(run_calibs, monkeypatch: pytest.MonkeyPatch) -> None:
    # What the script drew, kept as it drew it (drawing again would double the test's cost).
    drawn_by_type: dict[str, report.RunReport] = {}
    draw = report.write_run_pictures

    def keep_drawn(summary: typing.Any, *args: typing.Any, **kwargs: typing.Any) -> report.RunReport:
        drawn = draw(summary, *args, **kwargs)
        drawn_by_type[str(summary.calib_type).lower()] = drawn
        return drawn

    monkeypatch.setattr(report, "write_run_pictures", keep_drawn)
    config = {
        **SMALL,
        "script_mode": "BIAS_DARK_FLAT",
        "generate_calibrations": True,
        "filter": FILTER,
        "certify_calib_begin_date": "2026-01-01",
        "certify_calib_end_date": "2027-01-01",
    }
    run = await run_calibs(config, runner="inprocess", pictures=True)
    medians: dict[str, np.ndarray] = {}
    assert run.state == ScriptState.DONE, run.reason
    result = run.script.result
    assert result is not None
    assert [r.state for r in result.types] == [TypeState.SUCCEEDED] * 3, result.describe()

    bias, dark, flat = (run.job(p) for p in ("cpBias", "cpDark", "cpFlat"))
    runs = {
        name: f"u/ocps/{job.request.job_id}/run"
        for name, job in zip(("bias", "dark", "flat"), (bias, dark, flat))
    }
    # The job requests: cpDark on this run's bias job, cpFlat on this run's bias and dark jobs.
    assert _inputs(dark.request.config)[0] == f"u/ocps/{bias.request.job_id}"
    assert _inputs(flat.request.config)[:2] == [
        f"u/ocps/{bias.request.job_id}",
        f"u/ocps/{dark.request.job_id}",
    ]

    # Certified: each type from its own job's RUN, for every detector (the flat in its filter).
    assert run.repo is not None
    when = astropy.time.Time("2026-06-01T00:00:00", scale="tai")
    for dataset_type in ("bias", "dark", "flat"):
        for detector in SMALL["detectors"]:
            ref = sim_repo.find_certified_calib(
                run.repo,
                dataset_type,
                detector,
                when,
                collection=CALIB,
                **({"physical_filter": FILTER} if dataset_type == "flat" else {}),
            )
            assert ref is not None, (dataset_type, detector)
            assert ref.run == runs[dataset_type]

    # The butler's provenance: the dark's ISR read this run's bias; the flat's ISR its bias and dark.
    for detector, inputs in _read_inputs(run.repo, runs["dark"], "cpDarkIsrExp").items():
        read = {i["datasettype"]: i["run"] for i in inputs}
        assert read["bias"] == runs["bias"], (detector, inputs)
        assert "dark" not in read
    for detector, inputs in _read_inputs(run.repo, runs["flat"], "cpFlatIsrExp").items():
        read = {i["datasettype"]: i["run"] for i in inputs}
        assert read["bias"] == runs["bias"], (detector, inputs)
        assert read["dark"] == runs["dark"], (detector, inputs)

    # The report of each type: its summary and its own pictures, drawn from its own jobs' outputs.
    for calib_type in ("BIAS", "DARK", "FLAT"):
        name = calib_type.lower()
        summary = run.script.type_summary(calib_type)
        files = [pathlib.Path(p) for p in summary.report_files]
        assert all(p.is_file() for p in files), files
        stem = pathlib.Path(summary.report_path).stem
        expected = {f"{stem}.yaml", f"{stem}_master_{name}_mosaic.png", f"{stem}_verification_map.png"}
        if name == "bias":
            expected.add(f"{stem}_noise_vs_nominal.png")
        assert {p.name for p in files} == expected
        written = yaml.safe_load(pathlib.Path(summary.report_path).read_text())
        assert written["calib_type"] == name
        drawn = drawn_by_type[name]
        assert {p.name for p in drawn.pictures.values()} == expected - {f"{stem}.yaml"}
        assert drawn.problems == [] and drawn.calib_type == name
        assert sorted(drawn.medians) == SMALL["detectors"]
        assert drawn.exposures == sorted(summary.exposures_combined)
        assert drawn.tests == (("NOISE",) if name == "flat" else ("MEAN", "NOISE", "CR_NOISE"))
        medians[name] = np.array(list(drawn.medians.values()))
    # The right type's data: normalised flats near 1, darks and biases (e-) near 0.
    assert np.all(np.abs(medians["flat"] - 1) < 0.2), medians
    assert np.all(np.abs(medians["dark"]) < 0.2) and np.all(np.abs(medians["bias"]) < 5), medians
