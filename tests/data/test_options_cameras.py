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

"""DataOptions' detector faults use the ids and amplifiers of their camera."""

import re

import pytest
from lsst.ts.calibscripts.sim import ObservatoryOptions, SimulatedObservatory
from lsst.ts.calibscripts.sim.data.options import DataOptions


def test_comcam_is_the_default_camera() -> None:
    assert DataOptions(read_noise_factors={8: 1.1}).instrument == "LSSTComCam"
    with pytest.raises(ValueError, match=r"read_noise_factors: no detector 94 \(LSSTComCam has 0\.\.8"):
        DataOptions(read_noise_factors={94: 1.1})


def test_lsstcam_faults_take_any_lsstcam_detector() -> None:
    options = DataOptions(
        instrument="LSSTCam",
        read_noise_factors={94: 1.1, 204: 1.2},
        dark_current_factors={189: 10.0},
        flat_amp_response={(191, "C17"): 0.5, (0, "C00"): 0.7},
    )
    assert options.read_noise_factor(204) == 1.2 and options.dark_current_factor(189) == 10.0
    assert options.amp_response_factor(191, "C17") == 0.5
    with pytest.raises(ValueError, match=r"dark_current_factors: no detector 205 \(LSSTCam has 0\.\.204"):
        DataOptions(instrument="LSSTCam", dark_current_factors={205: 2.0})


def test_a_wavefront_sensor_has_eight_amplifiers() -> None:
    with pytest.raises(
        ValueError, match=r"no amplifier 'C00' on LSSTCam detector 191 \(R00W_SW0 has C10, .*C17\)"
    ):
        DataOptions(instrument="LSSTCam", flat_amp_response={(191, "C00"): 0.5})


def test_unknown_camera_is_refused() -> None:
    with pytest.raises(ValueError, match="Unknown camera 'HSC'"):
        DataOptions(instrument="HSC")


def test_the_observatory_checks_the_faults_against_its_camera(tmp_path) -> None:
    comcam = DataOptions(repo=str(tmp_path / "repo"), read_noise_factors={4: 1.1})
    observatory = SimulatedObservatory(ObservatoryOptions(instrument="LSSTCam", data=comcam))
    # Detector 4 is an LSSTCam detector too (R01_S11): the faults apply to the observatory's camera.
    built = observatory._build_data_plane()
    assert built.options.instrument == "LSSTCam" and built.options.read_noise_factor(4) == 1.1
    with pytest.raises(ValueError, match=r"read_noise_factors: no detector 4 \(LATISS has 0"):
        SimulatedObservatory(ObservatoryOptions(instrument="LATISS", data=comcam))._build_data_plane()


def test_without_faults_clears_every_fault_and_keeps_the_rest() -> None:
    faulty = DataOptions(
        instrument="LSSTCam",
        seed=7,
        cosmic_ray_rate=3.0,
        read_noise_factors={94: 1.3},
        mean_offsets={2: 50.0},
        cosmic_ray_storm={"MC_O_20261125_000002": 10.0},
        ingest_failures={("MC_O_20261125_000002", None)},
        dark_current_factors={94: 200.0},
        flat_nonuniformity={3: 0.5},
        flat_amp_response={(94, "C10"): 0.3},
    )
    # Every option the class documents as a fault, so that a new one is not forgotten.
    documented = re.findall(r"^    (\w+) : .*\n        Fault:", DataOptions.__doc__, flags=re.MULTILINE)
    assert len(documented) == 7 and all(getattr(faulty, name) for name in documented)
    healthy = faulty.without_faults()
    assert [name for name in documented if getattr(healthy, name)] == []
    assert (healthy.instrument, healthy.seed, healthy.cosmic_ray_rate) == ("LSSTCam", 7, 3.0)
    assert healthy.geometry is faulty.geometry and faulty.read_noise_factors == {94: 1.3}
