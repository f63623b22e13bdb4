"""``toolkit backup --to baremetal [--status]`` and ``toolkit restore --to baremetal [--time T]``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from toolkit import interface
from toolkit.cli import EXIT_CODES, cli, emit_json, json_option, spec_option
from toolkit.errors import BadInput, CheckFailed

to_option = click.option("--to", "target", type=click.Choice(["baremetal"]), required=True,
                         help="Whose database.")


def _show_status(status: dict[str, Any]) -> None:
    console = Console()
    last = status.get("last_full")
    console.print(f"[bold]{status['stanza']}[/] on {status['host']}: "
                  + ("[green]recoverable[/]" if status["ok"] else "[red]NOT OK[/]"))
    console.print(f"  last full backup: {last['label']}, {last['age_seconds'] / 3600:.1f} h old" if last
                  else "  last full backup: none", highlight=False)
    window = status.get("recovery_window")
    if window:
        console.print(f"  recovery window: {window['from']} .. {window['to']}", highlight=False)
    archive = status["archive"]
    failing = " [red]FAILING[/]" if archive["failing"] else ""
    console.print(f"  WAL archive: last {archive.get('last_archived_wal')} at "
                  f"{archive.get('last_archived_time')}{failing}", highlight=False)
    for timer, state in status.get("timers", {}).items():
        console.print(f"  {timer}: {state}", highlight=False)
    for problem in status["problems"]:
        console.print(f"  [red]problem[/]: {problem}", highlight=False)


@cli.command(epilog=EXIT_CODES + "\n  1 also, with --status: the database is not recoverable as it should be")
@to_option
@click.option("--type", "kind", type=click.Choice(["full", "diff", "incr"]), default="full",
              show_default=True,
              help="Everything, or what changed since the last full (diff) or the last backup (incr).")
@click.option("--status", "show_status", is_flag=True,
              help="Show the last full backup and its age, the recovery window and the WAL archiver.")
@spec_option
@json_option
def backup(target: str, kind: str, show_status: bool, spec_path: Path | None, as_json: bool) -> None:
    """Back up the target's database now, through the unit its timers start (pgBackRest, into the
    object store, encrypted); or, with --status, say whether it is recoverable and to when."""
    if show_status:
        status = interface.backup_status(target, spec_path)
        emit_json(status) if as_json else _show_status(status)
        if not status["ok"]:
            raise CheckFailed("; ".join(status["problems"]))
        return
    made = interface.backup(target, spec_path, kind=kind)
    if as_json:
        emit_json(made)
    else:
        Console().print(f"{made['type']} backup {made['label']}: {made['bytes'] / 1e6:.1f} MB "
                        f"({made['repository_bytes'] / 1e6:.1f} MB in the repository), "
                        f"{made['started']} .. {made['stopped']}", highlight=False)


@cli.command(epilog=EXIT_CODES)
@to_option
@click.option("--time", "moment", default=None, metavar="T",
              help="The point in time, ISO 8601 (UTC without a zone). Default: the latest archived.")
@click.option("--keep", is_flag=True,
              help="Leave the scratch cluster running (the JSON names host and port).")
@click.option("--port", type=click.IntRange(1, 65535), default=None,
              help="The scratch cluster's port (default: the first free one above the database's).")
@click.option("--in-place", is_flag=True,
              help="Restore over the live database instead (its data directory is kept aside); asks first.")
@click.option("--yes", is_flag=True,
              help="With --in-place: do not ask (for scripts that have asked already).")
@spec_option
@json_option
def restore(target: str, moment: str | None, keep: bool, port: int | None, in_place: bool, yes: bool,
            spec_path: Path | None, as_json: bool) -> None:
    """Restore the target's database to a point in time into a scratch cluster on its host, verify
    every table (row counts and content digests, as `verify` computes them), then remove it
    unless --keep. The live database is not touched, unless --in-place."""
    if in_place:
        if keep or port:
            raise BadInput("--keep and --port are for a scratch restore, not --in-place")
        _confirm_in_place(moment, yes)
        done = interface.restore_in_place(target, spec_path, time=moment)
        emit_json(done) if as_json else Console().print(
            f"restored {done['host']}'s live database to {done['target_time'] or 'the latest'} from "
            f"{done['backup']}; the former data directory is {done['previous_data_directory']}",
            highlight=False)
        return
    restored = interface.restore(target, spec_path, time=moment, keep=keep, port=port)
    if as_json:
        emit_json(restored)
        return
    console = Console()
    console.print(f"restored {restored['target_time'] or 'the latest'} from {restored['backup']}: "
                  f"{len(restored['tables'])} tables, {restored['rows']} rows read and digested "
                  f"in {restored['seconds']['total']} s", highlight=False)
    for label, table in restored["tables"].items():
        console.print(f"  {label}: {table['rows']} rows, digest {table['digest']}", highlight=False)
    console.print(f"kept: postgres@{restored['host']} port {restored['port']} ({restored['data_directory']})"
                  if restored["kept"] else "the scratch cluster is removed", highlight=False)


def _confirm_in_place(moment: str | None, yes: bool) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        raise BadInput("--in-place replaces the live database: confirm on a terminal, or pass --yes")
    answer = click.prompt(f"This stops the live database and replaces it with its state at "
                          f"{moment or 'the latest archived point'}. Type 'restore' to go on", default="",
                          show_default=False)
    if answer.strip() != "restore":
        raise BadInput("not confirmed: nothing was changed")
