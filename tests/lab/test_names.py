"""Names, subnets and groups of a lab (drill hosts included): pure functions, no root needed."""

from __future__ import annotations

import ipaddress

import pytest

from toolkit.errors import BadInput
from toolkit.lab.layout import check_size, drill_groups, groups, plan_members
from toolkit.lab.names import (
    IFNAME_MAX,
    MAX_BAREMETAL,
    RESERVED,
    LabNames,
    baremetal_octet,
    check_name,
    choose_subnet,
)

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


def test_drill_hosts_follow_the_production_hosts_in_a_layout_of_their_own() -> None:
    assert drill_groups(5, 1) == {group: ["bm6"] for group in groups(1)}
    # Three production hosts and five drill hosts: the five-host layout, on bm4..bm8.
    assert drill_groups(3, 5) == {"db": ["bm4"], "app": ["bm5", "bm6"], "web": ["bm5", "bm6"],
                                  "objects": ["bm7"], "dns": ["bm8", "bm7"]}
    assert drill_groups(5, 0) == {group: [] for group in groups(5)}


def test_members_with_drill_hosts() -> None:
    names = LabNames("pytest")
    subnet = choose_subnet("pytest", [])
    members = plan_members(names, subnet, 2, 1)
    bare = {m.name: m for m in members if m.side == "baremetal"}
    assert list(bare) == ["bm1", "bm2", "bm3"]
    # Production hosts are exactly what a lab without drill hosts has.
    without = {m.name: m for m in plan_members(names, subnet, 2) if m.side == "baremetal"}
    assert [bare[name] for name in without] == list(without.values())
    assert not any(m.drill for m in without.values())
    # The one drill host carries every group, and is the same kind of host as the others.
    drill = bare["bm3"]
    assert drill.drill and drill.groups == ["db", "app", "web", "objects", "dns"]
    assert (drill.kind, drill.octet, drill.netns) == ("container", baremetal_octet(3), names.netns("bm3"))
    assert names.is_own_netns(drill.netns) and names.is_own_link(drill.veth)
    assert not any(m.drill for m in members if m.name != "bm3")
    addresses = [m.address for m in members]
    assert len(set(addresses)) == len(addresses)


def test_drill_hosts_count_against_the_bare_metal_limit() -> None:
    check_size(MAX_BAREMETAL - 1, 1)
    check_size(1, 0)
    for count, drill, message in ((MAX_BAREMETAL, 1, "--hosts plus --drill-hosts"),
                                  (1, MAX_BAREMETAL, "--hosts plus --drill-hosts"),
                                  (1, -1, "--drill-hosts"), (0, 1, "--hosts")):
        with pytest.raises(BadInput, match=message):
            check_size(count, drill)
    with pytest.raises(BadInput):
        plan_members(LabNames("pytest"), choose_subnet("pytest", []), MAX_BAREMETAL, 1)
