"""``toolkit provision --target baremetal|aws``."""

from __future__ import annotations

from pathlib import Path

import click

from toolkit import interface
from toolkit.cli import EXIT_CODES, cli, emit_json, json_option, spec_option
from toolkit.cli.progress import event_view
from toolkit.errors import CheckFailed


@cli.command(epilog=EXIT_CODES)
@click.option("--target", type=click.Choice(["baremetal", "aws"]), required=True,
              help="Which realization of the spec to provision.")
@click.option("--check", is_flag=True, help="Dry run: show what would change, change nothing.")
@click.option("--standby", is_flag=True,
              help="Bare metal only: provision as a migration target (empty database, app stopped).")
@spec_option
@json_option
def provision(target: str, check: bool, standby: bool, spec_path: Path | None, as_json: bool) -> None:
    """Realize the spec on a target: Ansible for bare metal, Pulumi for AWS."""
    with event_view(as_json) as view:
        result = interface.provision(target, spec_path, check=check, standby=standby,
                                     listeners=[view])
    if as_json:
        emit_json(result.to_json())
    else:
        for line in result.summary_lines():
            click.echo(line)
    if not result.ok:
        raise CheckFailed(f"provisioning {target} failed")
