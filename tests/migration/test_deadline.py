"""``--deadline`` forms, and one clear sentence for the rest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from toolkit.errors import BadInput
from toolkit.migration.deadline import parse_deadline

NOW = datetime(2026, 11, 22, 17, 0, tzinfo=UTC)


@pytest.mark.parametrize(("text", "expected"), [
    ("+90m", NOW + timedelta(minutes=90)),
    ("+1h30m", NOW + timedelta(minutes=90)),
    ("+45s", NOW + timedelta(seconds=45)),
    ("18:30", NOW.replace(hour=18, minute=30)),
    ("09:00", NOW.replace(hour=9) + timedelta(days=1)),
    ("2026-11-23T18:00+00:00", datetime(2026, 11, 23, 18, 0, tzinfo=UTC)),
])
def test_forms(text: str, expected: datetime) -> None:
    assert parse_deadline(text, NOW) == expected


@pytest.mark.parametrize(("text", "message"), [
    ("tomorrow", "give a time"), ("+", "give a time"), ("25:00", "no such time"),
    ("2026-11-21T18:00+00:00", "in the past"),
])
def test_bad_deadlines_say_why(text: str, message: str) -> None:
    with pytest.raises(BadInput, match=message):
        parse_deadline(text, NOW)
