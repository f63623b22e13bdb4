"""``toolkit lab`` without root or tools: one clear sentence and exit 3 (no lab is made)."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from toolkit.cli import main


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "toolkit", *args], capture_output=True, text=True,
                          timeout=60)


def test_lab_help_lists_the_commands() -> None:
    result = run_cli("lab", "--help")
    assert result.returncode == 0
    for command in ("up", "status", "down"):
        assert command in result.stdout


@pytest.mark.parametrize("command", ["up", "status", "down"])
def test_without_root_exit_3(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                             command: str) -> None:
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    with pytest.raises(SystemExit) as exit_info:
        main(["lab", command, "--name", "unit-no-root"])
    assert exit_info.value.code == 3
    assert "needs root" in capsys.readouterr().err


def test_missing_tool_names_the_package(monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("os.geteuid", lambda: 0)
    real_which = shutil.which
    monkeypatch.setattr("shutil.which", lambda tool, *a, **k: None if tool == "systemd-nspawn"
                        else real_which(tool, *a, **k))
    with pytest.raises(SystemExit) as exit_info:
        main(["lab", "status", "--name", "unit-no-tool"])
    assert exit_info.value.code == 3
    assert "systemd-container" in capsys.readouterr().err


def test_bad_name_is_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["lab", "status", "--name", "Not_Valid"])
    assert exit_info.value.code == 2
    assert "lab name" in capsys.readouterr().err
