"""The lab's network: one bridge in the root namespace, one namespace and veth pair per member.

The operator (the root namespace) holds .1 on the bridge; members get their own address and no
default route, and nothing forwards or NATs: lab traffic stays on the bridge.
"""

from __future__ import annotations

import ipaddress
import json
import logging
from pathlib import Path

from toolkit.lab.names import RESERVED, LabNames
from toolkit.lab.tools import run

log = logging.getLogger(__name__)

NETNS_DIR = Path("/run/netns")


def _ip(*args: str, what: str, check: bool = True) -> str:
    return run(["ip", *args], what=what, check=check).stdout


def links() -> list[str]:
    data = json.loads(_ip("-json", "link", "show", what="listing network links") or "[]")
    return [str(item["ifname"]) for item in data]


def namespaces() -> list[str]:
    return sorted(path.name for path in NETNS_DIR.iterdir()) if NETNS_DIR.is_dir() else []


def addresses_in_reserved_range() -> list[ipaddress.IPv4Network]:
    """Subnets of the reserved range already configured on this machine (by any lab, any state dir)."""
    data = json.loads(_ip("-json", "-4", "addr", "show", what="listing addresses") or "[]")
    found = []
    for item in data:
        for info in item.get("addr_info", []):
            net = ipaddress.IPv4Interface(f"{info['local']}/{info['prefixlen']}").network
            if net.overlaps(RESERVED):
                found.append(net)
    return found


def create_bridge(names: LabNames, subnet: ipaddress.IPv4Network, operator_address: str) -> None:
    log.info("network: bridge %s with %s/%d", names.bridge, operator_address, subnet.prefixlen)
    _ip("link", "add", names.bridge, "type", "bridge", what=f"creating bridge {names.bridge}")
    _ip("addr", "add", f"{operator_address}/{subnet.prefixlen}", "dev", names.bridge,
        what=f"addressing bridge {names.bridge}")
    _ip("link", "set", names.bridge, "up", what=f"bringing bridge {names.bridge} up")


def create_member(names: LabNames, host: str, octet: int, address: str,
                  subnet: ipaddress.IPv4Network) -> str:
    """A namespace for ``host`` wired to the bridge; returns the namespace name."""
    ns = names.netns(host)
    veth = names.veth(octet)
    _ip("netns", "add", ns, what=f"creating network namespace {ns}")
    # The peer is created inside the namespace, so its name (eth0) never collides on the host.
    _ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns,
        what=f"creating veth {veth} for {host}")
    _ip("link", "set", veth, "master", names.bridge, "up", what=f"attaching {veth} to {names.bridge}")
    _ip("-n", ns, "link", "set", "lo", "up", what=f"bringing lo up in {ns}")
    _ip("-n", ns, "addr", "add", f"{address}/{subnet.prefixlen}", "dev", "eth0",
        what=f"addressing {host}")
    _ip("-n", ns, "link", "set", "eth0", "up", what=f"bringing eth0 up in {ns}")
    return ns


def netns_pids(ns: str) -> list[int]:
    out = _ip("netns", "pids", ns, what=f"listing processes in {ns}", check=False)
    return [int(line) for line in out.split() if line.isdigit()]


def delete_namespace(ns: str) -> None:
    _ip("netns", "delete", ns, what=f"deleting network namespace {ns}", check=False)


def delete_link(ifname: str) -> None:
    _ip("link", "delete", ifname, what=f"deleting link {ifname}", check=False)


def own_links(names: LabNames) -> list[str]:
    return [link for link in links() if names.is_own_link(link)]


def own_namespaces(names: LabNames) -> list[str]:
    return [ns for ns in namespaces() if names.is_own_netns(ns)]
