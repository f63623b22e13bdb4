"""The DNS cutover in the lab's DNS world, checked by real DNS queries to each server by address.

Each test leaves the world as it found it: every provider and the registry are restored from a
snapshot taken first (``rollback_to``), the resolver's cache is emptied, and the bare-metal
hosts are marked changed for the next test's fixture.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.dns.records import every_type, with_rrsets
from tests.fixtures.lab import lab_run
from tests.fixtures.lab_states import LabStates
from toolkit.dns import cutover, query
from toolkit.dns.cutover import rollback_to, snapshot
from toolkit.dns.plan import make_plan
from toolkit.dns.timeline import earliest_switch, resolver_check_at
from toolkit.dns.world import DnsWorld, load_world
from toolkit.dns.zone import Zone, make_rrset
from toolkit.errors import CheckFailed
from toolkit.lab import dns_world
from toolkit.runs import Event
from toolkit.spec import load_spec
from toolkit.targets.baremetal.provision import provision_baremetal


def comparable(saved: dict[str, Any]) -> dict[str, Any]:
    """A snapshot without SOA records (serials move with every PowerDNS API change)."""
    out = {"delegation": saved["delegation"], "providers": {}}
    for pid, entry in saved["providers"].items():
        rrsets = [r for r in entry["zone"]["rrsets"] if r["type"] != "SOA"]
        out["providers"][pid] = {"rrsets": rrsets, "account": entry.get("account")}
    return out


@pytest.fixture
def world(lab_provisioned: dict[str, Any], lab_states: LabStates) -> Iterator[DnsWorld]:
    found = load_world(load_spec(lab_provisioned["spec"]))
    before = snapshot(found)
    dns_world.flush_resolver(lab_provisioned)
    lab_states.changed()
    try:
        yield found
    finally:
        rollback_to(found, before)
        dns_world.flush_resolver(lab_provisioned)
        assert comparable(snapshot(found)) == comparable(before)


def servers_by_provider(world: DnsWorld) -> dict[str, list[str]]:
    from toolkit.dns.world import servers

    return servers(world)


def sleep_until(moment: float) -> None:
    time.sleep(max(0.0, moment - time.time()))


def test_a_zone_with_every_type_syncs_and_each_server_answers_it(world: DnsWorld) -> None:
    source = world.source.populate()
    added = every_type(world.zone)
    desired = with_rrsets(source, added)
    world.source.apply(make_plan(desired, source, world.source, keys={r.key for r in added}), force=True)

    plans = cutover.sync(world)
    assert all(p.count("create") >= len(added) for p in plans)
    zone = world.source.populate()
    own = {(world.zone, "SOA"), (world.zone, "NS")}
    expected = [r for r in zone.sorted() if r.key not in own]
    assert {r.key for r in added} <= {r.key for r in expected}
    servers = servers_by_provider(world)
    assert servers["route53"] and all(servers[t.id] for t in world.targets)
    deadline = time.monotonic() + 5  # the mirror follows the API within a second
    for provider, addresses in servers.items():
        for address in addresses:
            for rrset in expected:
                answer = query.ask(address, rrset.name, rrset.type)
                while answer.values != rrset.values and time.monotonic() < deadline:
                    time.sleep(0.2)
                    answer = query.ask(address, rrset.name, rrset.type)
                assert (answer.values, answer.ttl) == (rrset.values, rrset.ttl), (provider, address, rrset)
    # And through the providers' APIs: every target holds the source's records.
    assert cutover.identical(world) == []


def test_cutover_answers_change_on_every_server_and_the_resolver_after_the_ttl(
        world: DnsWorld, lab_provisioned: dict[str, Any]) -> None:
    world.cutover_ttl = 3  # below the lab TTL (4 s), and a window wide enough to see the cached answer
    apex = world.switches[0]
    old = world.source.populate().rrsets[apex.key]
    assert old.values != apex.values
    cutover.sync(world)

    changes = cutover.lower_ttls(world)
    assert {(c.name, c.type) for c in changes} == {apex.key}
    sleep_until(earliest_switch(changes, current_ttls={apex.key: 3}, now=time.time()))
    cached = query.ask(world.resolver or "", apex.name, apex.type, recursive=True)
    assert cached.values == old.values and cached.ttl is not None and cached.ttl <= 3

    ttl = cutover.switch(world)
    switched_at = time.time()
    # During the window the resolver gives what it cached; every authoritative server the new answer.
    during = query.ask(world.resolver or "", apex.name, apex.type, recursive=True)
    assert during.values == old.values
    result = cutover.verify_authoritative(world, timeout=10)
    asked = {(row["provider"], row["server"]) for row in result["answers"]}
    assert {p for p, _ in asked} == {"route53", *(t.id for t in world.targets)}
    assert all(tuple(row["values"]) == apex.values for row in result["answers"])

    sleep_until(resolver_check_at(switched_at, int(ttl)))
    after = query.ask(world.resolver or "", apex.name, apex.type, recursive=True)
    assert after.values == apex.values
    cutover.verify_resolver(world)


def test_the_resolver_follows_the_delegation_moved_at_the_registry(world: DnsWorld) -> None:
    cutover.sync(world)
    r53_names = world.source.populate().rrsets[(world.zone, "NS")].values
    resolver = world.resolver or ""
    assert query.ask(resolver, world.zone, "NS", recursive=True).values == r53_names
    # A record only the new name servers hold tells whose answer the resolver gives.
    probe = make_rrset("probe", "TXT", 4, ["served by powerdns"], world.zone)
    for target in world.targets:
        target.apply(make_plan(Zone(world.zone, {probe.key: probe}), Zone(world.zone), target), force=True)
    mirror = servers_by_provider(world)["route53"][0]
    assert query.ask(mirror, probe.name, "TXT").rcode == "NXDOMAIN"

    moved = cutover.move_delegation(world)
    assert moved["new"]["nameservers"] == list(world.target_delegation.nameservers)
    assert world.registry is not None
    now_delegated = world.registry.delegation(world.zone)
    assert now_delegated is not None and now_delegated.nameservers == world.target_delegation.nameservers
    # The resolver keeps the old delegation until the parent's (and the zone's own) NS TTL passed.
    sleep_until(moved["moved_at"] + max(moved["parent_ns_ttl"], moved["zone_ns_ttl"]) + 1)
    deadline = time.monotonic() + 10
    while (answer := query.ask(resolver, probe.name, "TXT", recursive=True)).values != probe.values:
        assert time.monotonic() < deadline, answer
        time.sleep(0.5)
    assert query.ask(resolver, world.zone, "NS", recursive=True).values == world.target_delegation.nameservers


def test_a_provider_error_mid_switch_then_rollback_leaves_every_provider_as_before(
        world: DnsWorld, lab_provisioned: dict[str, Any]) -> None:
    before = comparable(snapshot(world))
    failing = world.targets[-1]  # switched last: the source and the other target change first
    host = failing.id.split(":", 1)[1]

    def break_on_switch(event: Event) -> None:
        if event.kind == "step-started" and event.step == "switch":
            assert lab_run(lab_provisioned, host, "sudo systemctl stop pdns").status == 0

    try:
        with pytest.raises(CheckFailed, match=failing.api.url.split("//")[1]) as failure:
            cutover.apply(world, listeners=[break_on_switch], max_wait=30)
        assert getattr(failure.value, "step", None) == "switch"
        assert world.source.populate().rrsets[world.switches[0].key].values == world.switches[0].values
    finally:
        assert lab_run(lab_provisioned, host, "sudo systemctl start pdns").status == 0
    deadline = time.monotonic() + 30
    while not failing.api.alive():
        assert time.monotonic() < deadline
        time.sleep(0.5)

    first = cutover.rollback(world)
    assert first.state == "rolled-back"
    assert comparable(snapshot(world)) == before
    again = cutover.rollback(world)  # idempotent: nothing left to change
    assert all(n == 0 for n in again.details["changed"].values())
    assert comparable(snapshot(world)) == before


def test_a_provisioning_run_after_the_cutover_keeps_the_switched_records(
        world: DnsWorld, lab_provisioned: dict[str, Any]) -> None:
    cutover.sync(world)
    apex = world.switches[0]
    changed = make_rrset("@", "A", 4, ["192.0.2.77"], world.zone)  # unlike anything the spec says
    for target in world.targets:
        target.apply(make_plan(Zone(world.zone, {changed.key: changed}), target.populate(), target,
                               keys={apex.key}), force=True)
        assert target.account() == cutover.OWNER_MARK
    result = provision_baremetal(load_spec(lab_provisioned["spec"]))
    assert result.ok, result.summary_lines()
    for target in world.targets:
        assert target.populate().rrsets[apex.key].values == changed.values, target.id



def test_lab_clients_resolve_the_zone_through_the_lab_resolver(lab: dict[str, Any]) -> None:
    from refservice.dialer import DnsResolver

    world = lab["dns"]
    assert {"resolver", "registry", "route53", "powerdns"} <= set(world)
    app = next(h for h in lab["hosts"] if h["name"] == "aws-app")
    # The load generator's --resolve-with, given the resolver lab status names.
    assert DnsResolver(world["resolver"]).resolve(world["zone"], timeout=5) == app["address"]
    for address in world["route53"]:  # and the authoritative server behind it, asked directly
        assert query.ask(address, world["zone"], "A").values == (app["address"],)
