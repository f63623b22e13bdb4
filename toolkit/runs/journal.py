"""A run's journal: JSON lines, one record per event that matters, fsynced before we go on.

The journal is the run's memory across crashes: ``kill -9`` may tear the last line, which
``records()`` skips, but every record written before it is on disk. Records hold steps, states,
timings and measured values, never a secret: a ``Secret`` (or anything else that is not plain
data) is refused when the record is written.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

JOURNAL_NAME = "journal.jsonl"


def _plain(value: Any) -> Any:
    # Only plain JSON data goes in; Secret and other objects would be a leak or a lie.
    raise TypeError(f"a journal record holds plain data only, not {type(value).__name__}")


class Journal:
    """Append-only JSON lines in ``run_dir/journal.jsonl`` (mode 0600)."""

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / JOURNAL_NAME

    def append(self, record: Mapping[str, Any]) -> dict[str, Any]:
        entry = {"at": round(time.time(), 3), **record}
        line = json.dumps(entry, default=_plain, sort_keys=True) + "\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        return entry

    def records(self) -> Iterator[dict[str, Any]]:
        """Every complete record in order; a line torn by a crash is skipped."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return
        for line in text.splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict):
                yield record
