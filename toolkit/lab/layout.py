"""Which hosts a lab has, their addresses, and which Ansible groups each bare-metal host is in.

Bare-metal hosts are bm1..bmN (production) followed by bm(N+1)..bm(N+M), the drill hosts that
``toolkit drill`` rehearses a migration onto: the same kind of host, in a layout of their own.
"""

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


def drill_groups(count: int, drill: int) -> dict[str, list[str]]:
    """Group -> host names for ``drill`` drill hosts after ``count`` production hosts: the layout
    of ``groups(drill)``, on bm(count+1)..bm(count+drill); empty groups without drill hosts."""
    if drill == 0:
        return {group: [] for group in GROUPS}
    return {group: [f"bm{count + int(host.removeprefix('bm'))}" for host in hosts]
            for group, hosts in groups(drill).items()}


def check_size(count: int, drill: int = 0) -> None:
    if not 1 <= count <= MAX_BAREMETAL:
        raise BadInput(f"--hosts must be between 1 and {MAX_BAREMETAL}, not {count}")
    if drill < 0:
        raise BadInput(f"--drill-hosts must be 0 or more, not {drill}")
    if count + drill > MAX_BAREMETAL:
        raise BadInput(f"--hosts plus --drill-hosts must be at most {MAX_BAREMETAL} bare-metal hosts, "
                       f"not {count} + {drill}")


def plan_members(names: LabNames, subnet: ipaddress.IPv4Network, count: int, drill: int = 0) -> list[Member]:
    """Every member of a lab with ``count`` production and ``drill`` drill bare-metal hosts."""
    check_size(count, drill)
    production, rehearsal = groups(count), drill_groups(count, drill)

    def member(host: str, side: str, kind: str, octet: int, *, layout: dict[str, list[str]] | None = None,
               is_drill: bool = False) -> Member:
        return Member(name=host, side=side, kind=kind, octet=octet, address=address(subnet, octet),
                      netns=names.netns(host), veth=names.veth(octet),
                      groups=[group for group in GROUPS if host in (layout or {}).get(group, [])],
                      drill=is_drill)

    members = [member("moto", "aws", "process", MOTO_OCTET)]
    members += [member(host, "dns", "process", octet) for host, octet in DNS_OCTETS.items()]
    members += [member(host, "aws", "container", AWS_OCTETS[host]) for host in AWS_HOSTS]
    members += [member(f"bm{i}", "baremetal", "container", baremetal_octet(i), layout=production)
                for i in range(1, count + 1)]
    members += [member(f"bm{i}", "baremetal", "container", baremetal_octet(i), layout=rehearsal,
                       is_drill=True) for i in range(count + 1, count + drill + 1)]
    return members
