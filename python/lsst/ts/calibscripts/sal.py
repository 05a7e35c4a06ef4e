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
ts_observatory_control) is used wherever ``lsst.ts.salobj`` is installed;
the package's own simulated SAL (`lsst.ts.calibscripts.simsal`) only where
it is not, or when asked for. The environment variable ``CALIBSCRIPTS_SAL``
forces a choice:

``auto`` (default)
    The real stack if ``lsst.ts.salobj`` is installed. If it is installed
    but not usable (a DDS-era version, or ts_xml or ts_utils missing or
    broken), importing this module raises `ImportError` with the reason:
    it never falls back to the simulation then. The simulated SAL only if
    ``lsst.ts.salobj`` is absent.
``real``
    The real stack; `ImportError` with the reason if it is missing.
``sim``
    The simulated SAL, even where the real stack is installed
    (tests use this so that they can never reach a real Kafka broker).

Executables that the ScriptQueue starts call `require_real_unless_sim_requested`,
so that they never run on the in-process simulated bus by accident: there
the bus has no other participant, and the queue would wait for a script
that never appears.

Importing this module is cheap and prints nothing. The camera groups
``ComCam``, ``LSSTCam``, ``LATISS`` and their ``*Usages`` are resolved on
first access because ts_observatory_control is slow to import;
`camera_group` returns the group class of a camera profile's ``group_name``.
"""

from __future__ import annotations

__all__ = [
    "BACKEND",
    "BACKEND_ENV_VAR",
    "Backend",
    "ComCam",
    "ComCamUsages",
    "LATISS",
    "LATISSUsages",
    "LSSTCam",
    "LSSTCamUsages",
    "MetadataCoordSys",
    "MetadataDome",
    "MetadataRotSys",
    "OCPSIndex",
    "SalRetCode",
    "ScriptState",
    "State",
    "camera_group",
    "current_tai",
    "REQUESTED",
    "real_salobj_installed",
    "real_stack_problem",
    "require_real_unless_sim_requested",
    "salobj",
    "select_backend",
]

import enum
import importlib
import importlib.util
import os
import sys
import typing

BACKEND_ENV_VAR = "CALIBSCRIPTS_SAL"


class Backend(str, enum.Enum):
    """Which middleware the package runs on."""

    REAL = "real"
    SIM = "sim"


def real_salobj_installed() -> bool:
    """Is a package ``lsst.ts.salobj`` installed (whether or not it imports)?"""
    if "lsst.ts.salobj" in sys.modules:
        return sys.modules["lsst.ts.salobj"] is not None
    try:
        return importlib.util.find_spec("lsst.ts.salobj") is not None
    except (ImportError, ValueError):
        # A parent package is missing, or the module was blocked in sys.modules.
        return False


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


def _requested_choice(requested: str | None) -> str:
    if requested is None:
        requested = os.environ.get(BACKEND_ENV_VAR, "auto")
    choice = requested.strip().lower() or "auto"
    if choice not in ("auto", "real", "sim"):
        raise ValueError(f"{BACKEND_ENV_VAR}={requested!r} is not one of auto, real, sim")
    return choice


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
        If ``real`` is requested and the real stack is not usable, or if
        ``auto`` is requested and ``lsst.ts.salobj`` is installed but the
        real stack is not usable.
    """
    choice = _requested_choice(requested)
    if choice == "sim":
        return Backend.SIM
    if choice == "auto" and not real_salobj_installed():
        return Backend.SIM
    problem = real_stack_problem()
    if problem is None:
        return Backend.REAL
    if choice == "real":
        raise ImportError(
            f"{BACKEND_ENV_VAR}=real but the real SAL stack is not usable: {problem}. "
            f"Install ts_salobj 8, ts_xml and ts_utils, or set {BACKEND_ENV_VAR}=sim."
        )
    raise ImportError(
        f"lsst.ts.salobj is installed but the real SAL stack is not usable: {problem}. "
        f"Refusing to fall back to the simulated SAL. Fix the installation (ts_salobj 8 or newer, "
        f"ts_xml and ts_utils), or set {BACKEND_ENV_VAR}=sim to use the simulated SAL on purpose."
    )


def require_real_unless_sim_requested(what: str) -> None:
    """Refuse to run on the simulated SAL unless ``CALIBSCRIPTS_SAL=sim`` asked for it.

    For executables that must talk to the observatory (the script started
    by the ScriptQueue, the command line without ``--simulate``): on the
    in-process simulated bus nobody else would hear them.

    Parameters
    ----------
    what : `str`
        What is being started, for the error message.

    Raises
    ------
    ImportError
        If the simulated SAL was selected only because ``lsst.ts.salobj``
        is not installed.
    """
    if BACKEND is Backend.SIM and REQUESTED != "sim":
        raise ImportError(
            f"{what} needs the real SAL stack, but lsst.ts.salobj is not installed "
            f"({real_stack_problem()}). Install ts_salobj 8, ts_xml and ts_utils (the ts-salobj and "
            f"ts-xml conda packages) to talk to the observatory. To run against the simulated "
            f"observatory use run_make_comcam_bias --simulate; to use the simulated SAL on purpose "
            f"set {BACKEND_ENV_VAR}=sim."
        )


#: The value of ``CALIBSCRIPTS_SAL`` (normalised) when this module was imported.
REQUESTED: str = _requested_choice(None)

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
    _GROUP_MODULES = {
        "ComCam": "lsst.ts.observatory.control.maintel.comcam",
        "LSSTCam": "lsst.ts.observatory.control.maintel.lsstcam",
        "LATISS": "lsst.ts.observatory.control.auxtel.latiss",
    }
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
    _GROUP_MODULES = {
        "ComCam": "lsst.ts.calibscripts.simsal.observatory_control.comcam",
        "LSSTCam": "lsst.ts.calibscripts.simsal.observatory_control.lsstcam",
        "LATISS": "lsst.ts.calibscripts.simsal.observatory_control.latiss",
    }

State = salobj.State
SalRetCode = salobj.SalRetCode

if typing.TYPE_CHECKING:  # pragma: no cover
    ComCam: typing.Any
    ComCamUsages: typing.Any
    LSSTCam: typing.Any
    LSSTCamUsages: typing.Any
    LATISS: typing.Any
    LATISSUsages: typing.Any


def camera_group(group_name: str) -> typing.Any:
    """Return the camera group class of the selected stack (``ComCam``, ``LSSTCam``, ``LATISS``).

    Raises
    ------
    ValueError
        Not a camera group; the message lists them.
    """
    if group_name not in _GROUP_MODULES:
        raise ValueError(f"Unknown camera group {group_name!r}; known: {', '.join(_GROUP_MODULES)}")
    return __getattr__(group_name)


def __getattr__(name: str) -> typing.Any:
    """Resolve the camera groups and their usages lazily from the selected stack."""
    group = name.removesuffix("Usages")
    if group in _GROUP_MODULES:
        module = importlib.import_module(_GROUP_MODULES[group])
        value = getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
