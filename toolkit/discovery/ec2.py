"""EC2: instances (the app's servers) and security groups (the network rules)."""

from __future__ import annotations

from typing import Any

from toolkit.discovery.base import Reader, tags
from toolkit.discovery.inventory import Resource

GONE = ("shutting-down", "terminated")
# A tag naming the address an instance serves on, where the API's addresses are not the ones
# DNS points at (NAT in front, an emulator); the lab sets it.
ADDRESS_TAG = "toolkit:address"


class Ec2Reader(Reader):
    SUBJECT = "EC2 instances and security groups"

    def populate(self, region: str) -> None:
        with self.tolerate("EC2 instances", region):
            for page in self.pages("ec2", "describe_instances", region):
                for reservation in page.get("Reservations", []):
                    for instance in reservation.get("Instances", []):
                        if instance.get("State", {}).get("Name") not in GONE:
                            self.inventory.add(_instance(instance, region))
        with self.tolerate("security groups", region):
            for page in self.pages("ec2", "describe_security_groups", region):
                for group in page.get("SecurityGroups", []):
                    self.inventory.add(_security_group(group, region))


def _instance(instance: dict[str, Any], region: str) -> Resource:
    labels = tags(instance.get("Tags"))
    addresses = [
        a
        for a in (instance.get("PublicIpAddress"), instance.get("PrivateIpAddress"), labels.get(ADDRESS_TAG))
        if a
    ]
    return Resource(
        "AWS::EC2::Instance",
        instance["InstanceId"],
        region,
        {
            "name": labels.get("Name", ""),
            "instance_type": instance.get("InstanceType"),
            "state": instance.get("State", {}).get("Name"),
            "addresses": addresses,
            "security_groups": [g["GroupId"] for g in instance.get("SecurityGroups", [])],
            "tags": labels,
        },
    )


def _security_group(group: dict[str, Any], region: str) -> Resource:
    ingress = []
    for rule in group.get("IpPermissions", []):
        sources = [r["CidrIp"] for r in rule.get("IpRanges", [])]
        sources += [r["CidrIpv6"] for r in rule.get("Ipv6Ranges", [])]
        sources += [p["GroupId"] for p in rule.get("UserIdGroupPairs", []) if p.get("GroupId")]
        ingress.append(
            {
                "protocol": rule.get("IpProtocol"),
                "from": rule.get("FromPort"),
                "to": rule.get("ToPort"),
                "sources": sources,
            }
        )
    return Resource(
        "AWS::EC2::SecurityGroup",
        group["GroupId"],
        region,
        {"name": group.get("GroupName", ""), "vpc": group.get("VpcId"), "ingress": ingress},
    )
