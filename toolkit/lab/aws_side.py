"""The lab's AWS side: moto in a namespace of its own, the source PostgreSQL, the app, the seed.

The source database is modelled on RDS: the migration reaches it only over PostgreSQL and the
AWS APIs. Its hosts have SSH masked; the lab manages them through ``nsenter`` (hosts.exec_in).
The lab makes what RDS makes: the admin role with what an RDS master user has (CREATEDB,
CREATEROLE, and REPLICATION standing in for ``rds_replication``; never a superuser) and the
database. The app host then boots from the AWS stack's own user data
(``toolkit.targets.aws.boot``), with its parameters and archive in moto: its bootstrap creates
the owner role, makes the admin a member of it (so it can publish the service's tables), creates
the extensions and runs the schema step, and its app-server script starts the app.
"""

from __future__ import annotations

import base64
import concurrent.futures
import json
import logging
import os
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolkit.dns.normalize import fqdn, rdata
from toolkit.errors import CheckFailed, EnvironmentNotReady
from toolkit.lab import hosts, keys
from toolkit.lab.artifacts import (
    AWS_REGION,
    DB_INSTANCE,
    MOTO_PORT,
    Secrets,
    zone_of,
)
from toolkit.spec import Spec
from toolkit.targets.aws import boot
from toolkit.targets.aws.boot import BootPlan, boot_plan
from toolkit.targets.aws.program import default_stack

log = logging.getLogger(__name__)

PG_VERSION = 15
PG_CLUSTER = "main"
SEED_NOTES = 300
LB_CERT, LB_KEY = "/etc/ssl/lab-load-balancer.crt", "/etc/ssl/private/lab-load-balancer.key"


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
    admin: str
    locale: str


def setup_source_database(init_pid: int, root: Path, plan: DatabasePlan, creds: Secrets) -> None:
    """What RDS makes: the cluster (wal_level=logical, on the lab), the master user, the database.

    The owner role, its grants and the extensions are the bootstrap's (``boot_app_host``).
    """
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
        f"CREATE ROLE {plan.admin} LOGIN PASSWORD {_literal(creds.db_admin_password)} "
        "NOSUPERUSER CREATEDB CREATEROLE REPLICATION;",
        f"GRANT pg_read_all_data TO {plan.admin};",
        f"CREATE DATABASE {plan.name} OWNER {plan.admin} ENCODING 'UTF8' "
        f"LOCALE {_literal(plan.locale)} TEMPLATE template0;",
    ]
    hosts.exec_in(init_pid, ["psql", "--quiet", "--no-psqlrc", "-v", "ON_ERROR_STOP=1", "-f", "-"],
                  user="postgres", input="\n".join(sql) + "\n",
                  what="creating the source's master user and database on aws-db")


# The app host boots as an EC2 instance of the stack would: the stack's own user data (the
# bootstrap's, then an app server's), run once by a unit standing in for cloud-init, with the
# lab's AWS key standing in for the instance role (there is no instance metadata service here).
USER_DATA_DIR = "/var/lib/toolkit-lab/user-data"
USER_DATA_UNIT = "toolkit-lab-user-data.service"
INSTANCE_ROLE_ENV = "/etc/toolkit-lab/instance-role.env"
ARTIFACT_BUCKET = "refservice-lab-artifacts"
USER_DATA_TIMEOUT_S = 300


@dataclass(frozen=True)
class AppHost:
    """What the lab's app host boots from: the stack's plan, its scripts, its secrets' values."""

    plan: BootPlan
    scripts: dict[str, str]  # file name -> script, run in name order
    parameters: dict[str, str]  # SSM parameter -> value (secrets and the release marker)
    archive: bytes


def app_host(spec: Spec, *, source: Path, moto_url: str, db_address: str, creds: Secrets) -> AppHost:
    """The stack's boot plan for this lab (moto as the endpoint, aws-db as the database)."""
    aws = spec.targets.aws
    if aws is None:
        raise EnvironmentNotReady("the sample spec has no targets.aws section; the lab's AWS side needs one")
    lab_aws = aws.model_copy(update={"endpoint": moto_url, "region": AWS_REGION})
    spec = spec.model_copy(update={"targets": spec.targets.model_copy(update={"aws": lab_aws})})
    stack = default_stack(spec)
    plan = boot_plan(spec, stack=stack, source=source, artifact_bucket=ARTIFACT_BUCKET,
                     database_address=db_address, database_port=spec.database.port)
    values = {boot.OWNER_PASSWORD: creds.db_owner_password, boot.ADMIN_PASSWORD: creds.db_admin_password}
    unknown = sorted(set(boot.secret_keys(spec)) - set(values))
    if unknown:
        raise EnvironmentNotReady(f"the lab has no values for the sample spec's secrets {unknown}")
    parameters = {plan.parameter(key): values[key] for key in boot.secret_keys(spec)}
    parameters[plan.parameter(boot.RELEASE)] = boot.RELEASE_PENDING  # as the stack creates it
    return AppHost(
        plan=plan,
        scripts={"10-bootstrap": boot.render_bootstrap_user_data(plan),
                 "20-app-server": boot.render_user_data(plan)},
        parameters=parameters,
        archive=boot.release_archive(source),
    )


def install_user_data(root: Path, host: AppHost, creds: Secrets) -> None:
    """The user data and its runner on the app host (before boot); the lab starts it later."""
    for name, script in host.scripts.items():
        hosts.write_file(root, f"{USER_DATA_DIR}/{name}", script, mode=0o700)
    hosts.write_file(root, INSTANCE_ROLE_ENV,
                     f"AWS_ACCESS_KEY_ID={creds.aws_access_key_id}\n"
                     f"AWS_SECRET_ACCESS_KEY={creds.aws_secret_access_key}\n"
                     f"AWS_DEFAULT_REGION={host.plan.region}\n", mode=0o600)
    runs = "".join(f"ExecStart={USER_DATA_DIR}/{name}\n" for name in sorted(host.scripts))
    hosts.write_file(root, f"/etc/systemd/system/{USER_DATA_UNIT}",
                     "[Unit]\nDescription=EC2 user data, run once as cloud-init would (toolkit lab)\n"
                     "After=network-online.target\n\n[Service]\nType=oneshot\nRemainAfterExit=yes\n"
                     f"EnvironmentFile={INSTANCE_ROLE_ENV}\n"
                     # The bootstrap would power its own instance off; here the app host is it.
                     f"Environment={boot.STAY_UP_ENV}=1\n{runs}"
                     f"TimeoutStartSec={USER_DATA_TIMEOUT_S}\n")
    # The app's units, written by the user data, get the instance role's stand-in too.
    drop_in = f"/etc/systemd/system/{host.plan.service}@.service.d/toolkit-lab-instance-role.conf"
    hosts.write_file(root, drop_in,
                     f"[Service]\nEnvironmentFile={INSTANCE_ROLE_ENV}\n")


def install_load_balancer(root: Path, tls: keys.Pem, ports: list[int]) -> None:
    """The ALB's stand-in on the app host (before boot): HTTPS on 443 for the service's name, with
    its own pair ``tls`` (signed by the lab CA, kept on this host only, as ACM's would be), in front
    of the app's ports, as the stack's load balancer does.

    moto has no load balancer that carries traffic. Without this front, a client that follows the
    service's name could not reach the AWS side at all, and the migration's client outage (from
    the last write acknowledged on the source to the first on the target, both through DNS) could
    not be measured.
    """
    hosts.write_file(root, LB_CERT, tls.certificate, mode=0o644)
    hosts.write_file(root, LB_KEY, tls.key, mode=0o600)
    upstreams = "".join(f"    server 127.0.0.1:{port} max_fails=1 fail_timeout=2s;\n" for port in ports)
    hosts.write_file(root, "/etc/nginx/sites-enabled/load-balancer",
                     f"upstream app {{\n{upstreams}}}\n"
                     "server {\n    listen 443 ssl;\n"
                     f"    ssl_certificate {LB_CERT};\n    ssl_certificate_key {LB_KEY};\n"
                     "    location / {\n        proxy_pass http://app;\n"
                     "        proxy_set_header Host $host;\n"
                     "        proxy_next_upstream error timeout http_502 http_503;\n    }\n}\n")
    (root / "etc/nginx/sites-enabled/default").unlink(missing_ok=True)
    wants = root / "etc/systemd/system/multi-user.target.wants/nginx.service"
    wants.parent.mkdir(parents=True, exist_ok=True)
    wants.unlink(missing_ok=True)
    wants.symlink_to("/lib/systemd/system/nginx.service")


def seed_app_host(endpoint: str, creds: Secrets, host: AppHost) -> None:
    """What the stack puts in AWS for its instances: the release archive and the parameters."""
    s3 = aws_client("s3", endpoint, creds)
    s3.create_bucket(Bucket=host.plan.artifact_bucket)
    s3.put_object(Bucket=host.plan.artifact_bucket, Key=host.plan.artifact_key, Body=host.archive)
    ssm = aws_client("ssm", endpoint, creds)
    for name, value in sorted(host.parameters.items()):
        kind = "String" if name == host.plan.parameter(boot.RELEASE) else "SecureString"
        ssm.put_parameter(Name=name, Value=value, Type=kind, Overwrite=True)


def start_user_data(init_pid: int) -> None:
    """Start the app host's user data, as EC2 does at first boot, without waiting for it.

    Its bootstrap waits for the database to let its admin in, so it may start before the lab's
    database is ready (as an instance may start before RDS lets it in).
    """
    hosts.exec_in(init_pid, ["systemctl", "start", "--no-block", USER_DATA_UNIT],
                  what="starting the stack's user data on aws-app")


def finish_user_data(init_pid: int, log_file: Path) -> None:
    """Wait for the app host's user data to end; fail with its output if it failed."""
    deadline = time.monotonic() + USER_DATA_TIMEOUT_S + 30
    while (state := hosts.exec_in(init_pid, ["systemctl", "is-active", USER_DATA_UNIT], check=False,
                                  what="watching the stack's user data on aws-app").stdout.strip()) in (
            "activating", "inactive") and time.monotonic() < deadline:
        time.sleep(0.3)
    journal = hosts.exec_in(init_pid, ["journalctl", "--no-pager", "-o", "cat", "-u", USER_DATA_UNIT],
                            check=False, what="reading the user data's output on aws-app")
    with log_file.open("a") as out:
        out.write(journal.stdout)
    if state != "active":
        tail = "\n".join(journal.stdout.strip().splitlines()[-15:])
        raise CheckFailed(f"the stack's user data failed on aws-app (full output in {log_file}):\n{tail}")


def aws_client(service: str, endpoint: str, creds: Secrets) -> Any:
    from toolkit.spec import Secret
    from toolkit.targets.aws.clients import AwsAccess

    access = AwsAccess(AWS_REGION, endpoint, Secret(creds.aws_access_key_id),
                       Secret(creds.aws_secret_access_key), max_attempts=4)
    return access.client(service)


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
