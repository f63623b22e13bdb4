"""Rendering a run's events: a live view on a terminal, plain lines in CI logs and under --json.

Library code emits ``toolkit.runs.Event``s; this is the only place that draws them. On a
terminal each step is a row (state, time, latest progress) redrawn in place; elsewhere every step
start and end is a line, and progress a line per step at most every ``PLAIN_INTERVAL`` seconds.
Everything goes to stderr: stdout keeps the command's result (and its JSON).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from toolkit.runs import Event, Listener
from toolkit.runs.events import human_bytes

PLAIN_INTERVAL = 5.0
def describe(values: dict[str, Any], message: str = "") -> str:
    """One short line from the shared progress vocabulary (see ``toolkit.runs.events``)."""
    unit = values.get("unit", "")
    in_bytes = unit == "bytes"
    suffix = "" if in_bytes or not unit else f" {unit}"

    def amount(value: float) -> str:
        return human_bytes(value) if in_bytes else f"{value:g}"

    parts = [message] if message else []
    if "done" in values:
        total = values.get("total")
        if total:
            share = 100 * values["done"] / max(total, 1)
            parts.append(f"{amount(values['done'])} of {amount(total)}{suffix} ({share:.0f}%)")
        else:
            parts.append(f"{amount(values['done'])}{suffix}")
    if values.get("rate"):
        parts.append(f"{human_bytes(values['rate'])}/s" if in_bytes else f"{values['rate']:.1f}{suffix}/s")
    if values.get("eta") is not None:
        parts.append(f"ETA {values['eta']:.0f} s")
    if "lag_bytes" in values:
        parts.append(f"lag {human_bytes(values['lag_bytes'])}")
    if values.get("lag_seconds") is not None:
        parts.append(f"{values['lag_seconds']:.1f} s behind")
    return ", ".join(parts)


class EventView:
    """A listener for ``Run``: feed it events, it keeps the screen (or the log) current."""

    def __init__(self, console: Console, *, live: bool) -> None:
        self.console = console
        self.rows: dict[str, dict[str, Any]] = {}
        self._live: Live | None = Live(self._table(), console=console, refresh_per_second=4,
                                       transient=True) if live else None
        self._last_line: dict[str, float] = {}

    def __call__(self, event: Event) -> None:
        step = event.step or ""
        if event.kind in ("step-started", "step-ended", "step-failed", "progress") and step:
            row = self.rows.setdefault(step, {"state": "running", "start": time.monotonic(), "text": ""})
            if event.kind == "step-ended":
                row["state"], row["took"] = "done", event.values.get("seconds")
            elif event.kind == "step-failed":
                row["state"], row["text"] = "failed", event.message
            elif event.kind == "progress":
                row["text"] = describe(event.values, event.message)
        if self._live is not None:
            self._live.update(self._table())
            if event.kind == "note":
                self.console.print(f"note: {event.message}", highlight=False)
            return
        self._plain(event, step)

    def _plain(self, event: Event, step: str) -> None:
        if event.kind == "progress":
            now = time.monotonic()
            if now - self._last_line.get(step, 0.0) < PLAIN_INTERVAL:
                return
            self._last_line[step] = now
            line = f"{step}: {describe(event.values, event.message)}"
        elif event.kind == "step-started":
            line = f"{step}: started"
        elif event.kind == "step-ended":
            line = f"{step}: done in {event.values.get('seconds', 0):.1f} s"
        elif event.kind == "step-failed":
            line = f"{step}: FAILED: {event.message}"
        elif event.kind == "note":
            line = f"note: {event.message}"
        else:
            return
        self.console.print(line, highlight=False, markup=False)

    def _table(self) -> Table:
        table = Table(show_edge=False, show_header=False)
        for _ in ("step", "state", "detail"):
            table.add_column()
        for step, row in self.rows.items():
            if row["state"] == "done":
                state = f"[green]✓[/] {row.get('took') or 0:.1f} s"
            elif row["state"] == "failed":
                state = "[red]✗ failed[/]"
            else:
                state = f"[yellow]…[/] {time.monotonic() - row['start']:.0f} s"
            table.add_row(step, state, row["text"])
        return table

    @contextmanager
    def shown(self) -> Iterator[EventView]:
        if self._live is None:
            yield self
            return
        with self._live:
            yield self
        self.console.print(self._table())


@contextmanager
def event_view(as_json: bool = False, console: Console | None = None) -> Iterator[Listener]:
    """The listener a command passes to its run: live on a terminal, plain lines otherwise."""
    console = console or Console(stderr=True)
    view = EventView(console, live=console.is_terminal and not as_json)
    with view.shown():
        yield view
