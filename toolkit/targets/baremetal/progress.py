"""Live progress on stderr from the runner's events: per host, tasks ok, changed and failed."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from toolkit.targets.baremetal.summary import RunSummary


class Progress:
    """Feed it every event; it redraws a small table (host, ok, changed, failed, current task)."""

    def __init__(self, summary: RunSummary, console: Console | None = None) -> None:
        self.summary = summary
        self.console = console or Console(stderr=True)
        self.task = ""
        self.play = ""
        self._live: Live | None = None

    def __enter__(self) -> Progress:
        # A live table on a terminal (the summary that follows repeats its counts); one line per
        # play in logs, where redrawing would only add noise.
        if self.console.is_terminal:
            self._live = Live(self._table(), console=self.console, refresh_per_second=4, transient=True)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.update(self._table())
            self._live.__exit__(None, None, None)

    def event(self, event: dict[str, Any]) -> None:
        data = event.get("event_data") or {}
        if event.get("event") == "playbook_on_play_start":
            self.play = data.get("play", "")
            if self._live is None:
                self.console.print(f"play: {self.play}", highlight=False)
        elif event.get("event") == "playbook_on_task_start":
            self.task = data.get("task", "")
        if self._live is not None:
            self._live.update(self._table())

    def _table(self) -> Table:
        table = Table(title=f"{self.play}: {self.task}" if self.play else "starting", title_justify="left",
                      show_edge=False)
        for column in ("host", "ok", "changed", "failed"):
            table.add_column(column, justify="left" if column == "host" else "right")
        for name, stats in sorted(self.summary.hosts.items()):
            failed = "unreachable" if stats.unreachable else str(stats.failed)
            table.add_row(name, str(stats.ok), str(stats.changed), failed,
                          style="red" if stats.failed or stats.unreachable else None)
        return table
