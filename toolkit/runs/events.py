"""What a run tells whoever watches it: steps starting and ending, progress, measurements, notes.

Library code emits events and never prints; the CLI renders them (``toolkit/cli/progress.py``).
Progress values use a small shared vocabulary so that one renderer and one report understand
every kind of run:

| key | meaning |
|---|---|
| ``done``, ``total`` | units of work (``unit``: "bytes", "tables", "objects", "tasks", ...) |
| ``rate`` | units per second over the last interval |
| ``eta`` | seconds left at that rate |
| ``lag_bytes``, ``lag_seconds`` | how far a replica trails its source |
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

EventKind = Literal["run-started", "run-resumed", "step-started", "step-ended", "step-failed",
                    "progress", "measure", "note", "run-ended"]


@dataclass(frozen=True)
class Event:
    run_id: str
    kind: EventKind
    step: str | None = None
    message: str = ""
    values: dict[str, Any] = field(default_factory=dict)
    at: float = 0.0

    def to_json(self) -> dict[str, Any]:
        record: dict[str, Any] = {"event": self.kind, "at": self.at}
        if self.step is not None:
            record["step"] = self.step
        if self.message:
            record["message"] = self.message
        if self.values:
            record["values"] = self.values
        return record


Listener = Callable[[Event], None]


UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def human_bytes(value: float) -> str:
    """``1536`` -> ``1.5 KiB``: how bytes read in progress lines and reports."""
    for unit in UNITS:
        if abs(value) < 1024 or unit == UNITS[-1]:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")
