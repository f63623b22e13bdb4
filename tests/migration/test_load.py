"""The client-visible outage is read from the load generator's acknowledged operations."""

from __future__ import annotations

from refservice.journal import Record
from toolkit.migration.load import client_outage


def acked(*times: float) -> list[Record]:
    return [Record(i, "write", i, "c", "acked", t) for i, t in enumerate(times)]


def test_the_outage_is_the_longest_gap_overlapping_the_window() -> None:
    records = [*acked(1.0, 1.1, 1.2, 4.5, 4.6), Record(9, "write", None, None, "unknown", 3.0)]
    assert client_outage(records, frozen_at=1.25, opened_at=2.0) == 3.3


def test_a_gap_outside_the_window_is_not_the_outage() -> None:
    assert client_outage(acked(0.0, 10.0, 10.1, 10.5), frozen_at=10.2, opened_at=10.3) == 0.4


def test_no_acknowledged_operation_after_the_window_means_unknown() -> None:
    assert client_outage(acked(1.0, 1.1), frozen_at=2.0, opened_at=3.0) is None
