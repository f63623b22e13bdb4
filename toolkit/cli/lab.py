"""``toolkit lab up|status|down``: the lab, a whole AWS-and-bare-metal world on this machine."""

from __future__ import annotations

from typing import Any

import click
from rich.console import Console
from rich.table import Table

from toolkit import interface
from toolkit.cli import EXIT_CODES, cli, emit_json, json_option
from toolkit.cli.progress import event_view
from toolkit.errors import CheckFailed

name_option = click.option("--name", default="default", show_default=True, metavar="NAME",
                           help="The lab's name; every resource it makes carries it.")


@cli.group(epilog=EXIT_CODES)
def lab() -> None:
    """The lab: moto as AWS, a source PostgreSQL and the app on "aws" hosts, blank bare-metal hosts.

    Needs root. Hosts are systemd-nspawn containers (systemd as PID 1) in network namespaces on
    a bridge of their own, on a /24 of 198.18.0.0/15 that is routed nowhere.
    """


def _show_status(console: Console, status: dict[str, Any]) -> None:
    table = Table(title=f"lab {status['name']} ({status['subnet']})", title_justify="left")
    for column in ("host", "address", "side", "groups", "services"):
        table.add_column(column)
    for host in status["hosts"]:
        services = ", ".join(f"[{'green' if s['healthy'] else 'red'}]{s['name']}[/]"
                             for s in host["services"])
        side = f"{host['side']} (drill)" if host.get("drill") else host["side"]
        table.add_row(host["name"], host["address"], side, ",".join(host["groups"]) or "-", services)
    console.print(table)
    for label, key in (("spec", "spec"), ("inventory", "inventory"), ("drill hosts", "drill_inventory"),
                       ("AWS endpoint", "aws_endpoint"),
                       ("app", "app_url"), ("source DSN", "source_dsn"), ("pgpass", "pgpassfile"),
                       ("SSH", "ssh_key"), ("known_hosts", "known_hosts")):
        value = status.get(key)
        if key == "drill_inventory" and value is None:
            continue  # a lab without drill hosts
        if key == "ssh_key":
            value = f"{status['ssh_user']}@<host> with {value}"
        console.print(f"[bold]{label:>12}[/]  {value}")
    if status.get("healthy") is False:
        console.print("[red]some services are not healthy[/]")


@lab.command(epilog=EXIT_CODES)
@name_option
@click.option("--hosts", "hosts_count", type=click.IntRange(1, 200), default=5, show_default=True,
              help="Number of bare-metal hosts (bm1..bmN).")
@click.option("--drill-hosts", "drill_hosts", type=click.IntRange(min=0), default=0, show_default=True,
              help="Bare-metal hosts for `toolkit drill` after those (bm(N+1)..bm(N+M)), "
                   "in inventory/drill.yml; N+M is at most 200.")
@json_option
def up(name: str, hosts_count: int, drill_hosts: int, as_json: bool) -> None:
    """Bring the lab up (the image is built on the first run, then cached).

    If the lab is already up and healthy, nothing changes and its status is shown; a lab that
    is half there or unhealthy is torn down and rebuilt.
    """
    with event_view(as_json) as view:
        status = interface.lab_up(name, hosts_count, drill_hosts=drill_hosts, listeners=[view])
    if as_json:
        emit_json(status)
    else:
        _show_status(Console(), status)


@lab.command(epilog=EXIT_CODES)
@name_option
@json_option
def status(name: str, as_json: bool) -> None:
    """Show the lab's hosts, addresses, services and their health; exit 1 if one is unhealthy."""
    result = interface.lab_status(name)
    if as_json:
        emit_json(result)
    else:
        _show_status(Console(), result)
    if result.get("healthy") is False:
        unhealthy = [f"{h['name']}:{s['name']}" for h in result["hosts"] for s in h["services"]
                     if not s["healthy"]]
        raise CheckFailed(f"lab {name} is not healthy: {', '.join(unhealthy)}")


@lab.command(epilog=EXIT_CODES)
@name_option
@json_option
def down(name: str, as_json: bool) -> None:
    """Remove every namespace, link, mount, process and file of the lab (the image cache stays)."""
    result = interface.lab_down(name)
    if as_json:
        emit_json(result)
        return
    removed = result["removed"]
    click.echo(f"lab {name} is down: {len(removed['processes'])} processes, {len(removed['mounts'])} mounts, "
               f"{len(removed['namespaces'])} namespaces, {len(removed['links'])} links removed"
               + (f", {removed['directory']} deleted" if removed["directory"] else ""))


@lab.command(epilog=EXIT_CODES)
@name_option
@click.argument("label")
@json_option
def snapshot(name: str, label: str, as_json: bool) -> None:
    """Save the bare-metal hosts' disks as snapshot LABEL (the hosts halt, are copied, and boot)."""
    with Console(stderr=True).status(f"snapshot {label} of lab {name}"):
        result = interface.lab_snapshot(name, label)
    if as_json:
        emit_json(result)
    else:
        click.echo(f"lab {name}: snapshot {label} saved (snapshots: {', '.join(result['snapshots'])})")


@lab.command(epilog=EXIT_CODES)
@name_option
@click.option("--to", "label", default="booted", show_default=True, metavar="SNAPSHOT",
              help="The snapshot to return to; 'booted' is the blank hosts `lab up` made.")
@json_option
def reset(name: str, label: str, as_json: bool) -> None:
    """Return the bare-metal hosts to a snapshot in seconds (default: blank, as booted)."""
    with Console(stderr=True).status(f"restoring lab {name} to {label}"):
        result = interface.lab_restore(name, label)
    if as_json:
        emit_json(result)
    else:
        _show_status(Console(), result)


@lab.command(epilog=EXIT_CODES)
@json_option
def image(as_json: bool) -> None:
    """Build the lab's Debian image if it is not cached yet (about a minute; then reused)."""
    console = Console(stderr=True)
    with console.status("building the lab image (debootstrap, packages baked in)"):
        result = interface.lab_image()
    if as_json:
        emit_json(result)
    else:
        how = "cached" if result["cached"] else "built"
        click.echo(f"lab image {result['id']}: {how} at {result['image']}")
