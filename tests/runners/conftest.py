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

"""Fixtures of the runner tests: a small simulated LSSTComCam repository."""

import os
import shutil
import uuid

import astropy.time
import astropy.units as u
import pytest

EXPOSURES = (2026112500001, 2026112500002, 2026112500003)
DETECTORS = (0, 1)


def build_repo(path: str, exposures=EXPOSURES, detectors=DETECTORS, read_noise_factors=None) -> str:
    """Create a repository with reduced-geometry bias raws ingested."""
    from lsst.daf.butler import FileDataset
    from lsst.ts.calibscripts.sim.cp.synthetic import make_raw
    from lsst.ts.calibscripts.sim.data.camera_model import amp_geometry
    from lsst.ts.calibscripts.sim.data.repo import (
        FORMATTER_NAME,
        create_or_open_repo,
        open_butler,
        raw_ref,
        register_exposure,
    )
    from lsst.ts.calibscripts.sim.interfaces import ImageInfo

    read_noise_factors = read_noise_factors or {}
    repo = create_or_open_repo(path)
    geom = amp_geometry("reduced")
    staging = os.path.join(os.path.dirname(path), "staging")
    os.makedirs(staging, exist_ok=True)
    butler = open_butler(repo, writeable=True)
    try:
        datasets = []
        for k, exposure in enumerate(exposures):
            seq = exposure % 100000
            begin = astropy.time.Time("2026-11-25T22:00:00", scale="tai") + k * 10 * u.s
            end = begin + 2.3 * u.s
            info = ImageInfo(
                obs_id=f"CC_O_20261125_{seq:06d}",
                exposure_id=exposure,
                day_obs=20261125,
                seq_num=seq,
                group_id=begin.isot,
                image_type="BIAS",
                exp_time=0.0,
                date_begin=begin,
                date_end=end,
                detectors=tuple(detectors),
            )
            register_exposure(butler, info)
            for det in detectors:
                raw = make_raw(det, exposure, geom, read_noise_factor=read_noise_factors.get(det, 1.0))
                raw[0].header["DATE-BEG"] = begin.isot
                raw[0].header["DATE-END"] = end.isot
                raw[0].header["OBSID"] = info.obs_id
                file = os.path.join(staging, f"{info.obs_id}_{det}.fits")
                raw.writeto(file, overwrite=True)
                datasets.append(
                    FileDataset(path=file, refs=[raw_ref(butler, info, det)], formatter=FORMATTER_NAME)
                )
        butler.ingest(*datasets, transfer="move")
    finally:
        butler.close()
    return repo


@pytest.fixture(scope="session")
def small_repo(tmp_path_factory, template_repo: str) -> str:
    """2 detectors x 3 exposures, reduced geometry, shared by the session (built on a template copy)."""
    path = tmp_path_factory.mktemp("runners") / "repo"
    shutil.copytree(template_repo, path, symlinks=True)
    return build_repo(str(path))


def make_request(repo: str, pipeline: str, data_query: str, config: str = "--register-dataset-types"):
    """A JobRequest as the mock OCPS builds it."""
    from lsst.ts.calibscripts.sim.interfaces import JobRequest

    return JobRequest(
        job_id=uuid.uuid4().hex,
        run_id="1",
        pipeline=pipeline,
        version="",
        config=config,
        data_query=data_query,
        butler_repo=repo,
    )
