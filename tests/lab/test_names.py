"""Names, subnets and groups of a lab: pure functions, no root needed."""

from __future__ import annotations

import ipaddress

import pytest

from toolkit.errors import BadInput
from toolkit.lab.layout import groups, plan_members
from toolkit.lab.names import IFNAME_MAX, RESERVED, LabNames, check_name, choose_subnet

NAMES = ["default", "pytest", "a", "b", "pytest-x", "pytest-y", "a-very-long-lab-name-24c"]


@pytest.mark.parametrize("name", NAMES)
def test_interface_names_fit_the_kernel_limit(name: str) -> None:
    names = LabNames(check_name(name))
    assert len(names.bridge) <= IFNAME_MAX
    assert all(len(names.veth(octet)) <= IFNAME_MAX for octet in (2, 10, 11, 21, 220))


def test_names_are_deterministic_and_distinct() -> None:
    assert LabNames("pytest").bridge == LabNames("pytest").bridge
    bridges = {LabNames(name).bridge for name in NAMES}
    assert len(bridges) == len(NAMES)


def test_own_resources_never_match_another_lab() -> None:
    a, ab = LabNames("a"), LabNames("a-bm1")
    assert a.is_own_netns("tk-a-bm1") and a.is_own_netns("tk-a-aws-db") and a.is_own_netns("tk-a-moto")
    assert not a.is_own_netns("tk-a-bm1-bm1")  # lab "a-bm1", host bm1
    assert ab.is_own_netns("tk-a-bm1-bm1") and not ab.is_own_netns("tk-a-bm1")
    assert a.is_own_link(a.veth(21)) and a.is_own_link(a.bridge)
    assert not a.is_own_link(ab.bridge) and not a.is_own_link("eth0")


@pytest.mark.parametrize("bad", ["", "Default", "1lab", "lab_1", "x" * 25, "lab/../etc"])
def test_bad_names_are_refused(bad: str) -> None:
    with pytest.raises(BadInput):
        check_name(bad)


def test_subnets_are_deterministic_in_the_reserved_range() -> None:
    first = choose_subnet("pytest", [])
    assert first == choose_subnet("pytest", [])
    assert first.prefixlen == 24 and first.subnet_of(RESERVED)


def test_subnets_of_different_labs_are_disjoint() -> None:
    taken: list[ipaddress.IPv4Network] = []
    for name in NAMES:
        subnet = choose_subnet(name, taken)
        assert not any(subnet.overlaps(other) for other in taken)
        taken.append(subnet)


def test_a_taken_subnet_is_skipped() -> None:
    preferred = choose_subnet("pytest", [])
    assert choose_subnet("pytest", [preferred]) != preferred


def test_every_subnet_taken_is_an_error() -> None:
    with pytest.raises(BadInput):
        choose_subnet("pytest", [RESERVED])


def test_five_host_layout() -> None:
    assert groups(5) == {"db": ["bm1"], "app": ["bm2", "bm3"], "web": ["bm2", "bm3"],
                         "objects": ["bm4"], "dns": ["bm5", "bm4"]}


@pytest.mark.parametrize("count", [1, 2, 3, 4, 5, 7])
def test_every_group_has_hosts_and_dns_has_two_when_possible(count: int) -> None:
    layout = groups(count)
    hosts = {f"bm{i}" for i in range(1, count + 1)}
    for members in layout.values():
        assert members and set(members) <= hosts
    assert len(layout["dns"]) == min(2, count)
    if count == 1:
        assert all(members == ["bm1"] for members in layout.values())


def test_members_have_unique_addresses_in_the_lab_subnet() -> None:
    names = LabNames("pytest")
    subnet = choose_subnet("pytest", [])
    members = plan_members(names, subnet, 5)
    addresses = [ipaddress.IPv4Address(m.address) for m in members]
    assert len(set(addresses)) == len(addresses)
    assert all(addr in subnet for addr in addresses)
    assert {m.name for m in members} == {"moto", "registry", "route53-ns", "resolver", "aws-db", "aws-app",
                                         "bm1", "bm2", "bm3", "bm4", "bm5"}
    assert len({m.veth for m in members}) == len(members)
