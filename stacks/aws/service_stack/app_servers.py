"""The app servers: an Auto Scaling group of EC2 instances (Debian 12, as on bare metal), and
the one-shot bootstrap instance that prepares the database for each release.

What the instances run at boot is rendered by ``toolkit.targets.aws.boot`` (the lab boots its
AWS-side app host from the same scripts). User data carries no secret: secrets are SSM
SecureString parameters under ``/<service>/<stack>/`` that each instance reads by name with its
own role, and each role may read only the parameters it needs:

| role      | reads                                         | writes            |
|-----------|-----------------------------------------------|-------------------|
| app       | owner password, ``env/*``, release; archive   | the data buckets  |
| bootstrap | the same, and the admin's password            | release parameter |

No managed policy is attached (``AmazonSSMManagedInstanceCore`` would let every server read every
parameter in the account), and no KMS statement is needed: SecureStrings use the AWS-managed
``aws/ssm`` key, whose key policy lets SSM decrypt for callers allowed to read the parameter.
There is no SSH and no Session Manager agent (Debian's images do not ship one): the servers are
replaced, not logged into; ``aws ec2 get-console-output`` shows a server's boot log.

**Releases roll.** The archive's key names the release (a hash of the app's code), so a new
release changes the launch template; the Auto Scaling group's instance refresh then replaces the
servers one by one, launching the new before terminating the old and waiting for the load
balancer to find it healthy (``min_healthy_percentage`` 100). A new AMI rolls the same way. The
bootstrap instance is replaced with each release, so the schema step runs before new servers
start (they wait for the release parameter to name their release).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path

import pulumi
import pulumi_aws as aws

from service_stack.objects import HardenedBucket
from toolkit.targets.aws.boot import (
    ADMIN_PASSWORD,
    ENV_PREFIX,
    OWNER_PASSWORD,
    RELEASE,
    RELEASE_PENDING,
    BootPlan,
    archive_key,
    parameter_prefix,
    release_files,
    release_id,
    render_bootstrap_user_data,
    render_user_data,
)

BOOTSTRAP_INSTANCE_TYPE = "t3.micro"
ROOT_DEVICE = "/dev/xvda"  # Debian's AMIs
# apt installs, then the wait for the bootstrap: how long a new server may take to turn healthy.
HEALTH_GRACE_S = 900


class AppSecrets(pulumi.ComponentResource):
    """The app's secrets as SSM SecureString parameters, named ``/<service>/<stack>/...``."""

    parameters: dict[str, aws.ssm.Parameter]

    def __init__(
        self,
        name: str,
        *,
        prefix: str,
        values: dict[str, str],
        tags: dict[str, str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """``values`` maps a parameter's path under ``prefix`` to its (resolved) secret value."""
        super().__init__("toolkit:aws:AppSecrets", name, None, opts)
        self.parameters = {
            key: aws.ssm.Parameter(
                f"{name}-{key.replace('/', '-').lower()}",
                name=f"{prefix}/{key}",
                type="SecureString",
                value=pulumi.Output.secret(value),
                tags=tags,
                opts=pulumi.ResourceOptions(parent=self),
            )
            for key, value in sorted(values.items())
        }
        self.register_outputs({})


class AppServers(pulumi.ComponentResource):
    group: aws.autoscaling.Group
    bootstrap: aws.ec2.Instance
    artifacts: HardenedBucket
    release: str

    def __init__(
        self,
        name: str,
        *,
        service: str,
        stack: str,
        app_source: Path,
        secrets: dict[str, str],
        boot_plan: Callable[[str, int, str, str | None], BootPlan],
        database_address: pulumi.Output[str],
        database_port: pulumi.Input[int],
        admin_secret_arn: pulumi.Output[str | None] | None,
        data_bucket_arns: list[pulumi.Output[str]],
        target_group_arns: list[pulumi.Output[str]],
        subnet_ids: list[pulumi.Output[str]],
        security_group_id: pulumi.Output[str],
        instance_type: str,
        instance_count: int,
        ami_id: str | None,
        ami_parameter: str,
        tags: dict[str, str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """``secrets``: parameter key -> value (``toolkit.targets.aws.boot.secret_keys``);
        ``boot_plan(address, port, artifact bucket, admin secret ARN)``: the instances' plan."""
        super().__init__("toolkit:aws:AppServers", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        prefix = parameter_prefix(service, stack)
        stored = AppSecrets(f"{name}-secrets", prefix=prefix, values=secrets, tags=tags, opts=child)
        # Written by the bootstrap when a release's database is ready; Pulumi only creates it.
        release_parameter = aws.ssm.Parameter(
            f"{name}-release",
            name=f"{prefix}/{RELEASE}",
            type="String",
            value=RELEASE_PENDING,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["value"]),
        )

        self.artifacts = HardenedBucket(
            f"{name}-artifacts", bucket_name=None, versioning=True, role="artifacts", tags=tags, opts=child
        )
        self.release = release_id(app_source)
        key = archive_key(app_source)
        archive = aws.s3.BucketObjectv2(
            f"{name}-app-archive",
            bucket=self.artifacts.bucket.id,
            key=key,
            # Exactly the release's files (caches left out), zipped by Pulumi.
            source=pulumi.AssetArchive(
                {path.relative_to(app_source).as_posix(): pulumi.FileAsset(str(path))
                 for path in release_files(app_source)}
            ),
            opts=child,
        )

        def arns(*keys: str) -> list[pulumi.Output[str]]:
            return [
                parameter.arn
                for key, parameter in stored.parameters.items()
                if key in keys or (ENV_PREFIX in keys and key.startswith(ENV_PREFIX))
            ]

        app_policy = pulumi.Output.all(
            read=[*arns(OWNER_PASSWORD, ENV_PREFIX), release_parameter.arn],
            archive=pulumi.Output.concat(self.artifacts.bucket.arn, "/", key),
            data=data_bucket_arns,
        ).apply(lambda v: app_policy_document(v["read"], v["archive"], v["data"]))
        bootstrap_policy = pulumi.Output.all(
            read=[*arns(OWNER_PASSWORD, ENV_PREFIX, ADMIN_PASSWORD), release_parameter.arn],
            write=release_parameter.arn,
            archive=pulumi.Output.concat(self.artifacts.bucket.arn, "/", key),
            admin_secret=admin_secret_arn,
        ).apply(lambda v: bootstrap_policy_document(v["read"], v["write"], v["archive"], v["admin_secret"]))
        app_profile = _instance_profile(f"{name}-role", app_policy, tags, self)
        bootstrap_profile = _instance_profile(f"{name}-bootstrap-role", bootstrap_policy, tags, self)

        ami = (
            ami_id
            or aws.ssm.get_parameter_output(name=ami_parameter, opts=pulumi.InvokeOptions(parent=self)).value
        )

        plans = pulumi.Output.all(
            address=database_address, port=database_port, bucket=self.artifacts.bucket.bucket,
            admin_secret=admin_secret_arn,
        ).apply(lambda v: boot_plan(v["address"], int(v["port"]), v["bucket"], v["admin_secret"]))
        # The bootstrap runs once per release: a new release replaces it, and it runs again.
        self.bootstrap = aws.ec2.Instance(
            f"{name}-bootstrap",
            ami=ami,
            instance_type=BOOTSTRAP_INSTANCE_TYPE,
            subnet_id=subnet_ids[0],
            vpc_security_group_ids=[security_group_id],
            iam_instance_profile=bootstrap_profile.name,
            user_data=plans.apply(render_bootstrap_user_data),
            user_data_replace_on_change=True,
            instance_initiated_shutdown_behavior="stop",
            associate_public_ip_address=False,
            metadata_options={"http_tokens": "required", "http_endpoint": "enabled"},
            root_block_device={"encrypted": True, "volume_type": "gp3"},
            tags={**tags, "Name": f"{service}-bootstrap"},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[archive, release_parameter]),
        )
        template = aws.ec2.LaunchTemplate(
            f"{name}-template",
            image_id=ami,
            instance_type=instance_type,
            iam_instance_profile={"arn": app_profile.arn},
            user_data=plans.apply(lambda p: base64.b64encode(render_user_data(p).encode()).decode()),
            vpc_security_group_ids=[security_group_id],
            metadata_options={"http_tokens": "required", "http_endpoint": "enabled"},
            block_device_mappings=[
                {"device_name": ROOT_DEVICE, "ebs": {"encrypted": "true", "volume_type": "gp3"}}
            ],
            tag_specifications=[{"resource_type": "instance", "tags": {**tags, "Name": f"{service}-app"}}],
            update_default_version=True,
            tags=tags,
            opts=child,
        )
        self.group = aws.autoscaling.Group(
            f"{name}-group",
            vpc_zone_identifiers=subnet_ids,
            min_size=instance_count,
            max_size=instance_count * 2,  # room for the refresh to launch before it terminates
            desired_capacity=instance_count,
            launch_template={"id": template.id, "version": template.latest_version.apply(str)},
            target_group_arns=target_group_arns,
            health_check_type="ELB",
            health_check_grace_period=HEALTH_GRACE_S,
            wait_for_elb_capacity=instance_count,
            wait_for_capacity_timeout="30m",
            instance_refresh={
                "strategy": "Rolling",
                "preferences": {"min_healthy_percentage": 100, "max_healthy_percentage": 200},
            },
            tags=[{"key": k, "value": v, "propagate_at_launch": False} for k, v in sorted(tags.items())],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.bootstrap]),
        )
        self.register_outputs({"group": self.group.name})


def _instance_profile(
    name: str, policy: pulumi.Output[str], tags: dict[str, str], parent: pulumi.Resource
) -> aws.iam.InstanceProfile:
    """A role EC2 may assume, with one inline policy and nothing attached."""
    child = pulumi.ResourceOptions(parent=parent)
    role = aws.iam.Role(
        name,
        assume_role_policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "sts:AssumeRole",
                        "Principal": {"Service": "ec2.amazonaws.com"},
                    }
                ],
            }
        ),
        tags=tags,
        opts=child,
    )
    aws.iam.RolePolicy(f"{name}-access", role=role.id, policy=policy, opts=child)
    return aws.iam.InstanceProfile(f"{name}-profile", role=role.name, tags=tags, opts=child)


def _statement(sid: str, actions: list[str], resources: list[str]) -> dict[str, object]:
    return {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources}


def app_policy_document(read: list[str], archive: str, data: list[str]) -> str:
    """The app servers' policy: their own parameters, the release archive, the data buckets."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                _statement("ReadOwnParameters", ["ssm:GetParameter"], sorted(read)),
                _statement("ReadRelease", ["s3:GetObject"], [archive]),
                _statement(
                    "UseDataBuckets",
                    ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket"],
                    [*data, *(f"{arn}/*" for arn in data)],
                ),
            ],
        }
    )


def bootstrap_policy_document(read: list[str], write: str, archive: str, admin_secret: str | None) -> str:
    """The bootstrap's policy: the app's parameters and the admin's, the release parameter."""
    statements = [
        _statement("ReadOwnParameters", ["ssm:GetParameter"], sorted(read)),
        _statement("RecordRelease", ["ssm:PutParameter"], [write]),
        _statement("ReadRelease", ["s3:GetObject"], [archive]),
    ]
    if admin_secret:
        statements.append(_statement("ReadAdminSecret", ["secretsmanager:GetSecretValue"], [admin_secret]))
    return json.dumps({"Version": "2012-10-17", "Statement": statements})
