"""Past drills of a service, oldest first: one JSON line each in the state directory
(``<state>/drills/<service>.jsonl``), appended when a drill ends, read for the trend the report
draws (RTO and duration over past drills)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from toolkit.state import state_root


def history_path(service: str) -> Path:
    return state_root() / "drills" / f"{service}.jsonl"


def record(service: str, entry: dict[str, Any]) -> None:
    path = history_path(service)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as out:
        out.write(json.dumps(entry, sort_keys=True) + "\n")
        out.flush()
        os.fsync(out.fileno())


def past(service: str) -> list[dict[str, Any]]:
    """Every drill recorded, oldest first; a line torn by a crash is skipped."""
    path = history_path(service)
    if not path.exists():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return entries
