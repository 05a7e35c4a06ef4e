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

"""Test helpers (as ``lsst.ts.salobj.testutils``)."""

from __future__ import annotations

__all__ = ["set_test_topic_subname", "set_random_lsst_dds_partition_prefix", "delete_kafka_topics"]

import base64
import os
import warnings


def set_test_topic_subname(randomize: bool = False) -> None:
    """Set ``LSST_TOPIC_SUBNAME`` to a value for tests.

    Parameters
    ----------
    randomize : `bool`, optional
        Use a random value (isolating this test's topics, including their
        history, from every other test) rather than one based on the
        process ID.
    """
    raw = os.urandom(12) if randomize else str(os.getpid()).encode()
    text = base64.urlsafe_b64encode(raw).decode().replace("=", "").replace("-", "")
    os.environ["LSST_TOPIC_SUBNAME"] = f"test_{text}"


def set_random_lsst_dds_partition_prefix() -> None:
    """Deprecated alias of ``set_test_topic_subname(randomize=True)``."""
    warnings.warn("Use set_test_topic_subname instead", DeprecationWarning, stacklevel=2)
    set_test_topic_subname(randomize=True)


async def delete_kafka_topics() -> None:
    """Delete test topics; nothing to do for the in-process bus."""
    return None
