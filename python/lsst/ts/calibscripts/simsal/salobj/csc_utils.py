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

"""Summary-state helpers."""

from __future__ import annotations

__all__ = ["make_state_transition_dict", "get_expected_summary_states", "set_summary_state"]

import asyncio
import functools
import typing

from ..xml.sal_enums import State

if typing.TYPE_CHECKING:
    from .remote import Remote

_ORDERED_STATES = (State.OFFLINE, State.STANDBY, State.DISABLED, State.ENABLED)
_UP_COMMANDS = {State.OFFLINE: "enterControl", State.STANDBY: "start", State.DISABLED: "enable"}
_DOWN_COMMANDS = {State.ENABLED: "disable", State.DISABLED: "standby", State.STANDBY: "exitControl"}


def _path(initial: State, final: State) -> list[tuple[str, State]]:
    steps: list[tuple[str, State]] = []
    if initial == State.FAULT:
        steps.append(("standby", State.STANDBY))
        initial = State.STANDBY
    i, j = _ORDERED_STATES.index(initial), _ORDERED_STATES.index(final)
    while i < j:
        steps.append((_UP_COMMANDS[_ORDERED_STATES[i]], _ORDERED_STATES[i + 1]))
        i += 1
    while i > j:
        steps.append((_DOWN_COMMANDS[_ORDERED_STATES[i]], _ORDERED_STATES[i - 1]))
        i -= 1
    return steps


@functools.cache
def make_state_transition_dict() -> dict[tuple[State, State], list[tuple[str, State]]]:
    """Return the commands to go between summary states.

    Returns
    -------
    transitions : `dict`
        Keyed by (initial state, final state); each value is a list of
        (command name, resulting state). FAULT is only an initial state.
    """
    return {
        (initial, final): _path(initial, final)
        for initial in _ORDERED_STATES + (State.FAULT,)
        for final in _ORDERED_STATES
    }


def get_expected_summary_states(initial_state: State, final_state: State) -> list[State]:
    """Return the summary states a CSC passes through, excluding the initial one.

    Parameters
    ----------
    initial_state, final_state : `State`
        Initial and final summary states.
    """
    return [state for _, state in make_state_transition_dict()[(State(initial_state), State(final_state))]]


async def set_summary_state(
    remote: Remote, state: State, override: str = "", timeout: float = 30
) -> list[State]:
    """Command a CSC to a summary state, one transition at a time.

    Parameters
    ----------
    remote : `Remote`
        Remote of the CSC (must have ``evt_summaryState`` and the state commands).
    state : `State`
        Desired summary state (not FAULT).
    override : `str`, optional
        Configuration override for the ``start`` command.
    timeout : `float`, optional
        Time limit for reading the summary state and for each command (s).

    Returns
    -------
    states : `list` [`State`]
        The initial state and each state passed through.

    Raises
    ------
    ValueError
        If ``state`` is FAULT.
    RuntimeError
        If the summary state cannot be read, or a command fails.
    """
    state = State(state)
    if state == State.FAULT:
        raise ValueError("Cannot go to FAULT state")
    try:
        state_data = await remote.evt_summaryState.aget(timeout=timeout)
    except asyncio.TimeoutError:
        raise RuntimeError(f"Cannot get summaryState from {remote.salinfo.name_index}")
    current_state = State(state_data.summaryState)
    states = [current_state]
    if current_state == state:
        return states
    old_override = remote.cmd_start.data.configurationOverride
    try:
        remote.cmd_start.data.configurationOverride = override
        for cmd_name, new_state in make_state_transition_dict()[(current_state, state)]:
            try:
                await getattr(remote, f"cmd_{cmd_name}").start(timeout=timeout)
            except Exception as e:
                raise RuntimeError(f"Error on cmd=cmd_{cmd_name}, initial_state={current_state}: {e}") from e
            current_state = new_state
            states.append(new_state)
    finally:
        remote.cmd_start.data.configurationOverride = old_override
    return states
