"""The drill's DNS: the service's names under the drill's zone, on the drill hosts' PowerDNS only.

Before the drill's window its names answer what Route53 answers for the service (Route53's
records, read and renamed under the drill zone); the drill's switch points them at the drill's
web hosts, as a migration points the real names at bare metal. Route53 is only ever read: a
change there would reach production's clients, so the source here refuses every change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from toolkit.dns.plan import Change
from toolkit.dns.providers.base import Provider
from toolkit.dns.zone import Rrset, Zone
from toolkit.errors import CheckFailed
from toolkit.spec import LoadedSpec

# Types whose values end with a name (CNAME target, MX exchange, SRV target...).
NAME_VALUED = frozenset({"CNAME", "MX", "NS", "PTR", "SRV"})

if TYPE_CHECKING:
    from toolkit.dns.world import DnsWorld


class RenamedRoute53(Provider):
    """Route53's zone as if it were the drill's: every record but the apex SOA and NS, its name
    moved under ``zone``. Read only."""

    def __init__(self, route53: Provider, zone: str) -> None:
        super().__init__("route53-renamed", zone, [])
        self.route53 = route53

    def populate(self) -> Zone:
        live = self.route53.populate()
        renamed = Zone(self.zone)
        for rrset in live.rrsets.values():
            if rrset.name == live.name and rrset.type in ("SOA", "NS"):
                continue
            values = tuple(sorted(self._renamed(v, live.name) for v in rrset.values)) \
                if rrset.type in NAME_VALUED else rrset.values
            name = self._renamed(rrset.name, live.name)
            renamed.add(Rrset(name, rrset.type, rrset.ttl, values, rrset.alias))
        return renamed

    def _renamed(self, text: str, zone: str) -> str:
        """Names inside the production zone (``www.example.com.``, ``10 mail.example.com.``) moved
        under the drill's; anything else kept."""
        words = text.split(" ")
        last = words[-1]
        if last == zone:
            words[-1] = self.zone
        elif last.endswith("." + zone):
            words[-1] = last[: -len(zone)] + self.zone
        return " ".join(words)

    def _apply(self, changes: list[Change]) -> None:
        raise CheckFailed(f"a drill never changes Route53 ({len(changes)} change(s) refused)")


def drill_world(production: LoadedSpec, drill: LoadedSpec) -> DnsWorld | None:
    """The drill's DNS world: the drill spec's PowerDNS servers, read-only Route53 as the source."""
    from toolkit.dns.world import load_world

    bare = drill.spec.targets.baremetal
    if drill.spec.dns is None or bare is None or bare.dns is None:
        return None
    world = load_world(drill)
    world.source = RenamedRoute53(load_world(production).source, world.zone)
    world.source_read_only = True
    return world
