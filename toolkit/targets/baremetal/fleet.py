"""The bare-metal fleet a spec names: its inventory's hosts and how the toolkit reaches them over SSH."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolkit.errors import BadInput
from toolkit.spec import LoadedSpec
from toolkit.targets.baremetal.inventory import missing_groups, read_inventory
from toolkit.targets.baremetal.preflight import SshSettings, preflight


@dataclass(frozen=True)
class Fleet:
    inventory: Path
    hosts: Any  # read_inventory's hosts
    ssh: SshSettings


def read_fleet(loaded: LoadedSpec, *, every_group: bool = True) -> Fleet:
    """The inventory and SSH settings of ``targets.baremetal``; ``BadInput`` naming what is missing.

    ``every_group``: the inventory must have a host in each group the roles need (provisioning);
    a part that works on one group (the database host, the objects hosts) checks its own.
    """
    target = loaded.spec.targets.baremetal
    if target is None:
        raise BadInput(f"{loaded.path}: targets.baremetal is not set; there is no bare-metal fleet")
    inventory = loaded.resolve_path(target.inventory)
    known_hosts = loaded.resolve_path(target.ssh.known_hosts)
    key_file = target.ssh.key.path(loaded.base_dir)
    if key_file is None:
        raise BadInput("targets.baremetal.ssh.key must be a file reference ({file: PATH})")
    for what, path in (("inventory", inventory), ("known_hosts", known_hosts), ("SSH key", key_file)):
        if not path.is_file():
            raise BadInput(f"targets.baremetal: the {what} file {path} does not exist")
    hosts = read_inventory(inventory)
    missing = missing_groups(hosts) if every_group else []
    if missing:
        raise BadInput(f"inventory {inventory} has no hosts in group(s) {', '.join(missing)}")
    ssh = SshSettings(user=target.ssh.user, key_file=key_file, known_hosts=known_hosts)
    return Fleet(inventory, hosts, ssh)


def fleet_preflight(loaded: LoadedSpec) -> Fleet:
    """Every host reachable with a known host key and sudo (``PreflightFailed`` naming each one)."""
    fleet = read_fleet(loaded)
    preflight(fleet.hosts, fleet.ssh)
    return fleet
