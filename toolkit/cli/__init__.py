"""The ``toolkit`` command: argument parsing and output only; the work is in ``interface``.

``main()`` maps errors to the documented exit codes (0 ok, 1 a check failed, 2 bad input or
usage, 3 environment not ready); commands raise, they never call ``sys.exit`` themselves.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from toolkit.errors import ToolkitError
from toolkit.spec import SpecError

F = TypeVar("F", bound=Callable[..., Any])

EXIT_CODES = """\b
Exit codes:
  0  ok
  1  a check failed
  2  bad input or usage
  3  the environment is not ready (missing root, a missing tool)"""


def json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")(func)


def spec_option(func: F) -> F:
    return click.option("--spec", "spec_path", type=click.Path(dir_okay=False, path_type=Path),
                        default=None, help="Service spec (default: ./service.yaml).")(func)


def emit_json(payload: object) -> None:
    click.echo(json.dumps(payload, indent=2, sort_keys=True, default=str))


@click.group(epilog=EXIT_CODES, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="toolkit")
def cli() -> None:
    """Leave a cloud provider fast: one service spec, realized on AWS and on bare metal."""


def _register() -> None:
    # Each command lives in its own module; importing registers it on ``cli``.
    from toolkit.cli import lab, parity, provision, validate  # noqa: F401


def _show_notes(exc: BaseException) -> None:
    """Context added on the way up (``exc.add_note()``), e.g. what a failed step left behind."""
    for note in getattr(exc, "__notes__", ()):
        click.echo(f"note: {note}", err=True)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI and exit with the documented status; never show a traceback for user errors."""
    _register()
    try:
        cli.main(args=argv, prog_name="toolkit", standalone_mode=False)
    except ToolkitError as exc:
        click.echo(f"error: {exc}" if not isinstance(exc, SpecError) else str(exc), err=True)
        _show_notes(exc)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2 if isinstance(exc, click.UsageError) else exc.exit_code)
    except KeyboardInterrupt as exc:
        click.echo("interrupted", err=True)
        _show_notes(exc)
        sys.exit(130)
    sys.exit(0)
