"""What users felt during a migration, from the reference load generator's journal.

- ``client_outage_seconds``: the longest gap between two acknowledged operations that overlaps
  the cutover window (writes frozen on the source until open on the target). It runs from the last
  write the source acknowledged to the first the target did, as a client saw it: stale DNS
  caches and retries included.
- ``acknowledged_writes_lost``: what the load generator's checker finds missing, changed or
  undeleted on the target; zero is the promise.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from refservice.checker import check
from refservice.journal import JournalError, Record, read_journal
from toolkit.errors import BadInput


@dataclass
class LoadVerdict:
    operations: int
    acknowledged: int
    client_outage_seconds: float | None
    acknowledged_writes_lost: int | None
    findings: list[str]

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def client_outage(records: list[Record], frozen_at: float, opened_at: float) -> float | None:
    """The longest gap between acknowledged operations overlapping [frozen_at, opened_at]."""
    acked = sorted(r.t for r in records if r.status == "acked")
    gaps = [later - earlier for earlier, later in itertools.pairwise(acked)
            if earlier <= opened_at and later >= frozen_at]
    return round(max(gaps), 3) if gaps else None


def read_load_journal(path: Path) -> list[Record]:
    try:
        records, _torn = read_journal(path)
    except JournalError as exc:
        raise BadInput(f"--load-journal: {exc}") from None
    return records


def judge_load(path: Path, url: str, frozen_at: float, opened_at: float, *,
               resolve_with: str | None = None) -> LoadVerdict:
    """Outage from ``path``'s journal, lost writes by replaying it against the app at ``url``."""
    records = read_load_journal(path)
    report = check(str(path), url, resolve_with=resolve_with)
    return LoadVerdict(operations=len(records), acknowledged=sum(r.status == "acked" for r in records),
                       client_outage_seconds=client_outage(records, frozen_at, opened_at),
                       acknowledged_writes_lost=len(report.findings),
                       findings=[f.sentence() for f in report.findings])
