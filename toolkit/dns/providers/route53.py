"""Route53 through boto3, at the spec's endpoint (AWS, or moto in the lab)."""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from toolkit.dns.normalize import fqdn
from toolkit.dns.plan import Change
from toolkit.dns.providers.base import Provider
from toolkit.dns.zone import Rrset, Zone, make_rrset
from toolkit.errors import CheckFailed

log = logging.getLogger(__name__)

BATCH = 500  # Route53 takes at most 1,000 changes (and 32,000 value characters) per request


def _value(value: str) -> str:
    # moto 5 returns the SOA it made itself as the repr of a dict: {'Value': '...'}.
    if value.startswith("{'Value': '") and value.endswith("'}"):
        return value[len("{'Value': '"):-2]
    return value


class Route53Provider(Provider):
    SUPPORTS_ALIAS: ClassVar[bool] = True

    def __init__(self, id: str, zone: str, servers: list[str], *, client: Any, hosted_zone_id: str) -> None:
        super().__init__(id, zone, servers)
        self.client = client
        self.hosted_zone_id = hosted_zone_id

    def populate(self) -> Zone:
        zone = Zone(self.zone)
        pages = self.client.get_paginator("list_resource_record_sets").paginate(
            HostedZoneId=self.hosted_zone_id, PaginationConfig={"PageSize": 300})
        for page in pages:
            for item in page["ResourceRecordSets"]:
                zone.add(self._rrset(item))
        return zone

    def _rrset(self, item: dict[str, Any]) -> Rrset:
        name = fqdn(item["Name"], self.zone)
        if "AliasTarget" in item:
            return Rrset(name, item["Type"], 0, (), alias=fqdn(item["AliasTarget"]["DNSName"], "."))
        if "SetIdentifier" in item:  # weighted, latency, failover...: no portable meaning
            return Rrset(name, item["Type"], int(item.get("TTL", 0)), (),
                         alias=f"routing policy {item['SetIdentifier']}")
        values = [_value(r["Value"]) for r in item.get("ResourceRecords", [])]
        return make_rrset(name, item["Type"], int(item["TTL"]), values, self.zone)

    @staticmethod
    def _record_set(rrset: Rrset) -> dict[str, Any]:
        return {"Name": rrset.name, "Type": rrset.type, "TTL": rrset.ttl,
                "ResourceRecords": [{"Value": v} for v in rrset.values]}

    def _apply(self, changes: list[Change]) -> None:
        batch: list[dict[str, Any]] = []
        for change in changes:
            if change.action == "delete":
                assert change.existing is not None
                batch.append({"Action": "DELETE", "ResourceRecordSet": self._record_set(change.existing)})
            else:
                assert change.desired is not None
                batch.append({"Action": "UPSERT", "ResourceRecordSet": self._record_set(change.desired)})
        for start in range(0, len(batch), BATCH):
            try:
                self.client.change_resource_record_sets(
                    HostedZoneId=self.hosted_zone_id,
                    ChangeBatch={"Comment": "toolkit dns", "Changes": batch[start:start + BATCH]})
            except Exception as exc:  # botocore's errors: one sentence, the zone named
                raise CheckFailed(f"Route53 refused a change to zone {self.hosted_zone_id} "
                                  f"({self.zone}): {exc}") from exc
