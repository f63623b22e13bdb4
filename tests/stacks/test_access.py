"""Who may read what on AWS: the instance roles under the mock runtime (issue 16, item 2).

Each role's one inline policy is read back from the recorded inputs: the app servers read only
their own parameters (never the admin's), the bootstrap also the admin's and writes only the
release marker; nothing is attached, nothing is granted on ``*``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.stacks.specdir import make_spec
from toolkit.spec import load_spec
from toolkit.targets.aws.offline import OfflineRun, run_offline
from toolkit.targets.aws.program import StackConfig

OWN = "arn:aws:ssm:us-east-1:123456789012:parameter/refservice/refservice/"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OfflineRun]:
    with pytest.MonkeyPatch.context() as mp:
        yield run_offline(StackConfig.from_spec(load_spec(make_spec(tmp_path_factory.mktemp("spec"), mp))))


def policies(run: OfflineRun) -> dict[str, list[dict]]:
    """Role logical name -> the statements of its inline policy."""
    return {
        r.inputs["role"].removesuffix("-id"): json.loads(r.inputs["policy"])["Statement"]
        for r in run.of_type("aws:iam/rolePolicy:RolePolicy")
    }


def granted(statements: list[dict], action: str) -> list[str]:
    return sorted(arn for s in statements if action in s["Action"] for arn in s["Resource"])


def test_no_managed_policy_and_no_wildcard_resource(run: OfflineRun) -> None:
    assert run.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment") == []
    found = policies(run)
    assert set(found) == {"refservice-app-role", "refservice-app-bootstrap-role"}
    for statements in found.values():
        for statement in statements:
            assert statement["Effect"] == "Allow"
            for arn in statement["Resource"]:  # whole buckets' objects at most, never everything
                assert arn.startswith("arn:aws:") and "*" not in arn.removesuffix("/*"), statement
            assert not any(action.startswith("kms:") for action in statement["Action"])  # aws/ssm key policy


def test_app_servers_read_their_own_parameters_only(run: OfflineRun) -> None:
    app = policies(run)["refservice-app-role"]
    assert granted(app, "ssm:GetParameter") == [OWN + "bootstrap/release", OWN + "database/owner-password"]
    assert granted(app, "ssm:PutParameter") == []
    assert {a for s in app for a in s["Action"]} == {
        "ssm:GetParameter", "s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket"}
    [archive] = granted([s for s in app if s["Sid"] == "ReadRelease"], "s3:GetObject")
    assert archive.endswith(f"/app/refservice-{run.outputs['appRelease']}.zip")


def test_only_the_bootstrap_reads_the_admin_password(run: OfflineRun) -> None:
    bootstrap = policies(run)["refservice-app-bootstrap-role"]
    assert granted(bootstrap, "ssm:GetParameter") == [
        OWN + "bootstrap/admin-password", OWN + "bootstrap/release", OWN + "database/owner-password"]
    assert granted(bootstrap, "ssm:PutParameter") == [OWN + "bootstrap/release"]
    assert not any(a.startswith("s3:") and a != "s3:GetObject" for s in bootstrap for a in s["Action"])


def test_each_role_is_its_instances_own(run: OfflineRun) -> None:
    profiles = {r.name: r.inputs["role"] for r in run.of_type("aws:iam/instanceProfile:InstanceProfile")}
    template = run.of_type("aws:ec2/launchTemplate:LaunchTemplate")[0].inputs
    bootstrap = run.of_type("aws:ec2/instance:Instance")[0].inputs
    assert profiles[bootstrap["iamInstanceProfile"]] == "refservice-app-bootstrap-role"
    app_profile = template["iamInstanceProfile"]["arn"].rsplit(":", 1)[-1]
    assert profiles[app_profile] == "refservice-app-role"
