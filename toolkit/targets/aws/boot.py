"""What AWS instances run at boot: the app servers' user data and the once-per-service bootstrap.

Both scripts are rendered here, from a ``BootPlan``, by the Pulumi program (``stacks/aws``) and
by the lab, which boots its AWS-side app host from exactly these scripts (SSM parameters and the
archive in moto). Neither script holds a secret: each instance reads its secrets by name from SSM
Parameter Store with its own role.

- **Bootstrap** (one instance per service, not per app server): reads the admin credential (only
  its role may), creates the owner role with its password, makes the admin a member of it (so
  the admin can publish the owner's tables for an exit), hands the database to the owner,
  creates the spec's extensions, runs ``app.schema_command`` as the owner, then records the
  release it prepared in the release parameter and powers off.
- **App servers** wait until the release parameter names their own release, then install that
  release and start ``processes`` units, as the bare-metal app role does.

A release is named by a hash of the app's code (``release_id``); the archive's key carries it,
so a new release changes the user data and reaches new instances.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from toolkit.spec.model import App, Spec
from toolkit.spec.secrets import SecretRef

# The reference service's runtime, from Debian packages as on bare metal; boto3 reads the
# instance's parameters and archive (no awscli, which bookworm ships only as the old v1).
APP_PACKAGES = (
    "python3",
    "python3-boto3",
    "python3-flask",
    "python3-psycopg",
    "python3-requests",
    "gunicorn",
)
# Commands the bootstrap needs besides, and the package that brings each (any version will do).
BOOTSTRAP_COMMANDS = {"psql": "postgresql-client"}
DATABASE_WAIT_S = 600

OWNER_PASSWORD = "database/owner-password"
ADMIN_PASSWORD = "bootstrap/admin-password"
RELEASE = "bootstrap/release"
RELEASE_PENDING = "pending"
ENV_PREFIX = "env/"
# RDS's master user when the spec names no admin (RDS then keeps its password in Secrets Manager).
DEFAULT_ADMIN = "toolkit_admin"
# The bootstrap powers its instance off when done, unless this is set (the lab runs it on a
# host that has more to do).
STAY_UP_ENV = "TOOLKIT_BOOTSTRAP_STAY_UP"
RELEASE_WAIT_S = 1800
_IGNORED = ("__pycache__", ".pyc", ".pyo")


def parameter_prefix(service: str, stack: str) -> str:
    return f"/{service}/{stack}"


def parameter_name(service: str, stack: str, key: str) -> str:
    """The SSM parameter holding ``key`` (``database/owner-password``, ``env/NAME``, ...)."""
    return f"{parameter_prefix(service, stack)}/{key}"


def secret_keys(spec: Spec) -> dict[str, SecretRef]:
    """Parameter key -> the spec's secret reference, for every secret an instance reads."""
    keys: dict[str, SecretRef] = {OWNER_PASSWORD: spec.database.owner.password}
    if spec.database.admin is not None:
        keys[ADMIN_PASSWORD] = spec.database.admin.password
    keys.update({f"{ENV_PREFIX}{name}": ref for name, ref in spec.app.secret_environment.items()})
    return keys


def release_files(source: Path) -> list[Path]:
    """The files a release consists of: the app's folder without caches."""
    return sorted(
        path for path in source.rglob("*")
        if path.is_file() and not any(part.endswith(_IGNORED) for part in path.relative_to(source).parts)
    )


def release_id(source: Path) -> str:
    """A hash of the app's code: every file's path and content, caches left out."""
    digest = hashlib.sha256()
    for path in release_files(source):
        digest.update(path.relative_to(source).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]


def archive_key(source: Path) -> str:
    return f"app/{source.name}-{release_id(source)}.zip"


def release_archive(source: Path) -> bytes:
    """The app's code as a zip with fixed timestamps: the same code gives the same bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in release_files(source):
            info = zipfile.ZipInfo(path.relative_to(source).as_posix(), date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            archive.writestr(info, path.read_bytes(), zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


@dataclass(frozen=True)
class DatabaseAccess:
    """How the bootstrap reaches the database as its administrator."""

    address: str
    port: int
    name: str
    owner: str
    admin: str
    extensions: list[str]
    # Where the admin's password is: an SSM parameter, or (no admin in the spec) the secret
    # RDS keeps in Secrets Manager for its master user.
    admin_parameter: str | None = None
    admin_secret_arn: str | None = None


@dataclass(frozen=True)
class BootPlan:
    """Everything user data needs, all of it public: names of secrets, never their values."""

    service: str
    stack: str
    region: str
    app: App
    source_name: str
    release: str
    artifact_bucket: str
    artifact_key: str
    database: DatabaseAccess
    endpoint: str | None = None  # an AWS API endpoint other than AWS's own (the lab's moto)
    secret_environment: list[str] = field(default_factory=list)  # env names read from env/<NAME>

    @property
    def env_prefix(self) -> str:
        return self.service.upper().replace("-", "_")

    def parameter(self, key: str) -> str:
        return parameter_name(self.service, self.stack, key)

    @property
    def database_url(self) -> str:
        db = self.database
        return (f"host={db.address} port={db.port} dbname={db.name} user={db.owner} "
                "sslmode=require")


# Runs on the instance with Debian's python3-boto3 (1.26 on bookworm: endpoints are passed
# explicitly, AWS_ENDPOINT_URL came later). Credentials come from the instance's role. One
# process runs a whole sequence of steps: boto3 takes seconds to start on a small instance.
FETCH_HELPER = r'''"""Read this service's parameters and archive with the instance's own role.

Usage: aws-fetch.py REGION ENDPOINT STEP... where a STEP is one of
  parameter NAME FILE | secret-field ARN FIELD FILE | object BUCKET KEY FILE
  | put-parameter NAME VALUE | wait-parameter NAME VALUE SECONDS
"""
import json
import sys
import time

import boto3
from botocore.config import Config

ARITY = {"parameter": 2, "secret-field": 3, "object": 3, "put-parameter": 2, "wait-parameter": 3}


def main(region, endpoint, *steps):
    config = Config(retries={"max_attempts": 10, "mode": "standard"},
                    s3={"addressing_style": "path"} if endpoint else None)
    session = boto3.session.Session(region_name=region)
    clients = {}

    def client(name):
        if name not in clients:
            clients[name] = session.client(name, endpoint_url=endpoint or None, config=config)
        return clients[name]

    def write(path, value):
        with open(path, "w") as handle:
            handle.write(value)

    steps = list(steps)
    while steps:
        command = steps.pop(0)
        if command not in ARITY or len(steps) < ARITY[command]:
            sys.exit(f"aws-fetch: bad step {command} {steps}")
        args, steps = steps[:ARITY[command]], steps[ARITY[command]:]
        if command == "parameter":
            reply = client("ssm").get_parameter(Name=args[0], WithDecryption=True)
            write(args[1], reply["Parameter"]["Value"])
        elif command == "secret-field":
            secret = client("secretsmanager").get_secret_value(SecretId=args[0])["SecretString"]
            write(args[2], json.loads(secret)[args[1]])
        elif command == "object":
            client("s3").download_file(args[0], args[1], args[2])
        elif command == "put-parameter":
            client("ssm").put_parameter(Name=args[0], Value=args[1], Type="String", Overwrite=True)
        else:
            name, wanted, deadline = args[0], args[1], time.monotonic() + float(args[2])
            while client("ssm").get_parameter(Name=name)["Parameter"]["Value"] != wanted:
                if time.monotonic() > deadline:
                    sys.exit(f"aws-fetch: {name} did not become {wanted} within {args[2]} s")
                time.sleep(5)


if __name__ == "__main__":
    main(*sys.argv[1:])
'''


def _env_line(name: str, value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'{name}="{escaped}"'


def _prelude(plan: BootPlan, what: str, commands: dict[str, str] | None = None) -> str:
    svc = plan.service
    probes = "".join(
        f'command -v {command} >/dev/null || missing="$missing {package}"\n'
        for command, package in sorted((commands or {}).items())
    )
    return f"""#!/bin/bash
# {svc}: {what}, release {plan.release}. No secret is written in this script: they are read
# from SSM Parameter Store by name, with the instance's own role.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
# apt only for what is missing (an image may have everything already).
missing=""
for package in {" ".join(APP_PACKAGES)}; do
  dpkg-query -W -f='${{db:Status-Status}}' "$package" 2>/dev/null | grep -qx installed \
    || missing="$missing $package"
done
{probes}if [ -n "$missing" ]; then
  apt-get update -q
  apt-get install -y -q --no-install-recommends $(printf '%s\n' $missing | sort -u)
fi
install -d -m 0755 /usr/local/lib/{svc}
cat > /usr/local/lib/{svc}/aws-fetch.py <<'PY'
{FETCH_HELPER}PY
fetch() {{ python3 /usr/local/lib/{svc}/aws-fetch.py {plan.region} "{plan.endpoint or ""}" "$@"; }}
"""


def _install_release(plan: BootPlan, *, before: str = "", also: str = "") -> str:
    """The release's code in /opt/<svc>/app, its environment and units (not started).

    Everything is read in one ``fetch`` into ``/run/<svc>-boot`` (private, on tmpfs): ``before``
    are steps taken first (an app server waits for its release), ``also`` more to read (the
    bootstrap's admin password).
    """
    svc = plan.service
    app_dir = f"/opt/{svc}/app"
    work = boot_dir(plan)
    env = {
        **plan.app.environment,
        f"{plan.env_prefix}_DATABASE_URL": plan.database_url,
        f"{plan.env_prefix}_DATABASE_PASSWORD_FILE": f"/etc/{svc}/database-password",
    }
    if plan.endpoint:
        env.setdefault(f"{plan.env_prefix}_S3_ENDPOINT", plan.endpoint)
    env_file = "\n".join(_env_line(name, value) for name, value in sorted(env.items()))
    steps = " \\\n  ".join([
        *([before] if before else []),
        f"object {plan.artifact_bucket} {plan.artifact_key} {work}/app.zip",
        f"parameter {plan.parameter(OWNER_PASSWORD)} {work}/database-password",
        *(f"parameter {plan.parameter(ENV_PREFIX + name)} {work}/env-{name}"
          for name in plan.secret_environment),
        *([also] if also else []),
    ])
    secrets = "\n".join(
        f'  printf \'%s="%s"\\n\' {name} "$(cat {work}/env-{name})"'
        for name in sorted(plan.secret_environment)
    )
    command = plan.app.command.replace("%", "%%").replace("{port}", "%i")
    schema = plan.app.schema_command.replace("%", "%%") if plan.app.schema_command else None
    service_common = f"""User={svc}
Group={svc}
WorkingDirectory={app_dir}
EnvironmentFile=/etc/{svc}/app.env
EnvironmentFile=/etc/{svc}/secret.env
NoNewPrivileges=yes
ProtectSystem=strict
PrivateTmp=yes"""
    schema_unit = "" if schema is None else f"""cat > /etc/systemd/system/{svc}-schema.service <<'UNIT'
[Unit]
Description={svc}: the schema step (run by the bootstrap, as the owner)

[Service]
Type=oneshot
{service_common}
ExecStart=/usr/bin/env {schema}
UNIT
"""
    return f"""id -u {svc} >/dev/null 2>&1 \\
  || useradd --system --home-dir /opt/{svc} --shell /usr/sbin/nologin {svc}
rm -rf {work}
install -d -m 0700 {work}
( umask 0077
  fetch \\
  {steps} )
rm -rf {app_dir}.new
install -d -m 0755 {app_dir}.new
python3 -m zipfile -e {work}/app.zip {app_dir}.new/{plan.source_name}
rm -rf {app_dir}
mv {app_dir}.new {app_dir}
install -d -m 0750 -o root -g {svc} /etc/{svc}
install -m 0640 -o root -g {svc} {work}/database-password /etc/{svc}/database-password
(
umask 0027
{{
{secrets or "  :"}
}} > /etc/{svc}/secret.env
)
chgrp {svc} /etc/{svc}/secret.env
cat > /etc/{svc}/app.env <<'ENV'
{env_file}
ENV
cat > /etc/systemd/system/{svc}@.service <<'UNIT'
[Unit]
Description={svc} on port %i
After=network-online.target
Wants=network-online.target

[Service]
{service_common}
ExecStart=/usr/bin/env {command}
Restart=on-failure

[Install]
WantedBy=multi-user.target
UNIT
{schema_unit}systemctl daemon-reload
"""


def boot_dir(plan: BootPlan) -> str:
    """Where a boot script keeps what it read until it is in place (tmpfs, root only)."""
    return f"/run/{plan.service}-boot"


def render_user_data(plan: BootPlan) -> str:
    """The boot script of one app server."""
    units = " ".join(f"{plan.service}@{port}.service" for port in plan.app.ports)
    return (
        _prelude(plan, "an app server")
        # The app starts only once the bootstrap has prepared the database for this release.
        + _install_release(
            plan, before=f"wait-parameter {plan.parameter(RELEASE)} {plan.release} {RELEASE_WAIT_S}"
        )
        + f"rm -rf {boot_dir(plan)}\nsystemctl enable --now {units}\n"
    )


def _admin_password(plan: BootPlan) -> str:
    db, target = plan.database, f"{boot_dir(plan)}/admin-password"
    if db.admin_parameter is not None:
        return f"parameter {db.admin_parameter} {target}"
    if db.admin_secret_arn is not None:
        return f"secret-field {db.admin_secret_arn} password {target}"
    raise ValueError("the bootstrap needs the admin's password: an SSM parameter or RDS's secret")


def render_bootstrap_user_data(plan: BootPlan) -> str:
    """The once-per-service bootstrap: owner role, grants, extensions, schema, then the release."""
    svc = plan.service
    db = plan.database
    work = boot_dir(plan)
    extensions = "".join(f'CREATE EXTENSION IF NOT EXISTS "{name}";\n' for name in db.extensions)
    schema = f"systemctl start {svc}-schema.service\n" if plan.app.schema_command else ""
    return (
        _prelude(plan, "the once-per-service database bootstrap", BOOTSTRAP_COMMANDS)
        + _install_release(plan, also=_admin_password(plan))
        + f"""admin_psql() {{
  PGPASSWORD="$(cat {work}/admin-password)" PGSSLMODE=require PGCONNECT_TIMEOUT=10 \\
    psql --no-psqlrc --quiet -v ON_ERROR_STOP=1 -h {db.address} -p {db.port} -U {db.admin} -d {db.name} "$@"
}}
# A new database may refuse its admin for a while after it is reported available.
deadline=$((SECONDS + {DATABASE_WAIT_S}))
until admin_psql -c 'SELECT 1' >/dev/null 2>&1; do
  [ "$SECONDS" -lt "$deadline" ] || admin_psql -c 'SELECT 1'
  sleep 1
done
# As the admin (RDS's master user, not a superuser): the owner role and its password, the
# admin made a member of it (an exit publishes the owner's tables), the database handed to the
# owner, the extensions. Every statement may run again.
admin_psql -v owner={db.owner} -v admin={db.admin} -v dbname={db.name} <<'SQL'
\\set owner_password `cat {work}/database-password`
SELECT format('CREATE ROLE %I LOGIN', :'owner')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'owner') \\gexec
ALTER ROLE :"owner" WITH LOGIN PASSWORD :'owner_password';
GRANT :"owner" TO :"admin";
ALTER DATABASE :"dbname" OWNER TO :"owner";
{extensions}SQL
rm -rf {work}
# The schema step, as the owner, with the app's own environment.
{schema}fetch put-parameter {plan.parameter(RELEASE)} {plan.release}
if [ -z "${{{STAY_UP_ENV}:-}}" ]; then
  systemctl poweroff
fi
"""
    )


def boot_plan(
    spec: Spec,
    *,
    stack: str,
    source: Path,
    artifact_bucket: str,
    database_address: str,
    database_port: int,
    admin_secret_arn: str | None = None,
) -> BootPlan:
    """The plan for this spec's instances, once the database's address and the bucket are known.

    The Pulumi program and the lab both build their plans here, so that they boot alike.
    """
    aws = spec.targets.aws
    if aws is None:
        raise ValueError("the spec has no targets.aws section")
    database = spec.database
    admin = database.admin.name if database.admin is not None else DEFAULT_ADMIN
    return BootPlan(
        service=spec.service.name,
        stack=stack,
        region=aws.region,
        app=spec.app,
        source_name=source.name,
        release=release_id(source),
        artifact_bucket=artifact_bucket,
        artifact_key=archive_key(source),
        database=DatabaseAccess(
            address=database_address,
            port=int(database_port),
            name=database.name,
            owner=database.owner.name,
            admin=admin,
            extensions=list(database.extensions),
            admin_parameter=(
                None if database.admin is None else parameter_name(spec.service.name, stack, ADMIN_PASSWORD)
            ),
            admin_secret_arn=None if database.admin is not None else admin_secret_arn,
        ),
        endpoint=aws.endpoint,
        secret_environment=sorted(spec.app.secret_environment),
    )
