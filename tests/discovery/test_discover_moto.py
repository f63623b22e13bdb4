"""``discover`` against a moto account of this module's own: supported and unsupported services,
a denied call, throttling, and more resources than a page holds.

A denied call and throttling are made with botocore event hooks on the discovery session: the
request goes through the real client (parameter validation, signing, retry handler, response
parsing) and comes back as the error an AWS endpoint sends. ``before-call`` answers for the
endpoint (a 403 AccessDenied, so no retry, as AWS does); ``before-send`` replaces the HTTP
answer, so botocore's standard retry mode sees the throttling and backs off as it would live.
"""

from __future__ import annotations

import concurrent.futures
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from botocore.awsrequest import AWSResponse

from tests.discovery.seed import ALTERNATIVES, REGION, SECRET_VALUE, UNSUPPORTED, ZONE, seed_account
from tests.fixtures.moto import MOTO_CREDENTIALS, moto_client
from tests.stacks.specdir import make_spec
from toolkit import interface
from toolkit.discovery import Discovery, discover, iam
from toolkit.discovery.draft import Wiring
from toolkit.discovery.session import DiscoverySession
from toolkit.spec import Secret
from toolkit.targets.aws.clients import AwsAccess

TOOLKIT = Path(sys.executable).parent / "toolkit"


@pytest.fixture(scope="module")
def account(moto_account: str) -> dict[str, Any]:
    seeded = seed_account(moto_account)
    return {"endpoint": moto_account, **seeded}


def session_for(endpoint: str, **settings: Any) -> DiscoverySession:
    access = AwsAccess(
        REGION,
        endpoint,
        Secret(MOTO_CREDENTIALS["AWS_ACCESS_KEY_ID"]),
        Secret(MOTO_CREDENTIALS["AWS_SECRET_ACCESS_KEY"]),
        max_attempts=settings.pop("attempts", 5),
    )
    return DiscoverySession(access, **settings)


def run(session: DiscoverySession, **options: Any) -> Discovery:
    wiring = Wiring(
        region=REGION,
        endpoint=session.access.endpoint,
        credentials={
            "access_key_id": {"env": "AWS_ACCESS_KEY_ID"},
            "secret_access_key": {"env": "AWS_SECRET_ACCESS_KEY"},
        },
    )
    return discover(session, [REGION], wiring, **options)


def row(result: Discovery, service: str) -> dict[str, Any]:
    rows = {r["service"]: r for r in result.report.to_json()["services"]}
    assert service in rows, f"{service} not in the report: {sorted(rows)}"
    return rows[service]


def test_account_with_supported_and_unsupported_services(account: dict[str, Any], tmp_path: Path) -> None:
    user_spec = tmp_path / "service.yaml"
    user_spec.write_text("# the user's own spec, never overwritten\n")
    env = {**MOTO_CREDENTIALS, "SHOP_DB_PASSWORD": "p1", "SHOP_DB_ADMIN_PASSWORD": "p2"}
    discover_args = ["--region", REGION, "--bandwidth", "8Mbit/s", "-o", str(user_spec), "--json"]
    done = toolkit_cli(
        "discover", "--from", "aws", "--endpoint", account["endpoint"], *discover_args, env=env, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    report = result["report"]

    # Every unsupported service is listed as needing a plan; the alternatives with their caveat.
    assert set(UNSUPPORTED) <= set(report["unsupported"])
    services = {r["service"]: r for r in report["services"]}
    for name in UNSUPPORTED:
        assert services[name]["baremetal"] == "none: needs a plan"
    for name in ALTERNATIVES:
        assert services[name]["status"] == "alternative", services[name]
    for name in ("KMS", "RDS (other)"):  # alternatives in the table, but no role takes them over
        assert services[name]["baremetal"] == "none: needs a plan"
    for name in (
        "EC2",
        "EC2 Auto Scaling",
        "Application Load Balancer",
        "RDS for PostgreSQL",
        "S3",
        "Route53",
        "VPC networking",
    ):
        assert services[name]["status"] in ("equivalent", "supporting"), services[name]
    assert services["DynamoDB"]["items"] == 3 and services["SQS"]["items"] == 1
    assert "S3 bucket shop-private (SSE-KMS)" in report["kms_encrypted"]
    # A service no reader knows, found through the tagging API, is there for review.
    assert services["AWS::events::EventBus"]["status"] == "review"
    assert services["AWS::events::EventBus"]["names"] == ["shop-bus"]

    # Data volumes and the exit time at 8 Mbit/s = 1 MB/s.
    buckets = {r["name"]: r for r in result["inventory"]["resources"] if r["type"] == "AWS::S3::Bucket"}
    assert {name: buckets[name]["bytes"] for name in account["bucket_bytes"]} == account["bucket_bytes"]
    assert report["data"]["bytes"] == sum(r["bytes"] or 0 for r in report["services"])
    assert report["data"]["exit_seconds"] == pytest.approx(report["data"]["bytes"] / 1e6, abs=0.1)

    # The draft is beside the user's file, validates, and marks its guesses on their lines.
    assert user_spec.read_text() == "# the user's own spec, never overwritten\n"
    draft = Path(result["draft"]["path"])
    assert draft == tmp_path / "service.discovered.yaml"
    (tmp_path / "start").write_text("")  # nothing else is needed: app.source is the draft's folder
    validated = toolkit_cli("validate", "--spec", str(draft), env=env)
    assert validated.returncode == 0, validated.stdout + validated.stderr + draft.read_text()
    text = draft.read_text()
    for guessed in (
        "  name: shop  # guessed",
        "  source: .  # guessed",
        "  command: ",
        "    name: shop  # guessed",
    ):
        assert any(line.startswith(guessed) and "# guessed" in line for line in text.splitlines()), guessed
    for known in (
        "  version: 15",
        "  port: 8000",
        "  health_path: /health",
        "  - {name: shop-files, versioning: true}",
    ):
        line = next(line for line in text.splitlines() if line.startswith(known))
        assert "guessed" not in line, line
    assert "  - {name: '@', type: A, target: app, ttl: 300}  # guessed: an alias record has no TTL" in text
    assert "{name: '@', type: TXT, values: [v=spf1 -all], ttl: 3600}" in text
    assert "db_instance: shop-db" in text and f"hosted_zone_id: {account['zone_id']}" in text
    # RDS's automated backups become the spec's database.backups, as the API reports them.
    rds = moto_client(account["endpoint"], "rds", REGION)
    [shop_db] = rds.describe_db_instances(DBInstanceIdentifier="shop-db")["DBInstances"]
    assert shop_db["BackupRetentionPeriod"] >= 1
    assert yaml.safe_load(text)["database"]["backups"] == {
        "retention_days": shop_db["BackupRetentionPeriod"],
        "window": shop_db["PreferredBackupWindow"],
    }
    # Credentials are references; no value read from the account lands anywhere.
    assert "access_key_id: {env: AWS_ACCESS_KEY_ID}" in text
    for value in (MOTO_CREDENTIALS["AWS_SECRET_ACCESS_KEY"], SECRET_VALUE, "never-read-1234"):
        assert value not in text and value not in done.stdout and value not in done.stderr
    assert result["complete"] is True and not report["not_read"]
    # A run of its own keeps the result (the canary guard scans it for secrets).
    import os

    kept = Path(os.environ["TOOLKIT_STATE_DIR"]) / "runs" / result["run_id"] / "discovery.json"
    assert json.loads(kept.read_text())["report"] == report


def test_the_table_on_a_terminal(account: dict[str, Any], tmp_path: Path) -> None:
    done = toolkit_cli(
        "discover",
        "--from",
        "aws",
        "--endpoint",
        account["endpoint"],
        "-o",
        str(tmp_path / "draft.yaml"),
        env={**MOTO_CREDENTIALS, "COLUMNS": "200"},
    )
    assert done.returncode == 0, done.stderr
    assert "AWS service" in done.stdout and "none: needs a plan" in done.stdout
    assert "No bare-metal equivalent, needs a plan: Cognito, DynamoDB, Lambda, SNS, SQS" in done.stdout
    assert f"Draft spec written to {tmp_path / 'draft.yaml'}" in done.stdout


def test_every_call_made_is_in_the_discover_policy(account: dict[str, Any]) -> None:
    made: set[str] = set()
    for storage_metrics in (False, True):  # buckets listed, then sized from CloudWatch
        session = session_for(account["endpoint"])
        result = run(session, storage_metrics=storage_metrics)
        made |= {iam.iam_action(service, operation) for service, operation in session.calls}
        [files] = [b for b in result.inventory.of_type("AWS::S3::Bucket") if b.name == "shop-files"]
        source = "CloudWatch storage metrics" if storage_metrics else "listing"
        assert (files.items, files.size_source) == (2, source)  # moto's metrics count objects, not bytes
    assert made, "no call was recorded: the check would prove nothing"
    assert made <= iam.actions("discover"), sorted(made - iam.actions("discover"))
    # Every family was read, so the policy is the calls and nothing more (least privilege).
    assert made == iam.actions("discover"), sorted(iam.actions("discover") - made)


def test_a_denied_call_is_named_and_the_rest_is_read(account: dict[str, Any]) -> None:
    session = session_for(account["endpoint"])
    denied = {("route53", "ListResourceRecordSets"), ("dynamodb", "ListTables"), ("s3", "ListObjectsV2")}

    def deny(model: Any, **_: Any) -> Any:
        if (model.service_model.service_name, model.name) in denied:
            body = {
                "Error": {"Code": "AccessDenied", "Message": f"not authorized to perform {model.name}"},
                "ResponseMetadata": {"HTTPStatusCode": 403},
            }
            return AWSResponse("https://denied.invalid/", 403, {}, None), body
        return None

    session.events.register("before-call", deny)
    result = run(session)
    gaps = {(g.action, g.subject, g.kind) for g in result.inventory.gaps}
    assert ("route53:ListResourceRecordSets", f"records of zone {ZONE}", "denied") in gaps
    assert ("dynamodb:ListTables", "DynamoDB resources", "denied") in gaps
    assert ("s3:ListBucket", "objects of bucket shop-files", "denied") in gaps
    assert not result.complete
    # The rest is still there: the zone (without records), the buckets, RDS, the other services.
    names = {(r.type, r.name) for r in result.inventory.resources}
    assert {
        ("AWS::Route53::HostedZone", ZONE),
        ("AWS::S3::Bucket", "shop-files"),
        ("AWS::RDS::DBInstance", "shop-db"),
        ("AWS::SQS::Queue", "shop-orders"),
    } <= names
    assert not any(t == "AWS::DynamoDB::Table" for t, _ in names)
    # The report and the draft say what is missing.
    assert any("records of zone shop.example." in line for line in result.report.to_json()["not_read"])
    [incomplete] = [line for line in result.draft.text.splitlines() if line.startswith("# Incomplete: ")]
    assert "records of zone shop.example. (denied)" in incomplete


def test_throttling_is_retried_with_backoff(account: dict[str, Any]) -> None:
    session = session_for(account["endpoint"])
    attempts = _throttle(session, "ListHostedZones", times=2)
    result = run(session)
    assert len(attempts) == 3  # two throttled answers, then the real one
    assert result.complete, [str(g) for g in result.inventory.gaps]
    assert any(r.name == ZONE for r in result.inventory.of_type("AWS::Route53::HostedZone"))


def test_throttling_past_the_retries_is_a_gap(account: dict[str, Any]) -> None:
    session = session_for(account["endpoint"], attempts=2)
    attempts = _throttle(session, "ListHostedZones", times=100)
    result = run(session)
    assert len(attempts) == 2
    [gap] = [g for g in result.inventory.gaps if g.subject == "hosted zones"]
    assert gap.kind == "throttled" and "Rate exceeded" in gap.message and "1 retries" in gap.message
    assert gap.action == "route53:ListHostedZones"
    assert result.inventory.of_type("AWS::S3::Bucket")  # the rest was read


def test_more_than_a_page_is_all_counted(account: dict[str, Any]) -> None:
    route53 = moto_client(account["endpoint"], "route53")
    zone = route53.create_hosted_zone(Name="big.example.", CallerReference="big")["HostedZone"]["Id"]
    route53.change_resource_record_sets(
        HostedZoneId=zone,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "CREATE",
                    "ResourceRecordSet": {
                        "Name": f"host{i}.big.example.",
                        "Type": "A",
                        "TTL": 60,
                        "ResourceRecords": [{"Value": f"192.0.2.{i % 250 + 1}"}],
                    },
                }
                for i in range(250)
            ]
        },
    )
    s3 = moto_client(account["endpoint"], "s3")
    s3.create_bucket(Bucket="many-objects")
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        list(
            pool.map(
                lambda i: s3.put_object(Bucket="many-objects", Key=f"k/{i:05d}", Body=b"x" * (i % 7)),
                range(1100),
            )
        )
    session = session_for(account["endpoint"], page_size=100)
    result = run(session)
    assert result.complete, [str(g) for g in result.inventory.gaps]
    [big] = [z for z in result.inventory.of_type("AWS::Route53::HostedZone") if z.name == "big.example."]
    assert big.items == 252  # 250 records, the SOA and the NS set
    [bucket] = [b for b in result.inventory.of_type("AWS::S3::Bucket") if b.name == "many-objects"]
    assert (bucket.items, bucket.bytes, bucket.size_source) == (
        1100,
        sum(i % 7 for i in range(1100)),
        "listing",
    )
    # Pages were really followed: at 100 per page, 11 listings for the bucket alone.
    assert session.calls[("s3", "ListObjectsV2")] >= 11
    assert session.calls[("route53", "ListResourceRecordSets")] >= 3


def _throttle(session: DiscoverySession, operation: str, *, times: int) -> list[str]:
    """Answer ``operation``'s first ``times`` attempts with Route53's throttling error."""
    attempts: list[str] = []

    def answer(request: Any, **_: Any) -> Any:
        attempts.append(request.url)
        if len(attempts) > times:
            return None
        body = (
            b'<?xml version="1.0"?><ErrorResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/">'
            b"<Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error>"
            b"<RequestId>throttled</RequestId></ErrorResponse>"
        )
        return AWSResponse(request.url, 400, {"Content-Type": "text/xml"}, _Raw(body))

    session.events.register(f"before-send.route53.{operation}", answer)
    return attempts


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Any:
        yield self.body


def toolkit_cli(*args: str, env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``toolkit ARGS`` with ``env`` and none of this machine's own AWS settings."""
    import os

    clean = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return subprocess.run(
        [str(TOOLKIT), *args], capture_output=True, text=True, env={**clean, **env}, cwd=cwd, timeout=300
    )


def test_with_a_spec_the_draft_goes_beside_it(
    account: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = make_spec(tmp_path / "spec", monkeypatch)
    before = spec.read_text()
    result = interface.discover("aws", spec_path=spec, endpoint=account["endpoint"])
    assert result.draft.path == spec.parent / "service.discovered.yaml"
    assert spec.read_text() == before
    # The spec's own credentials (environment variables), not values.
    assert "secret_access_key: {env: AWS_SECRET_ACCESS_KEY}" in result.draft.path.read_text()
