"""Before the window: check everything, keep a way back, make the target current, prepare DNS."""

from __future__ import annotations

import logging
import time
from typing import Any, ClassVar

from toolkit.data.side_by_side import side_by_side
from toolkit.errors import CheckFailed
from toolkit.migration.context import MigrationContext
from toolkit.migration.step import Step
from toolkit.migration.steps.shared import put_dns_back, wait_until

log = logging.getLogger(__name__)

# The objects' passes before the window (``Follower.converge``) stop once one changes this few
# objects, or after this many.
CONVERGED_CHANGES = 50
CONVERGE_PASSES = 4
# Assumed until the probe has measured the path between the two servers.
DEFAULT_BYTES_PER_SECOND = 50 * 1024**2


def judged(ctx: MigrationContext, step: str, findings: list[Any]) -> list[str]:
    """Errors among a preflight's findings, as sentences; warnings become the run's notes."""
    problems = []
    for finding in findings:
        if finding.severity == "error":
            problems.append(f"{finding.subject}: {finding.message}")
        elif finding.severity == "warning":
            ctx.run.note(f"{finding.subject}: {finding.message}", step=step)
    return problems


class Preflight(Step):
    """Before anything changes: the spec, every host with a known key, the source's credentials
    and what its data needs, the freeze's reach, the deadline. What needs the standby to exist is
    ``preflight.target``'s."""

    name: ClassVar[str] = "preflight"

    def run(self, ctx: MigrationContext) -> None:
        from toolkit.data.postgres.source import connect
        from toolkit.migration.freeze import coverage
        from toolkit.targets.baremetal.fleet import fleet_preflight

        fleet_preflight(ctx.loaded)
        problems = judged(ctx, self.name, ctx.database.source_preflight())
        admin = ctx.source.user
        with connect(ctx.source) as conn:
            reach = coverage(conn, admin)
        problems += reach.gaps
        for warning in reach.warnings:
            ctx.run.note(warning, step=self.name)
        ctx.run.measure(self.name, writers=[w.name for w in reach.writers])
        if ctx.deadline is not None:
            from toolkit.migration.planning import estimate_total

            left = ctx.deadline.timestamp() - time.time()
            needed = estimate_total(ctx)
            if needed > left:
                problems.append(f"the migration needs about {needed:.0f} s, the deadline leaves {left:.0f} s")
        if problems:
            raise CheckFailed("preflight: " + "; ".join(problems))


class TargetPreflight(Step):
    """Once the standby exists: every data mover's preflight (disk, extensions, the object store
    and its buckets) and the DNS sync's safety on every provider, before any data moves."""

    name: ClassVar[str] = "preflight.target"

    def run(self, ctx: MigrationContext) -> None:
        problems = [p for findings in side_by_side(ctx.movers, lambda mover: mover.preflight())
                    for p in judged(ctx, self.name, findings)]
        if ctx.dns is not None:
            from toolkit.dns import cutover

            for plan in cutover.sync_plans(ctx.dns):
                plan.raise_if_unsafe(False)
        if problems:
            raise CheckFailed("preflight of the target: " + "; ".join(problems))


class SafetySnapshot(Step):
    """A snapshot of the source database through the RDS API: a way back that does not need us."""

    name: ClassVar[str] = "safety-snapshot"

    def run(self, ctx: MigrationContext) -> None:
        from toolkit.targets.aws.snapshots import snapshot_source

        identifier = snapshot_source(ctx.loaded, f"toolkit-{ctx.loaded.spec.service.name}-{ctx.run.id[-6:]}")
        ctx.run.measure(self.name, snapshot=identifier)

    def plan(self, ctx: MigrationContext) -> dict[str, Any]:
        aws = ctx.loaded.spec.targets.aws
        return {"db_instance": aws.resources.db_instance if aws else None}


class Standby(Step):
    """The target provisioned as a standby: database empty, app stopped, maintenance page."""

    name: ClassVar[str] = "standby"
    plans_slowly: ClassVar[bool] = True  # Ansible's check mode of every host

    def run(self, ctx: MigrationContext) -> None:
        from toolkit.targets.baremetal.provision import provision_baremetal

        if ctx.measured("replicate").get("started"):
            ctx.run.note("replication has begun: the standby is not provisioned again", step=self.name)
            return
        result = provision_baremetal(ctx.loaded, standby=True, listeners=ctx.listeners)
        ctx.run.measure(self.name, provision_run=result.run_dir.name, changed=result.summary.changed)
        if not result.ok:
            raise CheckFailed(f"provisioning the standby failed (run {result.run_dir.name})")

    def plan(self, ctx: MigrationContext) -> dict[str, Any]:
        from toolkit.targets.baremetal.provision import provision_baremetal

        result = provision_baremetal(ctx.loaded, standby=True, check=True)
        return {"ansible_check": result.to_json()}

    def estimate(self, ctx: MigrationContext) -> float:
        return 60.0


class Replicate(Step):
    """The initial copy and continuous replication of the database, and the objects' first pass."""

    name: ClassVar[str] = "replicate"

    def run(self, ctx: MigrationContext) -> None:
        ctx.run.measure(self.name, started=True)
        side_by_side(ctx.movers, lambda mover: mover.start(ctx.run))

    def plan(self, ctx: MigrationContext) -> dict[str, Any]:
        from toolkit.migration.planning import data_sizes

        return {"data": data_sizes(ctx)}

    def estimate(self, ctx: MigrationContext) -> float:
        from toolkit.migration.planning import data_sizes, probe_bandwidth

        sizes = data_sizes(ctx)
        return 5.0 + sum(sizes.values()) / probe_bandwidth(ctx)


class ServeStandby(Step):
    """The standby's app started and served by its proxies, its database roles held NOLOGIN: writes
    stay shut until the window opens them with one statement per role (``target_writes``)."""

    name: ClassVar[str] = "standby.serve"

    def run(self, ctx: MigrationContext) -> None:
        from toolkit.data.postgres.source import connect
        from toolkit.migration.freeze import coverage
        from toolkit.migration.target_writes import hold_shut
        from toolkit.targets.baremetal.provision import provision_baremetal

        with connect(ctx.source) as conn:
            writers = [writer.name for writer in coverage(conn, ctx.source.user).writers]
        saved = ctx.measured(self.name).get("roles")

        def remember(roles: dict[str, bool]) -> None:
            if saved is None:  # a redo after a crash finds them shut already: keep the first reading
                ctx.run.measure(self.name, roles=roles)

        hold_shut(ctx.database.target, writers, remember)
        result = provision_baremetal(ctx.loaded, playbook="serve-standby.yml", listeners=ctx.listeners)
        ctx.run.measure(self.name, provision_run=result.run_dir.name)
        if not result.ok:
            raise CheckFailed(f"serving the standby failed (run {result.run_dir.name})")

    def undo(self, ctx: MigrationContext) -> None:
        # The app must not run beside a source that serves writes again: provisioning as a
        # standby stops it, shows maintenance, and gives the roles their LOGIN back.
        from toolkit.targets.baremetal.provision import provision_baremetal

        provision_baremetal(ctx.loaded, standby=True, listeners=ctx.listeners)

    def plan(self, ctx: MigrationContext) -> dict[str, Any]:
        return {"playbook": "serve-standby.yml",
                "target_roles": "the source's writers, NOLOGIN on the target until the window"}

    def estimate(self, ctx: MigrationContext) -> float:
        return 10.0


class LowerTtls(Step):
    """The zone synced to the target, the switching records' TTLs lowered (saved before, for rollback)."""

    name: ClassVar[str] = "dns.lower-ttls"

    def run(self, ctx: MigrationContext) -> None:
        if ctx.dns is None:
            ctx.run.note("no DNS in the spec: nothing to switch", step=self.name)
            return
        from toolkit.dns import cutover

        if cutover.load_before(ctx.run) is None:
            cutover.save_before(ctx.dns, ctx.run)
        cutover.sync(ctx.dns)
        cutover.lower_ttls(ctx.dns, ctx.run)

    def undo(self, ctx: MigrationContext) -> None:
        put_dns_back(ctx)

    def plan(self, ctx: MigrationContext) -> dict[str, Any]:
        if ctx.dns is None:
            return {}
        from toolkit.dns import cutover

        return {"dns": cutover.plan(ctx.dns)}


class WaitTtls(Step):
    """Until no cache can hold an answer older than the lowered TTLs; a resumed run waits only the rest."""

    name: ClassVar[str] = "dns.wait-ttls"

    def run(self, ctx: MigrationContext) -> None:
        wait_until(ctx, self.name, self.due(ctx), "waiting for the old TTLs to pass")

    @staticmethod
    def due(ctx: MigrationContext) -> float:
        from toolkit.dns.timeline import TtlChange, earliest_switch

        lowered = ctx.measured("lower-ttls")
        if ctx.dns is None or not lowered:
            return time.time()
        changes = [TtlChange(**c) for c in lowered.get("changes", [])]
        return earliest_switch(changes, current_ttls={s.key: 0 for s in ctx.dns.switches}, now=time.time())

    def estimate(self, ctx: MigrationContext) -> float:
        if ctx.dns is None:
            return 0.0
        zone = ctx.dns.source.populate()
        ttls = [zone.rrsets[s.key].ttl for s in ctx.dns.switches if s.key in zone.rrsets]
        return float(max(ttls, default=0))


class VerifyBeforeWindow(Step):
    """The gate before the window, while the source still serves: every table compared (counts and
    digests per key range) and the schemas; the objects brought current by passes that go on
    until the window's final one (``ObjectMover.follow``), each object read back as copied. Key
    ranges that differ only because writes go on are left for the window to settle (``recheck``),
    so the window's cost follows what is being written, not the data's size."""

    name: ClassVar[str] = "verify"

    def run(self, ctx: MigrationContext) -> None:
        if ctx.objects is not None and ctx.objects_follower is None:
            # Its passes run beside the comparison. A drill opens no change feed on the source.
            ctx.objects_follower = ctx.objects.follow(ctx.run, events=not ctx.drill)
        result = ctx.database.verify(live=True)
        # Read after the comparison: an error from here on is one the window must see.
        ctx.run.measure(self.name, apply_errors=ctx.database.stream_health()["apply_errors"])
        ctx.run.measure(f"{result.kind}.verify", ok=result.ok, compared=result.compared,
                        differences=[f"{d.subject}: {d.message}" for d in result.differences])
        if not result.ok:
            raise CheckFailed("the target's database differs from the source: "
                              + "; ".join(f"{d.subject}: {d.message}" for d in result.differences[:5]))
        if ctx.objects_follower is not None:
            state = ctx.objects_follower.converge(ctx.run, self.name, changes=CONVERGED_CHANGES,
                                                  passes=CONVERGE_PASSES)
            if state["stalled"]:
                ctx.run.note(f"objects: passes stopped shrinking ({state['copied']} objects copied in the "
                             "last): the window's final pass will be about as large", step=self.name)
            ctx.run.measure("objects.verify", ok=state["failed"] == 0, compared=state,
                            differences=[] if state["failed"] == 0 else
                            [f"objects: {state['failed']} could not be copied or proven in the last pass"])

    def undo(self, ctx: MigrationContext) -> None:
        if ctx.objects is not None:  # the followers and the source's change feed
            if ctx.objects_follower is not None:
                ctx.objects_follower.abandon()
                ctx.objects_follower = None
            ctx.objects.stop()

    def estimate(self, ctx: MigrationContext) -> float:
        from toolkit.migration.planning import data_sizes, probe_bandwidth

        return 2.0 + sum(data_sizes(ctx).values()) / probe_bandwidth(ctx)
