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

"""SimulatedObservatory: options, lifecycle, repository wiring."""

from __future__ import annotations

import os

import pytest
from lsst.ts.calibscripts.sal import ComCam, State, salobj
from lsst.ts.calibscripts.sim import CameraFaults, ObservatoryOptions, SimulatedObservatory
from lsst.ts.calibscripts.sim.interfaces import NullDataPlane
from lsst.ts.calibscripts.sim.runners.scripted import ScriptedRunner

SCALE = 0.001


def test_options_validate() -> None:
    with pytest.raises(ValueError, match="unknown CSC"):
        ObservatoryOptions(initial_states={"ATCamera": State.ENABLED})
    with pytest.raises(ValueError):
        ObservatoryOptions(initial_states={"OCPS": State.FAULT})
    with pytest.raises(ValueError):
        ObservatoryOptions(runner="slurm")
    options = ObservatoryOptions(time_scale=0.5, initial_states={"CCOODS": State.STANDBY})
    assert options.timing is not None and options.timing.time_scale == 0.5
    assert options.initial_states["CCOODS"] == State.STANDBY
    assert options.initial_states["CCCamera"] == State.ENABLED
    assert not options.uses_repo


def test_prior_calibrations_options_validate() -> None:
    with pytest.raises(ValueError, match="prior_calibrations needs a butler repository"):
        ObservatoryOptions(prior_calibrations=())
    with pytest.raises(ValueError, match="r_57"):
        ObservatoryOptions(repo="repo", prior_calibrations=("r_57",))
    options = ObservatoryOptions(
        repo="repo", prior_calibrations=["g_01"], camera=CameraFaults(initial_filter="i_06")
    )
    assert options.prior_calibrations == ("g_01",)
    assert options.initial_physical_filter == "i_06"


async def test_prior_calibrations_made_before_the_cscs_start(tmp_path, monkeypatch) -> None:
    """Before the CSCs start, the observatory asks for the filter in the beam by default, with the
    frames' geometry but none of a run's faults, and the job runner's log folder."""
    from lsst.ts.calibscripts.sim.data import prior
    from lsst.ts.calibscripts.sim.data.options import DataOptions

    calls = []
    started: list[SimulatedObservatory] = []

    async def fake_seed(repo_path, camera, **kwargs):
        assert started[-1].cscs == []
        calls.append((repo_path, camera.instrument, kwargs))
        return prior.PriorCalibrations(
            collection="LSSTComCam/calib/unbounded", made={"bias": "run"}, present=()
        )

    monkeypatch.setattr(prior, "seed_prior_calibrations", fake_seed)
    repo = str(tmp_path / "repo")
    os.makedirs(repo)  # seed_prior_calibrations, replaced here, would create it
    data = DataOptions(repo=repo, seed=7, read_noise_factors={4: 1.3}, mean_offsets={2: 50.0})
    runner = ScriptedRunner(time_scale=SCALE, log_dir=str(tmp_path / "logs"))
    for asked, filters in [((), ("z_03",)), (("g_01", "u_02"), ("g_01", "u_02"))]:
        options = ObservatoryOptions(
            time_scale=SCALE,
            repo=repo,
            data=data,
            camera=CameraFaults(initial_filter="z_03"),
            prior_calibrations=asked,
        )
        observatory = SimulatedObservatory(options, data_plane=NullDataPlane(), job_runner=runner)
        started.append(observatory)
        async with observatory:
            assert observatory.prior_calibrations.made == {"bias": "run"}
            assert len(observatory.cscs) == 4
        repo_path, instrument, kwargs = calls[-1]
        assert (repo_path, instrument, kwargs["physical_filters"]) == (repo, "LSSTComCam", filters)
        assert kwargs["data"].read_noise_factors == {} and kwargs["data"].mean_offsets == {}
        assert kwargs["data"].geometry is data.geometry and kwargs["data"].seed == 7
        assert kwargs["log_dir"] == str(tmp_path / "logs")
    async with SimulatedObservatory(
        ObservatoryOptions(time_scale=SCALE, repo=repo), data_plane=NullDataPlane()
    ):
        pass
    assert len(calls) == 2


async def test_defaults_and_initial_states() -> None:
    options = ObservatoryOptions(time_scale=SCALE, initial_states={"CCHeaderService": State.STANDBY})
    async with SimulatedObservatory(options) as observatory, salobj.Domain() as domain:
        assert isinstance(observatory.data_plane, NullDataPlane)
        assert isinstance(observatory.job_runner, ScriptedRunner)
        expected = {"CCCamera": 2, "CCHeaderService": 5, "CCOODS": 2, "OCPS": 2}
        for name, state in expected.items():
            index = 2 if name == "OCPS" else None
            async with salobj.Remote(domain, name, index) as remote:
                assert (await remote.evt_summaryState.aget(timeout=10)).summaryState == state
                assert (await remote.evt_heartbeat.aget(timeout=10)) is not None
        async with salobj.Remote(domain, "CCHeaderService") as header:
            await salobj.set_summary_state(header, State.ENABLED, timeout=5)
            assert observatory.ccheaderservice.summary_state == State.ENABLED
        async with salobj.Remote(domain, "OCPS", 2) as ocps:
            # Going through STANDBY re-applies the configuration.
            ocps.evt_configurationApplied.flush()
            await salobj.set_summary_state(ocps, State.STANDBY, timeout=5)
            with pytest.raises(salobj.AckError):
                await ocps.cmd_abort_job.set_start(job_id="x", timeout=5)
            await salobj.set_summary_state(ocps, State.ENABLED, timeout=5)
            applied = await ocps.evt_configurationApplied.next(flush=False, timeout=10)
            assert applied.configurations == "_init.yaml,_summit.yaml"
    assert not observatory.cccamera.isopen


async def test_repo_sets_pipeline_env_and_remembers_sequence(tmp_path) -> None:
    repo = str(tmp_path / "repo")
    os.makedirs(repo)
    before = os.environ.get("CP_PIPE_DIR")
    options = ObservatoryOptions(time_scale=SCALE, repo=repo)
    ids = []
    for _ in range(2):
        async with SimulatedObservatory(options, data_plane=NullDataPlane()) as observatory:
            assert os.path.isfile(
                os.path.join(os.environ["CP_PIPE_DIR"], "pipelines", "LSSTComCam", "cpBias.yaml")
            )
            assert os.path.isdir(os.environ["CP_VERIFY_DIR"])
            assert observatory.ocps.butler_repo == repo
            async with salobj.Domain() as domain, ComCam(domain=domain) as comcam:
                ids += await comcam.take_bias(1)
        assert os.environ.get("CP_PIPE_DIR") == before
    assert len(set(ids)) == 2 and ids[1] > ids[0]


async def test_butler_data_plane_ingests_what_the_camera_takes(fresh_repo: str) -> None:
    repo = fresh_repo
    options = ObservatoryOptions(time_scale=SCALE, repo=repo)
    async with SimulatedObservatory(options) as observatory, salobj.Domain() as domain:
        assert type(observatory.data_plane).__name__ == "ButlerDataPlane"
        async with ComCam(domain=domain) as comcam:
            comcam.rem.ccoods.evt_imageInOODS.flush()
            ids = await comcam.take_bias(1)
            events = [await comcam.rem.ccoods.evt_imageInOODS.next(flush=False, timeout=60) for _ in range(9)]
    assert {e.obsid for e in events} == {observatory.images[0].obs_id}
    assert [e.statusCode for e in events] == [0] * 9, [e.description for e in events]
    from lsst.daf.butler import Butler

    butler = Butler.from_config(repo)
    refs = list(
        butler.registry.queryDatasets("raw", collections="LSSTComCam/raw/all", instrument="LSSTComCam")
    )
    assert sorted(ref.dataId["detector"] for ref in refs) == list(range(9))
    assert {ref.dataId["exposure"] for ref in refs} == set(ids)


async def test_simulated_date_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """CALIBSCRIPTS_SIM_DATE moves the camera's day_obs, image names and exposure ids."""
    from lsst.ts.calibscripts import sal
    from lsst.ts.calibscripts.sim.timing import SIM_DATE_ENV_VAR, day_obs_of

    monkeypatch.setenv(SIM_DATE_ENV_VAR, "2031-07-04")
    async with SimulatedObservatory(ObservatoryOptions(time_scale=SCALE)) as observatory:
        async with salobj.Domain() as domain, sal.ComCam(domain=domain) as comcam:
            (exposure_id,) = await comcam.take_bias(1)
    (image,) = observatory.images
    # day_obs rolls over at 12:00 TAI, so it is the chosen date or the day before.
    assert image.day_obs in (20310704, 20310703), image.day_obs
    assert image.day_obs != day_obs_of(sal.current_tai())
    assert str(exposure_id).startswith(str(image.day_obs))
    assert image.obs_id.startswith(f"CC_O_{image.day_obs}_")


async def test_a_bad_simulated_date_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from lsst.ts.calibscripts.sim.timing import SIM_DATE_ENV_VAR

    monkeypatch.setenv(SIM_DATE_ENV_VAR, "30/11/2026")
    with pytest.raises(ValueError, match="CALIBSCRIPTS_SIM_DATE='30/11/2026'"):
        async with SimulatedObservatory(ObservatoryOptions(time_scale=SCALE)):
            pass
