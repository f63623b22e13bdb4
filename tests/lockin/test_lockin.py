"""The lock-in linter: AWS resources and spec features without a bare-metal equivalent."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.stacks.specdir import make_spec
from toolkit.lockin import AwsResource, equivalent_of, lint, lint_spec
from toolkit.spec import load_spec
from toolkit.targets.aws.offline import run_offline
from toolkit.targets.aws.program import StackConfig


def test_services_without_an_equivalent_are_blockers() -> None:
    report = lint(
        [
            "aws:dynamodb/table:Table",
            "aws:sqs/queue:Queue",
            "aws:lambda/function:Function",
            "aws:cognito/userPool:UserPool",
            "aws:sns/topic:Topic",
            "aws:kinesis/stream:Stream",
            AwsResource(
                "aws:acm/certificate:Certificate",
                "issued",
                {"domainName": "example.com", "validationMethod": "DNS"},
            ),
        ]
    )
    assert report.ok is False
    subjects = [f.subject for f in report.blockers]
    assert subjects == [
        "aws:dynamodb/table:Table",
        "aws:sqs/queue:Queue",
        "aws:lambda/function:Function",
        "aws:cognito/userPool:UserPool",
        "aws:sns/topic:Topic",
        "aws:kinesis/stream:Stream",
        "aws:acm/certificate:Certificate issued",
    ]
    assert "cannot be exported" in report.blockers[-1].message


def test_cloudformation_names_are_understood_too() -> None:
    report = lint(["AWS::DynamoDB::Table", "AWS::RDS::DBInstance", "AWS::S3::Bucket"])
    assert [f.subject for f in report.findings] == ["AWS::DynamoDB::Table"]


def test_an_imported_certificate_is_fine_and_aurora_is_a_caveat() -> None:
    imported = AwsResource("aws:acm/certificate:Certificate", "imported", {"certificateBody": "PEM"})
    entry = equivalent_of(imported)
    assert entry is not None and entry.status == "equivalent"
    report = lint([imported, AwsResource("aws:rds/cluster:Cluster", "aurora"), "aws:foo/bar:Baz"])
    assert [(f.subject, f.severity) for f in report.findings] == [
        ("aws:rds/cluster:Cluster aurora", "caveat"),
        ("aws:foo/bar:Baz", "review"),
    ]
    assert report.ok is True


def test_the_stacks_own_resources_are_not_flagged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    loaded = load_spec(make_spec(tmp_path, monkeypatch))
    run = run_offline(StackConfig.from_spec(loaded))
    report = lint([AwsResource(r.type, r.name, r.inputs) for r in run.resources], loaded.spec)
    assert report.findings == []
    assert report.checked > 50


def test_spec_features_tied_to_aws_are_flagged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = load_spec(make_spec(tmp_path, monkeypatch), check_environment=False).spec
    tied = spec.model_copy(
        update={
            "tls": None,
            "database": spec.database.model_copy(update={"extensions": ["pgcrypto", "aws_s3"]}),
            "app": spec.app.model_copy(
                update={"environment": {"QUEUE": "https://sqs.us-east-1.amazonaws.com/1/q"}}
            ),
        }
    )
    findings = {f.subject: f.severity for f in lint_spec(tied)}
    assert findings == {
        "database.extensions: aws_s3": "blocker",
        "tls": "caveat",
        "app.environment.QUEUE": "caveat",
    }
