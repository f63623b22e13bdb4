"""The cutover from Route53 to the bare-metal PowerDNS servers, as a run, and its rollback.

Each step is a function the migration can call on its own (``sync``, ``lower_ttls``, ``switch``,
``verify_authoritative``, ``verify_resolver``, ``restore_ttls``, ``move_delegation``,
``rollback``); ``apply`` performs those that are due, in order, in a run locked on
``<service>.dns``, and can be run again: it continues where the run stands. Every provider's
records are saved in the run's directory before the first change (``before.json``), and the
times that make later steps safe are journaled (``run.measure``), so a resumed run and a
rollback know what an earlier process did.

Ownership: the zone sync marks each PowerDNS zone's ``account`` as ``toolkit-dns``; from then on
the ``dns`` role leaves its records alone (a provisioning run cannot undo a cutover). Rollback
restores the mark as it was.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from toolkit.dns import query
from toolkit.dns.plan import Plan, make_plan
from toolkit.dns.providers.base import Provider
from toolkit.dns.providers.powerdns import PowerDnsProvider
from toolkit.dns.registrar import Delegation, instructions
from toolkit.dns.timeline import (
    MARGIN,
    Timeline,
    TtlChange,
    delegation_settled_at,
    earliest_switch,
    plan_timeline,
    resolver_check_at,
)
from toolkit.dns.world import DnsWorld, servers
from toolkit.dns.zone import Rrset, Zone
from toolkit.errors import BadInput, CheckFailed
from toolkit.runs import Listener, Run, list_runs

log = logging.getLogger(__name__)

KIND = "dns"
OWNER_MARK = "toolkit-dns"
BEFORE = "before.json"
STEPS = ("save", "sync", "lower-ttls", "switch", "verify-authoritative", "verify-resolver", "restore-ttls",
         "move-delegation", "delegation-settled")
AUTHORITATIVE_TIMEOUT = 30.0
RESOLVER_GRACE = 2.0  # a resolver asked at the due time may still be in its answer's last second
DEFAULT_MAX_WAIT = 900.0  # longer waits end the command: run it again when the step is due
UNKNOWN_PARENT_NS_TTL = 172800  # what many TLDs use, when the registry cannot tell


# -- what was there before ------------------------------------------------------------------------
def snapshot(world: DnsWorld) -> dict[str, Any]:
    """Every provider's zone (and PowerDNS's ownership mark), and the delegation."""
    saved: dict[str, Any] = {"zone": world.zone, "providers": {}, "delegation": None}
    for provider in world.providers:
        entry: dict[str, Any] = {"zone": provider.populate().to_json()}
        if isinstance(provider, PowerDnsProvider):
            entry["account"] = provider.account() or ""
        saved["providers"][provider.id] = entry
    if world.registry is not None:
        current = world.registry.delegation(world.zone)
        saved["delegation"] = current.to_json() if current else None
    return saved


def save_before(world: DnsWorld, run: Run) -> dict[str, Any]:
    saved = snapshot(world)
    text = json.dumps(saved, indent=1, sort_keys=True)
    (run.dir / BEFORE).write_text(text)
    digest = hashlib.sha256(text.encode()).hexdigest()
    run.measure("save", providers=sorted(saved["providers"]), sha256=digest)
    return saved


def load_before(run: Run) -> dict[str, Any] | None:
    path = run.dir / BEFORE
    if not path.exists():
        return None
    text = path.read_text()
    recorded = run.measured("save").get("sha256")
    if recorded and hashlib.sha256(text.encode()).hexdigest() != recorded:
        raise CheckFailed(f"{path} does not match the checksum journaled when it was saved; not using it")
    return dict(json.loads(text))


# -- setting a few rrsets on every provider -----------------------------------------------------
def _set_rrsets(provider: Provider, rrsets: list[Rrset]) -> int:
    existing = provider.populate()
    desired = Zone(existing.name, dict(existing.rrsets))
    for rrset in rrsets:
        desired.add(rrset)
    plan = make_plan(desired, existing, provider, keys={r.key for r in rrsets})
    return provider.apply(plan, force=True)


def _current(world: DnsWorld) -> dict[str, Zone]:
    return {p.id: p.populate() for p in world.providers}


# -- the steps ------------------------------------------------------------------------------------
def sync_plans(world: DnsWorld) -> list[Plan]:
    """Plans that make every target hold the source's records (each side keeps its own SOA/NS)."""
    source = world.source.populate()
    return [make_plan(source, target.populate(), target) for target in world.targets]


def sync(world: DnsWorld, *, force: bool = False, checksum: str | None = None) -> list[Plan]:
    """Copy the zone from the source to every target, then take ownership of the targets' records."""
    plans = sync_plans(world)
    if checksum is not None and checksum != combined_checksum(plans, world):
        raise CheckFailed("the plan changed since it was shown (checksum differs); run `toolkit dns plan` "
                          "again and apply that")
    for plan in plans:
        plan.raise_if_unsafe(force)
    for plan, target in zip(plans, world.targets, strict=True):
        target.apply(plan, force=force)
        target.set_account(OWNER_MARK)
    return plans


def lower_ttls(world: DnsWorld, run: Run | None = None) -> list[TtlChange]:
    """Lower the switching records' TTLs to the cutover TTL on every provider."""
    now = time.time()
    changes: list[TtlChange] = []
    for provider in world.providers:
        zone = provider.populate()
        lowered = []
        for switch in world.switches:
            rrset = zone.rrsets.get(switch.key)
            if rrset is not None and rrset.ttl > world.cutover_ttl:
                lowered.append(rrset.with_ttl(world.cutover_ttl))
                changes.append(TtlChange(rrset.name, rrset.type, now, rrset.ttl))
        _set_rrsets(provider, lowered)
    # One change per record: the longest old TTL any provider served it with.
    longest: dict[tuple[str, str], TtlChange] = {}
    for change in changes:
        key = (change.name, change.type)
        if key not in longest or change.old_ttl > longest[key].old_ttl:
            longest[key] = change
    changes = list(longest.values())
    if run is not None:
        run.measure("lower-ttls", lowered_at=now, changes=[c.__dict__ for c in changes])
    return changes


def switch(world: DnsWorld, run: Run | None = None) -> float:
    """Point the switching records at the target on every provider; returns the TTL in effect."""
    ttl = 0
    for provider in world.providers:
        zone = provider.populate()
        new = []
        for item in world.switches:
            current = zone.rrsets.get(item.key)
            rrset_ttl = current.ttl if current is not None else world.cutover_ttl
            ttl = max(ttl, rrset_ttl)
            new.append(Rrset(item.name, item.type, rrset_ttl, item.values))
        _set_rrsets(provider, new)
    if run is not None:
        run.measure("switch", switched_at=time.time(), ttl_at_switch=ttl)
    return ttl


def expected_answers(world: DnsWorld, zones: dict[str, Zone] | None = None) -> dict[str, tuple[str, ...]]:
    return {f"{s.name} {s.type}": s.values for s in world.switches}


def verify_authoritative(world: DnsWorld, *, timeout: float = AUTHORITATIVE_TIMEOUT,
                         run: Run | None = None) -> dict[str, Any]:
    """Ask every authoritative server, by address, until each gives the new answers (bounded)."""
    started = time.monotonic()
    answers: list[dict[str, Any]] = []
    wrong: list[str] = []
    for provider_id, addresses in servers(world).items():
        if not addresses:
            wrong.append(f"{provider_id}: no server address known to ask")
        for address in addresses:
            for item in world.switches:
                left = max(0.0, timeout - (time.monotonic() - started))
                answer, _ = query.wait_for(address, item.name, item.type, item.values, timeout=left)
                answers.append({"provider": provider_id, **answer.to_json()})
                if answer.values != item.values:
                    wrong.append(f"{provider_id} at {address} answers {item.name} {item.type} "
                                 f"{list(answer.values) or answer.rcode}, expected {list(item.values)}")
    seconds = round(time.monotonic() - started, 3)
    if run is not None:
        run.measure("verify-authoritative", seconds=seconds, servers=len({a["server"] for a in answers}))
    if wrong:
        raise CheckFailed(f"not every authoritative server answers the new records within {timeout:.0f} s: "
                          + "; ".join(wrong))
    return {"seconds": seconds, "answers": answers}


def verify_resolver(world: DnsWorld, run: Run | None = None) -> dict[str, Any]:
    """Ask the caching resolver clients use; every switching record must give the new answer."""
    if world.resolver is None:
        if run is not None:
            run.note("no dns.resolver in the spec: what clients see is not verified", step="verify-resolver")
        return {"answers": [], "skipped": "no resolver in the spec"}
    answers = [query.wait_for(world.resolver, s.name, s.type, s.values, recursive=True,
                              timeout=RESOLVER_GRACE)[0] for s in world.switches]
    wrong = [f"{a.name} {a.type}: {list(a.values) or a.rcode}, expected {list(s.values)}"
             for a, s in zip(answers, world.switches, strict=True) if a.values != s.values]
    if wrong:
        raise CheckFailed(f"the resolver {world.resolver} still answers old records: " + "; ".join(wrong))
    return {"answers": [a.to_json() for a in answers]}


def restore_ttls(world: DnsWorld, before: dict[str, Any]) -> None:
    """Give the switching records back the TTLs they had before the cutover, on every provider."""
    for provider in world.providers:
        saved = Zone.from_json(before["providers"][provider.id]["zone"])
        zone = provider.populate()
        restored = []
        for item in world.switches:
            old, current = saved.rrsets.get(item.key), zone.rrsets.get(item.key)
            if current is not None and old is not None and current.ttl != old.ttl:
                restored.append(current.with_ttl(old.ttl))
        _set_rrsets(provider, restored)


def move_delegation(world: DnsWorld, run: Run | None = None, *, confirmed: bool = False) -> dict[str, Any]:
    """The registrar step: point the parent's delegation at the target's name servers.

    With a registry API it is done here; otherwise ``confirmed`` says the operator did it by hand
    (``instructions`` says what). Returns the delegation before and after.
    """
    old = world.registry.delegation(world.zone) if world.registry is not None else None
    parent_ttl = old.ttl if old is not None else UNKNOWN_PARENT_NS_TTL
    new = Delegation(world.target_delegation.nameservers, world.target_delegation.glue, parent_ttl)
    if world.registry is not None:
        world.registry.set_delegation(world.zone, new)
    elif not confirmed:
        raise WaitingForOperator(instructions(world.zone, new))
    source_ns = world.source.populate().rrsets.get((world.zone, "NS"))
    result = {"old": old.to_json() if old else None, "new": new.to_json(), "moved_at": time.time(),
              "parent_ns_ttl": parent_ttl, "zone_ns_ttl": source_ns.ttl if source_ns else 0}
    if run is not None:
        run.measure("move-delegation", **result)
    return result


class WaitingForOperator(CheckFailed):
    """A step needs a person (a registrar without an API); the message says exactly what to do."""


def identical(world: DnsWorld) -> list[str]:
    """Differences between the source and each target (own SOA/NS left out); empty when identical."""
    source = world.source.populate()
    found = []
    for target in world.targets:
        plan = make_plan(source, target.populate(), target)
        found += [f"{target.id}: {c.action} {c.rrset.label()}" for c in plan.changes]
    return found


def rollback_to(world: DnsWorld, before: dict[str, Any]) -> dict[str, int]:
    """Make every provider hold exactly what it held before (SOA serials aside), and the delegation."""
    changed: dict[str, int] = {}
    for provider in world.providers:
        saved = before["providers"][provider.id]
        desired = Zone.from_json(saved["zone"])
        existing = provider.populate()
        keys = (set(desired.rrsets) | set(existing.rrsets)) - {(desired.name, "SOA")}
        plan = make_plan(desired, existing, provider, everything=True, keys=keys)
        changed[provider.id] = provider.apply(plan, force=True)
        if isinstance(provider, PowerDnsProvider) and provider.account() != saved.get("account", ""):
            provider.set_account(saved.get("account", ""))
    if world.registry is not None and before.get("delegation"):
        old = Delegation.from_json(before["delegation"])
        if world.registry.delegation(world.zone) != old:
            world.registry.set_delegation(world.zone, old)
            changed["registry"] = 1
    return changed


# -- the run ----------------------------------------------------------------------------------------
@dataclass
class Outcome:
    run_id: str | None
    state: str  # done | waiting | rolled-back | nothing-to-do
    done: list[str] = field(default_factory=list)
    next_step: str | None = None
    next_at: float | None = None
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def latest_run(world: DnsWorld) -> Any:
    for info in list_runs():
        if info.kind == KIND and info.subject == world.subject:
            return info
    return None


def _open_run(world: DnsWorld, listeners: list[Listener]) -> Run | None:
    info = latest_run(world)
    if info is not None and info.state not in ("succeeded", "rolled-back"):
        return Run.resume(info.id, listeners=listeners)
    if info is not None and info.state == "succeeded":
        return None
    return Run.start(KIND, subject=world.subject, listeners=listeners, meta={"zone": world.zone})


def _due(world: DnsWorld, run: Run, step: str, now: float) -> float:
    if step == "switch":
        lowered = run.measured("lower-ttls")
        changes = [TtlChange(**c) for c in lowered.get("changes", [])]
        return earliest_switch(changes, current_ttls={s.key: 0 for s in world.switches}, now=now)
    if step == "verify-resolver":
        switched = run.measured("switch")
        return resolver_check_at(switched["switched_at"], int(switched["ttl_at_switch"]))
    if step == "delegation-settled":
        moved = run.measured("move-delegation")
        return delegation_settled_at(moved["moved_at"], int(moved["parent_ns_ttl"]),
                                     int(moved["zone_ns_ttl"]))
    return now


def apply(world: DnsWorld, *, listeners: list[Listener] | None = None, force: bool = False,
          checksum: str | None = None, max_wait: float = DEFAULT_MAX_WAIT,
          delegation_moved: bool = False, authoritative_timeout: float = AUTHORITATIVE_TIMEOUT) -> Outcome:
    """Perform the cutover's steps that are due; waits up to ``max_wait`` for one, else stops."""
    if not world.switches:
        raise BadInput("no dns record of the spec points at the app (target: app): nothing to switch")
    run = _open_run(world, listeners or [])
    if run is None:
        info = latest_run(world)
        return Outcome(info.id, "done", list(STEPS), message="the cutover is complete; nothing to do")
    with run:
        for step in STEPS:
            if run.ended(step):
                continue
            due = _due(world, run, step, time.time())
            wait = due - time.time()
            if wait > max_wait:
                run.note(f"{step} is due at {time.strftime('%H:%M:%S', time.localtime(due))}", step=step)
                run.finish("waiting")
                return Outcome(run.id, "waiting", _ended(run), step, due,
                               f"{step} is due in {wait:.0f} s; run `toolkit dns apply` again then")
            if wait > 0:
                run.progress(step, f"waiting {wait:.1f} s for the old TTL to pass", eta=round(wait, 1))
                time.sleep(wait)
            try:
                with run.step(step):
                    _perform(world, run, step, force=force, checksum=checksum, confirmed=delegation_moved,
                             authoritative_timeout=authoritative_timeout)
            except WaitingForOperator as exc:
                run.finish("waiting")
                return Outcome(run.id, "waiting", _ended(run), step, None, str(exc))
        differences = identical(world)
        if differences:
            run.note("providers differ after the delegation settled: " + "; ".join(differences[:10]))
    return Outcome(run.id, "done", _ended(run), message="cutover complete",
                   details={"verify-authoritative": run.measured("verify-authoritative")})


def _ended(run: Run) -> list[str]:
    return [step for step in STEPS if run.ended(step)]


def _perform(world: DnsWorld, run: Run, step: str, *, force: bool, checksum: str | None, confirmed: bool,
             authoritative_timeout: float) -> None:
    if step == "save":
        save_before(world, run)
    elif step == "sync":
        plans = sync(world, force=force, checksum=checksum)
        run.measure("sync", changes={p.provider: len(p.changes) for p in plans})
    elif step == "lower-ttls":
        lower_ttls(world, run)
    elif step == "switch":
        switch(world, run)
    elif step == "verify-authoritative":
        verify_authoritative(world, timeout=authoritative_timeout, run=run)
    elif step == "verify-resolver":
        verify_resolver(world, run)
    elif step == "restore-ttls":
        before = load_before(run)
        assert before is not None
        restore_ttls(world, before)
    elif step == "move-delegation":
        move_delegation(world, run, confirmed=confirmed)
    elif step == "delegation-settled":
        differences = identical(world)
        run.measure("delegation-settled", differences=len(differences))


def rollback(world: DnsWorld, *, listeners: list[Listener] | None = None) -> Outcome:
    """Restore every provider (and the delegation) to what the latest cutover run saved; idempotent."""
    info = latest_run(world)
    if info is None:
        raise BadInput(f"there is no DNS cutover run of {world.subject} to roll back (see `toolkit runs`)")
    run = Run.resume(info.id, listeners=listeners or [])
    with run:
        with run.step("rollback"):
            before = load_before(run)
            changed = rollback_to(world, before) if before is not None else {}
            run.measure("rollback", changed=changed)
        run.finish("rolled-back")
    return Outcome(run.id, "rolled-back", message="every provider holds what it held before the cutover",
                   details={"changed": changed})


# -- showing the plan -------------------------------------------------------------------------------
def combined_checksum(plans: list[Plan], world: DnsWorld) -> str:
    body = json.dumps({"plans": [p.checksum for p in plans], "cutover_ttl": world.cutover_ttl,
                       "switches": [s.to_json() for s in world.switches]}, sort_keys=True)
    return hashlib.sha256(body.encode()).hexdigest()


def plan(world: DnsWorld) -> dict[str, Any]:
    """The sync diff per target, the records that switch with their TTLs, and the timeline."""
    source = world.source.populate()
    plans = sync_plans(world)
    old_ttls = {s.key: r.ttl for s in world.switches if (r := source.rrsets.get(s.key)) is not None}
    delegation = world.registry.delegation(world.zone) if world.registry is not None else None
    zone_ns = source.rrsets.get((world.zone, "NS"))
    timeline: Timeline = plan_timeline(
        now=time.time(), old_ttls=old_ttls, cutover_ttl=world.cutover_ttl, earlier=[],
        parent_ns_ttl=delegation.ttl if delegation else UNKNOWN_PARENT_NS_TTL,
        zone_ns_ttl=zone_ns.ttl if zone_ns else 0)
    info = latest_run(world)
    return {
        "zone": world.zone,
        "sync": [p.to_json() for p in plans],
        "switches": [{**s.to_json(), "old": list(r.values) if (r := source.rrsets.get(s.key)) else [],
                      "old_ttl": old_ttls.get(s.key)} for s in world.switches],
        "timeline": timeline.to_json(),
        "delegation": {"now": delegation.to_json() if delegation else None,
                       "to": world.target_delegation.to_json(),
                       "registrar": "api" if world.registry is not None else "manual"},
        "run": info.to_json() if info is not None else None,
        "checksum": combined_checksum(plans, world),
        "margin_seconds": MARGIN,
    }


def verify(world: DnsWorld) -> dict[str, Any]:
    """Answers per authoritative server and through the resolver; ``ok`` when they all agree."""
    rows = []
    by_record: dict[str, set[tuple[str, ...]]] = {}
    for provider_id, addresses in servers(world).items():
        for address in addresses:
            for item in world.switches:
                answer = query.ask(address, item.name, item.type)
                rows.append({"provider": provider_id, **answer.to_json()})
                by_record.setdefault(f"{item.name} {item.type}", set()).add(answer.values)
    resolver = []
    if world.resolver is not None:
        for item in world.switches:
            answer = query.ask(world.resolver, item.name, item.type, recursive=True)
            resolver.append(answer.to_json())
            by_record.setdefault(f"{item.name} {item.type}", set()).add(answer.values)
    disagree = sorted(key for key, values in by_record.items() if len(values) > 1 or () in values)
    return {"ok": not disagree, "disagree": disagree, "authoritative": rows, "resolver": resolver}
