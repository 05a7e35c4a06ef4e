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

"""Middleware selection: the one place that decides which SAL is used.

Every other module of this package imports SAL names from here::

    from lsst.ts.calibscripts.sal import salobj, ScriptState

The real stack (ts_salobj 8 on Kafka, ts_xml, ts_utils and, lazily,
ts_observatory_control) is used when it imports and is of the Kafka era;
otherwise the package's own simulated SAL (`lsst.ts.calibscripts.simsal`)
is used. The environment variable ``CALIBSCRIPTS_SAL`` forces a choice:

``auto`` (default)
    real if available, else simulated.
``real``
    the real stack; `ImportError` with the reason if it is missing.
``sim``
    the simulated SAL, even where the real stack is installed
    (tests use this so that they can never reach a real Kafka broker).

Importing this module is cheap and prints nothing. ``ComCam`` is resolved
on first access because ts_observatory_control is slow to import.
"""

from __future__ import annotations

__all__ = [
    "BACKEND",
    "BACKEND_ENV_VAR",
    "Backend",
    "ComCam",
    "MetadataCoordSys",
    "MetadataDome",
    "MetadataRotSys",
    "OCPSIndex",
    "SalRetCode",
    "ScriptState",
    "State",
    "current_tai",
    "real_stack_problem",
    "salobj",
    "select_backend",
]

import enum
import importlib
import os
import typing

BACKEND_ENV_VAR = "CALIBSCRIPTS_SAL"


class Backend(str, enum.Enum):
    """Which middleware the package runs on."""

    REAL = "real"
    SIM = "sim"


def real_stack_problem() -> str | None:
    """Say why the real SAL stack cannot be used, or None if it can.

    Returns
    -------
    problem : `str` or `None`
        A human-readable reason, or `None` when ``lsst.ts.salobj`` (Kafka
        era), ``lsst.ts.xml`` and ``lsst.ts.utils`` all import.
    """
    try:
        real_salobj = importlib.import_module("lsst.ts.salobj")
    except Exception as e:
        return f"lsst.ts.salobj does not import: {e!r}"
    if not hasattr(real_salobj, "set_test_topic_subname"):
        return (
            "lsst.ts.salobj is a DDS-era version (no set_test_topic_subname); "
            "ts_salobj 8 (Kafka) or newer is required"
        )
    for name in ("lsst.ts.xml", "lsst.ts.xml.enums.Script", "lsst.ts.utils"):
        try:
            importlib.import_module(name)
        except Exception as e:
            return f"{name} does not import: {e!r}"
    return None


def select_backend(requested: str | None = None) -> Backend:
    """Decide which backend to use.

    Parameters
    ----------
    requested : `str`, optional
        ``auto``, ``real`` or ``sim``; defaults to the value of the
        ``CALIBSCRIPTS_SAL`` environment variable, or ``auto``.

    Returns
    -------
    backend : `Backend`
        The backend to use.

    Raises
    ------
    ValueError
        If ``requested`` is not one of the allowed values.
    ImportError
        If ``real`` is requested and the real stack is not usable.
    """
    if requested is None:
        requested = os.environ.get(BACKEND_ENV_VAR, "auto")
    choice = requested.strip().lower() or "auto"
    if choice not in ("auto", "real", "sim"):
        raise ValueError(f"{BACKEND_ENV_VAR}={requested!r} is not one of auto, real, sim")
    if choice == "sim":
        return Backend.SIM
    problem = real_stack_problem()
    if choice == "real":
        if problem is not None:
            raise ImportError(
                f"{BACKEND_ENV_VAR}=real but the real SAL stack is not usable: {problem}. "
                f"Install ts_salobj 8, ts_xml and ts_utils, or set {BACKEND_ENV_VAR}=sim."
            )
        return Backend.REAL
    return Backend.SIM if problem is not None else Backend.REAL


BACKEND: Backend = select_backend()

if BACKEND is Backend.REAL:
    from lsst.ts import salobj, utils  # type: ignore[no-redef]
    from lsst.ts.xml.enums.Script import (  # type: ignore[no-redef]
        MetadataCoordSys,
        MetadataDome,
        MetadataRotSys,
        ScriptState,
    )

    try:
        from lsst.ts.xml.enums.OCPS import SalIndex as OCPSIndex  # type: ignore[no-redef]
    except ImportError:  # pragma: no cover - very old ts_xml

        class OCPSIndex(enum.IntEnum):  # type: ignore[no-redef]
            LATISS = 1
            LSSTComCam = 2
            LSSTCam = 3

    current_tai = utils.current_tai
    _COMCAM_MODULE = "lsst.ts.observatory.control.maintel.comcam"
else:
    from .simsal import salobj, utils  # type: ignore[no-redef]
    from .simsal.xml.enums.OCPS import SalIndex as OCPSIndex  # type: ignore[no-redef]
    from .simsal.xml.enums.Script import (  # type: ignore[no-redef]
        MetadataCoordSys,
        MetadataDome,
        MetadataRotSys,
        ScriptState,
    )

    current_tai = utils.current_tai
    _COMCAM_MODULE = "lsst.ts.calibscripts.simsal.observatory_control.comcam"

State = salobj.State
SalRetCode = salobj.SalRetCode

if typing.TYPE_CHECKING:  # pragma: no cover
    ComCam: typing.Any


def __getattr__(name: str) -> typing.Any:
    """Resolve ``ComCam`` lazily from the selected stack."""
    if name == "ComCam":
        module = importlib.import_module(_COMCAM_MODULE)
        value = module.ComCam
        globals()["ComCam"] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
