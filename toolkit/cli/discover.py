"""``toolkit discover``."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from toolkit import interface
from toolkit.cli import EXIT_CODES, cli, emit_json, json_option
from toolkit.cli.progress import event_view
from toolkit.errors import CheckFailed


@cli.command(epilog=EXIT_CODES)
@click.option(
    "--from", "source", type=click.Choice(["aws"]), default=None, help="Where the service runs now (aws)."
)
@click.option(
    "--region",
    "regions",
    multiple=True,
    help="Region to read (repeat for more; default: the spec's or boto3's region).",
)
@click.option("--endpoint", default=None, help="AWS API endpoint (an emulator or a private endpoint).")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Draft spec file (default: --spec, else ./service.yaml); an existing file is never "
    "overwritten, the draft goes beside it.",
)
@click.option(
    "--bandwidth",
    default="1Gbit/s",
    show_default=True,
    help="Bandwidth out of AWS for the exit-time estimate (e.g. 200Mbit/s, 50MB/s).",
)
@click.option(
    "--storage-metrics",
    is_flag=True,
    help="Size buckets from CloudWatch's daily storage metrics instead of listing them "
    "(fast for very large buckets, a day old).",
)
@click.option("--page-size", type=int, default=None, help="Items per API page (default: each API's own).")
@click.option(
    "--iam-policy",
    "policy",
    type=click.Choice(["discover", "migrate"]),
    default=None,
    help="Print the least-privilege IAM policy a command needs (scoped by --spec) and exit.",
)
@click.option(
    "--spec",
    "spec_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="A service spec whose targets.aws says how to reach the account (default: boto3's own "
    "settings); with --iam-policy migrate, the spec to scope the policy to.",
)
@json_option
def discover(
    source: str | None,
    regions: tuple[str, ...],
    endpoint: str | None,
    output: Path | None,
    bandwidth: str,
    storage_metrics: bool,
    page_size: int | None,
    policy: str | None,
    spec_path: Path | None,
    as_json: bool,
) -> None:
    """Read a live AWS account (read-only): draft a spec and report what would keep you locked in.

    Exit 1 if something could not be read (the result names it; the rest is still reported)."""
    if policy is not None:
        document = interface.iam_policy(policy, spec_path)
        click.echo(json.dumps(document, indent=2))
        return
    if source is None:
        raise click.UsageError("give --from aws (or --iam-policy discover|migrate)")
    with event_view(as_json) as view:
        result = interface.discover(
            source,
            spec_path=spec_path,
            regions=list(regions) or None,
            endpoint=endpoint,
            output=output,
            bandwidth=bandwidth,
            page_size=page_size,
            storage_metrics=storage_metrics,
            listeners=[view],
        )
    if as_json:
        emit_json(result.to_json())
    else:
        _print(result)
    if not result.complete:
        raise CheckFailed(
            f"discovery incomplete: {len(result.inventory.gaps)} things could not be read "
            "(listed under 'Not read')"
        )


def _size(value: int | None) -> str:
    if value is None:
        return "-"
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return str(value)


def _print(result: interface.Discovery) -> None:
    from toolkit.discovery.report import duration

    console = Console(soft_wrap=False)
    report, draft = result.report, result.draft
    inventory = result.inventory
    table = Table(
        title=f"AWS account {inventory.account or '(unknown)'} ({', '.join(inventory.regions)}): "
        f"lock-in at {report.bandwidth}",
        show_lines=True,
    )
    for column in ("AWS service", "in use", "data", "exit time", "bare metal", "note"):
        table.add_column(column, overflow="fold")
    for row in report.rows:
        names = ", ".join(r.name for r in row.resources[:4]) + (" ..." if len(row.resources) > 4 else "")
        data = _size(row.bytes) + (f"\n{row.items} items" if row.items is not None else "")
        seconds = (row.bytes or 0) / report.bytes_per_second
        style = {"none": "red", "review": "yellow", "alternative": "yellow"}.get(row.status)
        baremetal = f"[{style}]{row.baremetal}[/{style}]" if style else row.baremetal
        table.add_row(
            row.service,
            f"{len(row.resources)}: {names}",
            data,
            duration(seconds) if row.bytes else "-",
            baremetal,
            row.note,
        )
    console.print(table)
    console.print(
        f"Data to move: {_size(report.total_bytes)}; at {report.bandwidth} about "
        f"{duration(report.exit_seconds)} (transfer alone).",
        highlight=False,
    )
    if report.unsupported:
        console.print(
            "[red]No bare-metal equivalent, needs a plan:[/red] "
            + ", ".join(row.service for row in report.unsupported)
        )
    if report.kms_encrypted:
        console.print(
            "KMS-encrypted data (readable only while the key is): " + ", ".join(report.kms_encrypted)
        )
    console.print(
        f"Draft spec written to {draft.path} ({len(draft.guesses)} guessed values, marked '# guessed').",
        highlight=False,
    )
    if draft.secrets:
        console.print(
            "  secrets it references: " + ", ".join(sorted({r for _, r in draft.secrets})), highlight=False
        )
    for note in draft.notes:
        console.print(f"  not in the draft: {note}", highlight=False)
    if inventory.gaps:
        console.print("[red]Not read:[/red]")
        for gap in inventory.gaps:
            console.print(f"  {gap}", highlight=False)
