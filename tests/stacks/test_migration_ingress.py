"""The migration ingress opens and closes explicitly (issue 16, item 7).

Under the mock runtime: open puts the subscriber's rule on the database group and makes RDS
public, close takes both away. Against a stand-in for Pulumi's Automation API workspace: close
removes the stack config key, open sets it, and any other provisioning leaves it alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.stacks.specdir import make_spec
from toolkit import interface
from toolkit.errors import BadInput, EnvironmentNotReady
from toolkit.spec import load_spec
from toolkit.targets.aws import automation, provision

SG_INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
SUBSCRIBER = "198.51.100.7/32"
KEY = "toolkit:migrationIngressCidr"


def migration_rules(result: Any) -> list[dict]:
    return [
        r.inputs for r in result.resources if r.type == SG_INGRESS and r.inputs.get("cidrIpv4") == SUBSCRIBER
    ]


def rds(result: Any) -> dict:
    return next(r.inputs for r in result.resources if r.type == "aws:rds/instance:Instance")


@pytest.fixture
def spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(automation, "cli_available", lambda: False)
    return make_spec(tmp_path, monkeypatch)


def test_open_and_close_in_the_offline_preview(spec: Path) -> None:
    opened = interface.aws_migration_ingress_open(SUBSCRIBER, spec, check=True)
    [rule] = migration_rules(opened)
    assert (rule["fromPort"], rule["toPort"]) == (5432, 5432)
    assert rds(opened)["publiclyAccessible"] is True
    assert opened.outputs["migrationIngressCidr"] == SUBSCRIBER
    closed = interface.aws_migration_ingress_close(spec, check=True)
    assert migration_rules(closed) == []
    assert rds(closed)["publiclyAccessible"] is False
    assert closed.outputs["migrationIngressCidr"] == ""


def test_opening_checks_the_cidr_first(spec: Path) -> None:
    for bad in ("0.0.0.0/0", "2001:db8::/64", "198.51.100.7/24", "not a network"):
        with pytest.raises(BadInput, match="migrationIngressCidr"):
            interface.aws_migration_ingress_open(bad, spec, check=True)


def test_applying_needs_the_pulumi_cli(spec: Path) -> None:
    with pytest.raises(EnvironmentNotReady, match="Pulumi CLI"):
        interface.aws_migration_ingress_close(spec)


class FakeStack:
    """Pulumi's Automation API stack, as far as run_stack uses it: keeps the stack's config."""

    def __init__(self, config: dict[str, str]) -> None:
        self.config = config

    def set_config(self, key: str, value: Any) -> None:
        self.config[key] = value.value

    def remove_config(self, key: str) -> None:
        self.config.pop(key, None)

    def up(self, on_output: Any = None) -> Any:
        class Summary:
            resource_changes: dict[str, int] = {}

        class Up:
            summary = Summary()
            outputs: dict[str, Any] = {}

        return Up()


def test_only_open_and_close_change_the_stacks_setting(spec: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pulumi import automation as auto

    stack = FakeStack({})
    monkeypatch.setattr(automation, "cli_available", lambda: True)
    monkeypatch.setattr(auto, "create_or_select_stack", lambda **_: stack)
    loaded = load_spec(spec)

    interface.aws_migration_ingress_open(SUBSCRIBER, spec)
    assert stack.config[KEY] == SUBSCRIBER
    provision.provision_aws(loaded)  # a provision during the exit keeps replication's way in
    assert stack.config[KEY] == SUBSCRIBER
    interface.aws_migration_ingress_close(spec)
    assert KEY not in stack.config
    provision.provision_aws(loaded)  # and one after it does not reopen it
    assert KEY not in stack.config
    assert stack.config["toolkit:spec"] == str(spec)


