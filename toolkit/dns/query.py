"""Real DNS queries, for verification: ask one server by address, or a caching resolver.

Answers are normalized like every provider's data (``toolkit.dns.normalize``) so an answer compares
with a record as strings. A referral (an NS set below the apex) is an answer too: its NS names.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype

from toolkit.dns.normalize import rdata

TIMEOUT = 2.0


@dataclass(frozen=True)
class Answer:
    server: str
    name: str
    type: str
    values: tuple[str, ...]  # normalized, sorted; empty for NXDOMAIN/NODATA/no answer
    ttl: int | None
    rcode: str  # NOERROR, NXDOMAIN, ... or TIMEOUT
    authoritative: bool

    def to_json(self) -> dict[str, object]:
        return {"server": self.server, "name": self.name, "type": self.type, "values": list(self.values),
                "ttl": self.ttl, "rcode": self.rcode, "authoritative": self.authoritative}


def split_server(server: str) -> tuple[str, int]:
    """``198.18.0.5`` or ``198.18.0.5:5353`` -> (address, port)."""
    host, _, port = server.rpartition(":") if server.count(":") == 1 else (server, "", "53")
    return host or server, int(port or 53)


def ask(server: str, name: str, rtype: str, *, recursive: bool = False, timeout: float = TIMEOUT) -> Answer:
    """Ask ``server`` (an address, optionally ``:port``) for ``name``/``rtype``: UDP, TCP if truncated."""
    address, port = split_server(server)
    query = dns.message.make_query(name, rtype)
    if not recursive:
        query.flags &= ~dns.flags.RD
    try:
        reply, _ = dns.query.udp_with_fallback(query, address, port=port, timeout=timeout)
    except (dns.exception.Timeout, OSError):
        return Answer(server, name, rtype, (), None, "TIMEOUT", False)
    wanted = dns.rdatatype.from_text(rtype)
    qname = dns.name.from_text(name)
    values: list[str] = []
    ttl: int | None = None
    sections = [reply.answer] + ([reply.authority] if rtype == "NS" else [])
    for section in sections:
        for rrset in section:
            if rrset.rdtype == wanted and rrset.name == qname:
                values += [rdata(rtype, r.to_text()) for r in rrset]
                ttl = rrset.ttl if ttl is None else min(ttl, rrset.ttl)
        if values:
            break
    return Answer(server, name, rtype, tuple(sorted(set(values))), ttl, dns.rcode.to_text(reply.rcode()),
                  bool(reply.flags & dns.flags.AA))


def wait_for(server: str, name: str, rtype: str, expected: tuple[str, ...], *, timeout: float,
             recursive: bool = False, interval: float = 0.1) -> tuple[Answer, float]:
    """Ask until ``server`` answers ``expected`` or ``timeout`` passes; the last answer and seconds taken."""
    started = time.monotonic()
    while True:
        answer = ask(server, name, rtype, recursive=recursive)
        elapsed = time.monotonic() - started
        if answer.values == expected or elapsed > timeout:
            return answer, elapsed
        time.sleep(interval)
