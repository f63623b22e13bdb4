"""A run's journal: JSON lines, one record per event that matters, fsynced before we go on.

The journal is the run's memory across crashes: ``kill -9`` may tear the last line, which
``records()`` skips, but every record written before it is on disk. Records hold steps, states,
timings and measured values, never a secret: a ``Secret`` (or anything else that is not plain
data) is refused when the record is written.
"""

from __future__ import annotations

import json
import os
import threading
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
        # What was read so far: steps read their run's journal often (inside the cutover window
        # too), so each read parses only the lines appended since the last one.
        self._read: list[dict[str, Any]] = []
        self._offset = 0
        self._reading = threading.Lock()  # a run's threads (a follower's pump) read it too

    def append(self, record: Mapping[str, Any]) -> dict[str, Any]:
        entry = {"at": round(time.time(), 3), **record}
        line = json.dumps(entry, default=_plain, sort_keys=True) + "\n"
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                line = "\n" + line  # after a line torn by kill -9: this record stays whole
            os.write(fd, line.encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        return entry

    def records(self) -> Iterator[dict[str, Any]]:
        """Every complete record in order; a line torn by a crash is skipped."""
        with self._reading:
            try:
                with self.path.open("rb") as handle:
                    handle.seek(self._offset)
                    appended = handle.read()
            except FileNotFoundError:
                return
            complete = appended.rfind(b"\n") + 1  # a last line without its newline is being written
            self._offset += complete
            for line in appended[:complete].decode("utf-8").splitlines():
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(record, dict):
                    self._read.append(record)
            read = list(self._read)
        yield from read
