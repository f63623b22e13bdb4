"""The lab's AWS side: moto in a namespace of its own, the source PostgreSQL, the app, the seed.

The source database is modelled on RDS: the migration reaches it only over PostgreSQL and the
AWS APIs. Its hosts have SSH masked; the lab manages them through ``nsenter`` (hosts.exec_in).
The admin role gets what an RDS master user has (CREATEDB, CREATEROLE, and REPLICATION standing
in for ``rds_replication``), and is a member of the service's owner role as an RDS master user
can make itself, so it can publish the service's tables; it is never a superuser.
"""

from __future__ import annotations

import base64
import concurrent.futures
import json
import logging
import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolkit.dns.normalize import fqdn, rdata
from toolkit.errors import CheckFailed
from toolkit.lab import hosts
from toolkit.lab.artifacts import AWS_REGION, DB_INSTANCE, MOTO_PORT, Secrets, zone_of
from toolkit.spec import Spec

log = logging.getLogger(__name__)

PG_VERSION = 15
PG_CLUSTER = "main"
WWW_DATA = 33  # fixed by Debian's base-passwd
APP_DIR = "/opt/refservice"
SEED_NOTES = 300


def start_moto(netns: str, address: str, log_file: Path) -> int:
    """moto_server as a plain process inside its own lab namespace; returns its PID."""
    argv = ["ip", "netns", "exec", netns, sys.executable, "-m", "moto.server", "-H", address,
            "-p", str(MOTO_PORT)]
    with log_file.open("ab") as out:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    return proc.pid


def http_status(url: str, timeout: float = 3.0) -> int | None:
    """The HTTP status ``url`` answers with, or None if nothing answered."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (urllib.error.URLError, OSError):
        return None


def wait_http(url: str, *, what: str, pid: int | None = None, ok: tuple[int, ...] = (), timeout: float = 60,
              log_file: Path | None = None) -> None:
    """Wait until ``url`` answers (with a status in ``ok`` if given)."""
    deadline = time.monotonic() + timeout
    while True:
        status = http_status(url)
        if status is not None and (not ok or status in ok):
            return
        if pid is not None and not hosts.alive(pid):
            raise CheckFailed(f"{what} exited while starting" + (f"; see {log_file}" if log_file else ""))
        if time.monotonic() > deadline:
            seen = f"last status {status}" if status else "no answer"
            raise CheckFailed(f"{what} did not answer on {url} within {timeout:.0f} s ({seen})"
                              + (f"; see {log_file}" if log_file else ""))
        time.sleep(0.3)


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@dataclass(frozen=True)
class DatabasePlan:
    address: str
    subnet: str
    port: int
    name: str
    owner: str
    admin: str
    extensions: list[str]
    locale: str


def setup_source_database(init_pid: int, root: Path, plan: DatabasePlan, creds: Secrets) -> None:
    """Create the cluster (wal_level=logical, listening on the lab), the roles and the database."""
    conf_dir = f"/etc/postgresql/{PG_VERSION}/{PG_CLUSTER}"
    hosts.exec_in(init_pid, ["pg_createcluster", "--locale", plan.locale, "--encoding", "UTF8",
                             "--port", str(plan.port), str(PG_VERSION), PG_CLUSTER],
                  what="creating the source PostgreSQL cluster on aws-db", timeout=120)
    hosts.write_file(root, f"{conf_dir}/conf.d/toolkit-lab.conf",
                     "# Written by toolkit lab: the source of a logical-replication migration.\n"
                     f"listen_addresses = 'localhost,{plan.address}'\n"
                     "wal_level = logical\nmax_replication_slots = 16\nmax_wal_senders = 16\n"
                     "password_encryption = 'scram-sha-256'\n")
    hba = root / conf_dir.lstrip("/") / "pg_hba.conf"
    with hba.open("a") as handle:
        handle.write("# toolkit lab: the lab subnet, passwords only\n"
                     f"host all all {plan.subnet} scram-sha-256\n"
                     f"host replication all {plan.subnet} scram-sha-256\n")
    hosts.exec_in(init_pid, ["systemctl", "enable", "postgresql.service"],
                  what="enabling PostgreSQL on aws-db", check=False)
    hosts.exec_in(init_pid, ["systemctl", "start", f"postgresql@{PG_VERSION}-{PG_CLUSTER}.service"],
                  what="starting PostgreSQL on aws-db", timeout=120)
    sql = [
        f"CREATE ROLE {plan.owner} LOGIN PASSWORD {_literal(creds.db_owner_password)};",
        f"CREATE ROLE {plan.admin} LOGIN PASSWORD {_literal(creds.db_admin_password)} "
        "NOSUPERUSER CREATEDB CREATEROLE REPLICATION;",
        f"GRANT {plan.owner} TO {plan.admin};",
        f"GRANT pg_read_all_data TO {plan.admin};",
        f"CREATE DATABASE {plan.name} OWNER {plan.owner} ENCODING 'UTF8' "
        f"LOCALE {_literal(plan.locale)} TEMPLATE template0;",
        f"\\connect {plan.name}",
        *(f"CREATE EXTENSION IF NOT EXISTS {ext};" for ext in plan.extensions),
    ]
    hosts.exec_in(init_pid, ["psql", "--quiet", "--no-psqlrc", "-v", "ON_ERROR_STOP=1", "-f", "-"],
                  user="postgres", input="\n".join(sql) + "\n",
                  what="creating the source roles and database on aws-db")


@dataclass(frozen=True)
class AppPlan:
    source: Path
    command: str
    ports: list[int]
    environment: dict[str, str]
    schema_command: str | None
    db_address: str
    db_port: int
    database: str
    owner: str
    moto_url: str
    bucket: str


def app_environment(plan: AppPlan) -> dict[str, str]:
    return {
        **plan.environment,
        "REFSERVICE_DATABASE_URL": f"postgresql://{plan.owner}@{plan.db_address}:{plan.db_port}/{plan.database}",
        "REFSERVICE_DATABASE_PASSWORD_FILE": "/etc/refservice/db_password",
        "REFSERVICE_S3_ENDPOINT": plan.moto_url,
        "REFSERVICE_S3_BUCKET": plan.bucket,
        "REFSERVICE_S3_REGION": AWS_REGION,
        "REFSERVICE_S3_ACCESS_KEY_FILE": "/etc/refservice/s3_access_key",
        "REFSERVICE_S3_SECRET_KEY_FILE": "/etc/refservice/s3_secret_key",
        "PYTHONPATH": APP_DIR,
    }


def install_app(root: Path, plan: AppPlan, creds: Secrets) -> None:
    """Copy the app's code into aws-app and install it as enabled systemd units (before boot)."""
    target = root / APP_DIR.lstrip("/") / plan.source.name
    shutil.copytree(plan.source, target, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    env = app_environment(plan)
    text = "".join(f"{key}={value}\n" for key, value in sorted(env.items()))
    hosts.write_file(root, "/etc/refservice/env", text, mode=0o640, gid=WWW_DATA)
    hosts.write_file(root, "/etc/refservice/db_password", creds.db_owner_password + "\n", mode=0o640,
                     gid=WWW_DATA)
    hosts.write_file(root, "/etc/refservice/s3_access_key", creds.aws_access_key_id + "\n", mode=0o640,
                     gid=WWW_DATA)
    hosts.write_file(root, "/etc/refservice/s3_secret_key", creds.aws_secret_access_key + "\n",
                     mode=0o640, gid=WWW_DATA)
    command = plan.command.replace("{port}", "%i")
    unit = ("[Unit]\nDescription=Reference service on port %i (toolkit lab, AWS side)\n"
            "After=network-online.target\n\n[Service]\nUser=www-data\nGroup=www-data\n"
            f"EnvironmentFile=/etc/refservice/env\nWorkingDirectory={APP_DIR}\nExecStart={command}\n"
            "Restart=on-failure\nRestartSec=1\n\n[Install]\nWantedBy=multi-user.target\n")
    hosts.install_unit(root, "refservice@.service", unit,
                       [f"refservice@{port}.service" for port in plan.ports])


def apply_schema(init_pid: int, plan: AppPlan) -> None:
    """The spec's explicit schema step, run on aws-app with the app's own environment."""
    if not plan.schema_command:
        return
    env = {**app_environment(plan)}
    # Run as root: it reads the password file like the app, and root can.
    hosts.exec_in(init_pid, ["sh", "-c", f"cd {APP_DIR} && {plan.schema_command}"], env=env,
                  what="applying the reference service's schema from aws-app")


def aws_client(service: str, endpoint: str, creds: Secrets) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        service, endpoint_url=endpoint, region_name=AWS_REGION,
        aws_access_key_id=creds.aws_access_key_id, aws_secret_access_key=creds.aws_secret_access_key,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3}))


def create_buckets(endpoint: str, creds: Secrets, buckets: list[str]) -> None:
    s3 = aws_client("s3", endpoint, creds)
    for bucket in buckets:
        s3.create_bucket(Bucket=bucket)


def seed_moto(endpoint: str, creds: Secrets, *, lab: str, spec: Spec, app_address: str,
              instances: dict[str, str], admin_password: str, ns_ttl: int = 172800) -> dict[str, Any]:
    """RDS instance, EC2 instances and the Route53 zone; returns their identifiers."""
    database = spec.database
    rds = aws_client("rds", endpoint, creds)
    rds.create_db_instance(
        DBInstanceIdentifier=DB_INSTANCE, Engine="postgres", EngineVersion=f"{database.version}.4",
        DBInstanceClass="db.t3.micro", AllocatedStorage=20, DBName=database.name,
        MasterUsername=(database.admin or database.owner).name,
        MasterUserPassword=admin_password, Port=database.port,
        Tags=[{"Key": "toolkit:lab", "Value": lab}])
    ec2 = aws_client("ec2", endpoint, creds)
    image = ec2.describe_images()["Images"][0]["ImageId"]
    instance_ids = []
    for host, address in instances.items():
        reply = ec2.run_instances(
            ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.small",
            TagSpecifications=[{"ResourceType": "instance", "Tags": [
                {"Key": "Name", "Value": host}, {"Key": "toolkit:lab", "Value": lab},
                {"Key": "toolkit:address", "Value": address}]}])
        instance_ids.append(reply["Instances"][0]["InstanceId"])
    zone = zone_of(spec)
    route53 = aws_client("route53", endpoint, creds)
    reference = f"toolkit-lab-{lab}-{secrets.token_hex(4)}"
    zone_id = route53.create_hosted_zone(Name=zone, CallerReference=reference,
                                         HostedZoneConfig={"Comment": f"toolkit lab {lab}"}
                                         )["HostedZone"]["Id"].split("/")[-1]
    changes = []
    for record in spec.dns.records if spec.dns is not None else []:
        values = [app_address] if record.target == "app" else record.values or []
        changes.append({"Action": "UPSERT", "ResourceRecordSet": {
            "Name": fqdn(record.name, zone), "Type": record.type, "TTL": record.ttl,
            "ResourceRecords": [{"Value": rdata(record.type, v)} for v in values]}})
    # Route53 gives a zone's own NS set a two-day TTL; the lab asks for its own (short) one.
    existing = route53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    for rrset in existing:
        if rrset["Type"] == "NS" and rrset["Name"] == zone and rrset.get("TTL") != ns_ttl:
            changes.append({"Action": "UPSERT", "ResourceRecordSet": {**rrset, "TTL": ns_ttl}})
    route53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": changes})
    return {"hosted_zone_id": zone_id, "instances": instance_ids, "db_instance": DB_INSTANCE,
            "ec2_hosts": dict(zip(instances, instance_ids, strict=True))}


def seed_notes(app_url: str, count: int = SEED_NOTES, workers: int = 8) -> int:
    """Write ``count`` notes with files through the app (rows in PostgreSQL, objects in S3)."""

    def write(index: int) -> None:
        body = json.dumps({"title": f"lab note {index}", "body": f"seeded by toolkit lab ({index})",
                           "file": base64.b64encode(os.urandom(256 + index % 2048)).decode()})
        request = urllib.request.Request(f"{app_url}/notes", data=body.encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        for attempt in range(3):
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    if response.status == 201:
                        return
            except (urllib.error.URLError, OSError) as exc:
                if attempt == 2:
                    raise CheckFailed(f"seeding a note through the app at {app_url} failed: {exc}") from exc
            time.sleep(0.2)
        raise CheckFailed(f"seeding a note through the app at {app_url} failed")

    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(write, range(count)))
    return count
