"""What the copy step does when the command runs again, from what is observed on both sides.

The exported snapshot lives in the copy agent on the target's database host, not in the toolkit:
a ``kill -9`` of the toolkit (or its SSH session dying) leaves the agent copying, and the next
command attaches to it and redoes nothing. Ranges are committed with their ledger mark in one
target transaction, so what the ledger says is done is done exactly once.

Only if the agent itself died before the last range was copied is the snapshot gone. Rows copied
at that snapshot cannot be joined to another slot's stream without a gap or an overlap (the old
slot's start and a new snapshot are different points in time), so the least that is correct is to
redo the copy: truncate every planned table on the target, drop the old slot, and copy again from a
fresh slot and snapshot. Schema already restored is kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class CopyAction(Enum):
    SKIP = "skip"  # the copy is finished and recorded
    START = "start"  # nothing planned yet: plan the ranges and start the agent
    ATTACH = "attach"  # the agent is copying: follow it
    FINISH = "finish"  # the agent finished while nobody watched: record it
    REDO = "redo"  # the agent died mid-copy: the snapshot is gone, copy again from a fresh slot


@dataclass(frozen=True)
class Observed:
    copy_recorded: bool  # the ledger's phases say the copy ended
    ranges_planned: int
    ranges_done: int
    agent_running: bool
    agent_phase: str | None  # the agent's last state: starting, copying, copied, failed
    slot_exists: bool


def plan_copy(seen: Observed) -> CopyAction:
    if seen.copy_recorded:
        return CopyAction.SKIP
    if seen.agent_running:
        return CopyAction.ATTACH
    if seen.agent_phase == "copied" and seen.slot_exists and seen.ranges_planned \
            and seen.ranges_done == seen.ranges_planned:
        return CopyAction.FINISH
    if seen.ranges_planned == 0 and not seen.slot_exists:
        return CopyAction.START
    return CopyAction.REDO


def redo_reason(seen: Observed) -> str:
    if not seen.slot_exists:
        return "the replication slot is gone"
    return (f"the copy agent died after {seen.ranges_done} of {seen.ranges_planned} ranges, and its "
            "snapshot with it")
