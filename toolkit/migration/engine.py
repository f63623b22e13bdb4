"""The migration engine: run the steps in order as one run, resume, and roll back a failed gate.

- A step that ended in the run's journal is not run again when the run resumes.
- A failed gate before writes opened on the target rolls back: every step that started is undone,
  newest first, each attempted even if another fails; the run's status becomes ``rolled_back``.
- After the step that opens writes on the target has ended, a rollback is refused: writes made
  on the target since would be lost.
- An interruption (Ctrl-C, SIGTERM, ``kill -9``) never rolls back by itself: the run stays
  resumable (``--resume RUN``) or can be rolled back by hand (``toolkit rollback RUN``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from toolkit.errors import CheckFailed
from toolkit.migration.step import Step
from toolkit.runs import Run

if TYPE_CHECKING:
    from toolkit.migration.context import MigrationContext

log = logging.getLogger(__name__)


class GateFailed(CheckFailed):
    """A gate failed; the migration was rolled back (``rolled_back``) or could not be."""

    def __init__(self, step: str, reason: str, rolled_back: bool) -> None:
        how = "rolled back: the source serves writes again" if rolled_back else "NOT rolled back"
        super().__init__(f"migration gate {step} failed ({reason}); {how}")
        self.step = step
        self.reason = reason
        self.rolled_back = rolled_back


class RollbackRefused(CheckFailed):
    """Writes opened on the target: rolling back would lose them."""


def _events(run: Run, kind: str) -> set[str]:
    return {str(r.get("step")) for r in run.journal.records() if r.get("event") == kind}


def writes_opened(steps: Sequence[Step], run: Run) -> str | None:
    """The step that opened writes on the target, if it has ended in this run."""
    ended = _events(run, "step-ended")
    return next((s.name for s in steps if s.opens_writes and s.name in ended), None)


@dataclass
class PlannedStep:
    name: str
    estimate_seconds: float
    plan: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "estimate_seconds": round(self.estimate_seconds, 1), "plan": self.plan}


def plan(steps: Sequence[Step], ctx: MigrationContext) -> list[PlannedStep]:
    """Every step's plan and estimate; changes nothing anywhere. Steps that plan slowly are
    planned in the background while the others are planned in order."""
    with ThreadPoolExecutor(1) as beside:
        slow = {step.name: beside.submit(step.plan, ctx) for step in steps if step.plans_slowly}
        plans = {step.name: step.plan(ctx) for step in steps if not step.plans_slowly}
        plans.update({name: future.result() for name, future in slow.items()})
    return [PlannedStep(step.name, step.estimate(ctx), plans[step.name]) for step in steps]


def execute(steps: Sequence[Step], ctx: MigrationContext) -> None:
    """Run the steps not yet ended in ``ctx.run``; roll back on a failed gate (see module doc)."""
    run = ctx.run
    if run.measured("rollback"):
        raise CheckFailed(f"run {run.id} was rolled back; start a new migration instead of resuming it")
    ended = _events(run, "step-ended")
    for step in steps:
        if step.name in ended:
            run.note(f"{step.name}: done earlier in this run", step=step.name)
            continue
        try:
            with run.step(step.name):
                step.run(ctx)
        except Exception as exc:
            if not step.gate or writes_opened(steps, run):
                raise
            reason = str(exc) or type(exc).__name__
            log.warning("execute: gate %s failed (%s), rolling back", step.name, reason)
            rollback(steps, ctx, f"gate {step.name} failed: {reason}")
            raise GateFailed(step.name, reason, rolled_back=True) from exc


def rollback(steps: Sequence[Step], ctx: MigrationContext, reason: str) -> list[str]:
    """Undo every step that started in this run, newest first; return the steps undone."""
    run = ctx.run
    opened = writes_opened(steps, run)
    if opened is not None:
        raise RollbackRefused(f"run {run.id} opened writes on the target ({opened}); a rollback would lose "
                              "the writes made there since: fail back with a new migration instead")
    started = _events(run, "step-started")
    undone, failures = [], []
    run.measure("rollback", reason=reason, started_at=round(time.time(), 3))
    for step in reversed(steps):
        if step.name not in started:
            continue
        try:
            with run.step(f"rollback.{step.name}"):
                step.undo(ctx)
            undone.append(step.name)
        except Exception as exc:  # the other undos must still run: DNS back, source unfrozen
            failures.append(f"{step.name}: {exc}")
    run.measure("rollback", ended_at=round(time.time(), 3), undone=undone, failures=failures)
    if failures:
        raise CheckFailed(f"rollback of run {run.id} incomplete: " + "; ".join(failures))
    return undone
