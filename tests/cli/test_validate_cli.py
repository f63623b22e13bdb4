"""``toolkit validate`` as users run it: exit codes, one line per error, no tracebacks, JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest


def toolkit(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "toolkit", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=120)


def test_valid_spec_in_working_directory(spec_dir: Path) -> None:
    result = toolkit("validate", cwd=spec_dir)
    assert result.returncode == 0, result.stderr
    assert "ok" in result.stdout


def test_invalid_spec_exits_2_one_line_per_error(write_spec: Callable[[str], Path], sample_text: str) -> None:
    path = write_spec(sample_text.replace("  port: 8000", "  port: -1").replace("version: 15", "version: x"))
    result = toolkit("validate", "--spec", str(path))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2
    assert all(line.startswith(f"{path}:") for line in lines)


def test_invalid_spec_json(write_spec: Callable[[str], Path], sample_text: str) -> None:
    path = write_spec(sample_text.replace("  health_path:", "  helth_path:"))
    result = toolkit("validate", "--spec", str(path), "--json")
    assert result.returncode == 2
    payload = json.loads(result.stdout)
    assert payload["ok"] is False
    [error] = payload["errors"]
    assert error["kind"] == "unknown_field" and error["path"] == "app.helth_path" and error["line"] > 0


def test_valid_spec_json_lists_warnings(spec_dir: Path) -> None:
    (spec_dir / "inventories" / "example" / "deploy_key").chmod(0o644)
    result = toolkit("validate", "--json", cwd=spec_dir)
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["ok"] is True
    assert [w["kind"] for w in payload["warnings"]] == ["insecure_secret_file"]


def test_spec_that_is_not_utf8_is_one_located_line(write_spec: Callable[[str], Path],
                                                   sample_text: str) -> None:
    path = write_spec(sample_text)
    path.write_bytes(sample_text.replace("  description: Notes", "  description: Caf\udce9 notes")
                     .encode("utf-8", "surrogateescape"))
    line = next(i for i, text in enumerate(sample_text.splitlines(), 1) if text.startswith("  description:"))
    result = toolkit("validate", "--spec", str(path))
    assert result.returncode == 2
    assert result.stderr == (f"{path}:{line}:19: the file is not UTF-8 text "
                             "(byte 0xe9: invalid continuation byte); save it as UTF-8\n")


def test_missing_spec_is_bad_input(tmp_path: Path) -> None:
    result = toolkit("validate", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "service.yaml" in result.stderr
    assert "Traceback" not in result.stderr


def test_usage_error_exits_2() -> None:
    result = toolkit("validate", "--no-such-option")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_directory_as_spec_is_bad_input(tmp_path: Path) -> None:
    result = toolkit("validate", "--spec", str(tmp_path))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def all_commands() -> list[list[str]]:
    import click

    from toolkit.cli import _register, cli

    _register()
    found: list[list[str]] = []

    def walk(group: click.Group, prefix: list[str]) -> None:
        for name, command in group.commands.items():
            if isinstance(command, click.Group):
                walk(command, [*prefix, name])
            else:
                found.append([*prefix, name])

    walk(cli, [])
    return found


@pytest.mark.parametrize("command", all_commands(), ids=" ".join)
def test_every_command_has_help_and_json(command: list[str]) -> None:
    result = toolkit(*command, "--help")
    assert result.returncode == 0, result.stderr
    assert "--json" in result.stdout


def test_top_level_help_documents_exit_codes() -> None:
    result = toolkit("--help")
    assert result.returncode == 0
    for code in ("0  ok", "1  a check failed", "2  bad input", "3  the environment is not ready"):
        assert code in result.stdout
