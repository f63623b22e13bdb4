"""The steps of ``toolkit drill``: the migration's own, with a marker where the freeze would be.

Left out, because a drill must not touch production or need a way back: the safety snapshot of
the source, the freeze (the source keeps serving), the resolver check and the TTLs put back
(the drill's zone is nobody's), the clean-up (the drill's teardown removes everything,
``toolkit.drills.teardown``), and the objects' listing pass after the window: with the source
still changing, it would carry deletions made after the target was detached onto objects whose
rows the target keeps. Changed: the window's recheck, which cannot wait for a frozen
source (``DrillVerifyData``). Added: the target detached from the source once its writes opened
(``Detach``).
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from toolkit.data.mover import Verification
from toolkit.migration.context import MigrationContext
from toolkit.migration.step import Step
from toolkit.migration.steps.after import AppHealth
from toolkit.migration.steps.before import (
    LowerTtls,
    Preflight,
    Replicate,
    ServeStandby,
    Standby,
    TargetPreflight,
    VerifyBeforeWindow,
    WaitTtls,
)
from toolkit.migration.steps.window import (
    Drain,
    ObjectsDelta,
    ObjectsFinal,
    OpenWrites,
    Sequences,
    SwitchDns,
    VerifyData,
    VerifyDns,
    WindowStep,
    window_begins,
)


class Marker(WindowStep):
    """The freeze's stand-in: the source's WAL position now, while it keeps serving. The drill's
    window runs from here, and what had committed before it is what the drill's target must hold
    when writes open there. The largest keys of the ranges left unsettled are read with it: rows
    added above them came after the marker."""

    name: ClassVar[str] = "cutover.marker"

    def run(self, ctx: MigrationContext) -> None:
        from toolkit.data.postgres.source import connect, scalar

        at = time.time()  # before the position: a write acknowledged by now is behind it
        with connect(ctx.source) as conn:
            position = str(scalar(conn, "SELECT pg_current_wal_lsn()::text"))
        unsettled = ctx.measured("database.verify").get("compared", {}).get("unsettled", [])
        ctx.run.measure(self.name, lsn=position, ceilings=ctx.database.key_ceilings(unsettled))
        window_begins(ctx, position, at)

    def plan(self, ctx: MigrationContext) -> dict[str, Any]:
        return {"instead_of": "cutover.freeze", "source": "keeps serving; its WAL position is the marker"}

    def estimate(self, ctx: MigrationContext) -> float:
        return 0.05


class DrillVerifyData(VerifyData):
    """The window's gate as a migration's, except that the source still takes writes: the ranges
    left unsettled are digested until each is seen equal on both sides (``recheck_live``)."""

    def settle(self, ctx: MigrationContext, unsettled: list[dict[str, Any]]) -> Verification:
        return ctx.database.recheck_live(unsettled, ctx.measured(Marker.name).get("ceilings", {}))


class Detach(Step):
    """Right after the window, the drill target stops applying the source's changes: a migrated
    target receives nothing after the freeze, and the drill's target must not take writes from
    two sides. What it holds from here on is what the load generator's check reads."""

    name: ClassVar[str] = "drill.detach"
    gate: ClassVar[bool] = False

    def run(self, ctx: MigrationContext) -> None:
        ctx.run.measure(self.name, detached=ctx.database.detach(), at=time.time())


STEPS: tuple[type[Step], ...] = (
    Preflight, Standby, TargetPreflight, Replicate, ServeStandby, LowerTtls, WaitTtls, VerifyBeforeWindow,
    Marker, ObjectsFinal, Drain, Sequences, DrillVerifyData, ObjectsDelta, SwitchDns, VerifyDns, OpenWrites,
    Detach, AppHealth,
)


def drill_steps() -> list[Step]:
    return [step() for step in STEPS]
