"""Names and addresses of one lab, all derived from the lab's name.

Interface names are limited to 15 characters, so they carry a short hash of the lab's name
(``tk<6hex>b`` for the bridge, ``tk<6hex>h<octet>`` for a host's veth) while network
namespaces, machines and mounts carry the readable ``tk-<name>-<host>``. Everything a lab
creates matches one of these patterns, which is how ``lab down`` finds leftovers of a killed
``lab up`` without ever matching another lab's resources.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass

from toolkit.errors import BadInput

LAB_NAME = re.compile(r"^[a-z][a-z0-9-]{0,23}$")
RESERVED = ipaddress.IPv4Network("198.18.0.0/15")  # RFC 2544: benchmarking, never routed
SUBNETS = list(RESERVED.subnets(new_prefix=24))
IFNAME_MAX = 15

# Last octet of each fixed lab member; bare-metal hosts bmN get BAREMETAL_BASE + N.
OPERATOR_OCTET = 1
MOTO_OCTET = 2
# The DNS world (toolkit.lab.dns_world): each a process in a namespace of its own.
DNS_OCTETS = {"registry": 3, "route53-ns": 4, "resolver": 5}
AWS_OCTETS = {"aws-db": 10, "aws-app": 11}
BAREMETAL_BASE = 20
MAX_BAREMETAL = 200
HOST_NAME = re.compile(r"^(bm[1-9][0-9]*|aws-db|aws-app|moto|registry|route53-ns|resolver)$")


def check_name(name: str) -> str:
    if not LAB_NAME.match(name):
        raise BadInput(f"lab name {name!r} is not valid: use 1-24 lowercase letters, digits and '-', "
                       "starting with a letter")
    return name


def short_hash(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:6]


@dataclass(frozen=True)
class LabNames:
    """Every name one lab uses; pure functions of the lab's name."""

    name: str

    @property
    def tag(self) -> str:
        return short_hash(self.name)

    @property
    def bridge(self) -> str:
        return f"tk{self.tag}b"

    def veth(self, octet: int) -> str:
        return f"tk{self.tag}h{octet}"

    def netns(self, host: str) -> str:
        return f"tk-{self.name}-{host}"

    def machine(self, host: str) -> str:
        return self.netns(host)

    def is_own_link(self, ifname: str) -> bool:
        return re.fullmatch(rf"tk{self.tag}(b|h\d{{1,3}})", ifname) is not None

    def is_own_netns(self, ns: str) -> bool:
        prefix = f"tk-{self.name}-"
        return ns.startswith(prefix) and HOST_NAME.match(ns[len(prefix):]) is not None


def baremetal_octet(index: int) -> int:
    return BAREMETAL_BASE + index


def preferred_subnet_index(name: str) -> int:
    return int(hashlib.sha256(name.encode()).hexdigest()[:8], 16) % len(SUBNETS)


def choose_subnet(name: str, taken: Iterable[ipaddress.IPv4Network]) -> ipaddress.IPv4Network:
    """The lab's /24: its hash picks a start, then the first one no other lab uses."""
    used = set(taken)
    start = preferred_subnet_index(name)
    for step in range(len(SUBNETS)):
        candidate = SUBNETS[(start + step) % len(SUBNETS)]
        if not any(candidate.overlaps(other) for other in used):
            return candidate
    raise BadInput(f"every /24 of {RESERVED} is taken by another lab; bring one down first")


def address(subnet: ipaddress.IPv4Network, octet: int) -> str:
    return str(subnet.network_address + octet)
