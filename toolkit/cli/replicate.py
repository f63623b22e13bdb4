"""``toolkit replicate --to baremetal [--status|--stop]`` and ``toolkit verify --to baremetal``."""

from __future__ import annotations

from typing import Any

import click
from rich.console import Console

from toolkit import interface
from toolkit.cli import EXIT_CODES, cli, emit_json, json_option, spec_option
from toolkit.cli.progress import event_view
from toolkit.errors import BadInput, CheckFailed

to_option = click.option("--to", "target", type=click.Choice(["baremetal"]), required=True,
                         help="Where the data goes.")


def _show_status(console: Console, status: dict[str, Any]) -> None:
    for kind, values in status.items():
        console.print(f"[bold]{kind}[/]")
        for key, value in values.items():
            if not isinstance(value, list | dict):
                console.print(f"  {key}: {value}", highlight=False)


@cli.command(epilog=EXIT_CODES)
@to_option
@click.option("--status", "show_status", is_flag=True, help="Show lag, per-table state and retained WAL.")
@click.option("--stop", is_flag=True, help="Stop replication and remove every trace from both sides.")
@click.option("--replica-identity-full", is_flag=True,
              help="Set REPLICA IDENTITY FULL on source tables without a primary key instead of refusing "
                   "them. Costs: every UPDATE/DELETE on them logs the whole old row, and the target scans "
                   "the table to apply each one. Undone by --stop.")
@spec_option
@json_option
def replicate(target: str, show_status: bool, stop: bool, replica_identity_full: bool, spec_path: Any,
              as_json: bool) -> None:
    """Copy the database and objects to the target while the source serves, then keep them current.

    Runs preflight, the schema, the initial copy and an object pass, and returns once the target
    is caught up; replication goes on server-side. Run again, it continues where it stands (also
    after a crash). Nothing of the data passes through this machine.
    """
    if show_status and stop:
        raise BadInput("--status and --stop exclude each other")
    console = Console(stderr=True)
    if show_status:
        status = interface.replication_status(target, spec_path)
        emit_json(status) if as_json else _show_status(Console(), status)
        return
    if stop:
        removed = interface.stop_replication(target, spec_path)
        if as_json:
            emit_json({"removed": removed})
            return
        for kind, things in removed.items():
            console.print(f"{kind}: " + (", ".join(things) if things else "nothing left to remove"))
        return
    with event_view(as_json) as view:
        result = interface.replicate(target, spec_path, listeners=[view],
                                     replica_identity_full=replica_identity_full)
    if as_json:
        emit_json(result.to_json())
    else:
        console.print(f"run {result.run_id}: caught up and streaming")
        _show_status(Console(), result.status)


@cli.command(epilog=EXIT_CODES)
@to_option
@spec_option
@json_option
def verify(target: str, spec_path: Any, as_json: bool) -> None:
    """Compare source and target (row counts and checksums per table, object manifests).

    Exits 1 on any difference, naming the table or object key.
    """
    results = interface.verify_data(target, spec_path)
    if as_json:
        emit_json({"ok": all(r.ok for r in results), "results": [r.to_json() for r in results]})
    else:
        console = Console()
        for result in results:
            verdict = "[green]identical[/]" if result.ok else "[red]DIFFERENT[/]"
            console.print(f"[bold]{result.kind}[/]: {verdict}")
            for difference in result.differences:
                console.print(f"  {difference.subject}: {difference.message}", highlight=False)
    failed = [r.kind for r in results if not r.ok]
    if failed:
        raise CheckFailed(f"verify found differences in {', '.join(failed)}")
