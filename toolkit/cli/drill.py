"""``toolkit drill``: the exit rehearsed into the drill's own environment, measured, torn down."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

from toolkit import interface
from toolkit.cli import EXIT_CODES, cli, emit_json, json_option, spec_option
from toolkit.cli.progress import event_view
from toolkit.errors import BadInput, CheckFailed


@cli.command(epilog=EXIT_CODES + "\n  1 also: an objective missed, or the teardown incomplete")
@click.option("--to", "target", type=click.Choice(["baremetal"]), required=True, help="The exit rehearsed.")
@click.option("--keep", is_flag=True, help="Leave the drill's environment up (remove it with --cleanup).")
@click.option("--cleanup", is_flag=True,
              help="Only tear down what a drill that is not running left (killed, kept), then stop.")
@click.option("--load-journal", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The journal of a load generator writing to the source during the drill: its writes "
                   "acknowledged before the marker are checked on the drill target.")
@click.option("--load-url", default=None, help="The drill's app, for the check (with --load-journal).")
@click.option("--resolve-with", default=None, metavar="DNS_SERVER",
              help="The server that resolves --load-url's name, e.g. a drill DNS host (with --load-journal).")
@spec_option
@json_option
def drill(target: str, keep: bool, cleanup: bool, load_journal: Path | None, load_url: str | None,
          resolve_with: str | None, spec_path: Path | None, as_json: bool) -> None:
    """Rehearse the migration on the drill's own hosts and DNS names, from the live source (which
    keeps serving: a WAL marker stands in for the freeze), measure RTO and RPO against the spec's
    objectives, report, and tear down: also on a failure, Ctrl-C and SIGTERM. A drill killed
    with kill -9 is torn down by the next drill, or by --cleanup."""
    if (load_journal is None) != (load_url is None):
        raise BadInput("--load-journal and --load-url go together")
    if cleanup:
        with event_view(as_json) as view:
            cleaned = interface.drill_cleanup(spec_path, listeners=[view])
        if as_json:
            emit_json({"cleaned": cleaned})
        else:
            click.echo(f"drill {cleaned}: torn down" if cleaned else "nothing left by a drill")
        return
    with event_view(as_json) as view:
        outcome = interface.drill(target, spec_path, keep=keep, load_journal=load_journal, load_url=load_url,
                                  resolve_with=resolve_with, listeners=[view])
    if as_json:
        emit_json(outcome.to_json())
    else:
        console = Console(stderr=True)
        data = outcome.to_json()
        console.print(f"drill {outcome.run_id}: {data['status']}; RTO {data['rto_seconds']} s; "
                      f"{'torn down' if outcome.torn_down else 'kept' if keep else 'NOT torn down'}",
                      highlight=False)
        for verdict in outcome.verdicts:
            mark = "[green]met[/]" if verdict.met else "[red]MISSED[/]"
            console.print(f"  {verdict.objective.upper()} {verdict.target}: {mark}  {verdict.why}",
                          highlight=False)
        console.print(f"report: {outcome.report_path}", highlight=False)
    if outcome.error:
        raise CheckFailed(f"the drill failed: {outcome.error}")
    if not outcome.objectives_met:
        raise CheckFailed("the drill missed an objective: " + "; ".join(
            v.why for v in outcome.verdicts if not v.met))
    if not keep and not outcome.torn_down:
        raise CheckFailed("the drill's teardown is incomplete; run `toolkit drill --cleanup`")
