"""The AWS program under Pulumi's mock runtime: resource types and the properties that matter.

Each run executes stacks/aws/__main__.py in a fresh context (``run_offline``), so runs with
different stack config do not share Pulumi's global state.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.stacks.specdir import REPO, SECRET_VALUES, make_spec
from toolkit.spec import load_spec
from toolkit.targets.aws.offline import OfflineRun, RecordedResource, run_offline
from toolkit.targets.aws.program import StackConfig, stack_dir

SG_INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
MIGRATION_CIDR = "203.0.113.0/24"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, OfflineRun]]:
    with pytest.MonkeyPatch.context() as mp:
        loaded = load_spec(make_spec(tmp_path_factory.mktemp("spec"), mp))
        yield {
            "default": run_offline(StackConfig.from_spec(loaded)),
            "migration": run_offline(StackConfig.from_spec(loaded, migration_ingress_cidr=MIGRATION_CIDR)),
        }


@pytest.fixture
def run(runs: dict[str, OfflineRun]) -> OfflineRun:
    return runs["default"]


def one(run: OfflineRun, type_: str) -> RecordedResource:
    found = run.of_type(type_)
    assert len(found) == 1, f"{type_}: {[r.name for r in found]}"
    return found[0]


def group_of(run: OfflineRun, sg_id: str | None) -> str | None:
    for group in run.of_type("aws:ec2/securityGroup:SecurityGroup"):
        if f"{group.name}-id" == sg_id:
            return group.inputs["tags"]["toolkit:group"]
    return None


def test_every_component_is_a_component_resource(run: OfflineRun) -> None:
    components = {r.type for r in run.resources if r.component}
    assert {
        "toolkit:aws:Service",
        "toolkit:aws:Network",
        "toolkit:aws:AppServers",
        "toolkit:aws:LoadBalancer",
        "toolkit:aws:Database",
        "toolkit:aws:Objects",
        "toolkit:aws:Dns",
    } <= components
    by_key = {r.key: r for r in run.resources}
    rds = one(run, "aws:rds/instance:Instance")
    assert by_key[rds.parent or ""].type == "toolkit:aws:Database"


def test_database_is_encrypted_backed_up_at_the_spec_version(run: OfflineRun) -> None:
    db = one(run, "aws:rds/instance:Instance").inputs
    assert db["engine"] == "postgres" and db["engineVersion"] == "15"
    assert db["storageEncrypted"] is True
    assert db["backupRetentionPeriod"] == 7 and db["backupWindow"] == "03:00-04:00"
    assert db["port"] == 5432 and db["dbName"] == "refservice"
    assert db["identifier"] == "refservice-db"
    assert db["publiclyAccessible"] is False
    assert db["password"] == "[secret]"


def test_automated_backups_follow_the_spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    database = yaml.safe_load((REPO / "service.yaml").read_text())["database"]
    database["backups"] = {"retention_days": 14, "window": "05:00-05:45"}
    loaded = load_spec(make_spec(tmp_path, monkeypatch, database=database))
    db = one(run_offline(StackConfig.from_spec(loaded)), "aws:rds/instance:Instance").inputs
    assert db["backupRetentionPeriod"] == 14
    assert db["backupWindow"] == "05:00-05:45"
    # The spec is the one source: the stack config has no retention of its own any more.
    config = yaml.safe_load((stack_dir() / "Pulumi.yaml").read_text())["config"]
    assert not any("backup" in key.lower() for key in config)


def test_logical_replication_is_set_for_the_next_reboot(run: OfflineRun) -> None:
    group = one(run, "aws:rds/parameterGroup:ParameterGroup")
    assert group.inputs["family"] == "postgres15"
    assert {"name": "rds.logical_replication", "value": "1", "applyMethod": "pending-reboot"} in group.inputs[
        "parameters"
    ]
    assert one(run, "aws:rds/instance:Instance").inputs["parameterGroupName"] == group.name


def test_buckets_are_versioned_encrypted_and_private(run: OfflineRun) -> None:
    buckets = {f"{b.name}-id": b.inputs.get("bucket") for b in run.of_type("aws:s3/bucket:Bucket")}
    assert "refservice-files" in buckets.values()

    def per_bucket(type_: str) -> dict[str, dict]:
        return {buckets[r.inputs["bucket"]] or r.inputs["bucket"]: r.inputs for r in run.of_type(type_)}

    blocks = per_bucket("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    encryption = per_bucket(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    )
    versioning = per_bucket("aws:s3/bucketVersioning:BucketVersioning")
    assert len(blocks) == len(encryption) == len(versioning) == len(buckets)  # the artifacts bucket too
    for block in blocks.values():
        assert all(
            block[key] is True
            for key in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
        )
    for config in encryption.values():
        assert config["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"
    assert versioning["refservice-files"]["versioningConfiguration"]["status"] == "Enabled"


def test_security_groups_are_least_privilege(run: OfflineRun) -> None:
    rules = [
        (
            group_of(run, r.inputs["securityGroupId"]),
            r.inputs["fromPort"],
            r.inputs["toPort"],
            r.inputs.get("cidrIpv4") or group_of(run, r.inputs.get("referencedSecurityGroupId")),
        )
        for r in run.of_type(SG_INGRESS)
    ]
    assert sorted(rules) == [
        ("alb", 80, 80, "0.0.0.0/0"),
        ("alb", 443, 443, "0.0.0.0/0"),
        ("app", 8000, 8001, "alb"),
        ("db", 5432, 5432, "app"),
    ]
    open_to_all = {group for group, *_, source in rules if source == "0.0.0.0/0"}
    assert open_to_all == {"alb"}
    template = one(run, "aws:ec2/launchTemplate:LaunchTemplate").inputs
    assert [group_of(run, g) for g in template["vpcSecurityGroupIds"]] == ["app"]
    assert template["metadataOptions"]["httpTokens"] == "required"
    assert template["blockDeviceMappings"][0]["ebs"]["encrypted"] == "true"
    assert "networkInterfaces" not in template  # no public address: the group's subnets are private
    subnets = run.of_type("aws:ec2/subnet:Subnet")
    private = {f"{s.name}-id" for s in subnets if s.inputs["tags"]["tier"] == "private"}
    assert set(one(run, "aws:autoscaling/group:Group").inputs["vpcZoneIdentifiers"]) == private
    bootstrap = one(run, "aws:ec2/instance:Instance").inputs
    assert [group_of(run, g) for g in bootstrap["vpcSecurityGroupIds"]] == ["app"]
    assert bootstrap["associatePublicIpAddress"] is False and bootstrap["subnetId"] in private
    assert bootstrap["metadataOptions"]["httpTokens"] == "required"
    assert bootstrap["rootBlockDevice"]["encrypted"] is True


def test_migration_ingress_is_off_by_default_and_on_by_config(runs: dict[str, OfflineRun]) -> None:
    def migration_rules(run: OfflineRun) -> list[dict]:
        return [r.inputs for r in run.of_type(SG_INGRESS) if r.inputs.get("cidrIpv4") == MIGRATION_CIDR]

    assert migration_rules(runs["default"]) == []
    assert runs["default"].outputs["migrationIngressCidr"] == ""
    [rule] = migration_rules(runs["migration"])
    assert group_of(runs["migration"], rule["securityGroupId"]) == "db"
    assert (rule["fromPort"], rule["toPort"], rule["ipProtocol"]) == (5432, 5432, "tcp")
    assert one(runs["migration"], "aws:rds/instance:Instance").inputs["publiclyAccessible"] is True
    assert runs["migration"].outputs["migrationIngressCidr"] == MIGRATION_CIDR


def test_alb_serves_https_with_the_imported_certificate_and_redirects_http(run: OfflineRun) -> None:
    certificate = one(run, "aws:acm/certificate:Certificate").inputs
    assert certificate["privateKey"] == "[secret]"
    assert certificate["certificateBody"].startswith("-----BEGIN CERTIFICATE-----")
    assert "domainName" not in certificate  # imported, not ACM-issued
    listeners = {r.inputs["port"]: r.inputs for r in run.of_type("aws:lb/listener:Listener")}
    assert listeners[443]["protocol"] == "HTTPS" and listeners[443]["certificateArn"]
    assert listeners[443]["defaultActions"][0]["type"] == "forward"
    redirect = listeners[80]["defaultActions"][0]
    assert redirect["type"] == "redirect" and redirect["redirect"]["protocol"] == "HTTPS"
    groups = run.of_type("aws:lb/targetGroup:TargetGroup")
    assert sorted(g.inputs["port"] for g in groups) == [8000, 8001]  # every app process is a target
    assert {g.inputs["healthCheck"]["path"] for g in groups} == {"/healthz"}
    forwarded = listeners[443]["defaultActions"][0]["forward"]["targetGroups"]
    scaling = one(run, "aws:autoscaling/group:Group").inputs
    arns = {g.name: f"arn:aws:targetgroup:us-east-1:123456789012:{g.name}" for g in groups}
    assert sorted(t["arn"] for t in forwarded) == sorted(scaling["targetGroupArns"]) == sorted(arns.values())
    assert scaling["healthCheckType"] == "ELB" and scaling["desiredCapacity"] == 2


def test_dns_records_point_at_the_load_balancer(run: OfflineRun) -> None:
    assert one(run, "aws:route53/zone:Zone").inputs["name"] == "refservice.example"
    records = {
        (r.inputs["name"], r.inputs["type"]): r.inputs for r in run.of_type("aws:route53/record:Record")
    }
    apex = records[("refservice.example", "A")]
    assert apex["aliases"][0]["name"].endswith(".elb.amazonaws.com")
    assert "records" not in apex
    assert records[("www.refservice.example", "CNAME")]["records"] == ["refservice.example."]
    assert records[("refservice.example", "MX")]["records"] == ["10 mail.refservice.example."]


def user_data(run: OfflineRun) -> tuple[str, str]:
    """(the app servers' user data, the bootstrap's)."""
    template = one(run, "aws:ec2/launchTemplate:LaunchTemplate").inputs
    bootstrap = one(run, "aws:ec2/instance:Instance").inputs
    return base64.b64decode(template["userData"]).decode(), bootstrap["userData"]


def test_user_data_installs_and_starts_the_app_without_secrets(run: OfflineRun) -> None:
    app, bootstrap = user_data(run)
    assert "systemctl enable --now refservice@8000.service refservice@8001.service" in app
    assert "ExecStart=/usr/bin/env gunicorn --bind 0.0.0.0:%i" in app
    assert "parameter /refservice/refservice/database/owner-password /run/refservice-boot/" in app
    assert 'REFSERVICE_DATABASE_URL="host=refservice-db.mock' in app
    # The app waits for the bootstrap to have prepared its release.
    release = run.outputs["appRelease"]
    assert f"wait-parameter /refservice/refservice/bootstrap/release {release}" in app
    for script in (app, bootstrap):
        for value in SECRET_VALUES.values():
            assert value not in script


def test_bootstrap_makes_the_owner_extensions_and_schema_once(run: OfflineRun) -> None:
    _, bootstrap = user_data(run)
    assert "parameter /refservice/refservice/bootstrap/admin-password /run/refservice-boot/" in bootstrap
    assert "-U toolkit_admin -d refservice" in bootstrap
    for statement in ("CREATE ROLE %I LOGIN", 'GRANT :"owner" TO :"admin"', 'ALTER DATABASE :"dbname" OWNER',
                      'CREATE EXTENSION IF NOT EXISTS "pgcrypto"'):
        assert statement in bootstrap
    assert "ExecStart=/usr/bin/env python3 -m refservice.schema" in bootstrap
    assert "systemctl start refservice-schema.service" in bootstrap
    assert bootstrap.index("refservice-schema.service\n") < bootstrap.index("fetch put-parameter")
    assert one(run, "aws:ec2/instance:Instance").inputs["userDataReplaceOnChange"] is True
    # Once per service: one bootstrap instance, however many app servers.
    assert len(run.of_type("aws:ec2/instance:Instance")) == 1


def test_a_new_release_rolls_through_the_group(run: OfflineRun, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    release = run.outputs["appRelease"]
    archive = one(run, "aws:s3/bucketObjectv2:BucketObjectv2").inputs["key"]
    assert archive == f"app/refservice-{release}.zip"
    app, bootstrap = user_data(run)
    assert archive in app and archive in bootstrap
    refresh = one(run, "aws:autoscaling/group:Group").inputs["instanceRefresh"]
    assert refresh["strategy"] == "Rolling"
    assert refresh["preferences"]["minHealthyPercentage"] == 100  # launch before terminate
    assert refresh["preferences"]["maxHealthyPercentage"] == 200
    # Changed code: another release, hence another launch template and bootstrap.
    spec = make_spec(tmp_path, monkeypatch)
    (spec.parent / "refservice" / "changed.py").write_text("VERSION = 2\n")
    changed = run_offline(StackConfig.from_spec(load_spec(spec)))
    assert changed.outputs["appRelease"] != release
    assert user_data(changed)[0] != app


def test_outputs_give_the_orchestrator_its_endpoints(run: OfflineRun) -> None:
    outputs = run.outputs
    for key in (
        "albDnsName",
        "albZoneId",
        "dbAddress",
        "dbPort",
        "dbInstanceIdentifier",
        "bucketNames",
        "hostedZoneId",
        "nameServers",
        "vpcId",
        "appAutoScalingGroup",
        "appRelease",
        "bootstrapInstanceId",
        "dbRebootRequiredFor",
    ):
        assert outputs.get(key) not in (None, "", []), key
    assert outputs["bucketNames"] == ["refservice-files"]
    assert outputs["dbPort"] == 5432
    assert outputs["dbRebootRequiredFor"] == ["rds.logical_replication"]


def test_migration_ingress_must_not_be_the_whole_internet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from toolkit.errors import BadInput

    loaded = load_spec(make_spec(tmp_path, monkeypatch))
    with pytest.raises(BadInput, match="migrationIngressCidr"):
        run_offline(StackConfig.from_spec(loaded, migration_ingress_cidr="0.0.0.0/0"))
