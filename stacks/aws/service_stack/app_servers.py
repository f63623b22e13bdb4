"""The app servers: EC2 instances (Debian 12, as on bare metal) running the spec's app.

User data installs the app and starts ``processes`` copies on ports ``port..port+processes-1``
as systemd units, exactly like the bare-metal app role. It carries no secret: secrets are
stored as SSM SecureString parameters and each instance fetches them at boot, by name, with its
own instance role. Instances sit in private subnets, with IMDSv2 and encrypted disks; there is
no SSH (Session Manager instead).

The app reaches its database through ``<SERVICE>_DATABASE_URL`` (a libpq string without a
password) and ``<SERVICE>_DATABASE_PASSWORD_FILE``, ``<SERVICE>`` being the service name in
upper case, the convention the reference service follows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pulumi
import pulumi_aws as aws

from service_stack.objects import HardenedBucket
from toolkit.spec.model import App

# The reference service's runtime, from Debian packages as on bare metal.
APP_PACKAGES = (
    "python3",
    "python3-flask",
    "python3-psycopg",
    "python3-boto3",
    "python3-requests",
    "gunicorn",
    "awscli",
    "unzip",
)
SSM_CORE_POLICY = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"


@dataclass(frozen=True)
class BootPlan:
    """Everything user data needs, all of it public: names of secrets, never their values."""

    service: str
    region: str
    app: App
    artifact_bucket: str
    artifact_key: str
    database_url: str
    password_parameter: str
    secret_parameters: dict[str, str] = field(default_factory=dict)  # env name -> SSM parameter

    @property
    def env_prefix(self) -> str:
        return self.service.upper().replace("-", "_")


def _env_line(name: str, value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'{name}="{escaped}"'


def render_user_data(plan: BootPlan) -> str:
    """The boot script for one app server."""
    svc = plan.service
    app_dir = f"/opt/{svc}/app"
    source_name = Path(plan.app.source).name
    env = {
        **plan.app.environment,
        f"{plan.env_prefix}_DATABASE_URL": plan.database_url,
        f"{plan.env_prefix}_DATABASE_PASSWORD_FILE": f"/etc/{svc}/database-password",
    }
    env_file = "\n".join(_env_line(name, value) for name, value in sorted(env.items()))
    secrets = "\n".join(
        f'  printf \'%s="%s"\\n\' {name} "$(fetch {param})"'
        for name, param in sorted(plan.secret_parameters.items())
    )
    command = plan.app.command.replace("%", "%%").replace("{port}", "%i")
    units = " ".join(f"{svc}@{port}.service" for port in plan.app.ports)
    return f"""#!/bin/bash
# {svc}: install and start the app from the service spec. No secret is written in this
# script: they are fetched from SSM Parameter Store by name, with the instance's role.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends {" ".join(APP_PACKAGES)}
id -u {svc} >/dev/null 2>&1 || useradd --system --home-dir /opt/{svc} --shell /usr/sbin/nologin {svc}
install -d -m 0755 {app_dir}
aws s3 cp --region {plan.region} s3://{plan.artifact_bucket}/{plan.artifact_key} /run/{svc}-app.zip
unzip -o -q /run/{svc}-app.zip -d {app_dir}/{source_name}
rm -f /run/{svc}-app.zip
install -d -m 0750 -o root -g {svc} /etc/{svc}
fetch() {{ aws ssm get-parameter --region {plan.region} --with-decryption --name "$1" \\
             --query Parameter.Value --output text; }}
umask 0027
fetch {plan.password_parameter} > /etc/{svc}/database-password
{{
{secrets or "  :"}
}} > /etc/{svc}/secret.env
chgrp {svc} /etc/{svc}/database-password /etc/{svc}/secret.env
cat > /etc/{svc}/app.env <<'ENV'
{env_file}
ENV
cat > /etc/systemd/system/{svc}@.service <<'UNIT'
[Unit]
Description={svc} on port %i
After=network-online.target
Wants=network-online.target

[Service]
User={svc}
Group={svc}
WorkingDirectory={app_dir}
EnvironmentFile=/etc/{svc}/app.env
EnvironmentFile=/etc/{svc}/secret.env
ExecStart=/usr/bin/env {command}
Restart=on-failure
NoNewPrivileges=yes
ProtectSystem=strict
PrivateTmp=yes

[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl enable --now {units}
"""


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
    instances: list[aws.ec2.Instance]
    artifacts: HardenedBucket

    def __init__(
        self,
        name: str,
        *,
        service: str,
        stack: str,
        region: str,
        app: App,
        app_source: Path,
        secrets: dict[str, str],
        owner: str,
        database_name: str,
        database_address: pulumi.Output[str],
        database_port: pulumi.Input[int],
        data_bucket_arns: list[pulumi.Output[str]],
        subnet_ids: list[pulumi.Output[str]],
        security_group_id: pulumi.Output[str],
        instance_type: str,
        instance_count: int,
        ami_id: str | None,
        ami_parameter: str,
        tags: dict[str, str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """``secrets``: ``database/owner-password`` and ``env/<NAME>`` for each secret env var."""
        super().__init__("toolkit:aws:AppServers", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        prefix = f"/{service}/{stack}"
        stored = AppSecrets(f"{name}-secrets", prefix=prefix, values=secrets, tags=tags, opts=child)

        self.artifacts = HardenedBucket(
            f"{name}-artifacts", bucket_name=None, versioning=True, role="artifacts", tags=tags, opts=child
        )
        artifact_key = f"app/{Path(app.source).name}.zip"
        aws.s3.BucketObjectv2(
            f"{name}-app-archive",
            bucket=self.artifacts.bucket.id,
            key=artifact_key,
            source=pulumi.FileArchive(str(app_source)),
            opts=child,
        )

        role = aws.iam.Role(
            f"{name}-role",
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
        aws.iam.RolePolicyAttachment(
            f"{name}-ssm-core", role=role.name, policy_arn=SSM_CORE_POLICY, opts=child
        )
        parameter_arns = [parameter.arn for parameter in stored.parameters.values()]
        aws.iam.RolePolicy(
            f"{name}-access",
            role=role.id,
            policy=pulumi.Output.all(
                parameters=parameter_arns,
                artifacts=self.artifacts.bucket.arn,
                data=data_bucket_arns,
            ).apply(lambda arns: _access_policy(arns, region)),
            opts=child,
        )
        profile = aws.iam.InstanceProfile(f"{name}-profile", role=role.name, tags=tags, opts=child)

        ami = (
            ami_id
            or aws.ssm.get_parameter_output(name=ami_parameter, opts=pulumi.InvokeOptions(parent=self)).value
        )
        user_data = pulumi.Output.all(
            address=database_address, port=database_port, bucket=self.artifacts.bucket.bucket
        ).apply(
            lambda v: render_user_data(
                BootPlan(
                    service=service,
                    region=region,
                    app=app,
                    artifact_bucket=v["bucket"],
                    artifact_key=artifact_key,
                    database_url=(
                        f"host={v['address']} port={int(v['port'])} dbname={database_name} "
                        f"user={owner} sslmode=require"
                    ),
                    password_parameter=f"{prefix}/database/owner-password",
                    secret_parameters={
                        key.removeprefix("env/"): f"{prefix}/{key}"
                        for key in secrets
                        if key.startswith("env/")
                    },
                )
            )
        )
        self.instances = [
            aws.ec2.Instance(
                f"{name}-{index}",
                ami=ami,
                instance_type=instance_type,
                subnet_id=subnet_ids[index % len(subnet_ids)],
                vpc_security_group_ids=[security_group_id],
                iam_instance_profile=profile.name,
                user_data=user_data,
                user_data_replace_on_change=True,
                associate_public_ip_address=False,
                metadata_options={"http_tokens": "required", "http_endpoint": "enabled"},
                root_block_device={"encrypted": True, "volume_type": "gp3"},
                tags={**tags, "Name": f"{service}-app-{index}"},
                opts=child,
            )
            for index in range(instance_count)
        ]
        self.register_outputs({"instance_ids": [instance.id for instance in self.instances]})


def _access_policy(arns: dict[str, object], region: str) -> str:
    data = [str(arn) for arn in arns["data"]]  # type: ignore[attr-defined]
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "ReadOwnSecrets",
                    "Effect": "Allow",
                    "Action": ["ssm:GetParameter"],
                    "Resource": arns["parameters"],
                },
                {
                    "Sid": "DecryptSecrets",
                    "Effect": "Allow",
                    "Action": ["kms:Decrypt"],
                    "Resource": "*",
                    "Condition": {"StringEquals": {"kms:ViaService": f"ssm.{region}.amazonaws.com"}},
                },
                {
                    "Sid": "ReadAppArchive",
                    "Effect": "Allow",
                    "Action": ["s3:GetObject"],
                    "Resource": [f"{arns['artifacts']}/*"],
                },
                {
                    "Sid": "UseDataBuckets",
                    "Effect": "Allow",
                    "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket"],
                    "Resource": data + [f"{arn}/*" for arn in data],
                },
            ],
        }
    )
