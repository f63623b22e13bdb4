"""Provisioning the lab's bare-metal hosts for real: check mode, a real run, and what it built.

One lab and one provisioning sequence (check, run, re-run) are shared by the whole module; the
drift and standby tests run after the others, in file order, because they change the hosts.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import dns.resolver
import psycopg
import pytest
from boto3.s3.transfer import TransferConfig

from toolkit import ssh
from toolkit.spec import load_spec
from toolkit.targets.baremetal.preflight import PreflightFailed
from toolkit.targets.baremetal.provision import provision_baremetal
from toolkit.targets.baremetal.summary import BaremetalProvisionResult

from .hostfs import diff, hash_upper, upper_dir
from .labspec import derived_spec

pytestmark = [pytest.mark.lab, pytest.mark.timeout(1800)]

BAREMETAL = ("bm1", "bm2", "bm3", "bm4", "bm5")


@dataclass
class Provisioned:
    lab: dict[str, Any]
    spec: Path
    check: BaremetalProvisionResult
    check_diff: dict[str, list[str]]
    run: BaremetalProvisionResult
    rerun: BaremetalProvisionResult

    def address(self, host: str) -> str:
        return next(h["address"] for h in self.lab["hosts"] if h["name"] == host)

    def secret(self, name: str) -> str:
        return (Path(self.lab["dir"]) / "secrets" / name).read_text().strip()

    def ssh_run(self, host: str, command: str) -> ssh.CommandResult:
        client = ssh.connect(self.address(host), user=self.lab["ssh_user"], key_file=self.lab["ssh_key"],
                             known_hosts=self.lab["known_hosts"])
        try:
            return ssh.run(client, command)
        finally:
            client.close()

    def provision(self, **kwargs: Any) -> BaremetalProvisionResult:
        return provision_baremetal(load_spec(self.spec), **kwargs)


def hashes(lab: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {host: hash_upper(upper_dir(lab, host)) for host in BAREMETAL}


@pytest.fixture(scope="module")
def bm(lab: dict[str, Any]) -> Provisioned:
    spec = Path(lab["spec"])
    before = hashes(lab)
    check = provision_baremetal(load_spec(spec), check=True)
    after = hashes(lab)
    check_diff = {host: diff(before[host], after[host]) for host in BAREMETAL}
    partial = Provisioned(lab, spec, check, check_diff, check, check)
    partial.run = partial.provision()
    partial.rerun = partial.provision()
    return partial


# --- check mode, the run, idempotence ---------------------------------------------------------

def test_check_mode_reports_changes_and_changes_nothing(bm: Provisioned) -> None:
    assert bm.check.ok, bm.check.summary_lines()
    assert bm.check.to_json()["check"] is True
    assert bm.check.summary.changed > 0
    assert set(bm.check.summary.hosts) == set(BAREMETAL)
    assert bm.check_diff == {host: [] for host in BAREMETAL}


def test_run_succeeds_on_every_host(bm: Provisioned) -> None:
    assert bm.run.ok, bm.run.summary_lines()
    data = bm.run.to_json()
    assert set(data["hosts"]) == set(BAREMETAL)
    assert all(h["failed"] == 0 and h["unreachable"] is False for h in data["hosts"].values())
    run_dir = Path(str(data["run_dir"]))
    assert run_dir.stat().st_mode & 0o777 == 0o700
    assert list(run_dir.glob("artifacts/*/job_events/*.json"))


def test_second_run_changes_nothing(bm: Provisioned) -> None:
    assert bm.rerun.ok
    assert bm.rerun.to_json()["changed"] == 0, bm.rerun.to_json()["changes"]


# --- what the run built -----------------------------------------------------------------------

def test_https_through_nginx_with_the_lab_ca(bm: Provisioned) -> None:
    context = ssl.create_default_context(cafile=bm.lab["ca_certificate"])
    for web in ("bm2", "bm3"):
        request = urllib.request.Request(f"https://{bm.address(web)}/healthz")
        with urllib.request.urlopen(request, context=context, timeout=10) as answer:
            assert answer.status == 200
            assert json.load(answer)["status"] == "ok"
    with pytest.raises(urllib.error.HTTPError) as redirect:
        opener = urllib.request.build_opener(NoRedirect)
        opener.open(f"http://{bm.address('bm2')}/healthz", timeout=10)
    assert redirect.value.code == 301
    assert redirect.value.headers["Location"].startswith("https://")


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def test_postgresql_accepts_the_service_role_with_logical_wal(bm: Provisioned) -> None:
    with psycopg.connect(host=bm.address("bm1"), port=5432, dbname="refservice", user="refservice",
                         password=bm.secret("db_owner_password"), connect_timeout=5) as conn:
        assert conn.execute("SHOW wal_level").fetchone() == ("logical",)
        assert conn.execute("SELECT extname FROM pg_extension WHERE extname = 'pgcrypto'").fetchone()
        encoding = conn.execute("SELECT pg_encoding_to_char(encoding), datcollate FROM pg_database "
                                "WHERE datname = 'refservice'").fetchone()
        assert encoding == ("UTF8", "C.UTF-8")
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(host=bm.address("bm1"), port=5432, dbname="refservice", user="refservice",
                        password="wrong-password", connect_timeout=5)


def s3_client(bm: Provisioned) -> Any:
    return boto3.client("s3", endpoint_url=f"http://{bm.address('bm4')}:9000", region_name="us-east-1",
                        aws_access_key_id=bm.secret("objects_access_key"),
                        aws_secret_access_key=bm.secret("objects_secret_key"))


def test_object_store_with_boto3(bm: Provisioned, tmp_path: Path) -> None:
    s3 = s3_client(bm)
    assert "refservice-files" in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(12 * 1024 * 1024))
    config = TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024)
    s3.upload_file(str(big), "refservice-files", "test/multipart.bin", Config=config)
    head = s3.head_object(Bucket="refservice-files", Key="test/multipart.bin")
    assert head["ContentLength"] == big.stat().st_size
    # (rclone serve s3 answers a multipart object with a whole-object MD5 ETag, not AWS's "<md5>-<parts>")
    body = s3.get_object(Bucket="refservice-files", Key="test/multipart.bin")["Body"].read()
    assert body == big.read_bytes()

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda i: s3.put_object(Bucket="refservice-files", Key=f"many/{i:05d}", Body=b"x"),
                      range(1100)))
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket="refservice-files", Prefix="many/")
    keys = [obj["Key"] for page in pages for obj in page.get("Contents", [])]
    assert len(keys) == 1100 and keys == sorted(keys)

    s3.put_object(Bucket="refservice-files", Key="test/meta.txt", Body=b"m", Metadata={"owner": "toolkit"})
    metadata = s3.head_object(Bucket="refservice-files", Key="test/meta.txt")["Metadata"]
    # rclone serve s3 answers with canonicalized header names ("Owner"): compare case-insensitively.
    assert {k.lower(): v for k, v in metadata.items()} == {"owner": "toolkit"}


def test_object_store_with_rclone(bm: Provisioned, tmp_path: Path) -> None:
    rclone = bm.lab["rclone_binary"]
    env = {**os.environ, "RCLONE_CONFIG": "/dev/null", "RCLONE_CONFIG_LABS3_TYPE": "s3",
           "RCLONE_CONFIG_LABS3_PROVIDER": "Other",
           "RCLONE_CONFIG_LABS3_ENDPOINT": f"http://{bm.address('bm4')}:9000",
           "RCLONE_CONFIG_LABS3_ACCESS_KEY_ID": bm.secret("objects_access_key"),
           "RCLONE_CONFIG_LABS3_SECRET_ACCESS_KEY": bm.secret("objects_secret_key")}
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(11 * 1024 * 1024))

    def rclone_run(*args: str) -> str:
        done = subprocess.run([rclone, *args], env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout

    rclone_run("copyto", "--s3-upload-cutoff", "5M", "--s3-chunk-size", "5M", str(big),
               "labs3:refservice-files/rclone/big.bin")
    rclone_run("copyto", "--header-upload", "X-Amz-Meta-Color: blue", str(big),
               "labs3:refservice-files/rclone/meta.bin")
    rclone_run("check", str(tmp_path), "labs3:refservice-files/rclone", "--one-way", "--include", "big.bin")
    listed = rclone_run("lsf", "labs3:refservice-files/many/")
    assert len(listed.split()) == 1100 or len(listed.split()) == 0  # 0 when run before the boto3 test
    metadata = s3_client(bm).head_object(Bucket="refservice-files", Key="rclone/meta.bin")["Metadata"]
    assert {k.lower(): v for k, v in metadata.items()}.get("color") == "blue"


def test_powerdns_answers_and_guards_its_api(bm: Provisioned) -> None:
    for dns_host in ("bm4", "bm5"):
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [bm.address(dns_host)]
        resolver.lifetime = 5
        a = sorted(r.address for r in resolver.resolve("refservice.example.", "A"))
        assert a == sorted([bm.address("bm2"), bm.address("bm3")])
        ns = sorted(r.target.to_text() for r in resolver.resolve("refservice.example.", "NS"))
        assert ns == ["ns1.refservice.example.", "ns2.refservice.example."]
        assert [r.exchange.to_text() for r in resolver.resolve("refservice.example.", "MX")] == \
            ["mail.refservice.example."]
        glue = resolver.resolve("ns1.refservice.example.", "A")
        assert glue[0].address in (bm.address("bm4"), bm.address("bm5"))
    url = f"http://{bm.address('bm4')}:8081/api/v1/servers/localhost/zones"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(url, timeout=5)
    assert refused.value.code == 401
    keyed = urllib.request.Request(url, headers={"X-API-Key": bm.secret("pdns_api_key")})
    with urllib.request.urlopen(keyed, timeout=5) as answer:
        assert "refservice.example." in [zone["name"] for zone in json.load(answer)]


def refused(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=3):
            return False
    except OSError:
        return True


def test_firewall_refuses_unopened_ports(bm: Provisioned) -> None:
    # App ports accept the web hosts only; nothing listens for the operator on 5432 of a web host.
    assert refused(bm.address("bm2"), 8000)
    assert refused(bm.address("bm1"), 8000)
    assert refused(bm.address("bm4"), 5432)
    assert not refused(bm.address("bm2"), 443)
    assert not refused(bm.address("bm1"), 5432)
    # and the app hosts do reach their app ports from the web hosts (nginx on bm2 -> bm3:8001)
    probe = f"python3 -c \"import urllib.request; urllib.request.urlopen('http://{bm.address('bm3')}:8001/healthz')\""
    assert bm.ssh_run("bm2", probe).status == 0


def test_no_secret_in_artifacts_logs_or_processes(bm: Provisioned) -> None:
    secrets = {name: bm.secret(name) for name in
               ("db_owner_password", "objects_access_key", "objects_secret_key", "pdns_api_key")}
    for result in (bm.check, bm.run, bm.rerun):
        run_dir = Path(str(result.to_json()["run_dir"]))
        for path in run_dir.rglob("*"):
            if path.is_file():
                text = path.read_bytes()
                for name, value in secrets.items():
                    assert value.encode() not in text, f"{name} found in {path}"
    for host in BAREMETAL:
        ps = bm.ssh_run(host, "ps -eo args").stdout
        journal = bm.ssh_run(host, "sudo journalctl --no-pager -o cat").stdout
        for name, value in secrets.items():
            assert value not in ps, f"{name} in ps on {host}"
            assert value not in journal, f"{name} in the journal of {host}"


# --- drift, then standby (they change the hosts: keep them last) ------------------------------

def test_drift_is_restored_and_nothing_else_changes(bm: Provisioned) -> None:
    site = "/etc/nginx/sites-available/refservice.conf"
    drift = f"sudo sed -i '1a # drifted' {site} && sudo systemctl stop refservice@8000"
    assert bm.ssh_run("bm2", drift).status == 0
    result = bm.provision()
    assert result.ok
    data = result.to_json()
    assert {h: s["changed"] for h, s in data["hosts"].items()} == {
        "bm1": 0, "bm2": 3, "bm3": 0, "bm4": 0, "bm5": 0}
    assert sorted((c["host"], c["task"]) for c in data["changes"]) == [
        ("bm2", "Reload the nginx configuration"), ("bm2", "Start the app processes"),
        ("bm2", "Write the site")]
    assert bm.ssh_run("bm2", f"grep -c drifted {site}").stdout.strip() == "0"
    assert bm.ssh_run("bm2", "systemctl is-active refservice@8000").stdout.strip() == "active"


def test_standby_leaves_the_database_empty_and_the_app_stopped(bm: Provisioned) -> None:
    dsn = dict(host=bm.address("bm1"), port=5432, dbname="refservice", user="refservice",
               password=bm.secret("db_owner_password"), connect_timeout=5)
    with psycopg.connect(**dsn, autocommit=True) as conn:  # a migration target starts empty
        tables = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
        for (table,) in tables:
            conn.execute(f'DROP TABLE "{table}" CASCADE')
    result = bm.provision(standby=True)
    assert result.ok, result.summary_lines()
    assert result.to_json()["standby"] is True
    with psycopg.connect(**dsn) as conn:
        assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone() == (0,)
    for app in ("bm2", "bm3"):
        states = bm.ssh_run(app, "systemctl is-active refservice@8000 refservice@8001").stdout.split()
        assert states == ["inactive", "inactive"]
    context = ssl.create_default_context(cafile=bm.lab["ca_certificate"])
    with pytest.raises(urllib.error.HTTPError) as maintenance:
        urllib.request.urlopen(f"https://{bm.address('bm2')}/", context=context, timeout=10)
    assert maintenance.value.code == 503
    assert b"being moved" in maintenance.value.read()


# --- errors: nothing is changed ---------------------------------------------------------------

def test_unreachable_host_stops_the_run_before_any_change(bm: Provisioned, tmp_path: Path) -> None:
    inventory = _inventory(bm)
    for group in inventory["all"]["children"].values():  # bm4 is listed in two groups
        if "bm4" in (group.get("hosts") or {}):
            group["hosts"]["bm4"]["ansible_host"] = "198.18.1.254"
    spec = derived_spec(Path(bm.lab["spec"]), tmp_path, inventory=inventory)
    before = hashes(bm.lab)
    started = time.monotonic()
    with pytest.raises(PreflightFailed) as failed:
        provision_baremetal(load_spec(spec))
    assert "bm4" in str(failed.value) and "no host was changed" in str(failed.value)
    assert set(failed.value.problems) == {"bm4"}
    assert time.monotonic() - started < 60
    after = hashes(bm.lab)
    assert {h: diff(before[h], after[h]) for h in BAREMETAL} == {h: [] for h in BAREMETAL}


def test_wrong_host_key_stops_the_run_before_any_change(bm: Provisioned, tmp_path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "other")], check=True)
    other = (tmp_path / "other.pub").read_text().split()[:2]
    lines = []
    for line in Path(bm.lab["known_hosts"]).read_text().splitlines():
        if line.split(" ", 1)[0] == bm.address("bm3"):
            line = f"{bm.address('bm3')} {other[0]} {other[1]}"
        lines.append(line)
    spec = derived_spec(Path(bm.lab["spec"]), tmp_path / "spec", known_hosts="\n".join(lines) + "\n")
    before = hashes(bm.lab)
    with pytest.raises(PreflightFailed) as failed:
        provision_baremetal(load_spec(spec))
    assert set(failed.value.problems) == {"bm3"}
    assert "differs from the one recorded" in failed.value.problems["bm3"]
    after = hashes(bm.lab)
    assert {h: diff(before[h], after[h]) for h in BAREMETAL} == {h: [] for h in BAREMETAL}


def _inventory(bm: Provisioned) -> dict[str, Any]:
    import yaml

    spec = load_spec(bm.spec)
    assert spec.spec.targets.baremetal is not None
    return yaml.safe_load(spec.resolve_path(spec.spec.targets.baremetal.inventory).read_text())
