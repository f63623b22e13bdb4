"""Route53: hosted zones with every record set, and health checks."""

from __future__ import annotations

from typing import Any

from toolkit.discovery.base import Reader
from toolkit.discovery.inventory import Resource


class Route53Reader(Reader):
    SUBJECT = "Route53 zones"
    GLOBAL = True

    def populate(self, region: str) -> None:
        with self.tolerate("hosted zones", region):
            for page in self.pages("route53", "list_hosted_zones", region):
                for zone in page.get("HostedZones", []):
                    self._zone(zone, region)
        with self.tolerate("health checks", region):
            for page in self.pages("route53", "list_health_checks", region):
                for check in page.get("HealthChecks", []):
                    config = check.get("HealthCheckConfig", {})
                    self.inventory.add(
                        Resource(
                            "AWS::Route53::HealthCheck",
                            check["Id"],
                            "global",
                            {
                                "type": config.get("Type"),
                                "target": config.get("FullyQualifiedDomainName") or config.get("IPAddress"),
                            },
                        )
                    )

    def _zone(self, zone: dict[str, Any], region: str) -> None:
        zone_id = zone["Id"].split("/")[-1]
        resource = self.inventory.add(
            Resource(
                "AWS::Route53::HostedZone",
                zone["Name"],
                "global",
                {"id": zone_id, "private": bool(zone.get("Config", {}).get("PrivateZone")), "records": []},
            )
        )
        records: list[dict[str, Any]] = resource.properties["records"]
        with self.tolerate(f"records of zone {zone['Name']}", region):
            for page in self.pages("route53", "list_resource_record_sets", region, HostedZoneId=zone_id):
                records.extend(_record(rrset) for rrset in page.get("ResourceRecordSets", []))
        resource.items = len(records)


def _record(rrset: dict[str, Any]) -> dict[str, Any]:
    alias = rrset.get("AliasTarget")
    return {
        "name": _unescape(rrset["Name"]),
        "type": rrset["Type"],
        "ttl": rrset.get("TTL"),
        "values": [r["Value"] for r in rrset.get("ResourceRecords", [])],
        "alias": alias.get("DNSName") if alias else None,
        "set_identifier": rrset.get("SetIdentifier"),
    }


def _unescape(name: str) -> str:
    """Route53 returns '*' as '\\052' and other special characters as octal escapes."""
    out, index = [], 0
    while index < len(name):
        if name[index] == "\\" and name[index + 1 : index + 4].isdigit():
            out.append(chr(int(name[index + 1 : index + 4], 8)))
            index += 4
        else:
            out.append(name[index])
            index += 1
    return "".join(out)
