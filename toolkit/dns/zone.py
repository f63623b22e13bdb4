"""A zone's contents as every provider reports them: rrsets keyed by (name, type), data normalized."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from toolkit.dns.normalize import fqdn, rdata, zone_name


@dataclass(frozen=True)
class Rrset:
    """One rrset; ``values`` sorted and normalized. ``alias`` is a Route53 alias target (no values)."""

    name: str
    type: str
    ttl: int
    values: tuple[str, ...]
    alias: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.name, self.type)

    def label(self) -> str:
        return f"{self.name} {self.type}"

    def with_ttl(self, ttl: int) -> Rrset:
        return Rrset(self.name, self.type, ttl, self.values, self.alias)

    def with_values(self, values: list[str]) -> Rrset:
        return Rrset(self.name, self.type, self.ttl, tuple(sorted(set(values))), self.alias)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": self.type, "ttl": self.ttl,
                               "values": list(self.values)}
        if self.alias:
            out["alias"] = self.alias
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Rrset:
        return cls(data["name"], data["type"], int(data["ttl"]), tuple(data["values"]), data.get("alias"))


def make_rrset(name: str, rtype: str, ttl: int, values: list[str], zone: str) -> Rrset:
    """An rrset from any provider's spelling, normalized (see ``toolkit.dns.normalize``)."""
    rtype = rtype.upper()
    return Rrset(fqdn(name, zone), rtype, int(ttl), tuple(sorted({rdata(rtype, v) for v in values})))


@dataclass
class Zone:
    name: str
    rrsets: dict[tuple[str, str], Rrset] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.name = zone_name(self.name)

    def add(self, rrset: Rrset) -> None:
        self.rrsets[rrset.key] = rrset

    def get(self, name: str, rtype: str) -> Rrset | None:
        return self.rrsets.get((fqdn(name, self.name), rtype.upper()))

    def sorted(self) -> list[Rrset]:
        return [self.rrsets[key] for key in sorted(self.rrsets)]

    def to_json(self) -> dict[str, Any]:
        return {"zone": self.name, "rrsets": [r.to_json() for r in self.sorted()]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Zone:
        zone = cls(data["zone"])
        for item in data["rrsets"]:
            zone.add(Rrset.from_json(item))
        return zone
