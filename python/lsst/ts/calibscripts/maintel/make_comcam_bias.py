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

"""MakeComCamBias: take LSSTComCam biases, combine, verify and certify them.

The procedure, one stage per checkpoint (`~lsst.ts.calibscripts.calib.stages.Stage`), run by the
calibration engine `~lsst.ts.calibscripts.calib.procedure.CalibProcedure` for the bias type:

1. ``preflight``: CCCamera, CCHeaderService, CCOODS and OCPS:2 are ENABLED
   (OCPS:2 refuses another instrument's settings at start), no applied
   OCPS:2 configuration file is named after another instrument and, if the
   run verifies or certifies, ``repo`` opens as a butler repository;
   otherwise fail before any exposure.
2. ``take_biases``: subscribe to ``CCOODS.imageInOODS``, then take
   ``n_discard_bias + n_bias + n_verify_bias`` frames with ``ComCam.take_bias``
   tagged with the script's group id, reason, program and note, one at a
   time, each within ``frame_timeout`` (``take_bias`` itself can wait forever
   for an ``endReadout`` that never comes).
3. ``wait_ingest``: wait until every (exposure, detector) of the combined and
   verification frames is ingested with statusCode 0, within one deadline
   (the discarded frames are not waited for; their failures are warnings).
4. ``cp_bias``: run cpBias on the combined frames through OCPS:2, then check
   that its output collection is in ``repo`` (OCPS runs on its own butler).
5. ``verify_bias``: run verifyBias on ``u/ocps/<bias job>`` plus
   ``input_collections_verify``, on the independent frames if any.
6. ``judge``: read ``verifyBiasStats`` and judge it.
7. ``certify``: certify ``bias`` from the bias job's RUN into
   ``calib_collection`` over the validity range.
8. ``summary``: draw the pictures, write the YAML summary into ``report_dir``
   and log the summary with the full path of every file written.

The script ends DONE only when what the configuration asked for was done;
otherwise FAILED with a reason that names the cause and what was already
done (including the exposure ids and job ids to resume from). Stopping in
any stage gives STOPPED; on stop or failure every OCPS job the script started
and that has not ended is aborted.

This module is the bias script around the engine: the schema, the
metadata and the SAL objects (ComCam group, OCPS:2 remote, job client); the
stages themselves are the engine's.

SAL names come from `lsst.ts.calibscripts.sal` only, so the same file runs on
the real ts_salobj stack and on the simulated one. daf_butler is imported
only by the stages that use it, in a worker thread.
"""

from __future__ import annotations

__all__ = ["MakeComCamBias"]

import typing

from .. import sal
from ..calib import config as bias_config
from ..calib import ingest
from ..calib import metadata as bias_metadata
from ..calib import ocps
from ..calib.procedure import (  # noqa: F401 (the script's names since its first version)
    CAMERA_EVENT_GRACE,
    KNOWN_ERRORS,
    CalibProcedure,
    FrameNotTaken,
    TypeConfig,
    VerificationFailed,
    describe_camera_fault,
    describe_error,
    tai_isot,
)
from ..calib.stages import Stage, TypeStage
from ..calib.summary import RunSummary
from ..calib.types import CALIB_TYPES, CalibType
from ..cameras import COMCAM
from ..sal import salobj

if typing.TYPE_CHECKING:
    from ..calib.butler_ops import CertificationResult
    from ..calib.verification import Verdict

DESCRIPTION = (
    "Take LSSTComCam biases, make a combined bias with cpBias through OCPS:2, "
    "verify it with verifyBias and certify it in a butler CALIBRATION collection."
)

HELP = """Options are described in the configuration schema (--schema).
Minimal configuration:
    calib_collection: LSSTComCam/calib/daily
Resume after a failure: give exposure_ids (skip taking) and, if the bias job
completed, bias_job_id (skip cpBias); the failure reason lists both.
"""


class MakeComCamBias(salobj.BaseScript):
    """Take LSSTComCam biases, make, verify and certify a combined bias.

    Parameters
    ----------
    index : `int`
        The Script SAL index.
    """

    camera = COMCAM
    """The camera: ComCam."""
    spec = CALIB_TYPES[CalibType.BIAS]
    """The calibration type: bias."""

    def __init__(self, index: int = 1) -> None:
        super().__init__(index=index, descr=DESCRIPTION, help=HELP)
        # Schema errors name the option first (BaseScript validates before configure).
        self.config_validator = bias_config.SchemaValidator(self.config_validator)
        self.comcam = sal.ComCam(domain=self.domain, log=self.log)
        self.ocps = salobj.Remote(domain=self.domain, name="OCPS", index=self.camera.ocps_index)
        self.jobs = ocps.OcpsJobClient(self.ocps, log=self.log)
        self.bias_config: bias_config.BiasConfig | None = None
        self.procedure: CalibProcedure | None = None
        self._summary = RunSummary()

    # ------------------------------------------------------------------
    # Configuration
    # ------------------------------------------------------------------

    @classmethod
    def get_schema(cls) -> dict[str, typing.Any]:
        """Return the configuration schema (``schemas/make_comcam_bias.yaml``)."""
        from ..schemas import load_schema

        return load_schema()

    async def configure(self, config: typing.Any) -> None:
        """Check the configuration beyond the schema, keep it and set up the procedure.

        Raises
        ------
        ConfigError
            Naming the option, for values the schema cannot reject.
        """
        self.bias_config = bias_config.make_config(config)
        self.config = config
        self.procedure = CalibProcedure(
            host=self,
            spec=self.spec,
            settings=self.bias_config,
            type_config=TypeConfig.from_options(self.spec, self.bias_config),
            group=self.comcam,
            ocps_remote=self.ocps,
            jobs=self.jobs,
            camera=self.camera,
            summary=self._summary,
        )
        self.log.info(f"Configured: {self.plan_text()}")

    def set_metadata(self, metadata: typing.Any) -> None:
        """Set instrument, number of images and the duration estimate."""
        config = self.require_config()
        metadata.instrument = self.camera.instrument
        metadata.nimages = config.n_frames_to_take
        metadata.duration = bias_metadata.estimate_duration(config, self.comcam.read_out_time).total
        if hasattr(metadata, "totalCheckpoints"):
            metadata.totalCheckpoints = len(self.planned_stages())

    def require_config(self) -> bias_config.BiasConfig:
        """Return the configuration; `RuntimeError` if not configured."""
        if self.bias_config is None:
            raise RuntimeError("Not configured")
        return self.bias_config

    def require_procedure(self) -> CalibProcedure:
        """Return the procedure; `RuntimeError` if not configured."""
        if self.procedure is None:
            raise RuntimeError("Not configured")
        return self.procedure

    def planned_stages(self) -> list[Stage | TypeStage]:
        """The stages this configuration runs, in order."""
        return self.require_procedure().planned_stages()

    def plan_text(self) -> str:
        """One line saying what the run will do."""
        return self.require_procedure().plan_text()

    # ------------------------------------------------------------------
    # The procedure
    # ------------------------------------------------------------------

    async def run(self) -> None:
        """Run the procedure; see the module documentation."""
        config = self.require_config()
        procedure = self.require_procedure()
        self.summary = self.make_summary(config)
        reason = await procedure.run()
        # The DONE state keeps this reason: the operator sees the result in the queue.
        await self.set_state(reason=reason)

    def make_summary(self, config: bias_config.BiasConfig) -> RunSummary:
        """A fresh summary for this run."""
        return RunSummary(
            calib_type=self.spec.name,
            instrument=self.camera.instrument,
            salindex=self.salinfo.index,
            group_id=self.group_id,
            repo=config.repo,
            detectors=list(config.detectors),
            calib_collection=config.calib_collection,
            started=tai_isot(),
        )

    async def cleanup(self) -> None:
        """Stop listening; on stop or failure abort unfinished OCPS jobs and report."""
        if self.procedure is not None:
            await self.procedure.cleanup()

    # ------------------------------------------------------------------
    # What the procedure did (for operators' tools and tests)
    # ------------------------------------------------------------------

    @property
    def summary(self) -> RunSummary:
        """The run summary being filled."""
        return self.procedure.summary if self.procedure is not None else self._summary

    @summary.setter
    def summary(self, summary: RunSummary) -> None:
        self._summary = summary
        if self.procedure is not None:
            self.procedure.summary = summary

    @property
    def current_stage(self) -> Stage | TypeStage | None:
        return self.procedure.current_stage if self.procedure is not None else None

    @property
    def ingest_tracker(self) -> ingest.IngestTracker | None:
        return self.procedure.ingest_tracker if self.procedure is not None else None

    @property
    def ingest_report(self) -> ingest.IngestReport | None:
        return self.procedure.ingest_report if self.procedure is not None else None

    @property
    def verdict(self) -> Verdict | None:
        return self.procedure.verdict if self.procedure is not None else None

    @property
    def certification(self) -> CertificationResult | None:
        return self.procedure.certification if self.procedure is not None else None

    @property
    def bias_job_id(self) -> str:
        return self.procedure.build_job_id if self.procedure is not None else ""

    @property
    def verify_job_id(self) -> str:
        return self.procedure.verify_job_id if self.procedure is not None else ""

    def use_exposures(self, exposure_ids: list[int], n_discard: int) -> None:
        """Split exposures into discarded, combined and verification frames."""
        self.require_procedure().use_exposures(exposure_ids, n_discard)

    def validity_range(self) -> tuple[str, str]:
        """The configured validity range, or the biases' day_obs."""
        return self.require_procedure().validity_range()

    def resume_hint(self) -> str:
        """Configuration that resumes the run after what was done, if any."""
        return self.require_procedure().resume_hint()
