"""PowerDNS authoritative through its HTTP API (one provider per server: each has its own data)."""

from __future__ import annotations

from toolkit.dns.plan import Change
from toolkit.dns.powerdns_api import PowerDnsApi, delete, replace
from toolkit.dns.providers.base import Provider
from toolkit.dns.zone import Zone, make_rrset


class PowerDnsProvider(Provider):
    def __init__(self, id: str, zone: str, servers: list[str], *, api: PowerDnsApi) -> None:
        super().__init__(id, zone, servers)
        self.api = api

    def populate(self) -> Zone:
        zone = Zone(self.zone)
        found = self.api.zone(zone.name)
        for item in found["rrsets"] if found else []:
            values = [r["content"] for r in item["records"] if not r.get("disabled")]
            if values:
                zone.add(make_rrset(item["name"], item["type"], int(item["ttl"]), values, zone.name))
        return zone

    def account(self) -> str | None:
        """The zone's ``account`` (the ownership mark), or None if the zone does not exist."""
        found = self.api.zone(self.zone)
        return str(found.get("account") or "") if found else None

    def set_account(self, account: str) -> None:
        self.api.set_account(self.zone, account)

    def _apply(self, changes: list[Change]) -> None:
        body = []
        for change in changes:
            if change.action == "delete":
                body.append(delete(change.rrset.name, change.rrset.type))
            else:
                assert change.desired is not None
                body.append(replace(change.desired.name, change.desired.type, change.desired.ttl,
                                    list(change.desired.values)))
        for start in range(0, len(body), 1000):
            self.api.patch(self.zone, body[start:start + 1000])
