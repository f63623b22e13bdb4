"""After the window: what clients see, the TTLs back, the source's replication objects removed."""

from __future__ import annotations

from typing import ClassVar

from toolkit.migration.context import MigrationContext
from toolkit.migration.step import Step
from toolkit.migration.steps.shared import wait_until


class AfterStep(Step):
    gate: ClassVar[bool] = False  # writes are open on the target: nothing here rolls back


class AppHealth(AfterStep):
    """Every app process on every app host answers its health check (bounded wait)."""

    name: ClassVar[str] = "app.health"

    def run(self, ctx: MigrationContext) -> None:
        from toolkit.targets.baremetal.health import wait_app_healthy

        ctx.run.measure(self.name, seconds_by_host=wait_app_healthy(ctx.loaded))


class ReconcileObjects(AfterStep):
    """One listing pass once writes are open, outside the window: whatever the change events
    missed reaches the target (``ObjectMover.reconcile``), and nothing written there is undone."""

    name: ClassVar[str] = "objects.after-window"

    def run(self, ctx: MigrationContext) -> None:
        if ctx.objects is None:
            return
        if ctx.objects_follower is not None:  # the window's final pass, recorded
            ctx.objects_follower.result(ctx.run, "objects.follow")
            ctx.objects_follower = None
        state = ctx.objects.reconcile(ctx.run)
        ctx.run.measure(self.name, **{k: state[k] for k in ("objects", "copied", "deleted", "seconds")})


class VerifyClients(AfterStep):
    """Once the TTL in effect at the switch has passed, the caching resolver answers the target."""

    name: ClassVar[str] = "dns.verify-clients"

    def run(self, ctx: MigrationContext) -> None:
        if ctx.dns is None:
            return
        from toolkit.dns import cutover
        from toolkit.dns.timeline import resolver_check_at

        switched = ctx.measured("switch")
        due = resolver_check_at(switched["switched_at"], int(switched["ttl_at_switch"]))
        wait_until(ctx, self.name, due, "waiting for caches to expire")
        ctx.run.measure(self.name, **cutover.verify_resolver(ctx.dns, ctx.run))


class RestoreTtls(AfterStep):
    name: ClassVar[str] = "dns.restore-ttls"

    def run(self, ctx: MigrationContext) -> None:
        if ctx.dns is None:
            return
        from toolkit.dns import cutover

        before = cutover.load_before(ctx.run)
        if before is not None:
            cutover.restore_ttls(ctx.dns, before)


class CleanUpSource(AfterStep):
    """The slot, publication and change feed leave the source (which stays frozen); the target's
    subscription and the objects hosts' work directories go."""

    name: ClassVar[str] = "clean-up"

    def run(self, ctx: MigrationContext) -> None:
        removed = ctx.database.stop()
        if ctx.objects is not None:
            removed += ctx.objects.stop()  # the source's change feed, the hosts' work directories
        ctx.run.measure(self.name, removed=removed)
