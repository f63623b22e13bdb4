"""``toolkit dns`` as users run it without a DNS world: one sentence, exit 2, nothing changed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.stacks.specdir import make_spec


def toolkit(*args: str, cwd: Path, state: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **({"TOOLKIT_STATE_DIR": str(state)} if state else {})}
    return subprocess.run([sys.executable, "-m", "toolkit", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=120, env=env)


@pytest.mark.parametrize("args", [["plan", "--to", "baremetal"], ["apply", "--to", "baremetal"], ["verify"],
                                  ["rollback"]])
def test_a_spec_without_a_hosted_zone_is_refused_in_one_sentence(
        args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = make_spec(tmp_path / "spec", monkeypatch)
    state = tmp_path / "state"
    result = toolkit("dns", *args, "--spec", str(spec), cwd=spec.parent, state=state)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        f"error: {spec}: targets.aws.resources.hosted_zone_id is needed to read the Route53 zone"]
    assert not list(state.glob("runs/*"))  # refused before any run began


def test_an_unknown_target_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = make_spec(tmp_path / "spec", monkeypatch)
    result = toolkit("dns", "plan", "--to", "aws", "--spec", str(spec), cwd=spec.parent)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
