"""The load generator's journal: one JSON object per line, flushed and fsynced per record.

Record keys: seq, op (write|update|delete), id (null for a write without answer), checksum
(null unless acked write/update), status (acked|unknown|refused), t (unix time of the answer).
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

OPS = ("write", "update", "delete")
STATUSES = ("acked", "unknown", "refused")


class JournalError(Exception):
    """The journal is missing or not a valid journal."""


@dataclass(frozen=True)
class Record:
    seq: int
    op: str
    id: int | None
    checksum: str | None
    status: str
    t: float


class JournalWriter:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._file: IO[str] = open(path, "a", encoding="utf-8")  # noqa: SIM115 (closed in close())
        self._lock = threading.Lock()
        self._seq = 0

    def append(self, op: str, note_id: int | None, checksum: str | None, status: str) -> Record:
        with self._lock:
            self._seq += 1
            rec = Record(self._seq, op, note_id, checksum, status, time.time())
            self._file.write(json.dumps(rec.__dict__, separators=(",", ":")) + "\n")
            self._file.flush()
            # Durable before we count it: a crash must not lose the record of an acknowledged write.
            os.fsync(self._file.fileno())
            return rec

    def close(self) -> None:
        self._file.close()


def _record(data: Any, where: str) -> Record:
    if not isinstance(data, dict):
        raise JournalError(f"{where} is not a JSON object.")
    try:
        rec = Record(int(data["seq"]), data["op"], data["id"], data["checksum"], data["status"], data["t"])
    except (KeyError, TypeError, ValueError) as exc:
        raise JournalError(f"{where} lacks a valid field {exc}.") from None
    if rec.op not in OPS or rec.status not in STATUSES:
        raise JournalError(f"{where} has an unknown op or status.")
    if rec.id is not None and not isinstance(rec.id, int):
        raise JournalError(f"{where} has a non-integer id.")
    if rec.status == "acked" and (rec.id is None or (rec.op != "delete" and not rec.checksum)):
        raise JournalError(f"{where} is an acknowledged {rec.op} without id or checksum.")
    return rec


def read_journal(path: str | os.PathLike[str]) -> tuple[list[Record], bool]:
    """Return the records in order and whether a torn final line (a crash mid-write) was ignored."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise JournalError(f"The journal {path} does not exist.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise JournalError(f"The journal {path} cannot be read ({exc}).") from None
    lines = text.split("\n")
    torn = False
    if lines and lines[-1] != "":
        # The last line has no newline: written partly when the writer died; it was never fsynced whole.
        lines, torn = lines[:-1], True
    records = []
    for number, line in enumerate(lines[:-1] if not torn else lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except ValueError:
            raise JournalError(f"The journal {path} line {number} is not valid JSON.") from None
        records.append(_record(data, f"The journal {path} line {number}"))
    records.sort(key=lambda r: r.seq)
    return records, torn
