"""A change to one provider's zone, first as a plan: the diff, its safety thresholds, its checksum.

As in octoDNS, a plan is a value: it is shown, and only then applied. ``raise_if_unsafe`` refuses a
plan that changes or deletes too large a share of the existing records, or touches the apex NS
set, unless forced (octoDNS's ``provider.apply`` does not check this itself; we call it before
every apply). The checksum covers the target and every change, so ``apply --checksum`` applies
exactly the plan that was shown, or nothing.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from toolkit.dns.zone import Rrset, Zone
from toolkit.errors import CheckFailed

if TYPE_CHECKING:
    from toolkit.dns.providers.base import Provider

# octoDNS's defaults: above these shares of existing records a plan needs force.
UPDATE_PCT_MAX = 0.3
DELETE_PCT_MAX = 0.3
MIN_EXISTING = 10  # below this many records any share is allowed (a new or tiny zone)


class UnsafePlan(CheckFailed):
    """The plan changes more than its thresholds allow, or the apex NS set, and was not forced."""


class UnrepresentableRecord(CheckFailed):
    """The source holds a record the target cannot hold; the plan refuses rather than drop it."""


class PlanChanged(CheckFailed):
    """The plan computed now is not the one that was shown (its checksum differs)."""


@dataclass(frozen=True)
class Change:
    action: Literal["create", "update", "delete"]
    existing: Rrset | None
    desired: Rrset | None

    @property
    def rrset(self) -> Rrset:
        found = self.desired or self.existing
        assert found is not None
        return found

    def to_json(self) -> dict[str, Any]:
        return {"action": self.action, "name": self.rrset.name, "type": self.rrset.type,
                "existing": self.existing.to_json() if self.existing else None,
                "desired": self.desired.to_json() if self.desired else None}


@dataclass
class Plan:
    provider: str
    zone: str
    existing_count: int
    changes: list[Change] = field(default_factory=list)
    update_pct_max: float = UPDATE_PCT_MAX
    delete_pct_max: float = DELETE_PCT_MAX

    @property
    def checksum(self) -> str:
        body = json.dumps({"provider": self.provider, "zone": self.zone,
                           "changes": [c.to_json() for c in self.changes]}, sort_keys=True)
        return hashlib.sha256(body.encode()).hexdigest()

    def count(self, action: str) -> int:
        return sum(1 for change in self.changes if change.action == action)

    def unsafe(self) -> list[str]:
        """Why this plan needs force (empty when it does not)."""
        reasons = []
        if self.existing_count >= MIN_EXISTING:
            for action, limit in (("update", self.update_pct_max), ("delete", self.delete_pct_max)):
                share = self.count(action) / self.existing_count
                if share > limit:
                    reasons.append(f"{self.count(action)} of {self.existing_count} records would be "
                                   f"{action}d ({share:.0%} > {limit:.0%})")
        apex_ns = [c for c in self.changes if c.rrset.type == "NS" and c.rrset.name == self.zone]
        if apex_ns:
            reasons.append("the apex NS set would change")
        return reasons

    def raise_if_unsafe(self, force: bool = False) -> None:
        reasons = self.unsafe()
        if reasons and not force:
            raise UnsafePlan(f"plan for {self.provider} is unsafe: {'; '.join(reasons)}; "
                             "review it and apply with --force")

    def check(self, checksum: str | None) -> None:
        if checksum is not None and checksum != self.checksum:
            raise PlanChanged(f"the plan for {self.provider} changed since it was shown (checksum "
                              f"{self.checksum[:12]}, expected {checksum[:12]}); plan again")

    def to_json(self) -> dict[str, Any]:
        return {"provider": self.provider, "zone": self.zone, "existing": self.existing_count,
                "creates": self.count("create"), "updates": self.count("update"),
                "deletes": self.count("delete"), "checksum": self.checksum, "unsafe": self.unsafe(),
                "changes": [c.to_json() for c in self.changes]}


def own_records(zone: Zone) -> set[tuple[str, str]]:
    """What a provider keeps as its own: SOA, the apex NS set, and addresses of its in-zone NS names."""
    keys = {(zone.name, "SOA"), (zone.name, "NS")}
    apex_ns = zone.rrsets.get((zone.name, "NS"))
    for host in apex_ns.values if apex_ns else ():
        if host.endswith("." + zone.name):
            keys |= {(host, "A"), (host, "AAAA")}
    return keys


def make_plan(desired: Zone, existing: Zone, target: Provider, *, everything: bool = False,
              keys: set[tuple[str, str]] | None = None) -> Plan:
    """The changes that make ``target`` (now holding ``existing``) hold ``desired``.

    Each side's own records (``own_records``) are left out unless ``everything``; ``keys``
    limits the plan to those rrsets. Raises ``UnrepresentableRecord`` naming the first record the
    target cannot hold.
    """
    skip = set() if everything else own_records(desired) | own_records(existing)
    wanted = {k: r for k, r in desired.rrsets.items() if k not in skip and (keys is None or k in keys)}
    have = {k: r for k, r in existing.rrsets.items() if k not in skip and (keys is None or k in keys)}
    for rrset in sorted(wanted.values(), key=lambda r: r.key):
        problem = target.cannot_hold(rrset)
        if problem:
            raise UnrepresentableRecord(f"{rrset.label()} cannot be copied to {target.id}: {problem}")
    changes: list[Change] = []
    for key in sorted(wanted):
        if key not in have:
            changes.append(Change("create", None, wanted[key]))
        elif have[key] != wanted[key]:
            changes.append(Change("update", have[key], wanted[key]))
    changes += [Change("delete", have[key], None) for key in sorted(set(have) - set(wanted))]
    return Plan(provider=target.id, zone=existing.name, existing_count=len(have), changes=changes)
