"""Variants of the lab's spec for tests (same service, another inventory or known_hosts file), and
the provisioning runs they start."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from toolkit.state import state_root


def _absolute(value: Any, base: Path) -> Any:
    """Every ``{file: relative}`` secret reference made absolute against ``base``."""
    if isinstance(value, dict):
        if set(value) == {"file"} and isinstance(value["file"], str):
            path = Path(value["file"])
            return {"file": str(path if path.is_absolute() else base / path)}
        return {key: _absolute(item, base) for key, item in value.items()}
    if isinstance(value, list):
        return [_absolute(item, base) for item in value]
    return value


def derived_spec(lab_spec: Path, directory: Path, *, inventory_vars: dict[str, Any] | None = None,
                 host_vars: dict[str, dict[str, Any]] | None = None,
                 inventory: dict[str, Any] | None = None, known_hosts: str | None = None) -> Path:
    """Write a copy of the lab spec into ``directory`` with its own inventory (and known_hosts).

    ``host_vars`` sets variables of single hosts (``{"bm4": {"ansible_host": ...}}``) in every
    group that lists the host.
    """
    base = lab_spec.parent
    data = _absolute(yaml.safe_load(lab_spec.read_text()), base)
    bare = data["targets"]["baremetal"]
    for key in ("inventory", "known_hosts"):
        holder = bare if key == "inventory" else bare["ssh"]
        path = Path(holder[key])
        holder[key] = str(path if path.is_absolute() else base / path)
    source = Path(data["app"]["source"])
    data["app"]["source"] = str(source if source.is_absolute() else base / source)
    if inventory is None:
        inventory = yaml.safe_load(Path(bare["inventory"]).read_text())
    if inventory_vars:
        inventory["all"].setdefault("vars", {}).update(inventory_vars)
    for host, variables in (host_vars or {}).items():
        for group in inventory["all"]["children"].values():
            if host in (group.get("hosts") or {}):
                group["hosts"][host].update(variables)
    directory.mkdir(parents=True, exist_ok=True)
    inventory_path = directory / "hosts.yml"
    inventory_path.write_text(yaml.safe_dump(inventory, sort_keys=False))
    bare["inventory"] = str(inventory_path)
    if known_hosts is not None:
        known_hosts_path = directory / "known_hosts"
        known_hosts_path.write_text(known_hosts)
        bare["ssh"]["known_hosts"] = str(known_hosts_path)
    spec_path = directory / "service.yaml"
    spec_path.write_text(yaml.safe_dump(data, sort_keys=False))
    return spec_path


def provision_runs() -> set[str]:
    """Names of the provisioning run directories in the state root (a refused run makes none)."""
    runs_dir = state_root() / "runs"
    return {p.name for p in runs_dir.iterdir() if "-provision-" in p.name} if runs_dir.is_dir() else set()
