"""Which hosts a lab has, their addresses, and which Ansible groups each bare-metal host is in."""

from __future__ import annotations

import ipaddress

from toolkit.errors import BadInput
from toolkit.lab.names import (
    AWS_OCTETS,
    DNS_OCTETS,
    MAX_BAREMETAL,
    MOTO_OCTET,
    LabNames,
    address,
    baremetal_octet,
)
from toolkit.lab.record import Member

GROUPS = ("db", "app", "web", "objects", "dns")
# Slots of the five-host layout; with fewer hosts slot k folds onto host ((k-1) mod N) + 1.
SLOTS = {"db": [1], "app": [2, 3], "web": [2, 3], "objects": [4], "dns": [5, 4]}
AWS_HOSTS = ("aws-db", "aws-app")


def groups(count: int) -> dict[str, list[str]]:
    """Group -> host names for ``count`` bare-metal hosts (hosts beyond five scale out app and web)."""
    layout: dict[str, list[str]] = {}
    for group, slots in SLOTS.items():
        hosts: list[str] = []
        for slot in slots:
            name = f"bm{(slot - 1) % count + 1}"
            if name not in hosts:
                hosts.append(name)
        layout[group] = hosts
    for extra in range(6, count + 1):
        layout["app"].append(f"bm{extra}")
        layout["web"].append(f"bm{extra}")
    return layout


def plan_members(names: LabNames, subnet: ipaddress.IPv4Network, count: int) -> list[Member]:
    if not 1 <= count <= MAX_BAREMETAL:
        raise BadInput(f"--hosts must be between 1 and {MAX_BAREMETAL}, not {count}")
    layout = groups(count)

    def member(host: str, side: str, kind: str, octet: int) -> Member:
        return Member(name=host, side=side, kind=kind, octet=octet, address=address(subnet, octet),
                      netns=names.netns(host), veth=names.veth(octet),
                      groups=[group for group in GROUPS if host in layout[group]])

    members = [member("moto", "aws", "process", MOTO_OCTET)]
    members += [member(host, "dns", "process", octet) for host, octet in DNS_OCTETS.items()]
    members += [member(host, "aws", "container", AWS_OCTETS[host]) for host in AWS_HOSTS]
    members += [member(f"bm{i}", "baremetal", "container", baremetal_octet(i)) for i in range(1, count + 1)]
    return members
