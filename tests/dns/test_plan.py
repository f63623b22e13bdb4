"""Plans: the diff, the safety thresholds, the checksum, and refusals that name the record."""

from __future__ import annotations

import pytest

from toolkit.dns.plan import PlanChanged, UnrepresentableRecord, UnsafePlan, make_plan
from toolkit.dns.providers.base import Provider
from toolkit.dns.zone import Rrset, Zone, make_rrset

ZONE = "example.com."


def zone(*rrsets: Rrset) -> Zone:
    found = Zone(ZONE)
    for rrset in rrsets:
        found.add(rrset)
    return found


def a(name: str, address: str, ttl: int = 300) -> Rrset:
    return make_rrset(name, "A", ttl, [address], ZONE)


TARGET = Provider("target", ZONE, [])


def test_diff_creates_updates_and_deletes() -> None:
    desired = zone(a("www", "192.0.2.1"), a("new", "192.0.2.2"))
    existing = zone(a("www", "192.0.2.9"), a("old", "192.0.2.3"))
    plan = make_plan(desired, existing, TARGET)
    assert [(c.action, c.rrset.name) for c in plan.changes] == [
        ("create", "new.example.com."), ("update", "www.example.com."), ("delete", "old.example.com.")]


def test_each_sides_soa_ns_and_name_server_addresses_are_its_own() -> None:
    ns_source = make_rrset("@", "NS", 172800, ["ns-1.awsdns-1.com."], ZONE)
    ns_target = make_rrset("@", "NS", 3600, ["ns1.example.com.", "ns2.example.com."], ZONE)
    glue = a("ns1", "192.0.2.53")
    www = a("www", "192.0.2.1")
    plan = make_plan(zone(ns_source, www), zone(ns_target, glue, www), TARGET)
    assert plan.changes == []


def test_deleting_more_than_the_threshold_needs_force() -> None:
    existing = zone(*(a(f"h{i}", f"192.0.2.{i}") for i in range(20)))
    desired = zone(*(a(f"h{i}", f"192.0.2.{i}") for i in range(10)))
    plan = make_plan(desired, existing, TARGET)
    with pytest.raises(UnsafePlan, match="10 of 20 records would be deleted"):
        plan.raise_if_unsafe()
    plan.raise_if_unsafe(force=True)


def test_a_small_zone_is_never_held_back_by_shares() -> None:
    plan = make_plan(zone(), zone(a("www", "192.0.2.1")), TARGET)
    plan.raise_if_unsafe()


def test_an_apex_ns_change_needs_force() -> None:
    desired = zone(make_rrset("@", "NS", 60, ["ns9.example.net."], ZONE))
    plan = make_plan(desired, zone(), TARGET, everything=True)
    with pytest.raises(UnsafePlan, match="apex NS"):
        plan.raise_if_unsafe()


def test_the_checksum_covers_every_change() -> None:
    one = make_plan(zone(a("www", "192.0.2.1")), zone(), TARGET)
    same = make_plan(zone(a("www", "192.0.2.1")), zone(), TARGET)
    other = make_plan(zone(a("www", "192.0.2.2")), zone(), TARGET)
    assert one.checksum == same.checksum != other.checksum
    one.check(same.checksum)
    with pytest.raises(PlanChanged):
        other.check(one.checksum)


def test_an_alias_the_target_cannot_hold_is_refused_by_name() -> None:
    alias = Rrset("example.com.", "A", 0, (), alias="dualstack.lb-1.us-east-1.elb.amazonaws.com.")
    with pytest.raises(UnrepresentableRecord, match=r"example\.com\. A cannot be copied to target: .*alias"):
        make_plan(zone(alias), zone(), TARGET)
