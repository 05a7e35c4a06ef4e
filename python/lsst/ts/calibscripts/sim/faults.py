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

"""Fault injection for the simulated observatory.

Each mock CSC takes one of these frozen dataclasses; the defaults inject
nothing. They are explicit options of `ObservatoryOptions` so that tests,
the script's tests and the command-line demo can reproduce what goes wrong
at the summit, and each produces the failure the real system would:

========================================  =========================================================
option                                    what the script sees
========================================  =========================================================
``initial_states[...] = State.DISABLED``  ``assert_all_enabled`` raises `AssertionError`; commands
                                          fail with ``CMD_FAILED`` "... not allowed in state=..."
`CameraFaults.fail_take_images_on_frame`  ``takeImages`` k is acknowledged ``CMD_FAILED``
`CameraFaults.never_ack_take_images`      ``takeImages`` is never acknowledged: `AckTimeoutError`
`CameraFaults.drop_start_integration...`  no ``startIntegration`` for that frame: ``take_bias`` times
                                          out waiting for the exposure id
`CameraFaults.drop_end_readout_frames`    no ``endReadout``: the next frame's readiness wait never
                                          ends (the image itself is read out and ingested)
`CameraFaults.fault_on_frame`             CCCamera goes to FAULT during frame k (``errorCode``),
                                          ``takeImages`` fails
`CameraFaults.shutter_fails_on_frame`     the shutter of open-shutter frame k does not open:
                                          CCCamera goes to FAULT, ``takeImages`` fails
`CameraFaults.fail_set_filter`            ``setFilter`` fails (``CMD_FAILED`` with the reason) after
                                          ``startSetFilter``; the old filter stays in place
`CameraFaults.never_end_set_filter`       ``setFilter`` never ends: no ack, no ``endSetFilter``
                                          (``AckTimeoutError`` at the client's 60 s timeout)
`OodsFaults.status_codes`                 ``imageInOODS`` with ``statusCode`` 1 (ingest failure) or
                                          2 (metadata failure) for chosen (image, detector)
`OodsFaults.missing`                      no ``imageInOODS`` for chosen (image, detector)
`OodsFaults.unrelated_images`             ``imageInOODS`` of images other scripts took, interleaved
`OcpsFaults.reject_execute`               ``execute`` fails with ``CMD_FAILED`` and a reason
`OcpsFaults.job_outcomes`                 jobs fail (exit_code 1), hang (no ``job_result``) or are slow
`OcpsFaults.fault_on_job`                 OCPS goes to FAULT (errorCode 2) and ``execute`` fails
`OcpsFaults.configuration_override`       OCPS:2 started with that override: another instrument's
                                          (``LATISS.yaml``) is refused, OCPS:2 stays in STANDBY
`OcpsFaults.check_instance` = False       with it, an OCPS that does not check the instance runs
                                          ENABLED with ``_init.yaml,_summit.yaml,LATISS.yaml``
========================================  =========================================================

Images are chosen by an *image key*: a positive `int` k below 100000 is the
k-th image the camera took since the observatory started (1-based, counting
every image, also those of earlier ``take_bias`` calls); a longer `int` is an
exposure id (e.g. ``2026112500003``); a `str` is an image name
(``CC_O_20261125_000003``). Detectors are ids 0..8 (``R22_S00`` .. ``R22_S22``);
`None` in place of a detector means every detector.
"""

from __future__ import annotations

__all__ = [
    "ALL_DETECTORS",
    "CameraFaults",
    "HeaderServiceFaults",
    "ImageKey",
    "JobAction",
    "JobScript",
    "OcpsFaults",
    "OodsFaults",
    "image_key_matches",
]

import dataclasses
import enum
import typing
from collections.abc import Mapping, Sequence

from ..cameras import PROFILES

ImageKey = typing.Union[int, str]
"""Frame index (1-based, < 100000), exposure id (int) or image name (str)."""

ALL_DETECTORS = None
"""Use as the detector of an (image, detector) key to mean every detector."""

MAX_FRAME_INDEX = 100_000


def image_key_matches(key: ImageKey, frame_index: int, obs_id: str, exposure_id: int) -> bool:
    """Say whether an image key designates an image.

    Parameters
    ----------
    key : `int` or `str`
        Frame index (1-based, < 100000), exposure id or image name.
    frame_index : `int`
        1-based index of the image among those the camera took.
    obs_id : `str`
        Image name.
    exposure_id : `int`
        Exposure id.

    Returns
    -------
    matches : `bool`
        True if ``key`` designates this image.
    """
    if isinstance(key, str):
        return key == obs_id
    if isinstance(key, bool):
        raise TypeError(f"image key {key!r} must be an int or a str, not a bool")
    if key < MAX_FRAME_INDEX:
        return key == frame_index
    return key == exposure_id


def _frozen_ints(name: str, values: typing.Iterable[int]) -> frozenset[int]:
    result = frozenset(int(v) for v in values)
    if any(v < 1 for v in result):
        raise ValueError(f"{name} must hold 1-based frame numbers; got {sorted(result)}")
    return result


def _check_frame(name: str, value: int | None) -> None:
    if value is not None and (isinstance(value, bool) or value < 1):
        raise ValueError(f"{name}={value!r} must be None or a 1-based frame number")


@dataclasses.dataclass(frozen=True)
class CameraFaults:
    """Faults of the mock CCCamera.

    Frames are counted per ``takeImages`` command received while ENABLED,
    1-based, since the observatory started (a ``take_bias(5)`` sends frames
    1..5; a second one 6..10).

    Attributes
    ----------
    fail_take_images_on_frame : `int` or `None`
        That ``takeImages`` is rejected with ``CMD_FAILED`` before any event
        ("Failed: simulated CCS failure ...").
    never_ack_take_images : `bool`
        If True, no ``takeImages`` is ever acknowledged and no image is taken
        (the CCS hangs): the client gets `AckTimeoutError` at its timeout.
    never_ack_on_frame : `int` or `None`
        As ``never_ack_take_images`` but only from that frame on (the camera
        stays hung afterwards).
    drop_start_integration_frames : `frozenset` [`int`]
        Frames whose ``startIntegration`` event is not published (the image
        is otherwise taken normally).
    drop_end_readout_frames : `frozenset` [`int`]
        Frames whose ``endReadout`` event is not published (the message is
        lost; the image is read out, written and ingested normally). A
        client that waits for it, as ComCam's readiness check before the
        next frame does, waits forever.
    fault_on_frame : `int` or `None`
        During that frame, after ``startIntegration``, CCCamera goes to FAULT
        (``errorCode`` ``fault_code``) and the command fails.
    fault_code : `int`
        ``errorCode`` used with ``fault_on_frame``.
    first_seq_num : `int`
        First sequence number used for each observing day (1 at the summit;
        raise it to simulate a camera that already took images today).
    publish_previous_image : `bool`
        If True (default), at start the camera publishes ``startIntegration``
        and ``endReadout`` of a "previous" image (one sequence number) so
        that late Remotes find matching historical samples and a client's
        readiness check does not stall for 30 s; False simulates a camera
        that has not taken an image since it started.
    shutter_fails_on_frame : `int` or `None`
        If that frame is taken with the shutter open (a FLAT), the shutter
        starts to open (``startShutterOpen``) but never opens: CCCamera goes
        to FAULT (``errorCode`` ``shutter_fault_code``) and the command
        fails; the image is not read out. A closed-shutter frame is not
        affected.
    shutter_fault_code : `int`
        ``errorCode`` used with ``shutter_fails_on_frame``.
    initial_filter : `str` or `None`
        The filter in the beam when the camera (LATISS: ATSpectrograph)
        starts; None means the camera profile's default filter (ComCam
        ``r_03``, LSSTCam ``r_57``, LATISS ``SDSSr_65mm``). It must be a
        filter of some camera (checked here) and of the observatory's camera
        (checked when its mock starts).
    fail_set_filter : `bool` or `str`
        If True (or a reason), every ``setFilter`` to another filter fails
        with ``CMD_FAILED`` after ``startSetFilter``: no ``endSetFilter``
        and the old filter stays in place.
    never_end_set_filter : `bool`
        If True, a ``setFilter`` to another filter publishes
        ``startSetFilter`` and then neither ends nor is acknowledged (the
        filter changer is stuck); the camera stays busy. On LATISS both
        apply to ATSpectrograph's ``changeFilter`` and ``changeDisperser``.
    fail_set_grating : `bool` or `str`
        LATISS only: if True (or a reason), every ``changeDisperser`` to
        another grating fails after ``disperserInPosition`` false, the old
        grating staying in place; filter changes work.
    """

    fail_take_images_on_frame: int | None = None
    never_ack_take_images: bool = False
    never_ack_on_frame: int | None = None
    drop_start_integration_frames: frozenset[int] = frozenset()
    drop_end_readout_frames: frozenset[int] = frozenset()
    fault_on_frame: int | None = None
    fault_code: int = 1
    first_seq_num: int = 1
    publish_previous_image: bool = True
    shutter_fails_on_frame: int | None = None
    shutter_fault_code: int = 1
    initial_filter: str | None = None
    fail_set_filter: bool | str = False
    never_end_set_filter: bool = False
    fail_set_grating: bool | str = False

    def __post_init__(self) -> None:
        _check_frame("fail_take_images_on_frame", self.fail_take_images_on_frame)
        _check_frame("shutter_fails_on_frame", self.shutter_fails_on_frame)
        if self.initial_filter is not None and not any(
            self.initial_filter in camera.filters for camera in PROFILES.values()
        ):
            known = "; ".join(f"{name}: {', '.join(camera.filters)}" for name, camera in PROFILES.items())
            raise ValueError(
                f"initial_filter={self.initial_filter!r} is not a filter of any camera ({known})"
            )
        _check_frame("never_ack_on_frame", self.never_ack_on_frame)
        _check_frame("fault_on_frame", self.fault_on_frame)
        object.__setattr__(
            self,
            "drop_start_integration_frames",
            _frozen_ints("drop_start_integration_frames", self.drop_start_integration_frames),
        )
        object.__setattr__(
            self,
            "drop_end_readout_frames",
            _frozen_ints("drop_end_readout_frames", self.drop_end_readout_frames),
        )
        if not 1 <= self.first_seq_num < MAX_FRAME_INDEX:
            raise ValueError(f"first_seq_num={self.first_seq_num} must be in [1, {MAX_FRAME_INDEX})")

    def hangs_on(self, frame: int) -> bool:
        """Say whether ``takeImages`` number ``frame`` is never acknowledged."""
        if self.never_ack_take_images:
            return True
        return self.never_ack_on_frame is not None and frame >= self.never_ack_on_frame

    @property
    def set_filter_failure(self) -> str | None:
        """The reason ``setFilter`` fails, or None."""
        if self.fail_set_filter is False or self.fail_set_filter == "":
            return None
        if self.fail_set_filter is True:
            return "Simulated filter changer failure: the filter could not be unloaded"
        return str(self.fail_set_filter)

    @property
    def set_grating_failure(self) -> str | None:
        """The reason ``changeDisperser`` fails (besides `set_filter_failure`), or None."""
        if self.fail_set_grating is False or self.fail_set_grating == "":
            return None
        if self.fail_set_grating is True:
            return "Simulated disperser wheel failure: the grating did not reach its slot"
        return str(self.fail_set_grating)


@dataclasses.dataclass(frozen=True)
class HeaderServiceFaults:
    """Faults of the mock CCHeaderService.

    Attributes
    ----------
    missing : `frozenset` [image key]
        Images for which no ``largeFileObjectAvailable`` is published.
    """

    missing: frozenset[ImageKey] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "missing", frozenset(self.missing))


@dataclasses.dataclass(frozen=True)
class OodsFaults:
    """Faults of the mock CCOODS.

    Attributes
    ----------
    status_codes : `dict` [(image key, `int` or `None`), `int`]
        ``statusCode`` to publish for chosen (image, detector): 1 is an
        ingest failure ("ingest failure: ..."), 2 a metadata failure
        ("metadata failure: ...", with raft ``R??`` and sensor ``S??``).
        The data plane is not asked to ingest those files.
    missing : `frozenset` [(image key, `int` or `None`)]
        (image, detector) pairs for which no ``imageInOODS`` is published
        (and nothing is ingested).
    unrelated_images : `int`
        Number of images of other scripts (names ``CC_C_<dayobs>_<seq>``,
        taking sequence numbers from the same camera counter) whose 9
        ``imageInOODS`` events are interleaved with those of each image the
        camera takes.
    ingest_delay : `float` or `None`
        Overrides `Timing.ingest_delay` (real seconds, scaled).
    fault_after_images : `int` or `None`
        CCOODS goes to FAULT (errorCode 1) after publishing the events of
        that many images; later images get no ``imageInOODS``.
    """

    status_codes: Mapping[tuple[ImageKey, int | None], int] = dataclasses.field(default_factory=dict)
    missing: frozenset[tuple[ImageKey, int | None]] = frozenset()
    unrelated_images: int = 0
    ingest_delay: float | None = None
    fault_after_images: int | None = None

    def __post_init__(self) -> None:
        codes = dict(self.status_codes)
        for key, code in codes.items():
            if code not in (1, 2):
                raise ValueError(f"status_codes[{key!r}]={code}: CCOODS failure codes are 1 or 2")
        object.__setattr__(self, "status_codes", codes)
        object.__setattr__(self, "missing", frozenset(self.missing))
        if self.unrelated_images < 0:
            raise ValueError(f"unrelated_images={self.unrelated_images} must be >= 0")
        if self.ingest_delay is not None and self.ingest_delay < 0:
            raise ValueError(f"ingest_delay={self.ingest_delay} must be >= 0")
        _check_frame("fault_after_images", self.fault_after_images)

    def status_code_for(self, frame_index: int, obs_id: str, exposure_id: int, detector: int) -> int:
        """Return the injected statusCode of one file, or 0."""
        for (key, det), code in self.status_codes.items():
            if (det is None or det == detector) and image_key_matches(key, frame_index, obs_id, exposure_id):
                return code
        return 0

    def is_missing(self, frame_index: int, obs_id: str, exposure_id: int, detector: int) -> bool:
        """Say whether the imageInOODS event of one file is dropped."""
        return any(
            (det is None or det == detector) and image_key_matches(key, frame_index, obs_id, exposure_id)
            for key, det in self.missing
        )


class JobAction(str, enum.Enum):
    """What a scripted OCPS job does."""

    SUCCEED = "succeed"
    """Complete (exit_code 0)."""
    FAIL = "fail"
    """End in phase error (exit_code 1)."""
    HANG = "hang"
    """Never end (until aborted): no ``job_result``, ``execute`` stays in progress."""
    SLOW = "slow"
    """Succeed after `JobScript.duration` (default: a long time)."""
    RUN = "run"
    """Run the observatory's job runner (the default when nothing is scripted)."""


@dataclasses.dataclass(frozen=True)
class JobScript:
    """How one OCPS job behaves.

    Attributes
    ----------
    action : `JobAction`
        What the job does.
    duration : `float` or `None`
        Simulated seconds before the job ends (scaled); `None` means the
        default of the action (short, or 1200 s for SLOW).
    message : `str`
        Error message of a failed job (``errorSummary.message``).
    """

    action: JobAction = JobAction.SUCCEED
    duration: float | None = None
    message: str = ""

    @classmethod
    def coerce(cls, value: "JobScript | JobAction | str") -> "JobScript":
        """Make a JobScript from itself, a `JobAction` or its name."""
        if isinstance(value, JobScript):
            return value
        return cls(action=JobAction(value))


JobOutcomes = typing.Union[
    Sequence[typing.Union[JobScript, JobAction, str]],
    Mapping[str, typing.Union[JobScript, JobAction, str]],
]


@dataclasses.dataclass(frozen=True)
class OcpsFaults:
    """Faults of the mock OCPS:2.

    Attributes
    ----------
    reject_execute : `bool` or `str`
        If True (or a reason string), every ``execute`` is rejected with
        ``CMD_FAILED`` (as when the UWS back end is unreachable).
    job_outcomes : `list` or `dict`
        Scripted job behaviours (`JobScript`, `JobAction` or its name).
        A list applies in the order ``execute`` commands arrive (item 0 to
        the first job); jobs beyond its end run normally. A dict maps a
        substring of the ``pipeline`` field (e.g. ``"verifyBias"``) to a
        behaviour; the first matching key wins.
    fault_on_job : `int` or `None`
        The n-th ``execute`` (1-based) sends OCPS to FAULT (errorCode 2,
        like dm_OCPS's ``fault.yaml``) and fails.
    configuration_override : `str`
        The ``configurationOverride`` OCPS:2 is started with (when its
        initial state is DISABLED or ENABLED): empty (default: only
        ``_init.yaml`` and the site file, configured for its own instrument),
        or ``LATISS.yaml``, ``LSSTComCam.yaml``, ``LSSTCam.yaml``. One for
        another instrument is refused, as by dm_OCPS: OCPS:2 stays in
        STANDBY.
    check_instance : `bool`
        If False, OCPS:2 applies settings for another instance instead of
        refusing them (as a dm_OCPS whose configuration did not name its
        instance): it runs ENABLED, ``configurationApplied`` names the
        override and jobs use that instrument's butler and input collection.
    """

    reject_execute: bool | str = False
    job_outcomes: JobOutcomes = ()
    fault_on_job: int | None = None
    configuration_override: str = ""
    check_instance: bool = True

    def __post_init__(self) -> None:
        _check_frame("fault_on_job", self.fault_on_job)
        if isinstance(self.job_outcomes, Mapping):
            outcomes: typing.Any = {k: JobScript.coerce(v) for k, v in self.job_outcomes.items()}
        else:
            outcomes = tuple(JobScript.coerce(v) for v in self.job_outcomes)
        object.__setattr__(self, "job_outcomes", outcomes)
        if self.configuration_override.startswith("_"):
            raise ValueError(
                f"configuration_override={self.configuration_override!r}: an override may not start with '_'"
            )

    def script_for(self, job_number: int, pipeline: str) -> JobScript:
        """Return the scripted behaviour of the ``job_number``-th job (1-based)."""
        if isinstance(self.job_outcomes, Mapping):
            for key, script in self.job_outcomes.items():
                if key in pipeline:
                    return script
            return JobScript(JobAction.RUN)
        if job_number <= len(self.job_outcomes):
            return self.job_outcomes[job_number - 1]
        return JobScript(JobAction.RUN)

    @property
    def reject_reason(self) -> str | None:
        """The reason ``execute`` is rejected, or None."""
        if self.reject_execute is False or self.reject_execute == "":
            return None
        if self.reject_execute is True:
            return "Could not submit the job: the UWS back end is unreachable (simulated)"
        return str(self.reject_execute)
