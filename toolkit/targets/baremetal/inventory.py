"""The hosts of an Ansible YAML inventory, as preflight needs them: name, address, port, user, groups.

Only what Ansible itself would use to connect is read (``ansible_host``, ``ansible_port``,
``ansible_user``, group ``vars`` included); the playbooks read the inventory through Ansible.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from toolkit.errors import BadInput

GROUPS = ("db", "app", "objects", "dns", "web")


@dataclass
class InventoryHost:
    name: str
    address: str
    port: int = 22
    user: str | None = None
    groups: list[str] = field(default_factory=list)
    service_address: str | None = None


def read_inventory(path: Path) -> dict[str, InventoryHost]:
    """Hosts by name. Raises ``BadInput`` naming the file when it is not a usable YAML inventory."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BadInput(f"inventory {path} cannot be read ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise BadInput(f"inventory {path} is not YAML (the toolkit reads YAML inventories): {exc}") from None
    if not isinstance(data, dict) or "all" not in data:
        raise BadInput(f"inventory {path} has no top-level 'all:' group")
    merged: dict[str, dict[str, Any]] = {}
    groups: dict[str, list[str]] = {}

    def walk(name: str, group: dict[str, Any] | None, inherited: dict[str, Any]) -> None:
        group = group or {}
        group_vars = {**inherited, **(group.get("vars") or {})}
        for host, host_vars in (group.get("hosts") or {}).items():
            entry = merged.setdefault(str(host), {})
            # Group vars apply under host vars; the first definition of a host var wins.
            for key, value in group_vars.items():
                entry.setdefault(f"group:{key}", value)
            for key, value in (host_vars or {}).items():
                entry[key] = value
            groups.setdefault(str(host), [])
            if name != "all" and name not in groups[str(host)]:
                groups[str(host)].append(name)
        for child, child_group in (group.get("children") or {}).items():
            walk(str(child), child_group, group_vars)

    walk("all", data["all"], {})
    hosts: dict[str, InventoryHost] = {}
    for name, entry in merged.items():
        def var(key: str, entry: dict[str, Any] = entry) -> Any:
            return entry.get(key, entry.get(f"group:{key}"))

        hosts[name] = InventoryHost(
            name=name,
            address=str(var("ansible_host") or name),
            port=int(var("ansible_port") or 22),
            user=var("ansible_user"),
            groups=sorted(groups.get(name, [])),
            service_address=var("service_address"),
        )
    if not hosts:
        raise BadInput(f"inventory {path} lists no hosts")
    return hosts


def missing_groups(hosts: dict[str, InventoryHost]) -> list[str]:
    present = {group for host in hosts.values() for group in host.groups}
    return [group for group in GROUPS if group not in present]
