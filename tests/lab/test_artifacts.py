"""The lab's files for its bare-metal hosts: inventories and the service certificate.

No root needed: the members are planned, not made.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509

from toolkit.lab import artifacts
from toolkit.lab.layout import GROUPS, groups, plan_members
from toolkit.lab.names import LabNames, choose_subnet
from toolkit.lab.record import Member

WEED = Path("/cache/bin/weed")
ZONE = "refservice.example."


def members(count: int, drill: int = 0) -> list[Member]:
    return plan_members(LabNames("pytest"), choose_subnet("pytest", []), count, drill)


def inventory(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(path.read_text())
    return loaded


def grouped(data: dict[str, Any]) -> dict[str, set[str]]:
    return {group: set(data["all"]["children"][group]["hosts"]) for group in GROUPS}


def test_without_drill_hosts_there_is_one_inventory(tmp_path: Path) -> None:
    (tmp_path / artifacts.DRILL_INVENTORY).parent.mkdir(parents=True)
    (tmp_path / artifacts.DRILL_INVENTORY).write_text("stale: a previous lab's\n")
    written = artifacts.write_inventory(tmp_path, members(5), WEED)
    assert written == [tmp_path / artifacts.INVENTORY]
    assert not (tmp_path / artifacts.DRILL_INVENTORY).exists()
    assert grouped(inventory(written[0])) == {group: set(hosts) for group, hosts in groups(5).items()}


def test_drill_hosts_have_an_inventory_of_their_own(tmp_path: Path) -> None:
    planned = members(2, 1)
    production_path, drill_path = artifacts.write_inventory(tmp_path, planned, WEED)
    assert production_path == tmp_path / artifacts.INVENTORY
    assert drill_path == tmp_path / artifacts.DRILL_INVENTORY
    production, drill = inventory(production_path), inventory(drill_path)
    # The production inventory is what a lab without drill hosts writes.
    artifacts.write_inventory(tmp_path / "plain", members(2), WEED)
    assert production == inventory(tmp_path / "plain" / artifacts.INVENTORY)
    assert grouped(drill) == {group: {"bm3"} for group in GROUPS}
    bm3 = next(m for m in planned if m.name == "bm3")
    assert drill["all"]["children"]["db"]["hosts"]["bm3"] == {"ansible_host": bm3.address,
                                                              "service_address": bm3.address}
    assert drill["all"]["vars"] == production["all"]["vars"]
    assert drill["all"]["vars"]["toolkit_weed_binary"] == str(WEED)


def test_the_service_certificate_covers_the_drill_hosts_and_names(tmp_path: Path) -> None:
    planned = [m for m in members(2, 1) if m.side == "baremetal"]
    web = [m for m in planned if "web" in m.groups and not m.drill]
    drill = [m for m in planned if m.drill]
    artifacts.write_tls(tmp_path, "pytest", ZONE, web, drill)
    cert = x509.load_pem_x509_certificate((tmp_path / artifacts.SERVICE_CERT).read_bytes())
    alt = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    names = set(alt.get_values_for_type(x509.DNSName))
    addresses = {str(a) for a in alt.get_values_for_type(x509.IPAddress)}
    apex = ZONE.rstrip(".")
    assert {apex, f"www.{apex}", f"drill.{apex}", f"www.drill.{apex}", "bm3", f"bm3.{apex}"} <= names
    assert {m.address for m in web + drill} == addresses
    assert all(ipaddress.ip_address(a) for a in addresses)


def test_without_drill_hosts_the_certificate_has_no_drill_names(tmp_path: Path) -> None:
    web = [m for m in members(2) if "web" in m.groups]
    artifacts.write_tls(tmp_path, "pytest", ZONE, web)
    cert = x509.load_pem_x509_certificate((tmp_path / artifacts.SERVICE_CERT).read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert not any("drill" in name for name in names.get_values_for_type(x509.DNSName))
