"""``toolkit parity``."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from toolkit import interface
from toolkit.cli import EXIT_CODES, cli, emit_json, json_option, spec_option
from toolkit.errors import CheckFailed


@cli.command(epilog=EXIT_CODES)
@spec_option
@click.option(
    "--playbooks",
    "playbooks_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Ansible playbooks folder whose roles are evaluated (default: the toolkit's playbooks/).",
)
@json_option
def parity(spec_path: Path | None, playbooks_dir: Path | None, as_json: bool) -> None:
    """Compare how AWS and bare metal realize each component of the spec; exit 1 on drift."""
    report = interface.parity(spec_path, playbooks_dir=playbooks_dir)
    if as_json:
        emit_json(report.to_json())
    else:
        _print(report)
    if not report.ok:
        raise CheckFailed("parity failed: " + "; ".join(report.differences))


def _print(report: interface.ParityReport) -> None:
    console = Console(soft_wrap=False)
    table = Table(
        title=f"Parity of {report.spec_path.name}: AWS (offline program run) vs bare metal "
        "(Ansible evaluation of the roles)",
        show_lines=True,
    )
    for column in ("component", "AWS", "bare metal", "status"):
        table.add_column(column, overflow="fold")
    for component in report.components:
        status = (
            "[green]ok[/green]" if component.ok else "[red]" + "\n".join(component.differences) + "[/red]"
        )
        table.add_row(
            component.name,
            "\n".join(component.aws) or "[red]none[/red]",
            "\n".join(component.baremetal) or "[red]none[/red]",
            status,
        )
    console.print(table)
    notes = [f"  {c.name}: {note}" for c in report.components for note in c.notes]
    if notes:
        console.print("Mapped, not differences:")
        for note in notes:
            console.print(note, highlight=False)
    findings = report.lockin.findings
    console.print(
        f"lock-in: {report.lockin.checked} AWS resources checked, "
        f"{len(report.lockin.blockers)} blockers, {len(findings)} findings"
    )
    for finding in findings:
        console.print(f"  {finding.severity}: {finding.subject}: {finding.message}")
    console.print("parity ok" if report.ok else "[red]parity FAILED[/red]")
