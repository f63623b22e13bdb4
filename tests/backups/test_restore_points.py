"""Which backup a point in time restores from, the options pgBackRest gets for it, and how the
archiver's counters read; no lab (the lab test restores for real)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from toolkit.backups.repository import Backup
from toolkit.backups.restore import check_reachable, parse_time, recovery_target
from toolkit.backups.status import archiving_failing
from toolkit.errors import BadInput, CheckFailed

NOW = datetime.now(UTC).replace(microsecond=0)


def info_entry(label: str, kind: str, stop: datetime) -> dict[str, Any]:
    """One backup as ``pgbackrest info --output=json`` lists it (whole-second timestamps)."""
    return {"label": label, "type": kind,
            "timestamp": {"start": int(stop.timestamp()) - 30, "stop": int(stop.timestamp())},
            "info": {"size": 1000, "repository": {"size": 300}},
            "archive": {"start": "000000010000000000000004", "stop": "000000010000000000000005"}}


@dataclass
class Host:
    name: str = "db-1"


class Listed:
    """A repository reduced to its list of backups, which is all check_reachable reads."""

    target = Host()

    def __init__(self, *entries: dict[str, Any]) -> None:
        self.entries = [Backup.from_info(e) for e in entries]

    def backups(self) -> list[Backup]:
        return self.entries


OLD = info_entry("20261201-030000F", "full", NOW - timedelta(days=4))
NEWER = info_entry("20261204-030000F_20261204-040000D", "diff", NOW - timedelta(hours=2))


def test_a_time_restores_from_the_last_backup_that_ended_before_it() -> None:
    repo: Any = Listed(OLD, NEWER)
    assert check_reachable(repo, NOW - timedelta(hours=1)) == NEWER["label"]
    assert check_reachable(repo, NOW - timedelta(days=1)) == OLD["label"]
    assert check_reachable(repo, None) == NEWER["label"]


def test_a_backup_ending_in_the_same_second_as_the_time_is_not_used() -> None:
    # pgBackRest truncates the stop time to the second: the backup may have ended after the time.
    stop = datetime.fromtimestamp(int(NEWER["timestamp"]["stop"]), UTC)
    repo: Any = Listed(OLD, NEWER)
    assert check_reachable(repo, stop + timedelta(milliseconds=900)) == OLD["label"]
    assert check_reachable(repo, stop + timedelta(seconds=1)) == NEWER["label"]


def test_times_outside_the_window_are_refused_with_the_window_named() -> None:
    repo: Any = Listed(OLD, NEWER)
    with pytest.raises(BadInput, match="before the recovery window, which starts at"):
        check_reachable(repo, NOW - timedelta(days=5))
    with pytest.raises(BadInput, match="in the future"):
        check_reachable(repo, NOW + timedelta(hours=1))
    with pytest.raises(CheckFailed, match="db-1: the repository holds no backup"):
        check_reachable(Listed(), NOW)  # type: ignore[arg-type]


def test_the_restore_options_pin_the_chosen_set() -> None:
    moment = datetime(2026, 12, 5, 14, 3, 0, 250000, tzinfo=UTC)
    assert recovery_target("L", None) == ["--set=L"]
    assert recovery_target("L", moment) == ["--set=L", "--type=time",
                                            "--target=2026-12-05 14:03:00.250000+00:00",
                                            "--target-action=promote"]


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-12-05T14:03:00Z", datetime(2026, 12, 5, 14, 3, tzinfo=UTC)),
    ("2026-12-05 14:03:00", datetime(2026, 12, 5, 14, 3, tzinfo=UTC)),
    ("2026-12-05T15:03:00+01:00", datetime(2026, 12, 5, 14, 3, tzinfo=UTC)),
])
def test_times_are_iso_and_utc_without_a_zone(text: str, expected: datetime) -> None:
    assert parse_time(text) == expected


def test_a_time_that_is_not_one_is_named() -> None:
    with pytest.raises(BadInput, match="--time 'yesterday' is not a time"):
        parse_time("yesterday")


def test_archiving_fails_when_the_last_failure_is_after_the_last_success() -> None:
    earlier, later = "2026-12-05T10:00:00+00:00", "2026-12-05T10:05:00+00:00"
    assert not archiving_failing({"last_failed_time": None, "last_archived_time": earlier})
    assert not archiving_failing({"last_failed_time": earlier, "last_archived_time": later})
    assert archiving_failing({"last_failed_time": later, "last_archived_time": earlier})
    assert archiving_failing({"last_failed_time": earlier, "last_archived_time": None})
