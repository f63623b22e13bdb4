"""``toolkit runs``: past and current runs (provisioning, replication, DNS, migrations, drills)."""

from __future__ import annotations

import time

from rich.console import Console
from rich.table import Table

from toolkit import interface
from toolkit.cli import EXIT_CODES, cli, emit_json, json_option


def _when(stamp: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stamp)) if stamp else "-"


@cli.command(epilog=EXIT_CODES)
@json_option
def runs(as_json: bool) -> None:
    """List runs, newest first, with their state (running, succeeded, failed, interrupted)."""
    found = interface.runs()
    if as_json:
        emit_json({"runs": [r.to_json() for r in found]})
        return
    table = Table(show_edge=False)
    for column in ("run", "kind", "state", "started", "ended", "failed step"):
        table.add_column(column, no_wrap=column in ("run", "started", "ended"))
    for run in found:
        style = {"failed": "red", "interrupted": "yellow", "running": "cyan"}.get(run.state)
        table.add_row(run.id, run.kind, run.state, _when(run.started), _when(run.ended),
                      run.failed_step or "", style=style)
    Console().print(table if found else "no runs yet")
