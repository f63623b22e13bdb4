"""The shared lab: hosts, SSH, the AWS side and the lab's own files (integration, root)."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import psycopg
import psycopg.rows
import pytest
import yaml
from psycopg import sql

from refservice import canonical
from tests.fixtures import lab_states
from tests.fixtures.lab import baremetal_hosts, lab_host, lab_ssh
from toolkit import interface, ssh
from toolkit.lab import aws_side
from toolkit.lab import hosts as lab_hosts
from toolkit.lab.artifacts import LAB_NS_TTL, LAB_RECORD_TTL
from toolkit.lab.keys import ssh_keypair
from toolkit.lab.record import RECORD, LabRecord
from toolkit.spec import load_spec
from toolkit.targets.aws import boot
from toolkit.targets.aws.program import default_stack

pytestmark = [pytest.mark.lab, pytest.mark.timeout(900)]

STATUS_FIELDS = {"name", "dir", "spec", "inventory", "aws_endpoint", "ssh_user", "ssh_key", "known_hosts",
                 "source_dsn", "pgpassfile", "hosts", "subnet", "weed_binary", "rclone_binary", "dns"}


def aws(status: dict[str, Any], service: str) -> Any:
    import boto3
    from botocore.config import Config

    secrets = Path(status["dir"]) / "secrets"
    return boto3.session.Session().client(
        service, endpoint_url=status["aws_endpoint"], region_name="us-east-1",
        aws_access_key_id=(secrets / "aws_access_key_id").read_text().strip(),
        aws_secret_access_key=(secrets / "aws_secret_access_key").read_text().strip(),
        config=Config(s3={"addressing_style": "path"}))


def spec_of(status: dict[str, Any]) -> dict[str, Any]:
    return yaml.safe_load(Path(status["spec"]).read_text())


def toolkit_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "toolkit", *args], capture_output=True, text=True,
                          timeout=300)


def test_every_host_runs_systemd_as_pid1(lab: dict[str, Any]) -> None:
    for host in lab["hosts"]:
        if host["kind"] != "container":
            continue
        init = lab_hosts.container_init(host["pid"])
        assert init is not None, host["name"]
        assert lab_hosts.comm(init) == "systemd", host["name"]
    for host in baremetal_hosts(lab):
        with lab_ssh(lab, host["name"]) as client:
            assert ssh.run(client, "ps -p 1 -o comm=").stdout.strip() == "systemd"


def test_deploy_user_reaches_every_baremetal_host_with_sudo(lab: dict[str, Any]) -> None:
    assert lab["ssh_user"] == "deploy"
    for host in baremetal_hosts(lab):
        with lab_ssh(lab, host["name"]) as client:
            assert ssh.run(client, "id -un").stdout.strip() == "deploy"
            assert ssh.run(client, "hostname").stdout.strip() == host["name"]
            result = ssh.run(client, "sudo -n true")
            assert result.status == 0, result.stderr


def test_baremetal_hosts_boot_blank_and_isolated(lab_blank: dict[str, Any]) -> None:
    lab = lab_blank
    host = baremetal_hosts(lab)[0]
    with lab_ssh(lab, host["name"]) as client:
        running = ssh.run(client, "systemctl list-units --type=service --state=running --no-legend --plain")
        units = {line.split()[0] for line in running.stdout.splitlines() if line.strip()}
        assert "ssh.service" in units
        assert not units & {"postgresql.service", "nginx.service", "pdns.service", "nftables.service"}
        assert ssh.run(client, "ls /etc/postgresql").stdout.strip() == ""
        routes = ssh.run(client, "ip route").stdout
        assert "default" not in routes
        assert ssh.run(client, "test -x /usr/local/bin/weed -a -x /usr/local/bin/rclone").status == 0


def test_unknown_host_key_is_refused(lab: dict[str, Any], tmp_path: Path) -> None:
    first = baremetal_hosts(lab)[0]
    lines = [line for line in Path(lab["known_hosts"]).read_text().splitlines()
             if not line.startswith(first["address"] + " ")]
    known = tmp_path / "known_hosts"
    known.write_text("".join(line + "\n" for line in lines))
    with pytest.raises(ssh.HostKeyRejected, match=first["address"]):
        ssh.connect(first["address"], user="deploy", key_file=lab["ssh_key"], known_hosts=known)


def test_changed_host_key_is_refused(lab: dict[str, Any], tmp_path: Path) -> None:
    first = baremetal_hosts(lab)[0]
    impostor = ssh_keypair("impostor").public_line.split()
    known = tmp_path / "known_hosts"
    known.write_text(f"{first['address']} {impostor[0]} {impostor[1]}\n")
    with pytest.raises(ssh.HostKeyRejected, match="differs"):
        ssh.connect(first["address"], user="deploy", key_file=lab["ssh_key"], known_hosts=known)


def test_aws_side_hosts_have_no_ssh(lab: dict[str, Any]) -> None:
    for name in ("aws-db", "aws-app"):
        assert not lab_hosts.ssh_banner(lab_host(lab, name)["address"], timeout=1)


def test_app_answers_with_the_digest_of_the_seeded_data(lab: dict[str, Any]) -> None:
    with urllib.request.urlopen(f"{lab['app_url']}/healthz", timeout=10) as response:
        assert response.status == 200
    with urllib.request.urlopen(f"{lab['app_url']}/digest", timeout=30) as response:
        assert response.status == 200
        answered = json.loads(response.read())
    # The same digest, computed here from the source database and moto's S3 directly.
    with psycopg.connect(lab["source_dsn"], passfile=lab["pgpassfile"], connect_timeout=5,
                         row_factory=psycopg.rows.dict_row) as conn:
        rows = conn.execute("SELECT id, title, body, version, object_key, object_sha256, updated_at "
                            "FROM notes ORDER BY id").fetchall()
    s3 = aws(lab, "s3")
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket="refservice-files")
    keys = sorted(obj["Key"] for page in pages for obj in page.get("Contents", []))
    objects = [(key, canonical.sha256_hex(s3.get_object(Bucket="refservice-files", Key=key)["Body"].read()))
               for key in keys]
    digest, n_rows, n_objects = canonical.digest(rows, objects)
    assert answered == {"digest": digest, "rows": n_rows, "objects": n_objects}
    seeded = LabRecord.load(Path(lab["dir"]) / RECORD).aws["seeded_notes"]  # type: ignore[union-attr]
    # Other tests write through the app on the shared lab (and delete notes): the seed is what it
    # was, and whatever the rows are now, each one's file is there with its checksum.
    assert seeded == 300 and n_rows > 0 and n_objects > 0
    assert {row["object_key"] for row in rows} <= set(keys)  # every row's file is in the bucket
    assert all(row["object_sha256"] == dict(objects)[row["object_key"]] for row in rows)


def test_users_reach_the_aws_side_by_name_over_https_through_the_resolver(
        lab: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """The load balancer's stand-in: the service's name, resolved by the lab's resolver, answers
    HTTPS with the lab CA's certificate, served by the AWS side's app (as the ALB does)."""
    from refservice.dialer import DnsResolver, request

    monkeypatch.setenv("SSL_CERT_FILE", lab["ca_certificate"])
    assert lab["service_url"] == "https://" + lab["dns"]["zone"].rstrip(".")
    answer = request("GET", f"{lab['service_url']}/healthz", resolver=DnsResolver(lab["dns"]["resolver"]),
                     timeout=10)
    assert answer.status == 200 and answer.json() == {"status": "ok"}
    app = next(h for h in lab["hosts"] if h["name"] == "aws-app")
    assert {s["name"]: s["healthy"] for s in app["services"]}["load-balancer:443"] is True


def test_aws_app_runs_the_stacks_own_user_data(lab: dict[str, Any]) -> None:
    """The AWS side's app host booted from the scripts the Pulumi program gives EC2 (issue 16)."""
    spec = load_spec(lab["spec"]).spec
    db = spec.targets.aws.database_endpoint  # type: ignore[union-attr]
    plan = boot.boot_plan(spec, stack=default_stack(spec), source=Path(spec.app.source),
                          artifact_bucket=aws_side.ARTIFACT_BUCKET, database_address=db.host,  # type: ignore[union-attr]
                          database_port=db.port)  # type: ignore[union-attr]
    upper = Path(lab["dir"]) / "hosts" / "aws-app" / "upper"
    ran = {path.name: path.read_text() for path in (upper / aws_side.USER_DATA_DIR.lstrip("/")).iterdir()}
    assert ran == {"10-bootstrap": boot.render_bootstrap_user_data(plan),
                   "20-app-server": boot.render_user_data(plan)}
    # The bootstrap recorded the release it prepared, from the archive named by that release.
    ssm, s3 = aws(lab, "ssm"), aws(lab, "s3")
    assert ssm.get_parameter(Name=plan.parameter(boot.RELEASE))["Parameter"]["Value"] == plan.release
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=plan.artifact_bucket)["Contents"]]
    assert keys == [plan.artifact_key] == [f"app/refservice-{plan.release}.zip"]
    # The secrets came from SSM parameters (SecureString); the scripts hold none of them.
    owner = ssm.get_parameter(Name=plan.parameter(boot.OWNER_PASSWORD), WithDecryption=True)["Parameter"]
    assert owner["Type"] == "SecureString"
    assert owner["Value"] == (Path(lab["dir"]) / "secrets" / "db_owner_password").read_text().strip()
    assert all(owner["Value"] not in script for script in ran.values())
    # The app runs as the user the user data made, and answers.
    init = lab_hosts.container_init(lab_host(lab, "aws-app")["pid"])
    assert init is not None
    for port in spec.app.ports:
        user = lab_hosts.exec_in(init, ["systemctl", "show", "-P", "User", f"refservice@{port}.service"],
                                 what="reading the app's unit")
        assert user.stdout.strip() == "refservice"
        with urllib.request.urlopen(f"http://{lab_host(lab, 'aws-app')['address']}:{port}/healthz",
                                    timeout=10) as response:
            assert response.status == 200


def test_bootstrap_made_the_owner_and_the_admin_its_member(lab: dict[str, Any]) -> None:
    """What RDS does not make, the stack's bootstrap made: owner, membership, extensions, schema."""
    spec = spec_of(lab)
    with psycopg.connect(lab["source_dsn"], passfile=lab["pgpassfile"], connect_timeout=5) as conn:
        owner = conn.execute("SELECT pg_get_userbyid(datdba) FROM pg_database "
                             "WHERE datname = current_database()").fetchone()
        assert owner == (spec["database"]["owner"]["name"],)
        assert conn.execute("SELECT pg_has_role(%s, %s, 'MEMBER')",
                            (spec["database"]["admin"]["name"], spec["database"]["owner"]["name"])
                            ).fetchone() == (True,)
        extensions = {row[0] for row in conn.execute("SELECT extname FROM pg_extension").fetchall()}
        assert set(spec["database"]["extensions"]) <= extensions
        assert conn.execute("SELECT tableowner FROM pg_tables WHERE tablename = 'notes'").fetchone() == (
            spec["database"]["owner"]["name"],)


def test_moto_is_seeded(lab: dict[str, Any]) -> None:
    spec = spec_of(lab)
    rds = aws(lab, "rds").describe_db_instances(DBInstanceIdentifier="refservice-db")["DBInstances"][0]
    assert rds["Engine"] == "postgres" and rds["EngineVersion"].startswith("15")
    reservations = aws(lab, "ec2").describe_instances()["Reservations"]
    names = {tag["Value"] for r in reservations for i in r["Instances"] for tag in i.get("Tags", [])
             if tag["Key"] == "Name"}
    assert {"aws-db", "aws-app"} <= names
    s3 = aws(lab, "s3")
    objects = s3.list_objects_v2(Bucket="refservice-files").get("KeyCount", 0)
    assert objects >= 100
    zone_id = spec["targets"]["aws"]["resources"]["hosted_zone_id"]
    route53 = aws(lab, "route53")
    zone = route53.get_hosted_zone(Id=zone_id)["HostedZone"]
    assert zone["Name"] == spec["dns"]["zone"]
    records = route53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    by_type = {(r["Name"], r["Type"]): r for r in records}
    apex = spec["dns"]["zone"]
    # The lab's short TTLs (the spec's own), so that a DNS timeline runs in seconds.
    ttls = {(r["name"], r["type"]): r["ttl"] for r in spec["dns"]["records"]}
    assert by_type[(apex, "A")]["TTL"] == ttls[("@", "A")] == LAB_RECORD_TTL
    assert by_type[(apex, "A")]["ResourceRecords"] == [{"Value": lab_host(lab, "aws-app")["address"]}]
    assert by_type[(apex, "NS")]["TTL"] == LAB_NS_TTL


def test_owner_role_queries_the_source_database(lab: dict[str, Any]) -> None:
    with psycopg.connect(lab["source_dsn"], passfile=lab["pgpassfile"], connect_timeout=5) as conn:
        count = conn.execute("SELECT count(*) FROM notes").fetchone()
        assert count is not None and count[0] >= 100
        assert conn.execute("SHOW wal_level").fetchone() == ("logical",)


def test_admin_role_publishes_and_makes_slots_but_is_no_superuser(lab: dict[str, Any]) -> None:
    spec = spec_of(lab)
    admin = spec["database"]["admin"]["name"]
    password = (Path(lab["dir"]) / "secrets" / "db_admin_password").read_text().strip()
    endpoint = spec["targets"]["aws"]["database_endpoint"]
    with psycopg.connect(host=endpoint["host"], port=endpoint["port"], dbname=spec["database"]["name"],
                         user=admin, password=password, autocommit=True, connect_timeout=5) as conn:
        superuser = conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()
        assert superuser == (False,)
        # Names of this test's own, so that a rerun or a neighbour never trips on a leftover.
        pub, slot = (f"test_{kind}_{secrets.token_hex(4)}" for kind in ("pub", "slot"))
        try:
            conn.execute(sql.SQL("CREATE PUBLICATION {} FOR TABLE notes").format(sql.Identifier(pub)))
            made = conn.execute("SELECT slot_name FROM pg_create_logical_replication_slot(%s, 'pgoutput')",
                                (slot,)).fetchone()
            assert made == (slot,)
        finally:
            conn.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                         "WHERE slot_name = %s", (slot,))
            conn.execute(sql.SQL("DROP PUBLICATION IF EXISTS {}").format(sql.Identifier(pub)))
        assert conn.execute("SELECT count(*) FROM pg_replication_slots WHERE slot_name = %s",
                            (slot,)).fetchone() == (0,)


def test_status_json_has_the_documented_fields(lab: dict[str, Any]) -> None:
    result = toolkit_cli("lab", "status", "--name", lab["name"], "--json")
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert set(status) >= STATUS_FIELDS
    assert status["healthy"] is True
    assert Path(status["rclone_binary"]).is_file() and Path(status["weed_binary"]).is_file()
    for host in status["hosts"]:
        assert {"name", "address", "side", "groups", "services"} <= set(host)
        assert host["side"] in ("aws", "baremetal", "dns")
    assert {h["name"] for h in status["hosts"] if h["side"] == "aws"} >= {"aws-db", "aws-app"}
    # The DNS world: the resolver's and each authoritative server's address.
    addresses = {h["name"]: h["address"] for h in status["hosts"]}
    assert status["dns"]["resolver"] == addresses["resolver"]
    assert status["dns"]["registry"] == addresses["registry"]
    assert status["dns"]["route53"] == [addresses["route53-ns"]]
    assert status["dns"]["powerdns"] == [h["address"] for h in status["hosts"]
                                         if "dns" in h["groups"] and not h["drill"]]


def test_lab_spec_validates(lab: dict[str, Any]) -> None:
    result = toolkit_cli("validate", "--spec", lab["spec"], "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["warnings"] == []


def test_lab_files(lab: dict[str, Any]) -> None:
    directory = Path(lab["dir"])
    for secret in (directory / "secrets").iterdir():
        assert secret.stat().st_mode & 0o777 == 0o600, secret
    for private in (lab["ssh_key"], lab["pgpassfile"], directory / "tls" / "ca.key"):
        assert Path(private).stat().st_mode & 0o777 == 0o600, private
    inventory = yaml.safe_load(Path(lab["inventory"]).read_text())["all"]
    assert set(inventory["children"]) == {"db", "app", "web", "objects", "dns"}
    assert inventory["vars"]["ansible_user"] == "deploy"
    assert inventory["vars"]["toolkit_apt_update"] is False
    for group in inventory["children"].values():
        for host in group["hosts"].values():
            assert host["ansible_host"] == host["service_address"]
    known = Path(lab["known_hosts"]).read_text().splitlines()
    assert {line.split()[0] for line in known} == {h["address"] for h in baremetal_hosts(lab)}


def test_up_again_keeps_the_lab_and_its_provisioned_hosts(lab_provisioned: dict[str, Any]) -> None:
    lab = lab_provisioned

    def pids() -> dict[str, int]:
        record = LabRecord.load(Path(lab["dir"]) / RECORD)
        assert record is not None
        return {m.name: m.pid for m in record.members if m.pid is not None and lab_hosts.alive(m.pid)}

    before = pids()
    assert len(before) == len(lab["hosts"])
    again = interface.lab_up(lab["name"], len(baremetal_hosts(lab)))
    assert again["subnet"] == lab["subnet"]
    assert pids() == before  # no host, nor moto, was restarted
    assert lab_states.verify_provisioned(lab) is None  # and what provisioning made is still there
