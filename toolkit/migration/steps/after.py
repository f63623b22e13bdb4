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
    """The slot and publication leave the source (which stays frozen); the target's subscription goes."""

    name: ClassVar[str] = "clean-up"

    def run(self, ctx: MigrationContext) -> None:
        ctx.run.measure(self.name, removed=ctx.database.stop())
