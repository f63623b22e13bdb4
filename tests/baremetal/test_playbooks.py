"""The playbooks without hosts: the dns role's filters, the inventory reader, lint."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from toolkit.targets.baremetal.inventory import missing_groups, read_inventory

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def dns_filters():  # type: ignore[no-untyped-def]
    path = REPO / "playbooks/roles/dns/filter_plugins/dns_zone.py"
    module_spec = importlib.util.spec_from_file_location("dns_zone", path)
    assert module_spec and module_spec.loader
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


SPEC = {"dns": {"zone": "example.org.", "records": [
    {"name": "@", "type": "A", "target": "app", "ttl": 300},
    {"name": "www", "type": "CNAME", "values": ["example.org."], "ttl": 300},
    {"name": "@", "type": "TXT", "values": ['v=spf1 "x" -all'], "ttl": 3600},
    {"name": "@", "type": "MX", "values": ["10 mx.example.org."], "ttl": 3600},
]}}


def test_rrsets_with_ns_glue_and_targets() -> None:
    f = dns_filters()
    rrsets = f.dns_rrsets(SPEC, ["10.0.0.2", "10.0.0.1"], ["10.0.0.5", "10.0.0.6"],
                          ["ns1.example.org.", "ns2.example.org."])
    by_key = {(r["name"], r["type"]): r for r in rrsets}
    assert by_key[("example.org.", "A")]["records"] == ["10.0.0.1", "10.0.0.2"]
    assert by_key[("example.org.", "NS")]["records"] == ["ns1.example.org.", "ns2.example.org."]
    assert by_key[("ns1.example.org.", "A")]["records"] == ["10.0.0.5"]
    assert by_key[("ns2.example.org.", "A")]["records"] == ["10.0.0.6"]
    assert by_key[("example.org.", "TXT")]["records"] == ['"v=spf1 \\"x\\" -all"']
    assert f.dns_record_keys(SPEC) == ["@ A", "@ MX", "@ TXT", "www CNAME"]


def test_rrset_changes_are_empty_when_in_sync() -> None:
    f = dns_filters()
    desired = f.dns_rrsets(SPEC, ["10.0.0.1"], ["10.0.0.5"], ["ns1.example.org.", "ns2.example.org."])
    current = [{**r, "records": [{"content": c, "disabled": False} for c in r["records"]]} for r in desired]
    current.append({"name": "example.org.", "type": "SOA", "ttl": 3600,
                    "records": [{"content": "ns1.example.org. h. 1 2 3 4 5", "disabled": False}]})
    assert f.dns_rrset_changes(current, desired) == []
    current[0]["ttl"] = 1
    current.append({"name": "old.example.org.", "type": "A", "ttl": 60,
                    "records": [{"content": "10.9.9.9", "disabled": False}]})
    changes = f.dns_rrset_changes(current, desired)
    assert [(c["name"], c["changetype"]) for c in changes] == [
        (desired[0]["name"], "REPLACE"), ("old.example.org.", "DELETE")]


def test_example_inventory_has_every_group() -> None:
    hosts = read_inventory(REPO / "inventories/example/hosts.yml")
    assert missing_groups(hosts) == []
    assert all(host.service_address for host in hosts.values())
    assert hosts["db1"].user == "deploy"


@pytest.mark.parametrize("tool,args", [
    ("yamllint", ["-s", "playbooks", "inventories"]),
    ("ansible-lint", ["playbooks"]),
])
def test_lint(tool: str, args: list[str]) -> None:
    exe = BIN / tool
    if not exe.exists() and shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed")
    command = [str(exe if exe.exists() else tool), *args]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
