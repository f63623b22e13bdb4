"""The registrar step: the delegation of a zone in its parent (NS names, glue, the parent's NS TTL).

Where the registry has an API (the lab's registry: PowerDNS serving the parent zone) the toolkit
changes the delegation itself; elsewhere ``instructions`` says exactly what to do by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from toolkit.dns.normalize import fqdn, zone_name
from toolkit.dns.powerdns_api import PowerDnsApi, delete, replace


@dataclass(frozen=True)
class Delegation:
    nameservers: tuple[str, ...]  # absolute names, sorted
    glue: dict[str, str] = field(default_factory=dict)  # in-bailiwick name -> address
    ttl: int = 172800

    def to_json(self) -> dict[str, Any]:
        return {"nameservers": list(self.nameservers), "glue": dict(sorted(self.glue.items())),
                "ttl": self.ttl}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Delegation:
        return cls(tuple(data["nameservers"]), dict(data.get("glue", {})), int(data["ttl"]))


def instructions(zone: str, delegation: Delegation) -> str:
    """What to tell a registrar without an API, word for word."""
    lines = [f"At the registrar of {zone_name(zone)}, set its name servers to:"]
    lines += [f"  {ns}" + (f"  (glue: {delegation.glue[ns]})" if ns in delegation.glue else "")
              for ns in delegation.nameservers]
    lines.append("then confirm with `toolkit dns apply --to baremetal --delegation-moved`.")
    return "\n".join(lines)


@dataclass
class PowerDnsRegistry:
    """A registry that is a PowerDNS server authoritative for the parent zone (the lab's)."""

    api: PowerDnsApi
    parent: str

    def delegation(self, zone: str) -> Delegation | None:
        zone = zone_name(zone)
        found = self.api.zone(zone_name(self.parent))
        if not found:
            return None
        by_key = {(r["name"], r["type"]): r for r in found["rrsets"]}
        ns = by_key.get((zone, "NS"))
        if ns is None:
            return None
        names = tuple(sorted(fqdn(r["content"], ".") for r in ns["records"]))
        glue = {name: r["records"][0]["content"] for name in names
                if (r := by_key.get((name, "A"))) and r["records"]}
        return Delegation(names, glue, int(ns["ttl"]))

    def set_delegation(self, zone: str, delegation: Delegation) -> None:
        """Replace the zone's NS set and glue in the parent (idempotent)."""
        zone = zone_name(zone)
        current = self.delegation(zone)
        changes = [replace(zone, "NS", delegation.ttl, list(delegation.nameservers))]
        for name, address in delegation.glue.items():
            changes.append(replace(name, "A", delegation.ttl, [address]))
        for name in (current.glue if current else {}):
            if name not in delegation.glue:
                changes.append(delete(name, "A"))
        self.api.patch(zone_name(self.parent), changes)
