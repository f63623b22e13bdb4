"""``toolkit validate``."""

from __future__ import annotations

from pathlib import Path

import click

from toolkit import interface
from toolkit.cli import EXIT_CODES, cli, emit_json, json_option, spec_option
from toolkit.spec import SpecError


@cli.command(epilog=EXIT_CODES)
@spec_option
@json_option
def validate(spec_path: Path | None, as_json: bool) -> None:
    """Validate the service spec: fields, references, versions, files and secrets."""
    try:
        result = interface.validate(spec_path)
    except SpecError as exc:
        if as_json:
            emit_json({"ok": False, "spec": str(spec_path or "service.yaml"),
                       "errors": [issue.to_json() for issue in exc.issues], "warnings": []})
        raise
    if as_json:
        emit_json(result.to_json())
        return
    for warning in result.warnings:
        click.echo(str(warning), err=True)
    spec = result.loaded.spec
    click.echo(f"{result.spec_path}: ok (service {spec.service.name}, spec version {spec.version})")
