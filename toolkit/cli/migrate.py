"""``toolkit plan``, ``toolkit migrate`` and ``toolkit rollback``: the product's main job."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from toolkit import interface
from toolkit.cli import EXIT_CODES, cli, emit_json, json_option, spec_option
from toolkit.cli.progress import event_view
from toolkit.errors import BadInput, CheckFailed

to_option = click.option("--to", "target", type=click.Choice(["baremetal"]), required=True,
                         help="Where the service goes.")
deadline_option = click.option("--deadline", default=None, metavar="TIME",
                               help="When it must be done: 18:00, 2026-11-23T18:00 or +90m; "
                                    "preflight refuses a plan that does not fit.")


def _show_plan(plan: dict[str, Any]) -> None:
    console = Console()
    for step in plan["steps"]:
        window = " (cutover window)" if step["in_window"] else ""
        console.print(f"  {step['name']:<24} ~{step['estimate_seconds']:>7.1f} s{window}", highlight=False)
    console.print(f"total ~{plan['estimated_total_seconds']:.0f} s, writes frozen "
                  f"~{plan['estimated_window_seconds']:.1f} s; data {plan['data_sizes']} at "
                  f"{plan['bytes_per_second'] / 1024**2:.0f} MiB/s (probed)", highlight=False)
    if plan["fits_deadline"] is not None:
        console.print("fits the deadline" if plan["fits_deadline"] else "[red]does NOT fit the deadline[/]")
    for name, part in plan["gate"]["parts"].items():
        mark = "[green]ok[/]" if part["ok"] else "[red]FAILED[/]"
        console.print(f"  gate {name:<15} {mark}  {part['reason']}", highlight=False)


def _plan(target: str, spec_path: Path | None, deadline: str | None, as_json: bool, *,
          gate: bool = True) -> dict[str, Any]:
    """Print the plan; with ``gate``, exit 1 (CheckFailed) when a part of the CI gate failed."""
    with event_view(as_json) as view:
        plan = interface.plan_migration(target, spec_path, deadline=deadline, listeners=[view]).to_json()
    emit_json(plan) if as_json else _show_plan(plan)
    failed = {name: part["reason"] for name, part in plan["gate"]["parts"].items() if not part["ok"]}
    if failed and gate:
        raise CheckFailed("the gate failed: " + "; ".join(f"{name}: {why}" for name, why in failed.items()))
    return plan


@cli.command(epilog=EXIT_CODES)
@to_option
@deadline_option
@spec_option
@json_option
def plan(target: str, deadline: str | None, spec_path: Path | None, as_json: bool) -> None:
    """The dry run and CI gate: every step, its estimate, DNS changes, Ansible's check mode, data
    sizes and whether it fits the deadline; the gate's verdicts (spec, Ansible check mode, Pulumi
    preview, parity, objectives), exit 1 when one fails. Changes nothing anywhere."""
    _plan(target, spec_path, deadline, as_json)


@cli.command(epilog=EXIT_CODES)
@to_option
@click.option("--dry-run", is_flag=True, help="Plan only (the same as `toolkit plan`).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--resume", metavar="RUN", default=None,
              help="Continue run RUN after a crash or an interruption.")
@deadline_option
@click.option("--load-journal", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="A load generator's journal: the report measures the client outage and lost writes.")
@click.option("--load-url", default=None, help="The URL the load generator writes to (with --load-journal).")
@click.option("--resolve-with", default=None, metavar="DNS_SERVER",
              help="The resolver the load generator uses (with --load-journal).")
@spec_option
@json_option
def migrate(target: str, dry_run: bool, yes: bool, resume: str | None, deadline: str | None,
            load_journal: Path | None, load_url: str | None, resolve_with: str | None,
            spec_path: Path | None, as_json: bool) -> None:
    """Move the running service: standby, replication, DNS TTLs, then the cutover (writes frozen
    on the source, drained, verified, DNS switched, writes opened on the target), and a report.

    Without --yes it shows the plan and asks; without a terminal it refuses.
    """
    if (load_journal is None) != (load_url is None):
        raise BadInput("--load-journal and --load-url go together")
    if dry_run:
        _plan(target, spec_path, deadline, as_json)
        return
    if not yes and resume is None:
        if not sys.stdin.isatty():
            raise BadInput("migrate changes production: confirm with --yes (no terminal to ask on)")
        _plan(target, spec_path, deadline, as_json=False, gate=False)  # the operator weighs a failed part
        click.confirm("Migrate now?", abort=True, err=True)
    console = Console(stderr=True)
    with event_view(as_json) as view:
        report = interface.migrate(target, spec_path, resume=resume, deadline=deadline,
                                   load_journal=load_journal, load_url=load_url, resolve_with=resolve_with,
                                   listeners=[view])
    if as_json:
        emit_json(report.to_json())
        return
    data = report.to_json()
    console.print(f"migration {report.run_id}: {report.status}; RTO {data['rto_seconds']} s")
    console.print(f"report: {interface.run_dir(report.run_id) / 'report.html'}")


@cli.command(epilog=EXIT_CODES)
@click.argument("run_id", metavar="RUN")
@spec_option
@json_option
def rollback(run_id: str, spec_path: Path | None, as_json: bool) -> None:
    """Undo migration RUN: DNS back to the source, the source unfrozen, the target's app stopped.

    Refused once writes opened on the target: they would be lost.
    """
    with event_view(as_json) as view:
        report = interface.rollback_migration(run_id, spec_path, listeners=[view])
    emit_json(report.to_json()) if as_json else Console().print(f"run {run_id}: {report.status}")
