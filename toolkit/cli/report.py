"""``toolkit report RUN [--html FILE] [--json]``: what a run did, measured."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

from toolkit import interface
from toolkit.cli import EXIT_CODES, cli, emit_json, json_option


@cli.command(epilog=EXIT_CODES)
@click.argument("run_id", metavar="RUN")
@click.option("--html", "html_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the report as one self-contained HTML file (opens offline).")
@json_option
def report(run_id: str, html_path: Path | None, as_json: bool) -> None:
    """The report of run RUN (see `toolkit runs`): steps, timings, RTO, RPO, data moved, checks."""
    result = interface.report(run_id, html_path)
    data = result.to_json()
    if as_json:
        emit_json(data)
        return
    console = Console()
    console.print(f"[bold]{result.kind} run {result.run_id}[/]: {result.status}")
    for step in data["steps"]:
        took = f"{step['ended_at'] - step['started_at']:.1f} s" if step["ended_at"] else "-"
        console.print(f"  {step['name']:<28} {step['status']:<12} {took}", highlight=False)
    if result.rto_seconds is not None:
        console.print(f"RTO {result.rto_seconds:.3f} s", highlight=False)
    if html_path is not None:
        console.print(f"HTML report: {html_path}")
