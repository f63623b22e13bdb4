"""``toolkit provision --target aws`` without the Pulumi CLI, through the real command line.

A subprocess per test: the offline preview sets Pulumi's process-global mock runtime.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.stacks.specdir import make_spec

TOOLKIT = Path(sys.executable).parent / "toolkit"


def toolkit(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    # PATH without any pulumi CLI: only this interpreter's bin and the system's.
    env = {**os.environ, "PATH": os.pathsep.join([str(TOOLKIT.parent), "/usr/bin", "/bin"])}
    return subprocess.run([str(TOOLKIT), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60)


@pytest.fixture
def spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return make_spec(tmp_path, monkeypatch)


def test_applying_without_the_pulumi_cli_exits_3(spec: Path) -> None:
    result = toolkit("provision", "--target", "aws", "--spec", str(spec), cwd=spec.parent)
    assert result.returncode == 3, result.stderr
    assert "needs the Pulumi CLI" in result.stderr
    assert "Traceback" not in result.stderr


def test_offline_preview_lists_every_component(spec: Path) -> None:
    result = toolkit(
        "provision", "--target", "aws", "--check", "--json", "--spec", str(spec), cwd=spec.parent
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["mode"] == "offline-preview" and report["offline"] is True and report["ok"] is True
    types = {r["type"] for r in report["resources"]}
    for component in ("Network", "AppServers", "LoadBalancer", "Database", "Objects", "Dns"):
        assert f"toolkit:aws:{component}" in types
    for resource in (
        "aws:ec2/vpc:Vpc",
        "aws:ec2/instance:Instance",
        "aws:lb/loadBalancer:LoadBalancer",
        "aws:rds/instance:Instance",
        "aws:s3/bucket:Bucket",
        "aws:route53/zone:Zone",
        "aws:route53/record:Record",
        "aws:acm/certificate:Certificate",
    ):
        assert resource in types
    rds = next(r for r in report["resources"] if r["type"] == "aws:rds/instance:Instance")
    assert rds["inputs"]["engineVersion"] == "15" and rds["inputs"]["storageEncrypted"] is True
    assert report["outputs"]["bucketNames"] == ["refservice-files"]
    assert "never-shown" not in result.stdout and "PRIVATE KEY" not in result.stdout


def test_offline_preview_is_labelled_offline(spec: Path) -> None:
    result = toolkit("provision", "--target", "aws", "--check", "--spec", str(spec), cwd=spec.parent)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("OFFLINE preview")
    assert "toolkit:aws:Database" in result.stdout and "pending-reboot" in result.stdout
