"""The cutover window: writes frozen on the source until they open on the target (the RTO).

Every step here is short, and each one's share of the window is in the report. A failure before
writes open rolls the migration back (``undo``, newest first): DNS back to the source, the
source unfrozen.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar

from toolkit.data.mover import Verification
from toolkit.errors import CheckFailed
from toolkit.migration.context import MigrationContext
from toolkit.migration.step import Step
from toolkit.migration.steps.shared import put_dns_back

DRAIN_TIMEOUT_S = 60.0
DRAIN_POLL_S = 0.02


class WindowStep(Step):
    in_window: ClassVar[bool] = True

    def estimate(self, ctx: MigrationContext) -> float:
        return 0.2


def window_begins(ctx: MigrationContext, position: str, at: float) -> None:
    """The position the target drains to (the latest), and when the window began (the first:
    a step redone after a crash does not restart the RTO)."""
    ctx.run.measure("cutover", position=position)
    if "frozen_at" not in ctx.measured("cutover"):
        ctx.run.measure("cutover", frozen_at=at)


class Freeze(WindowStep):
    """Writers of the source's tables set NOLOGIN and their sessions ended (``toolkit.migration.freeze``)."""

    name: ClassVar[str] = "cutover.freeze"

    def run(self, ctx: MigrationContext) -> None:
        from toolkit.data.postgres.source import connect
        from toolkit.migration.freeze import freeze

        saved = ctx.measured(self.name).get("roles")

        def remember(roles: dict[str, bool]) -> None:
            # Journaled before any role changes; a crash mid-freeze keeps what to put back.
            if saved is None:
                ctx.run.measure(self.name, roles=roles)

        with connect(ctx.source) as conn:
            frozen = freeze(conn, ctx.source.user, before_change=remember)
        ctx.run.measure(self.name, lsn=frozen.lsn, terminated=frozen.terminated)
        window_begins(ctx, frozen.lsn, frozen.frozen_at)

    def undo(self, ctx: MigrationContext) -> None:
        from toolkit.data.postgres.source import connect
        from toolkit.migration.freeze import unfreeze

        roles = ctx.measured(self.name).get("roles")
        if roles is None:
            return  # the freeze never changed a role
        with connect(ctx.source) as conn:
            unfreeze(conn, roles)


class Drain(WindowStep):
    """Until the target has confirmed every change up to the source's WAL position at the freeze
    (a drill's: at its marker)."""

    name: ClassVar[str] = "cutover.drain"

    def run(self, ctx: MigrationContext) -> None:
        from toolkit.data.postgres.source import connect, scalar

        lsn = ctx.measured("cutover")["position"]
        slot = ctx.database.names.slot
        deadline = time.monotonic() + DRAIN_TIMEOUT_S
        with connect(ctx.source) as conn:
            while True:
                behind = scalar(conn, "SELECT pg_wal_lsn_diff(%s::pg_lsn, confirmed_flush_lsn)::bigint "
                                      "FROM pg_replication_slots WHERE slot_name = %s", (lsn, slot))
                if behind is None:
                    raise CheckFailed(f"the replication slot {slot} is gone from the source")
                if behind <= 0:
                    break
                if time.monotonic() > deadline:
                    raise CheckFailed(f"the target did not reach the frozen position {lsn} within "
                                      f"{DRAIN_TIMEOUT_S:.0f} s ({behind} bytes behind)")
                ctx.run.progress(self.name, f"draining to {lsn}", lag_bytes=int(behind))
                time.sleep(DRAIN_POLL_S)
        ctx.run.measure(self.name, lsn=lsn)


class Sequences(WindowStep):
    name: ClassVar[str] = "cutover.sequences"

    def run(self, ctx: MigrationContext) -> None:
        ctx.run.measure(self.name, synced=ctx.database.sync_sequences())


class ObjectsFinal(WindowStep):
    """The objects' final pass begins, right after the freeze, and runs while the database drains,
    its sequences are synced and it is verified (``cutover.objects-delta`` waits for it).

    The freeze suffices: the app writes an object before the row naming it commits, so once no
    write can commit every acknowledged object is in the source's bucket, and the bucket is the
    truth, deletions included. The followers started before the window copy what the source's
    change feed still names, with warm clients (``ObjectMover.follow``)."""

    name: ClassVar[str] = "cutover.objects-final"

    def run(self, ctx: MigrationContext) -> None:
        if ctx.objects_follower is not None:
            ctx.objects_follower.finish()
            ctx.run.measure(self.name, asked=True)

    def estimate(self, ctx: MigrationContext) -> float:
        return 0.0


class ObjectsDelta(WindowStep):
    """The objects' final pass ended on every host, each copied object read back. A resumed run
    has no followers (they ended with the process that started them): a full ``resync`` then."""

    name: ClassVar[str] = "cutover.objects-delta"

    def run(self, ctx: MigrationContext) -> None:
        if ctx.objects is None:
            return
        follower = ctx.objects_follower
        if follower is None or follower.finished_at is None:
            state = ctx.objects.resync(ctx.run, delete=True)
            ctx.run.measure(self.name, **{k: v for k, v in state.items() if isinstance(v, int | float | str)})
            return
        # The shards' manifests come here after the window (objects.after-window).
        ctx.run.measure(self.name, followed=True, **follower.final_pass())


class VerifyData(WindowStep):
    """The gate inside the window, at a cost that follows what was being written, not the size.

    Just before the window (step ``verify``) every table was compared while the source served;
    the key ranges that differed because writes went on were left unsettled. Here, with the source
    frozen and the target drained to the frozen position, those ranges are digested again on both
    sides, and the rest is covered by continuity: the subscription met no error since that
    comparison, every table still streams, and nothing else could write on the target (its roles
    are shut, ``standby.serve``). The objects' final delta read back what it copied.
    """

    name: ClassVar[str] = "cutover.verify"

    def run(self, ctx: MigrationContext) -> None:
        from toolkit.migration.steps.before import VerifyBeforeWindow

        unsettled = ctx.measured("database.verify").get("compared", {}).get("unsettled", [])
        with ThreadPoolExecutor(1) as side:  # the target's health read while the ranges are digested
            asked = side.submit(ctx.database.stream_health)
            settled = self.settle(ctx, unsettled)
            health = asked.result()
        compared_at = ctx.measured(VerifyBeforeWindow.name).get("apply_errors")
        differences = [f"{table}: not streaming" for table in health["not_streaming"]]
        if health["apply_errors"] is None:
            differences.append("subscription: gone from the target")
        elif health["apply_errors"] != compared_at:
            differences.append(f"subscription: {health['apply_errors'] - (compared_at or 0)} apply error(s) "
                               "since the data was compared")
        differences += [f"{d.subject}: {d.message}" for d in settled.differences]
        compared = {**health, "apply_errors_before": compared_at, "rechecked": settled.compared,
                    "drained_to": ctx.measured(Drain.name).get("lsn")}
        ctx.run.measure(self.name, ok=not differences, compared=compared, differences=differences)
        if differences:
            raise CheckFailed("the target is not the frozen source: " + "; ".join(differences[:5]))

    def settle(self, ctx: MigrationContext, unsettled: list[dict[str, Any]]) -> Verification:
        """The ranges left unsettled, digested again on both sides (the source frozen, drained)."""
        return ctx.database.recheck(unsettled)

    def estimate(self, ctx: MigrationContext) -> float:
        return 0.5


class SwitchDns(WindowStep):
    """The service's records point at the target on every provider resolvers may ask."""

    name: ClassVar[str] = "cutover.switch-dns"

    def run(self, ctx: MigrationContext) -> None:
        if ctx.dns is None:
            return
        from toolkit.dns import cutover

        cutover.switch(ctx.dns, ctx.run)

    def undo(self, ctx: MigrationContext) -> None:
        put_dns_back(ctx)


class VerifyDns(WindowStep):
    """Every authoritative server, asked by address, answers the new records (bounded wait)."""

    name: ClassVar[str] = "cutover.verify-dns"

    def run(self, ctx: MigrationContext) -> None:
        if ctx.dns is None:
            return
        from toolkit.dns import cutover

        cutover.verify_authoritative(ctx.dns, run=ctx.run)

    def estimate(self, ctx: MigrationContext) -> float:
        return 0.5


class OpenWrites(WindowStep):
    """The target's roles may log in again: writes open on the standby its proxies already serve.

    The window closes with that statement. The app's health is the next step's (``app.health``):
    a failure there cannot roll back, writes are open.
    """

    name: ClassVar[str] = "cutover.open-writes"
    opens_writes: ClassVar[bool] = True

    def run(self, ctx: MigrationContext) -> None:
        from toolkit.migration.steps.before import ServeStandby
        from toolkit.migration.target_writes import open_writes

        roles = ctx.measured(ServeStandby.name).get("roles") or {}
        opened = open_writes(ctx.database.target, roles)
        if "opened_at" not in ctx.measured("cutover"):
            ctx.run.measure("cutover", opened_at=time.time())
        ctx.run.measure(self.name, roles=opened)

    def undo(self, ctx: MigrationContext) -> None:
        # Only reached when this step failed before writes opened: shut the roles again.
        from toolkit.migration.steps.before import ServeStandby
        from toolkit.migration.target_writes import hold_shut

        hold_shut(ctx.database.target, ctx.measured(ServeStandby.name).get("roles") or {}, lambda _: None)

    def plan(self, ctx: MigrationContext) -> dict[str, Any]:
        return {"statement": "ALTER ROLE ... LOGIN on the target, for each role standby.serve shut"}

    def estimate(self, ctx: MigrationContext) -> float:
        return 0.3
