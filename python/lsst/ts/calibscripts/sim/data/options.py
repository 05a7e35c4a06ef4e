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

"""Options of the simulated data plane (`DataOptions`).

Frame selectors
---------------
Fault knobs that apply to chosen frames take a *frame key*: either the
image's ``obs_id`` (``"CC_O_20261125_000003"``) or an `int` that is matched
against the image's ``seq_num`` (small numbers) or ``exposure_id`` (e.g.
``2026112500003``). Use `frame_matches` to test one.
"""

from __future__ import annotations

__all__ = ["DataOptions", "FrameKey", "frame_matches", "Transfer"]

import dataclasses
import enum
import os
import typing

from ...cameras import COMCAM, CameraProfile, profile
from .camera_model import GeometryScale, amp_names

if typing.TYPE_CHECKING:
    from ..interfaces import ImageInfo

FrameKey = typing.Union[str, int]


class Transfer(str, enum.Enum):
    """How a staged raw gets into the repository's datastore."""

    MOVE = "move"
    COPY = "copy"


def frame_matches(key: FrameKey, image: ImageInfo) -> bool:
    """Return True if a frame key selects ``image`` (see module docstring)."""
    if isinstance(key, str):
        return key == image.obs_id
    return key in (image.seq_num, image.exposure_id)


@dataclasses.dataclass
class DataOptions:
    """Options of `ButlerDataPlane` and of the raw-frame generator.

    Attributes
    ----------
    repo : `str` or `None`
        Butler repository root; created by ``create_or_open_repo`` if missing.
        Required by `ButlerDataPlane`.
    geometry : `GeometryScale`
        ``"reduced"`` (default; 51×200 data per amp, real overscans) or
        ``"full"`` (4072×4000 CCD).
    seed : `int`
        Base seed. Frames are seeded per (seed, seq_num, detector) (not by
        the date, so the same frame is made on any day), the
        fixed bias pattern and hot columns per (seed, detector, amp).
    staging_dir : `str` or `None`
        Folder for raws written before ingest; default ``<repo>_staging``
        beside the repository.
    transfer : `Transfer`
        ``"move"`` (default) or ``"copy"`` the staged file into the datastore.
    cosmic_rays : `bool`
        Add cosmic rays (default True).
    cosmic_ray_rate : `float`
        Mean number of cosmic-ray tracks per megapixel of data region per
        frame (about 2 per full-size amp).
    cosmic_ray_rate_per_second : `float`
        Extra cosmic-ray tracks per megapixel per second of dark time, on
        top of ``cosmic_ray_rate``, in darks and flats only (default 0.02:
        about the sea-level muon flux, 1 cm⁻² min⁻¹, on 10-µm pixels).
    read_noise_factors : `dict` [`int`, `float`]
        Fault: true read noise = factor × nominal on these detectors, in every
        frame (e.g. ``{4: 1.10}``).
    mean_offsets : `dict` [`str` or `int`, `float`]
        Fault: add this many ADU to the data region (not the overscans) of the
        selected frames, so overscan correction does not remove it.
    cosmic_ray_storm : `dict` [`str` or `int`, `float`]
        Fault: multiply the cosmic-ray rate by this factor in the selected
        frames (e.g. ``{"CC_O_20261125_000005": 2000.0}``).
    ingest_failures : `set` [`tuple` [`str`, `int` or `None`]]
        Fault: ingest of these (obs_id, detector) fails with CCOODS
        statusCode 1; detector `None` means every detector of that image.
    dark_current_factors : `dict` [`int`, `float`]
        Fault: true dark current = factor × nominal on these detectors, in
        every dark and flat (e.g. ``{4: 200.0}``). Its shot noise raises the
        residual noise that verifyDark compares with the read noise.
    flat_nonuniformity : `dict` [`str` or `int`, `float`]
        Fault: the illumination of the selected flats gets a gradient across
        the focal plane, ±this fraction from left to right (e.g.
        ``{"CC_O_20261125_000003": 0.5}``), so those frames no longer match
        the master flat.
    flat_amp_response : `dict` [`tuple` [`int`, `str`], `float`]
        Fault: the response (QE) of these (detector, amp) pairs is multiplied
        by this factor in every flat (e.g. ``{(4, "C10"): 0.3}``: a
        low-level amp).
    instrument : `str`
        The camera whose detector ids (and amplifier names) the detector
        faults above use: ``LSSTComCam`` (default, ids 0..8), ``LSSTCam``
        (0..204; a wavefront sensor has the 8 amps ``C10`` .. ``C17``) or
        ``LATISS`` (0). `SimulatedObservatory` sets it to its camera.
    """

    repo: str | None = None
    geometry: GeometryScale = GeometryScale.REDUCED
    seed: int = 1
    staging_dir: str | None = None
    transfer: Transfer = Transfer.MOVE
    cosmic_rays: bool = True
    cosmic_ray_rate: float = 2.0
    read_noise_factors: dict[int, float] = dataclasses.field(default_factory=dict)
    mean_offsets: dict[FrameKey, float] = dataclasses.field(default_factory=dict)
    cosmic_ray_storm: dict[FrameKey, float] = dataclasses.field(default_factory=dict)
    ingest_failures: set[tuple[str, int | None]] = dataclasses.field(default_factory=set)
    cosmic_ray_rate_per_second: float = 0.02
    dark_current_factors: dict[int, float] = dataclasses.field(default_factory=dict)
    flat_nonuniformity: dict[FrameKey, float] = dataclasses.field(default_factory=dict)
    flat_amp_response: dict[tuple[int, str], float] = dataclasses.field(default_factory=dict)
    instrument: str = COMCAM.instrument

    @property
    def camera(self) -> CameraProfile:
        """The profile of ``instrument``."""
        return profile(self.instrument)

    def _check_detector(self, option: str, detector: typing.Any) -> None:
        camera = self.camera
        if isinstance(detector, bool) or not isinstance(detector, int) or detector not in camera.detector_ids:
            raise ValueError(
                f"{option}: no detector {detector!r} ({camera.instrument} has {camera.describe_ids()}; "
                "DataOptions.instrument names the camera)"
            )

    def __post_init__(self) -> None:
        if self.repo is not None:
            self.repo = os.fspath(self.repo)
        if self.staging_dir is not None:
            self.staging_dir = os.fspath(self.staging_dir)
        self.camera  # an unknown instrument fails here, naming the known ones
        self.geometry = GeometryScale(self.geometry)
        self.transfer = Transfer(self.transfer)
        if self.cosmic_ray_rate < 0:
            raise ValueError(f"cosmic_ray_rate must be >= 0; got {self.cosmic_ray_rate}")
        for det, factor in self.read_noise_factors.items():
            self._check_detector("read_noise_factors", det)
            if not factor > 0:
                raise ValueError(f"read_noise_factors[{det}] must be > 0; got {factor}")
        for key, factor in self.cosmic_ray_storm.items():
            if factor < 0:
                raise ValueError(f"cosmic_ray_storm[{key!r}] must be >= 0; got {factor}")
        self.ingest_failures = {(str(obs_id), det) for obs_id, det in self.ingest_failures}
        if self.cosmic_ray_rate_per_second < 0:
            raise ValueError(
                f"cosmic_ray_rate_per_second must be >= 0; got {self.cosmic_ray_rate_per_second}"
            )
        for det, factor in self.dark_current_factors.items():
            self._check_detector("dark_current_factors", det)
            if not factor >= 0:
                raise ValueError(f"dark_current_factors[{det}] must be >= 0; got {factor}")
        for key, amplitude in self.flat_nonuniformity.items():
            if not -1 < amplitude < 1:
                raise ValueError(f"flat_nonuniformity[{key!r}] must be in (-1, 1); got {amplitude}")
        self.flat_amp_response = {(int(det), str(amp)): f for (det, amp), f in self.flat_amp_response.items()}
        for (det, amp), factor in self.flat_amp_response.items():
            self._check_detector("flat_amp_response", det)
            amps = amp_names(self.camera.detector(det).amp_layout.amp_rows)
            if amp not in amps:
                raise ValueError(
                    f"flat_amp_response: no amplifier {amp!r} on {self.instrument} detector {det!r} "
                    f"({self.camera.detector_name(det)} has {', '.join(amps)})"
                )
            if not factor >= 0:
                raise ValueError(f"flat_amp_response[({det}, {amp!r})] must be >= 0; got {factor}")

    def without_faults(self) -> DataOptions:
        """These options with none of the faults above: the frames of a healthy camera (its
        geometry, seed and cosmic rays kept), e.g. for calibrations made before a run's faults.
        """
        return dataclasses.replace(
            self,
            read_noise_factors={},
            mean_offsets={},
            cosmic_ray_storm={},
            ingest_failures=set(),
            dark_current_factors={},
            flat_nonuniformity={},
            flat_amp_response={},
        )

    def staging_path(self) -> str:
        """Return the staging folder (``staging_dir`` or ``<repo>_staging``)."""
        if self.staging_dir is not None:
            return self.staging_dir
        if self.repo is None:
            raise ValueError("DataOptions needs repo or staging_dir to know where to write raws")
        return os.path.normpath(self.repo) + "_staging"

    def read_noise_factor(self, detector: int) -> float:
        """Return the read-noise inflation of a detector (1.0 if none)."""
        return float(self.read_noise_factors.get(detector, 1.0))

    def mean_offset(self, image: ImageInfo) -> float:
        """Return the data-region offset (ADU) of an image (0.0 if none)."""
        return float(sum(v for k, v in self.mean_offsets.items() if frame_matches(k, image)))

    def cosmic_ray_factor(self, image: ImageInfo) -> float:
        """Return the cosmic-ray rate multiplier of an image (1.0 if none)."""
        factor = 1.0
        for key, value in self.cosmic_ray_storm.items():
            if frame_matches(key, image):
                factor *= value
        return factor

    def dark_current_factor(self, detector: int) -> float:
        """Return the dark-current multiplier of a detector (1.0 if none)."""
        return float(self.dark_current_factors.get(detector, 1.0))

    def flat_gradient(self, image: ImageInfo) -> float:
        """Return the fault illumination gradient of an image (0.0 if none)."""
        return float(sum(v for k, v in self.flat_nonuniformity.items() if frame_matches(k, image)))

    def amp_response_factor(self, detector: int, amp: str) -> float:
        """Return the fault response factor of one amp (1.0 if none)."""
        return float(self.flat_amp_response.get((detector, amp), 1.0))

    def ingest_fails(self, obs_id: str, detector: int) -> bool:
        """Return True if ingest of (obs_id, detector) must fail."""
        return (obs_id, detector) in self.ingest_failures or (obs_id, None) in self.ingest_failures
