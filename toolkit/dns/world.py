"""Who serves the service's zone, read from the spec: the source (Route53), the targets (each
PowerDNS server of the inventory's ``dns`` group), the records that switch, the resolver and
the registrar.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from toolkit.dns import query
from toolkit.dns.normalize import fqdn, zone_name
from toolkit.dns.powerdns_api import PowerDnsApi
from toolkit.dns.providers.base import Provider
from toolkit.dns.providers.powerdns import PowerDnsProvider
from toolkit.dns.providers.route53 import Route53Provider
from toolkit.dns.registrar import Delegation, PowerDnsRegistry
from toolkit.errors import BadInput
from toolkit.spec import LoadedSpec

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Switch:
    """A record that moves to the target: ``name``/``type`` gets ``values`` (the target's addresses)."""

    name: str
    type: str
    values: tuple[str, ...]

    @property
    def key(self) -> tuple[str, str]:
        return (self.name, self.type)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "values": list(self.values)}


@dataclass
class DnsWorld:
    service: str
    zone: str
    source: Provider
    targets: list[PowerDnsProvider]
    switches: list[Switch]
    cutover_ttl: int
    resolver: str | None
    registry: PowerDnsRegistry | None
    target_delegation: Delegation  # ttl: 0 until the parent's is known
    # A drill's world: the source is read (synced to the targets) and never changed; only the
    # targets' records are lowered, switched and put back (``toolkit.drills.dns``).
    source_read_only: bool = False

    @property
    def providers(self) -> list[Provider]:
        """The providers whose records the cutover changes."""
        return list(self.targets) if self.source_read_only else [self.source, *self.targets]

    @property
    def subject(self) -> str:
        return f"{self.service}.dns"

    def provider(self, id: str) -> Provider:
        for provider in self.providers:
            if provider.id == id:
                return provider
        raise KeyError(id)


def _route53_client(loaded: LoadedSpec) -> Any:
    from toolkit.targets.aws.clients import AwsAccess

    return AwsAccess.from_spec(loaded).client("route53")


def _addresses_of(names: list[str], resolver: str | None) -> list[str]:
    """Addresses of name servers by name, through the resolver clients use (or the system's)."""
    found: list[str] = []
    for name in names:
        if resolver:
            found += query.ask(resolver, name, "A", recursive=True).values
        else:
            import socket

            try:
                found += sorted({str(info[4][0]) for info in socket.getaddrinfo(name, 53, socket.AF_INET)})
            except OSError:
                log.warning("world: %s does not resolve; it is not verified", name)
    return sorted(set(found))


def load_world(loaded: LoadedSpec) -> DnsWorld:
    """The DNS world of a spec; raises ``BadInput`` naming what the spec lacks."""
    from toolkit.targets.baremetal.inventory import read_inventory

    spec = loaded.spec
    if spec.dns is None:
        raise BadInput(f"{loaded.path}: the spec has no dns: section; there is no zone to move")
    aws, bare = spec.targets.aws, spec.targets.baremetal
    if aws is None or not aws.resources.hosted_zone_id:
        raise BadInput(f"{loaded.path}: targets.aws.resources.hosted_zone_id is needed to read the "
                       "Route53 zone")
    if bare is None or bare.dns is None:
        raise BadInput(f"{loaded.path}: targets.baremetal.dns is needed (the PowerDNS servers to move to)")
    zone = zone_name(spec.dns.zone)
    hosts = read_inventory(loaded.resolve_path(bare.inventory))
    dns_hosts = [h for h in hosts.values() if "dns" in h.groups]
    web = [h.service_address or h.address for h in hosts.values() if "web" in h.groups]
    if not dns_hosts:
        raise BadInput(f"{loaded.path}: the inventory {bare.inventory} has no host in group dns")
    key = bare.dns.api_key.resolve(loaded.base_dir).reveal()
    targets = []
    for host in sorted(dns_hosts, key=lambda h: h.name):
        address = host.service_address or host.address
        targets.append(PowerDnsProvider(f"powerdns:{host.name}", zone, [address],
                                        api=PowerDnsApi(f"http://{address}:{bare.dns.api_port}", key)))
    resolver = spec.dns.resolver
    client = _route53_client(loaded)
    source = Route53Provider("route53", zone, [], client=client, hosted_zone_id=aws.resources.hosted_zone_id)
    switches = []
    for record in spec.dns.records:
        if record.target != "app":
            continue
        if record.type == "CNAME":
            raise BadInput(f"{loaded.path}: dns record {record.name} CNAME points at the app; bare metal has "
                           "no name to point it at: give it type A")
        values = [a for a in web if (":" in a) == (record.type == "AAAA")]
        if values:
            switches.append(Switch(fqdn(record.name, zone), record.type, tuple(sorted(values))))
    nameservers = bare.dns.nameservers or [f"ns1.{zone}", f"ns2.{zone}"]
    addresses = [h.service_address or h.address for h in dns_hosts]
    glue = {fqdn(ns, zone): addresses[i % len(addresses)] for i, ns in enumerate(nameservers)
            if fqdn(ns, zone).endswith("." + zone)}
    registry = None
    registrar = spec.dns.registrar
    if registrar.provider == "powerdns":
        if not registrar.api_url or registrar.api_key is None:
            raise BadInput(f"{loaded.path}: dns.registrar with provider powerdns needs api_url and api_key")
        registry = PowerDnsRegistry(PowerDnsApi(registrar.api_url, registrar.api_key.resolve(loaded.base_dir)
                                                .reveal()), registrar.parent or zone.split(".", 1)[1])
    world = DnsWorld(service=spec.service.name, zone=zone, source=source, targets=targets, switches=switches,
                     cutover_ttl=spec.dns.cutover_ttl, resolver=resolver, registry=registry,
                     target_delegation=Delegation(tuple(sorted(fqdn(n, zone) for n in nameservers)), glue, 0))
    return world


def route53_servers(world: DnsWorld) -> list[str]:
    """Addresses of Route53's name servers for the zone (its apex NS names, resolved)."""
    ns = world.source.populate().rrsets.get((world.zone, "NS"))
    return _addresses_of(list(ns.values) if ns else [], world.resolver)


def servers(world: DnsWorld) -> dict[str, list[str]]:
    """Each provider's authoritative servers by address."""
    if not world.source_read_only and not world.source.servers:
        world.source.servers = route53_servers(world)
    return {p.id: p.servers for p in world.providers}
