"""Provisioning the lab's bare-metal hosts for real: check mode, a real run, and what it built.

The provisioning sequence (check mode on blank hosts, the run, a re-run, check mode on the
converged hosts) runs once per module from blank hosts; the hosts it leaves become the shared
lab's ``provisioned`` state. Every other test asks for the state it needs by fixture
(``lab_provisioned``, ``lab_standby``), so no test depends on the order of the others.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import socket
import ssl
import subprocess
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import dns.resolver
import psycopg
import pytest
from boto3.s3.transfer import TransferConfig

from tests.fixtures.lab import baremetal_hosts, baremetal_names, lab_host, lab_run, lab_ssh
from tests.fixtures.lab_states import BLANK, PROVISIONED, LabStates, hosts_in, public_tables, secret
from toolkit import ssh
from toolkit.spec import load_spec
from toolkit.targets.baremetal.preflight import PreflightFailed
from toolkit.targets.baremetal.provision import provision_baremetal
from toolkit.targets.baremetal.summary import BaremetalProvisionResult

from .hostfs import LOGIN_RUNTIME, diff, hash_upper, upper_dir
from .labspec import derived_spec, provision_runs

pytestmark = [pytest.mark.lab, pytest.mark.timeout(1800)]


def address(lab: dict[str, Any], host: str) -> str:
    return str(lab_host(lab, host)["address"])


def hashes(lab: dict[str, Any], ignore: tuple[str, ...] | None = None) -> dict[str, dict[str, str]]:
    kwargs = {} if ignore is None else {"ignore": ignore}
    return {host: hash_upper(upper_dir(lab, host), **kwargs) for host in baremetal_names(lab)}


def secret_needles(lab: dict[str, Any]) -> dict[str, list[str]]:
    """Each lab secret -> the strings that would reveal it (a PEM key by each of its body lines)."""
    found = {}
    for path in sorted((Path(lab["dir"]) / "secrets").iterdir()):
        value = path.read_text().strip()
        lines = [line for line in value.splitlines() if len(line) >= 32 and "-----" not in line]
        found[path.name] = lines or [value]
    return found


@dataclass
class ProcessWatch:
    """Samples every process's command line, on each host and on the controller, during a run."""

    lab: dict[str, Any]
    needles: dict[str, list[str]]
    samples: int = 0
    sightings: list[str] = field(default_factory=list)

    @contextmanager
    def watching(self) -> Iterator[ProcessWatch]:
        stop = threading.Event()
        clients = {host: lab_ssh(self.lab, host) for host in baremetal_names(self.lab)}

        def look(where: str, listing: str) -> None:
            for name, needles in self.needles.items():
                if any(needle in listing for needle in needles):
                    self.sightings.append(f"{name} in a command line on {where}")

        def sample() -> None:
            while not stop.is_set():
                for host, client in clients.items():
                    look(host, ssh.run(client, "ps -eo args").stdout)
                look("the controller", subprocess.run(["ps", "-eo", "args"], capture_output=True,
                                                      text=True).stdout)
                self.samples += 1
                stop.wait(0.3)

        thread = threading.Thread(target=sample, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            stop.set()
            thread.join(timeout=30)
            for client in clients.values():
                client.close()


@dataclass
class Runs:
    """The module's provisioning sequence, from blank hosts."""

    check: BaremetalProvisionResult
    check_diff: dict[str, list[str]]
    run: BaremetalProvisionResult
    rerun: BaremetalProvisionResult
    converged_check: BaremetalProvisionResult
    watch: ProcessWatch


@pytest.fixture(scope="module")
def runs(lab_states: LabStates) -> Runs:
    lab = lab_states.enter(BLANK)
    spec = load_spec(lab["spec"])
    before = hashes(lab)
    check = provision_baremetal(spec, check=True)
    after = hashes(lab)
    check_diff = {host: diff(before[host], after[host]) for host in baremetal_names(lab)}
    with ProcessWatch(lab, secret_needles(lab)).watching() as watch:
        run = provision_baremetal(load_spec(lab["spec"]))
    rerun = provision_baremetal(load_spec(lab["spec"]))
    converged_check = provision_baremetal(load_spec(lab["spec"]), check=True)
    lab_states.reached(PROVISIONED)
    return Runs(check, check_diff, run, rerun, converged_check, watch)


# --- check mode, the run, idempotence ---------------------------------------------------------

def test_check_mode_on_blank_hosts_reports_changes_and_changes_nothing(runs: Runs,
                                                                       lab: dict[str, Any]) -> None:
    assert runs.check.ok, runs.check.summary_lines()
    assert runs.check.to_json()["check"] is True
    assert runs.check.summary.changed > 0
    assert set(runs.check.summary.hosts) == set(baremetal_names(lab))
    assert runs.check_diff == {host: [] for host in baremetal_names(lab)}


def test_run_succeeds_on_every_host(runs: Runs, lab: dict[str, Any]) -> None:
    assert runs.run.ok, runs.run.summary_lines()
    data = runs.run.to_json()
    assert set(data["hosts"]) == set(baremetal_names(lab))
    assert all(h["failed"] == 0 and h["unreachable"] is False for h in data["hosts"].values())
    run_dir = Path(str(data["run_dir"]))
    assert run_dir.stat().st_mode & 0o777 == 0o700
    assert list(run_dir.glob("artifacts/*/job_events/*.json"))


def test_second_run_changes_nothing(runs: Runs) -> None:
    assert runs.rerun.ok
    assert runs.rerun.to_json()["changed"] == 0, runs.rerun.to_json()["changes"]


def test_check_mode_after_a_converged_run_reports_no_change(runs: Runs) -> None:
    assert runs.converged_check.ok, runs.converged_check.summary_lines()
    assert runs.converged_check.to_json()["changed"] == 0, runs.converged_check.to_json()["changes"]


def test_no_secret_in_artifacts_logs_or_processes(runs: Runs, lab_provisioned: dict[str, Any]) -> None:
    lab = lab_provisioned
    needles = secret_needles(lab)
    assert {"db_owner_password", "objects_access_key", "objects_secret_key", "pdns_api_key",
            "tls.key"} <= set(needles)
    for result in (runs.check, runs.run, runs.rerun, runs.converged_check):
        run_dir = Path(str(result.to_json()["run_dir"]))
        for path in run_dir.rglob("*"):
            if path.is_file():
                text = path.read_bytes()
                for name, values in needles.items():
                    assert not any(value.encode() in text for value in values), f"{name} found in {path}"
    # Command lines were sampled on every host and on the controller throughout the real run.
    assert runs.watch.samples >= 3
    assert runs.watch.sightings == []
    for host in baremetal_names(lab):
        journal = lab_run(lab, host, "sudo journalctl --no-pager -o cat").stdout
        for name, values in needles.items():
            assert not any(value in journal for value in values), f"{name} in the journal of {host}"


# --- what the run built -----------------------------------------------------------------------

class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def test_https_through_nginx_with_the_lab_ca(lab_provisioned: dict[str, Any]) -> None:
    lab = lab_provisioned
    context = ssl.create_default_context(cafile=lab["ca_certificate"])
    for web in hosts_in(lab, "web"):
        with urllib.request.urlopen(f"https://{address(lab, web)}/healthz", context=context,
                                    timeout=10) as answer:
            assert answer.status == 200
            assert json.load(answer)["status"] == "ok"
    with pytest.raises(urllib.error.HTTPError) as redirect:
        urllib.request.build_opener(NoRedirect).open(f"http://{address(lab, 'bm2')}/healthz", timeout=10)
    assert redirect.value.code == 301
    assert redirect.value.headers["Location"].startswith("https://")


def test_postgresql_accepts_the_service_role_with_logical_wal(lab_provisioned: dict[str, Any]) -> None:
    lab = lab_provisioned
    with psycopg.connect(host=address(lab, "bm1"), port=5432, dbname="refservice", user="refservice",
                         password=secret(lab, "db_owner_password"), connect_timeout=5) as conn:
        assert conn.execute("SHOW wal_level").fetchone() == ("logical",)
        assert conn.execute("SELECT extname FROM pg_extension WHERE extname = 'pgcrypto'").fetchone()
        encoding = conn.execute("SELECT pg_encoding_to_char(encoding), datcollate FROM pg_database "
                                "WHERE datname = 'refservice'").fetchone()
        assert encoding == ("UTF8", "C.UTF-8")
    assert "notes" in public_tables(lab)


def test_postgresql_authenticates_with_scram_only(lab_provisioned: dict[str, Any]) -> None:
    lab = lab_provisioned
    dsn = dict(host=address(lab, "bm1"), port=5432, dbname="refservice", user="refservice", connect_timeout=5)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(**dsn, password="wrong-password")
    if psycopg.pq.version() >= 160000:
        # The client refuses anything but the method it names: the server must ask for SCRAM.
        with pytest.raises(psycopg.OperationalError, match="SASL"):
            psycopg.connect(**dsn, password=secret(lab, "db_owner_password"), require_auth="md5")
        password = secret(lab, "db_owner_password")
        psycopg.connect(**dsn, password=password, require_auth="scram-sha-256").close()
    hba = lab_run(lab, "bm1", "sudo sh -c 'grep -hv \"^\\s*\\(#\\|$\\)\" /etc/postgresql/*/main/pg_hba.conf'")
    rules = [line.split() for line in hba.stdout.splitlines()]
    assert rules and hba.status == 0
    for rule in rules:
        method = rule[-1] if rule[0] == "local" or "=" not in rule[-1] else rule[-2]
        assert method in ("scram-sha-256", "peer", "reject"), rule
        if rule[0] != "local":
            assert method != "peer", rule
    stored = lab_run(lab, "bm1", "sudo -u postgres psql -tAc \"SELECT rolpassword LIKE 'SCRAM-SHA-256$%' "
                                 "FROM pg_authid WHERE rolname = 'refservice'\"")
    assert stored.stdout.strip() == "t", stored


# Files on the hosts that hold a secret, and how they must be protected: nothing else may hold one.
SECRET_FILES = {
    # The app reads its secrets from files (``*_FILE`` variables); its environment file holds none.
    "app": {"/etc/refservice/secrets/database_password": "640 root:refservice",
            "/etc/refservice/secrets/s3_access_key": "640 root:refservice",
            "/etc/refservice/secrets/s3_secret_key": "640 root:refservice"},
    "web": {"/etc/nginx/tls/refservice/key.pem": "600 root:root"},
    "objects": {"/etc/refservice-objects/s3.json": "600 refservice-objects:refservice-objects"},
    "dns": {"/etc/powerdns/pdns.conf": "640 root:pdns"},
    # pgBackRest's repository keys and cipher passphrase.
    "db": {"/etc/pgbackrest/conf.d/secrets.conf": "600 postgres:postgres"},
}
SEARCHED = "/etc /opt /srv /home /root /tmp /var/tmp /var/log /var/lib /var/backups"


def files_holding(lab: dict[str, Any], host: str, needles: list[str]) -> dict[str, str]:
    """Path -> 'mode owner:group' of each file on ``host`` containing one of ``needles``."""
    client = lab_ssh(lab, host)
    try:
        # The patterns go through stdin: on a command line they would be visible in ps.
        stdin, stdout, _ = client.exec_command(
            f"sudo sh -c 'grep -rlF -f /dev/stdin {SEARCHED} 2>/dev/null | xargs -r stat -c \"%n %a %U:%G\"'")
        stdin.write("\n".join(needles) + "\n")
        stdin.channel.shutdown_write()
        listing = stdout.read().decode()
    finally:
        client.close()
    return dict(line.split(" ", 1) for line in listing.splitlines() if line.strip())


def test_secrets_on_the_hosts_only_where_they_belong(lab_provisioned: dict[str, Any]) -> None:
    lab = lab_provisioned
    needles = [value for values in secret_needles(lab).values() for value in values]
    for host in baremetal_hosts(lab):
        expected: dict[str, str] = {}
        for group in host["groups"]:
            expected.update(SECRET_FILES.get(group, {}))
        assert files_holding(lab, host["name"], needles) == expected, host["name"]


def s3_client(lab: dict[str, Any]) -> Any:
    return boto3.client("s3", endpoint_url=f"http://{address(lab, 'bm4')}:9000", region_name="us-east-1",
                        aws_access_key_id=secret(lab, "objects_access_key"),
                        aws_secret_access_key=secret(lab, "objects_secret_key"))


def test_object_store_with_boto3(lab_provisioned: dict[str, Any], tmp_path: Path) -> None:
    lab = lab_provisioned
    s3 = s3_client(lab)
    assert "refservice-files" in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(12 * 1024 * 1024))
    config = TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024)
    s3.upload_file(str(big), "refservice-files", "boto3/multipart.bin", Config=config)
    head = s3.head_object(Bucket="refservice-files", Key="boto3/multipart.bin")
    assert head["ContentLength"] == big.stat().st_size
    body = s3.get_object(Bucket="refservice-files", Key="boto3/multipart.bin")["Body"].read()
    assert body == big.read_bytes()

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda i: s3.put_object(Bucket="refservice-files", Key=f"boto3/many/{i:05d}",
                                              Body=b"x"), range(1100)))
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket="refservice-files", Prefix="boto3/many/")
    keys = [obj["Key"] for page in pages for obj in page.get("Contents", [])]
    assert keys == [f"boto3/many/{i:05d}" for i in range(1100)]

    s3.put_object(Bucket="refservice-files", Key="boto3/meta.txt", Body=b"m", Metadata={"owner": "toolkit"})
    metadata = s3.head_object(Bucket="refservice-files", Key="boto3/meta.txt")["Metadata"]
    assert metadata == {"owner": "toolkit"}


def test_object_store_with_rclone(lab_provisioned: dict[str, Any], tmp_path: Path) -> None:
    lab = lab_provisioned
    env = {**os.environ, "RCLONE_CONFIG": "/dev/null", "RCLONE_CONFIG_LABS3_TYPE": "s3",
           "RCLONE_CONFIG_LABS3_PROVIDER": "Other",
           "RCLONE_CONFIG_LABS3_ENDPOINT": f"http://{address(lab, 'bm4')}:9000",
           "RCLONE_CONFIG_LABS3_ACCESS_KEY_ID": secret(lab, "objects_access_key"),
           "RCLONE_CONFIG_LABS3_SECRET_ACCESS_KEY": secret(lab, "objects_secret_key")}

    def rclone(*args: str) -> str:
        done = subprocess.run([lab["rclone_binary"], *args], env=env, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout

    local = tmp_path / "tree"
    local.mkdir()
    (local / "big.bin").write_bytes(os.urandom(11 * 1024 * 1024))
    for i in range(40):
        (local / f"small-{i:02d}.txt").write_text(f"small {i}\n")
    remote = "labs3:refservice-files/rclone"
    rclone("copy", "--s3-upload-cutoff", "5M", "--s3-chunk-size", "5M", str(local), remote)
    rclone("check", str(local), remote)  # sizes and hashes, both ways
    assert sorted(rclone("lsf", f"{remote}/").split()) == sorted(p.name for p in local.iterdir())
    rclone("copyto", "--header-upload", "X-Amz-Meta-Color: blue", str(local / "small-00.txt"),
           "labs3:refservice-files/rclone-meta/meta.txt")
    metadata = s3_client(lab).head_object(Bucket="refservice-files", Key="rclone-meta/meta.txt")["Metadata"]
    assert {k.lower(): v for k, v in metadata.items()}.get("color") == "blue"


def test_powerdns_answers_and_guards_its_api(lab_provisioned: dict[str, Any]) -> None:
    lab = lab_provisioned
    for dns_host in hosts_in(lab, "dns"):
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [address(lab, dns_host)]
        resolver.lifetime = 5
        a = sorted(r.address for r in resolver.resolve("refservice.example.", "A"))
        assert a == sorted(address(lab, web) for web in hosts_in(lab, "web"))
        ns = sorted(r.target.to_text() for r in resolver.resolve("refservice.example.", "NS"))
        assert ns == ["ns1.refservice.example.", "ns2.refservice.example."]
        assert [r.exchange.to_text() for r in resolver.resolve("refservice.example.", "MX")] == \
            ["mail.refservice.example."]
        glue = resolver.resolve("ns1.refservice.example.", "A")
        assert glue[0].address in [address(lab, host) for host in hosts_in(lab, "dns")]
    url = f"http://{address(lab, 'bm4')}:8081/api/v1/servers/localhost/zones"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(url, timeout=5)
    assert refused.value.code == 401
    keyed = urllib.request.Request(url, headers={"X-API-Key": secret(lab, "pdns_api_key")})
    with urllib.request.urlopen(keyed, timeout=5) as answer:
        assert "refservice.example." in [zone["name"] for zone in json.load(answer)]


# --- the firewall: probe ports where a service listens, from hosts that must not reach them ----

def listening(lab: dict[str, Any], host: str, port: int) -> bool:
    return f":{port} " in lab_run(lab, host, f"ss -Hltn 'sport = :{port}'").stdout + " "


def reaches_from(lab: dict[str, Any], source: str, target: str, port: int) -> bool:
    probe = (f"python3 -c \"import socket; socket.create_connection(('{address(lab, target)}', {port}), "
             "timeout=3).close()\"")
    return lab_run(lab, source, probe).status == 0


def reaches_from_operator(lab: dict[str, Any], target: str, port: int) -> bool:
    try:
        with socket.create_connection((address(lab, target), port), timeout=3):
            return True
    except OSError:
        return False


def test_firewall_opens_only_what_each_group_needs(lab_provisioned: dict[str, Any]) -> None:
    lab = lab_provisioned
    # (listening host, port, hosts that may reach it, hosts that must not, operator allowed)
    cases = [
        ("bm1", 5432, ["bm2"], ["bm4", "bm5"], True),   # db: from app hosts and the operator
        ("bm3", 8000, ["bm2"], ["bm1", "bm4"], False),  # app: from web hosts only
        ("bm4", 9000, ["bm2"], ["bm1", "bm5"], True),   # object store: app hosts and the operator
        ("bm4", 8081, [], ["bm1", "bm2"], True),        # DNS API: the operator only
        ("bm2", 443, ["bm1", "bm4"], [], True),         # web: anyone
    ]
    for target, port, allowed, refused, operator in cases:
        assert listening(lab, target, port), f"nothing listens on {target}:{port}: the probe proves nothing"
        for source in allowed:
            assert reaches_from(lab, source, target, port), f"{source} cannot reach {target}:{port}"
        for source in refused:
            assert not reaches_from(lab, source, target, port), f"{source} reaches {target}:{port}"
        assert reaches_from_operator(lab, target, port) is operator, f"operator -> {target}:{port}"


# --- drift, then standby on blank hosts -------------------------------------------------------

def test_drift_is_restored_and_nothing_else_changes(lab_provisioned: dict[str, Any],
                                                    lab_states: LabStates) -> None:
    lab = lab_provisioned
    site = "/etc/nginx/sites-available/refservice.conf"
    lab_states.changed()
    drift = f"sudo sed -i '1a # drifted' {site} && sudo systemctl stop refservice@8000"
    assert lab_run(lab, "bm2", drift).status == 0
    result = provision_baremetal(load_spec(lab["spec"]))
    assert result.ok
    data = result.to_json()
    assert {h: s["changed"] for h, s in data["hosts"].items()} == {
        "bm1": 0, "bm2": 3, "bm3": 0, "bm4": 0, "bm5": 0}
    assert sorted((c["host"], c["task"]) for c in data["changes"]) == [
        ("bm2", "Reload the nginx configuration"), ("bm2", "Start the app processes"),
        ("bm2", "Write the site")]
    assert lab_run(lab, "bm2", f"grep -c drifted {site}").stdout.strip() == "0"
    assert lab_run(lab, "bm2", "systemctl is-active refservice@8000").stdout.strip() == "active"


def test_standby_on_blank_hosts_leaves_the_database_empty_and_the_app_stopped(
        lab_standby: dict[str, Any]) -> None:
    lab = lab_standby
    assert public_tables(lab) == []
    with psycopg.connect(host=address(lab, "bm1"), port=5432, dbname="refservice", user="refservice",
                         password=secret(lab, "db_owner_password"), connect_timeout=5) as conn:
        assert conn.execute("SHOW wal_level").fetchone() == ("logical",)  # ready to be replicated into
    for app in hosts_in(lab, "app"):
        states = lab_run(lab, app, "systemctl is-active refservice@8000 refservice@8001").stdout.split()
        assert states == ["inactive", "inactive"]
        assert lab_run(lab, app, "test -f /opt/refservice/refservice/app.py").status == 0  # installed
    context = ssl.create_default_context(cafile=lab["ca_certificate"])
    for web in hosts_in(lab, "web"):
        with pytest.raises(urllib.error.HTTPError) as maintenance:
            urllib.request.urlopen(f"https://{address(lab, web)}/", context=context, timeout=10)
        assert maintenance.value.code == 503
        assert b"being moved" in maintenance.value.read()


# --- errors: nothing is changed, no run starts ------------------------------------------------

def refused_before_any_change(lab: dict[str, Any], spec: Path) -> PreflightFailed:
    """Provision ``spec``: it must fail preflight, start no run, and leave every host as it was."""
    before, runs_before = hashes(lab, LOGIN_RUNTIME), provision_runs()
    with pytest.raises(PreflightFailed) as failed:
        provision_baremetal(load_spec(spec))
    assert "no host was changed" in str(failed.value)
    assert provision_runs() == runs_before
    after = hashes(lab, LOGIN_RUNTIME)
    assert {h: diff(before[h], after[h]) for h in before} == {h: [] for h in before}
    return failed.value


def test_unreachable_host_stops_the_run_before_any_change(lab_provisioned: dict[str, Any],
                                                          tmp_path: Path) -> None:
    lab = lab_provisioned
    spec = derived_spec(Path(lab["spec"]), tmp_path, host_vars={"bm4": {"ansible_host": "198.18.1.254"}})
    failed = refused_before_any_change(lab, spec)
    assert set(failed.problems) == {"bm4"}


def test_wrong_host_key_stops_the_run_before_any_change(lab_provisioned: dict[str, Any],
                                                        tmp_path: Path) -> None:
    lab = lab_provisioned
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "other")], check=True)
    other = (tmp_path / "other.pub").read_text().split()[:2]
    lines = []
    for line in Path(lab["known_hosts"]).read_text().splitlines():
        if line.split(" ", 1)[0] == address(lab, "bm3"):
            line = f"{address(lab, 'bm3')} {other[0]} {other[1]}"
        lines.append(line)
    spec = derived_spec(Path(lab["spec"]), tmp_path / "spec", known_hosts="\n".join(lines) + "\n")
    failed = refused_before_any_change(lab, spec)
    assert set(failed.problems) == {"bm3"}
    assert "differs from the one recorded" in failed.problems["bm3"]
