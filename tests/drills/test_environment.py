"""The drill's environment from the sample spec: its own name, hosts and zone, and Route53 as the
drill's zone would hold it, read only."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from toolkit.dns.plan import Change
from toolkit.dns.providers.base import Provider
from toolkit.dns.zone import Rrset, Zone, make_rrset
from toolkit.drills.dns import RenamedRoute53
from toolkit.drills.environment import drill_spec, drill_zone
from toolkit.errors import BadInput, CheckFailed
from toolkit.spec import load_spec

DRILL_INVENTORY = """
all:
  children:
    db: {hosts: {drill1: {ansible_host: 192.0.2.91}}}
    app: {hosts: {drill1: {}}}
    web: {hosts: {drill1: {}}}
    objects: {hosts: {drill1: {}}}
    dns: {hosts: {drill1: {}}}
"""


@pytest.fixture
def with_drill(spec_dir: Path, sample_data: dict) -> Callable[[str], Path]:
    """The sample spec with a drill section whose inventory holds ``inventory``."""

    def write(inventory: str) -> Path:
        (spec_dir / "inventories" / "drill.yml").write_text(inventory)
        drill = {"inventory": "inventories/drill.yml", "label": "rehearsal"}
        sample_data["targets"]["baremetal"]["drill"] = drill
        path = spec_dir / "service.yaml"
        path.write_text(yaml.safe_dump(sample_data))
        return path

    return write


def test_the_drill_runs_under_names_hosts_and_a_zone_of_its_own(with_drill: Callable[[str], Path]) -> None:
    production = load_spec(with_drill(DRILL_INVENTORY))
    drill = drill_spec(production)
    assert drill.spec.service.name == "refservice-drill"
    bare = drill.spec.targets.baremetal
    assert bare is not None and bare.dns is not None
    assert bare.inventory == "inventories/drill.yml" and bare.drill is None
    assert bare.object_store.endpoint is None and bare.dns.api_url is None and bare.dns.nameservers == []
    assert drill.spec.dns is not None
    assert drill.spec.dns.zone == drill_zone(production) == "rehearsal.refservice.example."
    assert drill.spec.dns.registrar.provider == "manual" and drill.spec.dns.resolver is None
    assert production.spec.service.name == "refservice", "the production spec is left as it was"


def test_a_drill_host_that_is_a_production_host_is_refused(with_drill: Callable[[str], Path]) -> None:
    shared = DRILL_INVENTORY.replace("drill1", "db1")  # the example inventory's database host
    with pytest.raises(BadInput, match="db1 are also production hosts"):
        drill_spec(load_spec(with_drill(shared)))


def test_a_spec_without_a_drill_section_is_bad_input(spec_dir: Path) -> None:
    with pytest.raises(BadInput, match=r"targets\.baremetal\.drill is not set"):
        drill_spec(load_spec(spec_dir / "service.yaml"))


class HeldZone(Provider):
    """A zone held in memory, standing in for what Route53 answers."""

    def __init__(self, zone: Zone) -> None:
        super().__init__("route53", zone.name, [])
        self.zone_held = zone

    def populate(self) -> Zone:
        return self.zone_held


def test_route53_as_the_drill_zone_holds_it_and_never_changed() -> None:
    live = Zone("example.com.")
    for name, rtype, values in (("@", "SOA", ["ns.awsdns. hostmaster. 1 7200 900 1209600 86400"]),
                                ("@", "NS", ["ns-1.awsdns.example."]), ("@", "A", ["198.51.100.7"]),
                                ("www", "CNAME", ["example.com."]), ("@", "MX", ["10 mail.example.com."]),
                                ("@", "TXT", ["\"v=spf1 -all\""])):
        live.add(make_rrset(name, rtype, 300, values, "example.com."))
    renamed = RenamedRoute53(HeldZone(live), "drill.example.com.")
    held = renamed.populate()
    assert sorted(held.rrsets) == [("drill.example.com.", "A"), ("drill.example.com.", "MX"),
                                   ("drill.example.com.", "TXT"), ("www.drill.example.com.", "CNAME")]
    assert held.rrsets[("www.drill.example.com.", "CNAME")].values == ("drill.example.com.",)
    assert held.rrsets[("drill.example.com.", "MX")].values == ("10 mail.drill.example.com.",)
    assert held.rrsets[("drill.example.com.", "A")].values == ("198.51.100.7",)
    with pytest.raises(CheckFailed, match="never changes Route53"):
        renamed._apply([Change("delete", Rrset("drill.example.com.", "A", 300, ("198.51.100.7",)), None)])
