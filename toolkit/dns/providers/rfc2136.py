"""RFC 2136 dynamic updates signed with TSIG, through dnspython (BIND, Knot, PowerDNS).

The zone is read by AXFR (TSIG-signed too), and changed by one UPDATE message per batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import dns.exception
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.tsigkeyring
import dns.update
import dns.zone

from toolkit.dns.plan import Change
from toolkit.dns.providers.base import Provider
from toolkit.dns.zone import Zone, make_rrset
from toolkit.errors import CheckFailed
from toolkit.spec.secrets import Secret

BATCH = 200
TIMEOUT = 10.0


@dataclass(frozen=True)
class Tsig:
    name: str
    algorithm: str  # e.g. hmac-sha256
    secret: Secret  # base64, revealed only when a message is signed


class Rfc2136Provider(Provider):
    def __init__(self, id: str, zone: str, servers: list[str], *, server: str, port: int = 53,
                 tsig: Tsig) -> None:
        super().__init__(id, zone, servers)
        self.server, self.port, self.tsig = server, port, tsig

    def _keyring(self) -> dict[dns.name.Name, dns.tsig.Key]:
        return dns.tsigkeyring.from_text({self.tsig.name: (self.tsig.algorithm, self.tsig.secret.reveal())})

    def populate(self) -> Zone:
        zone = Zone(self.zone)
        keyring = self._keyring()
        keyname = dns.name.from_text(self.tsig.name)
        try:
            transferred = dns.zone.from_xfr(dns.query.xfr(
                self.server, zone.name, port=self.port, keyring=keyring, keyname=keyname,
                keyalgorithm=self.tsig.algorithm, timeout=TIMEOUT, lifetime=TIMEOUT * 3, relativize=False),
                relativize=False)
        except (dns.exception.DNSException, OSError) as exc:
            raise CheckFailed(f"zone transfer of {zone.name} from {self.server}:{self.port} failed: "
                              f"{exc}") from None
        for name, rdataset in transferred.iterate_rdatasets():
            values = [r.to_text() for r in rdataset]
            zone.add(make_rrset(name.to_text(), dns.rdatatype.to_text(rdataset.rdtype), rdataset.ttl,
                                values, zone.name))
        return zone

    def _apply(self, changes: list[Change]) -> None:
        keyring = self._keyring()
        for start in range(0, len(changes), BATCH):
            update = dns.update.UpdateMessage(self.zone, keyring=keyring,
                                              keyname=dns.name.from_text(self.tsig.name),
                                              keyalgorithm=self.tsig.algorithm)
            for change in changes[start:start + BATCH]:
                name = dns.name.from_text(change.rrset.name)
                if change.action == "delete":
                    update.delete(name, change.rrset.type)
                    continue
                assert change.desired is not None
                rdatas = [dns.rdata.from_text(dns.rdataclass.IN, change.desired.type, v)
                          for v in change.desired.values]
                update.replace(name, change.desired.ttl, *rdatas)
            try:
                reply = dns.query.tcp(update, self.server, port=self.port, timeout=TIMEOUT)
            except (dns.exception.DNSException, OSError) as exc:
                raise CheckFailed(f"dynamic update of {self.zone} at {self.server}:{self.port} "
                                  f"failed: {exc}") from None
            if reply.rcode() != dns.rcode.NOERROR:
                raise CheckFailed(f"{self.server}:{self.port} refused the update of {self.zone}: "
                                  f"{dns.rcode.to_text(reply.rcode())}")
