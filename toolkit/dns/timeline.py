"""The TTL arithmetic of a cutover: when each step becomes safe. Pure functions of times and TTLs.

A resolver that fetched a record just before its TTL changed may keep the old answer for the old
TTL. So every TTL change (and a record that was never lowered) sets a moment before which a
switch could still leave old answers cached:

1. lower the TTLs at ``t0``: the switch is safe at ``max(change.at + change.old_ttl)`` over
   every TTL change of the switching records (changes made by earlier runs included), and not
   before now;
2. after the switch at ``t1``, clients see the new answer by ``t1 + ttl at the switch``;
3. after the delegation moved at ``t2``, resolvers may ask the old name servers until
   ``t2 + max(parent NS TTL, the zone's own old NS TTL)``: both providers stay identical until then.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Seconds added to every wait: caches count time in whole seconds and serve an answer through its
# TTL's last second (unbound, measured in the lab: a 3 s answer was served for up to 4 s).
MARGIN = 1.0


@dataclass(frozen=True)
class TtlChange:
    """A record's TTL changed at ``at`` (epoch seconds) from ``old_ttl``."""

    name: str
    type: str
    at: float
    old_ttl: int


def earliest_switch(changes: list[TtlChange], *, current_ttls: dict[tuple[str, str], int],
                    now: float) -> float:
    """When a switch leaves no pre-lowering answer in any cache.

    ``current_ttls``: the switching records' TTLs now. A record whose TTL never changed is cached
    for at most its TTL from now on, which the resolver check waits out after the switch; one
    whose TTL was lowered (here, or by an earlier run) may be cached until ``at + old_ttl``.
    """
    moments = [now] + [change.at + change.old_ttl + MARGIN for change in changes
                       if (change.name, change.type) in current_ttls]
    return max(moments)


def resolver_check_at(switched_at: float, ttl_at_switch: int) -> float:
    """When every cache holds the new answer (the longest TTL in effect at the switch has passed)."""
    return switched_at + ttl_at_switch + MARGIN


def delegation_settled_at(moved_at: float, parent_ns_ttl: int, old_zone_ns_ttl: int) -> float:
    """When no resolver can still be using the old name servers (e.g. NS 172800: two days later)."""
    return moved_at + max(parent_ns_ttl, old_zone_ns_ttl) + MARGIN


@dataclass(frozen=True)
class Timeline:
    """The whole plan in absolute times (epoch seconds), for showing before anything is done."""

    lower_at: float
    switch_at: float
    resolver_check_at: float
    move_delegation_at: float
    settled_at: float
    old_ttls: dict[str, int]
    cutover_ttl: int
    parent_ns_ttl: int
    zone_ns_ttl: int

    def to_json(self) -> dict[str, Any]:
        return {"lower_ttls_at": self.lower_at, "earliest_switch_at": self.switch_at,
                "resolver_check_at": self.resolver_check_at, "move_delegation_at": self.move_delegation_at,
                "providers_identical_until": self.settled_at, "old_ttls": self.old_ttls,
                "cutover_ttl": self.cutover_ttl, "parent_ns_ttl": self.parent_ns_ttl,
                "zone_ns_ttl": self.zone_ns_ttl}


def plan_timeline(*, now: float, old_ttls: dict[tuple[str, str], int], cutover_ttl: int,
                  earlier: list[TtlChange], parent_ns_ttl: int, zone_ns_ttl: int) -> Timeline:
    """The timeline if the TTLs are lowered ``now`` (``earlier``: TTL changes made before)."""
    lowered = [TtlChange(name, rtype, now, ttl) for (name, rtype), ttl in old_ttls.items()
               if ttl > cutover_ttl]
    switch_at = earliest_switch(earlier + lowered, current_ttls=old_ttls, now=now)
    ttl_at_switch = max([min(ttl, cutover_ttl) for ttl in old_ttls.values()] or [0])
    check_at = resolver_check_at(switch_at, ttl_at_switch)
    return Timeline(lower_at=now, switch_at=switch_at, resolver_check_at=check_at,
                    move_delegation_at=check_at,
                    settled_at=delegation_settled_at(check_at, parent_ns_ttl, zone_ns_ttl),
                    old_ttls={f"{n} {t}": ttl for (n, t), ttl in sorted(old_ttls.items())},
                    cutover_ttl=cutover_ttl, parent_ns_ttl=parent_ns_ttl, zone_ns_ttl=zone_ns_ttl)
