"""The GitHub Actions workflows we ship (``workflows/github/``): a real linter passes them, and every
``toolkit`` command they call exists with the options they give it."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

import click
import pytest
import yaml

from toolkit.cli import _register, cli

WORKFLOWS = sorted((Path(__file__).resolve().parents[2] / "workflows" / "github").glob("*.yml"))
SHELL_ENDS = {">", ">>", "2>", "|", "||", "&&", ";", "2>&1"}


def toolkit_calls(workflow: Path) -> list[list[str]]:
    """The arguments of every ``toolkit ...`` line in the workflow's ``run:`` steps."""
    calls = []
    for job in yaml.safe_load(workflow.read_text())["jobs"].values():
        for step in job.get("steps", []):
            script = step.get("run", "").replace("\\\n", " ")
            for line in script.splitlines():
                words = shlex.split(line, comments=True)
                if words[:1] == ["toolkit"]:
                    cut = next((i for i, w in enumerate(words) if w in SHELL_ENDS), len(words))
                    calls.append(words[1:cut])
    return calls


def parse(args: list[str]) -> click.Context:
    """Click's own parsing of ``toolkit ARGS``, group by group, without running anything."""
    _register()
    ctx = cli.make_context("toolkit", list(args), resilient_parsing=False)
    command: click.Command = cli
    while isinstance(command, click.Group):
        # Click 8.2 keeps the subcommand and its arguments apart (public again in Click 9).
        name, found, rest = command.resolve_command(ctx, [*ctx._protected_args, *ctx.args])
        assert found is not None, f"no command {name!r}"
        ctx, command = found.make_context(name or "", rest, parent=ctx), found
    return ctx


def test_the_workflows_are_shipped() -> None:
    assert [w.name for w in WORKFLOWS] == ["exit-path-drill.yml", "exit-path-gate.yml"]


@pytest.mark.skipif(shutil.which("actionlint") is None and not Path(".venv/bin/actionlint").exists(),
                    reason="actionlint is not installed (scripts/setup installs it with the test extras)")
def test_actionlint_passes_every_workflow() -> None:
    binary = shutil.which("actionlint") or ".venv/bin/actionlint"
    result = subprocess.run([binary, "-no-color", *map(str, WORKFLOWS)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_would_catch_a_broken_workflow(tmp_path: Path) -> None:
    # The check above can fail: a job without runs-on and a bad expression are reported.
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  a:\n    steps:\n      - run: echo ${{ github.nosuch }}\n")
    binary = shutil.which("actionlint") or ".venv/bin/actionlint"
    result = subprocess.run([binary, "-no-color", str(broken)], capture_output=True, text=True)
    assert result.returncode == 1 and "runs-on" in result.stdout, result.stdout


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda w: w.name)
def test_every_toolkit_call_exists_with_its_options(workflow: Path) -> None:
    calls = toolkit_calls(workflow)
    assert calls, f"{workflow.name} calls no toolkit command"
    for args in calls:
        parse(args)  # raises click's UsageError for an unknown command or option


def test_a_call_with_an_unknown_option_is_refused() -> None:
    assert parse(["plan", "--to", "baremetal", "--json"]).params["as_json"] is True
    with pytest.raises(click.UsageError):
        parse(["plan", "--to", "baremetal", "--no-such-option"])
    with pytest.raises((click.UsageError, AssertionError)):
        parse(["no-such-command"])
