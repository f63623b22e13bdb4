"""A zone's worth of every common record type, with the spellings that have broken syncs before."""

from __future__ import annotations

from toolkit.dns.zone import Rrset, Zone, make_rrset

EVERY_TYPE = [
    ("multi", "A", ["192.0.2.1", "192.0.2.2"]),
    ("v6", "AAAA", ["2001:db8::1"]),
    ("alias", "CNAME", ["www.{zone}"]),
    ("mx2", "MX", ["10 mail.{zone}", "20 mail2.{zone}"]),
    ("long", "TXT", ["k=" + "x" * 600]),
    ("quoted", "TXT", ['"say \\"hi\\"" "second; part"', "plain with \\ backslash"]),
    ("_sip._tcp", "SRV", ["10 5 5060 sip.{zone}"]),
    ("caa", "CAA", ['0 issuewild ";"', '128 iodef "mailto:security@example.org"']),
    ("sub", "NS", ["ns.elsewhere.example."]),
    ("*.wild", "A", ["192.0.2.9"]),
    ("ptr", "PTR", ["host.{zone}"]),
]


def every_type(zone: str, ttl: int = 4) -> list[Rrset]:
    return [make_rrset(name, rtype, ttl, [v.format(zone=zone) for v in values], zone)
            for name, rtype, values in EVERY_TYPE]


def with_rrsets(zone: Zone, rrsets: list[Rrset]) -> Zone:
    """A copy of ``zone`` with ``rrsets`` added or replacing those of the same name and type."""
    found = Zone(zone.name, dict(zone.rrsets))
    for rrset in rrsets:
        found.add(rrset)
    return found
