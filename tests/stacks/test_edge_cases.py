"""What would fail a real ``pulumi up`` but not the mocks, checked on what the mocks do see
(issue 16, items 8 to 10): name lengths, an IPv6 ingress, the spec key's default, the order of
a bucket's access settings, availability choices, and no secret in any recorded input."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import yaml

from tests.stacks.specdir import REPO, SECRET_VALUES, make_spec, tls_pair
from toolkit.errors import BadInput
from toolkit.spec import load_spec
from toolkit.targets.aws.ingress import check_cidr
from toolkit.targets.aws.offline import OfflineRun, run_offline
from toolkit.targets.aws.program import StackConfig, importable, stack_dir

BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
LONG_SERVICE = "a-service-name-of-forty-characters-long"  # the longest the spec allows is 40


def offline(tmp_path: Path, mp: pytest.MonkeyPatch, **changes: object) -> OfflineRun:
    return run_offline(StackConfig.from_spec(load_spec(make_spec(tmp_path, mp, **changes))))


def sample(section: str) -> dict:
    return yaml.safe_load((REPO / "service.yaml").read_text())[section]


def test_load_balancer_names_fit_awss_32_characters(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    importable(stack_dir())
    from service_stack.load_balancer import AUTONAME_SUFFIX, NAME_LIMIT, autoname_base

    assert len(LONG_SERVICE) == 39
    run = offline(tmp_path, monkeypatch, service={"name": LONG_SERVICE})
    named = run.of_type("aws:lb/loadBalancer:LoadBalancer") + run.of_type("aws:lb/targetGroup:TargetGroup")
    assert len(named) == 3
    for resource in named:  # Pulumi names them <logical name>-<7 random characters>
        assert len(resource.name) + AUTONAME_SUFFIX <= NAME_LIMIT, resource.name
        assert "name" not in resource.inputs
    assert len({r.name for r in named}) == 3
    assert autoname_base("short-lb-alb") == "short-lb-alb"  # short names stay as they were


def test_an_ipv6_migration_cidr_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    loaded = load_spec(make_spec(tmp_path, monkeypatch))
    with pytest.raises(BadInput, match="IPv6"):
        run_offline(StackConfig.from_spec(loaded, migration_ingress_cidr="2001:db8::/64"))
    with pytest.raises(ValueError, match="IPv6"):
        check_cidr("2001:db8::/64")
    assert check_cidr("198.51.100.7/32") == "198.51.100.7/32"


def test_the_spec_key_has_a_default_so_toolkit_spec_applies() -> None:
    config = yaml.safe_load((stack_dir() / "Pulumi.yaml").read_text())["config"]
    assert config["spec"]["default"] == ""  # a required key would never reach $TOOLKIT_SPEC
    importable(stack_dir())
    from service_stack.settings import StackSettings

    class Config:
        def get(self, key: str) -> str | None:
            return {"spec": ""}.get(key)

        def get_int(self, key: str) -> int | None:
            return None

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TOOLKIT_SPEC", "/somewhere/service.yaml")
        assert StackSettings.from_config(Config()).spec_path == Path("/somewhere/service.yaml")  # type: ignore[arg-type]


def test_bucket_policy_waits_for_the_public_access_block(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = offline(tmp_path, monkeypatch)
    policies = run.of_type("aws:s3/bucketPolicy:BucketPolicy")
    assert len(policies) == 2  # the data bucket and the artifacts bucket
    for policy in policies:
        bucket = policy.name.removesuffix("-tls-only")
        assert f"{BLOCK}::{bucket}-public-access" in policy.dependencies


def test_nat_per_zone_s3_endpoint_and_multi_az_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = offline(tmp_path, monkeypatch)
    nats = run.of_type("aws:ec2/natGateway:NatGateway")
    assert sorted(n.inputs["subnetId"] for n in nats) == ["refservice-network-public-0-id",
                                                          "refservice-network-public-1-id"]
    private = [t for t in run.of_type("aws:ec2/routeTable:RouteTable") if "private" in t.name]
    routes = sorted(t.inputs["routes"][0]["natGatewayId"] for t in private)
    assert routes == sorted(f"{n.name}-id" for n in nats)  # each zone through its own
    [endpoint] = run.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")
    assert endpoint.inputs["serviceName"] == "com.amazonaws.us-east-1.s3"
    assert endpoint.inputs["vpcEndpointType"] == "Gateway"
    assert sorted(endpoint.inputs["routeTableIds"]) == sorted(f"{t.name}-id" for t in private)
    assert run.of_type("aws:rds/instance:Instance")[0].inputs["multiAz"] is True


def test_the_spec_may_choose_one_nat_and_a_single_zone_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    targets = sample("targets")
    targets["aws"].update(nat_gateways="single", database_multi_az=False)
    run = offline(tmp_path, monkeypatch, targets=targets)
    [nat] = run.of_type("aws:ec2/natGateway:NatGateway")
    private = [t for t in run.of_type("aws:ec2/routeTable:RouteTable") if "private" in t.name]
    assert {t.inputs["routes"][0]["natGatewayId"] for t in private} == {f"{nat.name}-id"}
    assert run.of_type("aws:rds/instance:Instance")[0].inputs["multiAz"] is False


def test_no_secret_value_in_any_recorded_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The offline preview hides secrets with Pulumi internals; this fails if they change."""
    run = offline(tmp_path, monkeypatch)
    recorded = json.dumps([r.inputs for r in run.resources]) + json.dumps(run.outputs)
    decoded = [
        base64.b64decode(value, validate=True).decode(errors="replace")
        for r in run.resources
        for value in r.inputs.values()
        if isinstance(value, str) and len(value) > 100 and _is_base64(value)
    ]
    assert decoded, "the launch template's user data (base64) was not found"
    key_line = tls_pair(tmp_path)[1].strip().splitlines()[1]
    for text in [recorded, *decoded]:
        for value in [*SECRET_VALUES.values(), key_line]:
            assert value not in text
        assert "PRIVATE KEY" not in text
    # The secrets did go in: as secret parameters and inputs.
    secrets = [r for r in run.of_type("aws:ssm/parameter:Parameter") if r.inputs["type"] == "SecureString"]
    assert {r.inputs["value"] for r in secrets} == {"[secret]"} and len(secrets) == 2


def _is_base64(value: str) -> bool:
    try:
        base64.b64decode(value, validate=True)
    except ValueError:
        return False
    return True
