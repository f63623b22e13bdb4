"""``toolkit dns plan|apply|verify|rollback``: move the service's zone from Route53 to PowerDNS."""

from __future__ import annotations

import time
from typing import Any

import click
from rich.console import Console

from toolkit import interface
from toolkit.cli import EXIT_CODES, cli, emit_json, json_option, spec_option
from toolkit.cli.progress import event_view
from toolkit.errors import CheckFailed

to_option = click.option("--to", "target", type=click.Choice(["baremetal"]), required=True,
                         help="Where the zone moves.")


def _when(at: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at)) if at else "-"


@cli.group(epilog=EXIT_CODES)
def dns() -> None:
    """Move the zone: sync, lower TTLs, switch, verify with real queries, move the delegation.

    After the zone sync, `toolkit dns` owns the PowerDNS zone's records; the dns role no longer
    changes them (see the README, "Zone ownership").
    """


@dns.command(epilog=EXIT_CODES)
@to_option
@spec_option
@json_option
def plan(target: str, spec_path: Any, as_json: bool) -> None:
    """Show the sync diff, the records that switch, their TTLs and the timeline. Changes nothing."""
    shown = interface.dns_plan(target, spec_path)
    if as_json:
        emit_json(shown)
        return
    out = Console()
    out.print(f"[bold]zone {shown['zone']}[/]  checksum {shown['checksum'][:16]}", highlight=False)
    for sync in shown["sync"]:
        out.print(f"sync to {sync['provider']}: {sync['creates']} to create, {sync['updates']} to update, "
                  f"{sync['deletes']} to delete (of {sync['existing']})", highlight=False)
        for change in sync["changes"]:
            out.print(f"  {change['action']:6} {change['name']} {change['type']}", highlight=False)
        for reason in sync["unsafe"]:
            out.print(f"  [yellow]needs --force:[/] {reason}", highlight=False)
    for item in shown["switches"]:
        out.print(f"switch {item['name']} {item['type']} (TTL {item['old_ttl']}): "
                  f"{', '.join(item['old'])} -> {', '.join(item['values'])}", highlight=False)
    timeline = shown["timeline"]
    out.print(f"lower TTLs to {timeline['cutover_ttl']} s now; earliest safe switch "
              f"{_when(timeline['earliest_switch_at'])}; resolver check "
              f"{_when(timeline['resolver_check_at'])}",
              highlight=False)
    out.print(f"move the delegation (parent NS TTL {timeline['parent_ns_ttl']} s, the zone's NS TTL "
              f"{timeline['zone_ns_ttl']} s; registrar: {shown['delegation']['registrar']}); both providers "
              f"stay identical until {_when(timeline['providers_identical_until'])}", highlight=False)
    if shown["run"]:
        out.print(f"a cutover run exists: {shown['run']['id']} ({shown['run']['state']})", highlight=False)


@dns.command(epilog=EXIT_CODES)
@to_option
@click.option("--force", is_flag=True, help="Apply a sync plan above its safety thresholds.")
@click.option("--checksum", help="Apply only if the plan is still the one shown with this checksum.")
@click.option("--max-wait", type=float, default=None, help="Wait at most this many seconds for a step "
              "to become due (default 900); longer waits stop the command: run it again later.")
@click.option("--delegation-moved", is_flag=True, help="Confirm a delegation moved by hand at the registrar.")
@spec_option
@json_option
def apply(target: str, force: bool, checksum: str | None, max_wait: float | None, delegation_moved: bool,
          spec_path: Any, as_json: bool) -> None:
    """Perform the steps that are due; run again, it continues where it stands."""
    with event_view(as_json) as view:
        outcome = interface.dns_apply(target, spec_path, listeners=[view], force=force, checksum=checksum,
                                      max_wait=max_wait, delegation_moved=delegation_moved)
    if as_json:
        emit_json(outcome.to_json())
        return
    out = Console()
    out.print(f"run {outcome.run_id}: {outcome.state}; done: {', '.join(outcome.done) or 'nothing'}",
              highlight=False)
    if outcome.message:
        out.print(outcome.message, highlight=False)
    if outcome.next_step:
        out.print(f"next: {outcome.next_step} at {_when(outcome.next_at)}", highlight=False)


@dns.command(epilog=EXIT_CODES)
@spec_option
@json_option
def verify(spec_path: Any, as_json: bool) -> None:
    """Ask every authoritative server by address, and the resolver; exit 1 if they disagree."""
    result = interface.dns_verify(spec_path)
    if as_json:
        emit_json(result)
    else:
        out = Console()
        for row in result["authoritative"]:
            out.print(f"{row['provider']:18} {row['server']:16} {row['name']} {row['type']}: "
                      f"{', '.join(row['values']) or row['rcode']}", highlight=False)
        for row in result["resolver"]:
            out.print(f"{'resolver':18} {row['server']:16} {row['name']} {row['type']}: "
                      f"{', '.join(row['values']) or row['rcode']} (TTL {row['ttl']})", highlight=False)
    if not result["ok"]:
        raise CheckFailed(f"answers disagree for {', '.join(result['disagree'])}")


@dns.command(epilog=EXIT_CODES)
@spec_option
@json_option
def rollback(spec_path: Any, as_json: bool) -> None:
    """Restore every provider and the delegation to what the cutover saved before changing them."""
    with event_view(as_json) as view:
        outcome = interface.dns_rollback(spec_path, listeners=[view])
    if as_json:
        emit_json(outcome.to_json())
    else:
        Console().print(f"run {outcome.run_id}: {outcome.message}", highlight=False)
