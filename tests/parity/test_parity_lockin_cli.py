"""``toolkit parity`` on the command line: a lock-in blocker alone fails it (exit 1)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.parity.test_parity import fake_playbooks, parity_cli
from tests.stacks.specdir import REPO, make_spec


def test_a_lockin_blocker_exits_1_naming_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    database = yaml.safe_load((REPO / "service.yaml").read_text())["database"]
    # aws_s3 exists only on RDS/Aurora: both targets still realize every component the same way.
    database["extensions"] = ["pgcrypto", "aws_s3"]
    spec = make_spec(tmp_path / "spec", monkeypatch, database=database)
    result = parity_cli(spec, fake_playbooks(tmp_path / "playbooks"))
    assert result.returncode == 1, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert [c["name"] for c in report["components"] if not c["ok"]] == []
    assert report["ok"] is False and report["lockin"]["ok"] is False
    blockers = [f["subject"] for f in report["lockin"]["findings"] if f["severity"] == "blocker"]
    assert blockers == ["database.extensions: aws_s3"]
    assert result.stderr.startswith("error: parity failed: lock-in: database.extensions: aws_s3:")
    assert "Traceback" not in result.stderr
