"""The TTL arithmetic of a cutover, with real-world TTLs (days) that the lab cannot wait out."""

from __future__ import annotations

from toolkit.dns.timeline import (
    MARGIN,
    TtlChange,
    delegation_settled_at,
    earliest_switch,
    plan_timeline,
    resolver_check_at,
)

APEX = ("example.com.", "A")
WWW = ("www.example.com.", "A")
T0 = 1_700_000_000.0


def test_switch_waits_for_the_longest_old_ttl_after_lowering() -> None:
    changes = [TtlChange(*APEX, T0, 3600), TtlChange(*WWW, T0, 300)]
    assert earliest_switch(changes, current_ttls={APEX: 60, WWW: 60}, now=T0) == T0 + 3600 + MARGIN


def test_ttls_lowered_earlier_count_from_when_they_were_lowered() -> None:
    # Lowered from a day to a minute two hours ago, then to 5 s now: the day has not passed.
    earlier = [TtlChange(*APEX, T0 - 7200, 86400)]
    now_change = [TtlChange(*APEX, T0, 60)]
    assert earliest_switch(earlier + now_change, current_ttls={APEX: 5}, now=T0) == T0 - 7200 + 86400 + MARGIN


def test_ttls_lowered_long_enough_ago_allow_the_switch_now() -> None:
    earlier = [TtlChange(*APEX, T0 - 7200, 3600)]
    assert earliest_switch(earlier, current_ttls={APEX: 60}, now=T0) == T0


def test_changes_of_other_records_do_not_delay_the_switch() -> None:
    other = [TtlChange("mail.example.com.", "A", T0, 86400)]
    assert earliest_switch(other, current_ttls={APEX: 60}, now=T0) == T0


def test_resolvers_hold_the_new_answer_after_the_ttl_in_effect_at_the_switch() -> None:
    assert resolver_check_at(T0, 60) == T0 + 60 + MARGIN


def test_delegation_settles_after_the_parents_two_day_ns_ttl() -> None:
    assert delegation_settled_at(T0, 172800, 3600) == T0 + 172800 + MARGIN
    # Route53's own NS TTL is two days too; the longer of the two decides.
    assert delegation_settled_at(T0, 3600, 172800) == T0 + 172800 + MARGIN


def test_plan_timeline_in_order_with_real_ttls() -> None:
    timeline = plan_timeline(now=T0, old_ttls={APEX: 3600, WWW: 30}, cutover_ttl=60, earlier=[],
                             parent_ns_ttl=172800, zone_ns_ttl=172800)
    assert timeline.switch_at == T0 + 3600 + MARGIN  # www (30 s) was not lowered: below the cutover TTL
    assert timeline.resolver_check_at == timeline.switch_at + 60 + MARGIN
    assert timeline.settled_at == timeline.move_delegation_at + 172800 + MARGIN
    assert timeline.lower_at < timeline.switch_at < timeline.resolver_check_at < timeline.settled_at


def test_plan_timeline_with_ttls_already_low_switches_now() -> None:
    timeline = plan_timeline(now=T0, old_ttls={APEX: 30}, cutover_ttl=60, earlier=[], parent_ns_ttl=5,
                             zone_ns_ttl=5)
    assert timeline.switch_at == T0
    assert timeline.resolver_check_at == T0 + 30 + MARGIN
