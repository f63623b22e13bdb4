"""The ``toolkit`` command: argument parsing and output only; the work is in ``interface``.

``main()`` maps errors to the documented exit codes (0 ok, 1 a check failed, 2 bad input or
usage, 3 environment not ready); commands raise, they never call ``sys.exit`` themselves.
"""

from __future__ import annotations

import json
import logging
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
@click.option("-v", "--verbose", count=True,
              help="Log to stderr: -v what the toolkit does (INFO), -vv also its details (DEBUG).")
def cli(verbose: int) -> None:
    """Leave a cloud provider fast: one service spec, realized on AWS and on bare metal."""
    configure_logging(verbose)


def configure_logging(verbose: int) -> None:
    """The one place that attaches a console handler (library code only logs)."""
    if verbose <= 0:
        return
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "toolkit-cli"]:
        root.removeHandler(old)  # main() may run more than once in a process (tests)
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name("toolkit-cli")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
    root.addHandler(handler)
    # Other libraries stay at WARNING with -v: their INFO lines are noise to an operator.
    root.setLevel(logging.INFO if verbose > 1 else logging.WARNING)
    logging.getLogger("toolkit").setLevel(logging.DEBUG if verbose > 1 else logging.INFO)


def _register() -> None:
    # Each command lives in its own module; importing registers it on ``cli``.
    from toolkit.cli import (  # noqa: F401
        backup,
        discover,
        dns,
        drill,
        lab,
        migrate,
        parity,
        provision,
        replicate,
        report,
        runs,
        validate,
    )


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
