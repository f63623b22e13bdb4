"""The IAM policies cover every AWS call the code makes, and nothing talks to boto3 a second way.

The calls are found in the code itself (its syntax tree): discovery's calls name their service
and operation as literals (``self.call("s3", "list_buckets", ...)``, ``Listing("sqs", ...)``),
and migrate's packages are searched for any boto3 client method. ``test_discover_moto`` adds the
other half: every call discovery really made against moto, recorded by botocore.
"""

from __future__ import annotations

import ast
import json
from functools import cache
from pathlib import Path

import pytest

from toolkit.cli import main
from toolkit.discovery import iam

REPO = Path(__file__).resolve().parents[2]
# Calls that pass the service and operation on: the session's door, the base class's and the
# table-driven listing (whose ``Listing`` literals are scanned instead).
PASS_THROUGH = {("base.py", "call"), ("base.py", "pages"), ("managed.py", "pages")}
BOTO_SERVICES = ("s3", "rds", "route53", "sts")  # and any other a file creates a client for


@cache
def api_names(service: str) -> dict[str, str]:
    """``list_objects_v2`` -> ``ListObjectsV2`` for one boto3 service."""
    import botocore.session
    from botocore import xform_name

    model = botocore.session.get_session().get_service_model(service)
    return {xform_name(name): name for name in model.operation_names}


def discovery_calls(source: str, file: str = "<snippet>") -> tuple[set[tuple[str, str]], list[str]]:
    """(service, API operation) of every literal call; the places whose service is not literal."""
    found, dynamic = set(), []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        if name not in ("call", "pages", "Listing"):
            continue
        literal = [a.value for a in node.args[:2] if isinstance(a, ast.Constant) and isinstance(a.value, str)]
        if len(literal) == 2:
            service, operation = literal
            found.add((service, api_names(service).get(operation, operation)))
        elif (Path(file).name, name) not in PASS_THROUGH:
            dynamic.append(f"{file}:{node.lineno}")
    return found, dynamic


def boto_calls(source: str) -> set[tuple[str, str]]:
    """Every method call in ``source`` named like an operation of a boto3 service it may use."""
    tree = ast.parse(source)
    services = set(BOTO_SERVICES) | {
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "client"
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    }
    # Names bound by ``from X import name``: our own modules and functions, never a boto3 client
    # (``transfer.copy_object`` is the object copy's function, not S3's CopyObject).
    imported = {alias.asname or alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                for alias in node.names}
    found = set()
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        method = node.func.attr
        receiver = node.func.value
        if isinstance(receiver, ast.Name) and ("target" in receiver.id or receiver.id in imported):
            continue  # the bare-metal object store (see iam.CODE), or a module of ours
        if method == "get_paginator" and node.args and isinstance(node.args[0], ast.Constant):
            method = str(node.args[0].value)
        for service in sorted(services):
            if method in api_names(service):
                found.add((service, api_names(service)[method]))
    return found


def uncovered(calls: set[tuple[str, str]], command: str) -> list[str]:
    allowed = iam.actions(command)
    return sorted(
        f"{s}.{op} needs {iam.iam_action(s, op)}" for s, op in calls if iam.iam_action(s, op) not in allowed
    )


def test_every_discovery_call_is_in_the_discover_policy() -> None:
    calls: set[tuple[str, str]] = set()
    dynamic: list[str] = []
    files = sorted((REPO / "toolkit" / "discovery").glob("*.py"))
    for path in files:
        found, unknown = discovery_calls(path.read_text(), str(path.relative_to(REPO)))
        calls |= found
        dynamic += unknown
    assert not dynamic, f"calls whose service and operation are not literals cannot be checked: {dynamic}"
    assert len(calls) > 30
    assert not uncovered(calls, "discover")
    # Least privilege: the policy grants what the code calls, nothing more.
    assert {iam.iam_action(s, op) for s, op in calls} == iam.actions("discover")


def test_every_migrate_call_is_in_the_migrate_policy() -> None:
    roots = [REPO / root for root in iam.CODE["migrate"] if (REPO / root).exists()]
    files = [path for root in roots for path in ([root] if root.is_file() else sorted(root.rglob("*.py")))]
    calls = {call for path in files for call in boto_calls(path.read_text())}
    assert ("rds", "CreateDBSnapshot") in calls, "the safety snapshot's calls were found"
    assert not uncovered(calls, "migrate")


def test_the_checks_can_fail() -> None:
    calls, _ = discovery_calls(
        'def f(self, region):\n    self.call("s3", "delete_bucket", region, Bucket="b")\n'
    )
    assert uncovered(calls, "discover") == ["s3.DeleteBucket needs s3:DeleteBucket"]
    _, dynamic = discovery_calls("def f(self, op, region):\n    self.call('s3', op, region)\n", "x.py")
    assert dynamic == ["x.py:2"]
    snippet = (
        "import boto3\ns3 = boto3.client('s3')\ns3.delete_object(Bucket='b', Key='k')\n"
        "s3.get_paginator('list_objects_v2')\nboto3.client('dynamodb').scan(TableName='t')\n"
        "target.put_object(Bucket='b', Key='k', Body=b'')\n"
    )
    assert uncovered(boto_calls(snippet), "migrate") == [
        "dynamodb.Scan needs dynamodb:Scan",
        "s3.DeleteObject needs s3:DeleteObject",
    ]


def test_only_the_session_module_talks_to_boto3() -> None:
    importers = []
    for path in sorted((REPO / "toolkit" / "discovery").rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            if any(name.split(".")[0] in ("boto3", "botocore") for name in names):
                importers.append(str(path.relative_to(REPO)))
    assert sorted(set(importers)) == ["toolkit/discovery/session.py"]


def test_policies_are_printed(capsys: pytest.CaptureFixture[str], spec_dir: Path) -> None:
    for command in ("discover", "migrate"):
        with pytest.raises(SystemExit) as exit_:
            main(["discover", "--iam-policy", command])
        assert exit_.value.code == 0
        assert json.loads(capsys.readouterr().out) == iam.policy_document(command)
    with pytest.raises(SystemExit):
        main(["discover", "--iam-policy", "migrate", "--spec", str(spec_dir / "service.yaml")])
    scoped = json.loads(capsys.readouterr().out)
    resources = {s["Sid"]: s["Resource"] for s in scoped["Statement"]}
    assert resources["CopyTheObjects"] == ["arn:aws:s3:::refservice-files", "arn:aws:s3:::refservice-files/*"]
    assert resources["ReadTheDatabaseInstance"] == "arn:aws:rds:us-east-1:*:db:refservice-db"
    assert all(
        action.split(":")[1].startswith(("Describe", "List", "Get", "GET"))
        for action in iam.actions("discover")
    ), "discover must only read"


def test_discover_needs_a_source_and_an_account(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["discover"])
    assert exit_.value.code == 2
    assert "--from aws" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["discover", "--from", "aws", "--bandwidth", "fast"])
    assert exit_.value.code == 2
    assert "--bandwidth 'fast' is not a bandwidth" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["discover", "--from", "aws", "--region", "eu-west-1", "--region", "Atlantis"])
    assert exit_.value.code == 2
    assert "--region 'Atlantis' is not an AWS region like eu-west-1" in capsys.readouterr().err
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "a-key-for-nothing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "a-secret-for-nothing")
    with pytest.raises(SystemExit) as exit_:
        main(["discover", "--from", "aws", "--endpoint", "http://127.0.0.1:9", "-o", str(tmp_path / "d.yml")])
    assert exit_.value.code == 3
    assert "cannot reach the AWS APIs: Could not connect to the endpoint URL" in capsys.readouterr().err
    assert not (tmp_path / "d.yml").exists()
