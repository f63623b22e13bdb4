"""The canary guard over the commands that need a lab: ``lab up``, bare-metal provisioning, ``dns``.

A lab of this module's own (one bare-metal host, ``toolkit lab up`` run as a guarded command in a
sandbox) is torn down when the module ends. ``lab up`` generates the lab's secrets itself: they
are read from its ``secrets/`` afterwards and looked for everywhere else. Provisioning runs from
a spec derived from the lab's, whose secrets are all ``{env: NAME}`` references holding canary
values (the TLS pair: the lab's real PEM, passed through the environment), so ``{env:}`` secrets
are exercised end to end: check mode, then a real run. See ``test_canary_guard.py`` for the
rule that every later command reading a spec joins the guard.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.baremetal.labspec import derived_spec
from tests.fixtures.canary import Sandbox, spec_canaries, spec_secret_refs
from tests.fixtures.lab import require_lab, session_lab_name
from toolkit import ssh
from toolkit.lab import hosts

pytestmark = [pytest.mark.lab, pytest.mark.timeout(1800)]

DATA_COMMANDS = [["replicate", "--to", "baremetal"], ["replicate", "--to", "baremetal", "--status", "--json"],
                 ["verify", "--to", "baremetal", "--json"], ["replicate", "--to", "baremetal", "--stop"]]


@dataclass
class GuardedLab:
    sandbox: Sandbox
    name: str
    status: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    def lab_secrets(self) -> dict[str, str]:
        """Every secret the lab made: its secrets/ files, the operator key, the CA key."""
        directory = Path(self.status["dir"])
        found = {f"lab {path.name}": path.read_text().strip() for path in (directory / "secrets").iterdir()}
        found["lab operator SSH key"] = Path(self.status["ssh_key"]).read_text()
        found["lab CA key"] = (directory / "tls" / "ca.key").read_text()
        return found

    def run(self, what: str, args: list[str], **kwargs: Any) -> Any:
        started = time.monotonic()
        result = self.sandbox.run(args, **kwargs)
        self.timings[what] = time.monotonic() - started
        return result


@pytest.fixture(scope="module")
def guarded_lab() -> Iterator[GuardedLab]:
    require_lab()
    # A short root: OpenSSH's ControlPath sockets live in the sandbox's TMPDIR (108-byte limit).
    root = Path(tempfile.mkdtemp(prefix="cg-", dir="/tmp"))
    lab = GuardedLab(Sandbox(root), f"{session_lab_name()}-canary")
    try:
        yield lab
    finally:
        down = lab.sandbox.run(["lab", "down", "--name", lab.name], timeout=300)
        print(f"canary guard lab timings (s): {({k: round(v, 1) for k, v in lab.timings.items()})}")
        if down.returncode == 0 and str(root) not in Path("/proc/mounts").read_text():
            shutil.rmtree(root, ignore_errors=True)
        assert down.returncode == 0, down.stderr.decode()


@pytest.fixture(scope="module")
def lab_up(guarded_lab: GuardedLab) -> Any:
    result = guarded_lab.run("lab up", ["lab", "up", "--name", guarded_lab.name, "--hosts", "1", "--json"],
                             timeout=1200)
    assert result.returncode == 0, result.stderr.decode()[-4000:]
    guarded_lab.status = json.loads(result.stdout)
    return result


def env_spec(lab_spec: Path, directory: Path) -> tuple[Path, dict[str, str], dict[str, str]]:
    """The lab's spec with every secret (but the SSH key, a file by contract) as ``{env: NAME}``."""
    spec = derived_spec(lab_spec, directory)
    data = yaml.safe_load(spec.read_text())
    pem: dict[str, str] = {}
    for path, ref in spec_secret_refs(data):
        # The SSH key is a file by contract; the registry's key is the lab's own (its server has it).
        kept = (("targets", "baremetal", "ssh", "key"), ("dns", "registrar", "api_key"))
        if path in kept or "file" not in ref:
            continue
        holder = data
        for part in path[:-1]:
            holder = holder[int(part)] if isinstance(holder, list) else holder[part]
        if path[0] == "tls":
            pem[path[-1]] = Path(ref["file"]).read_text()
        holder[path[-1]] = {"env": "CANARY_" + "_".join(path).upper()}
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    env, look_for = spec_canaries(spec, certificate=pem["certificate"], key=pem["key"])
    return spec, env, look_for


@pytest.fixture(scope="module")
def canary_spec(guarded_lab: GuardedLab, lab_up: Any, tmp_path_factory: pytest.TempPathFactory,
                ) -> tuple[Path, dict[str, str], dict[str, str]]:
    return env_spec(Path(guarded_lab.status["spec"]), tmp_path_factory.mktemp("canary-spec"))


def test_lab_up_leaks_no_secret(guarded_lab: GuardedLab, lab_up: Any) -> None:
    look_for = guarded_lab.lab_secrets()
    assert len(look_for) >= 8
    held = guarded_lab.sandbox.assert_no_leak(look_for, lab_up)
    # The AWS side's secret files were read by the scan (and exempt): the hosts were scanned.
    assert any("/hosts/aws-app/upper/etc/refservice/database-password" in path for path in held), held


def test_provision_baremetal_check_leaks_no_secret(guarded_lab: GuardedLab, canary_spec: Any) -> None:
    spec, env, look_for = canary_spec
    assert {"CANARY_DATABASE_OWNER_PASSWORD", "CANARY_TLS_KEY"} <= set(look_for)
    result = guarded_lab.run("provision --check", ["provision", "--target", "baremetal", "--check", "--spec",
                                                   str(spec)], env=env, cwd=spec.parent)
    assert result.returncode == 0, result.stdout.decode()[-4000:] + result.stderr.decode()[-4000:]
    guarded_lab.sandbox.assert_no_leak({**look_for, **guarded_lab.lab_secrets()}, result)


def test_provision_baremetal_leaks_no_secret(guarded_lab: GuardedLab, canary_spec: Any) -> None:
    spec, env, look_for = canary_spec
    result = guarded_lab.run("provision", ["provision", "--target", "baremetal", "--spec", str(spec)],
                             env=env, cwd=spec.parent)
    assert result.returncode == 0, result.stdout.decode()[-4000:] + result.stderr.decode()[-4000:]
    # The canaries did reach the host, through {env:} references: the guard saw real secrets.
    upper = Path(guarded_lab.status["dir"]) / "hosts" / "bm1" / "upper"
    held = (upper / "etc" / "refservice" / "secrets" / "database_password").read_text()
    assert held.strip() == env["CANARY_DATABASE_OWNER_PASSWORD"]
    assert list(guarded_lab.sandbox.state.glob("runs/*-provision-*/run.log"))
    held = guarded_lab.sandbox.assert_no_leak({**look_for, **guarded_lab.lab_secrets()}, result)
    # The exemptions for the host's secret files were needed: the scan did read the host.
    on_host = {path.split("/upper/", 1)[1] for path in held if "/hosts/bm1/upper/" in path}
    assert {"etc/nginx/tls/refservice/key.pem", "etc/powerdns/pdns.conf",
            "etc/refservice-objects/s3.json", "etc/refservice/secrets/database_password"} <= on_host


def test_runs_and_report_of_a_provisioning_leak_no_secret(guarded_lab: GuardedLab, canary_spec: Any) -> None:
    spec, env, look_for = canary_spec
    listed = guarded_lab.run("runs", ["runs", "--json"], env=env, cwd=spec.parent)
    assert listed.returncode == 0, listed.stderr.decode()
    provisions = [r["id"] for r in json.loads(listed.stdout)["runs"] if r["kind"] == "provision"]
    assert provisions, "the provisioning runs above are listed"
    page = guarded_lab.sandbox.state / "report.html"
    report = guarded_lab.run("report", ["report", provisions[0], "--json", "--html", str(page)],
                             env=env, cwd=spec.parent)
    assert report.returncode == 0, report.stderr.decode()
    assert json.loads(report.stdout)["steps"][0]["name"] == "playbook"
    guarded_lab.sandbox.assert_no_leak({**look_for, **guarded_lab.lab_secrets()}, listed)
    guarded_lab.sandbox.assert_no_leak({**look_for, **guarded_lab.lab_secrets()}, report)


DNS_COMMANDS = (["dns", "plan", "--to", "baremetal", "--json"],
                ["dns", "apply", "--to", "baremetal", "--json"],
                ["dns", "verify", "--json"], ["dns", "rollback", "--json"])


def test_dns_commands_leak_no_secret(guarded_lab: GuardedLab, canary_spec: Any) -> None:
    """After the provisioning above: the whole cutover, verified, then rolled back."""
    spec, env, look_for = canary_spec
    for args in DNS_COMMANDS:
        result = guarded_lab.run(" ".join(args[:2]), [*args, "--spec", str(spec)], env=env, cwd=spec.parent,
                                 timeout=300)
        assert result.returncode == 0, result.stdout.decode()[-4000:] + result.stderr.decode()[-4000:]
        json.loads(result.stdout)
        guarded_lab.sandbox.assert_no_leak({**look_for, **guarded_lab.lab_secrets()}, result)
    assert list(guarded_lab.sandbox.state.glob("runs/*-dns-*/before.json"))


def test_replicate_and_verify_leak_no_secret(guarded_lab: GuardedLab, canary_spec: Any) -> None:
    spec, env, look_for = canary_spec
    assert "CANARY_DATABASE_ADMIN_PASSWORD" in look_for
    # The source's admin role takes the canary as its password, so that the canary is what travels
    # (set by the source's superuser, inside the lab's aws-db host: a replication role may not).
    aws_db = next(h for h in guarded_lab.status["hosts"] if h["name"] == "aws-db")
    password = env["CANARY_DATABASE_ADMIN_PASSWORD"].replace("'", "''")
    init = hosts.container_init(aws_db["pid"])
    assert init is not None, "the aws-db host is not running"
    hosts.exec_in(init, ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", "-"], user="postgres",
                  input=f"ALTER ROLE toolkit_admin PASSWORD '{password}';\n",
                  what="setting the canary password")
    # The provisioned target becomes a standby: app stopped, its database empty.
    host = next(h for h in guarded_lab.status["hosts"] if h["side"] == "baremetal")
    status = guarded_lab.status
    client = ssh.connect(host["address"], user=status["ssh_user"], key_file=status["ssh_key"],
                         known_hosts=status["known_hosts"])
    try:
        emptied = ssh.run(client, "sudo -n systemctl stop 'refservice@*' && sudo -n -u postgres psql -X -q "
                                  "-c 'DROP DATABASE refservice WITH (FORCE)' "
                                  "-c 'CREATE DATABASE refservice OWNER refservice'")
    finally:
        client.close()
    assert emptied.status == 0, emptied.stderr
    for args in DATA_COMMANDS:
        result = guarded_lab.run(" ".join(args[:1] + args[3:]), [*args, "--spec", str(spec)], env=env,
                                 cwd=spec.parent)
        assert result.returncode == 0, result.stdout.decode()[-4000:] + result.stderr.decode()[-4000:]
        if args[-1] == "--json" and args[3] == "--status":
            # Both movers ran: the object copy took the source's AWS keys and the store's keys
            # to the objects host (a 0600 job file the worker removes).
            assert json.loads(result.stdout)["objects"]["state"] == "copied", result.stdout.decode()
        guarded_lab.sandbox.assert_no_leak({**look_for, **guarded_lab.lab_secrets()}, result)


def test_plan_and_a_refused_migrate_leak_no_secret(guarded_lab: GuardedLab, canary_spec: Any) -> None:
    """The dry run reads every part (the source, its buckets, Ansible's check mode, the DNS diff)
    with the canaries; migrate without --yes and without a terminal refuses before any of it."""
    spec, env, look_for = canary_spec
    plan = guarded_lab.run("plan", ["plan", "--to", "baremetal", "--json", "--spec", str(spec)], env=env,
                           cwd=spec.parent)
    assert plan.returncode == 0, plan.stdout.decode()[-4000:] + plan.stderr.decode()[-4000:]
    assert json.loads(plan.stdout)["data_sizes"]["database"] > 0
    guarded_lab.sandbox.assert_no_leak({**look_for, **guarded_lab.lab_secrets()}, plan)
    refused = guarded_lab.run("migrate", ["migrate", "--to", "baremetal", "--spec", str(spec)], env=env,
                              cwd=spec.parent)
    assert refused.returncode == 2, refused.stderr.decode()[-2000:]
    assert "confirm with --yes" in refused.stderr.decode()
    guarded_lab.sandbox.assert_no_leak({**look_for, **guarded_lab.lab_secrets()}, refused)


BACKUP_COMMANDS = (["backup", "--to", "baremetal", "--json"],
                   ["backup", "--to", "baremetal", "--status", "--json"],
                   ["restore", "--to", "baremetal", "--json"])


def test_backup_and_restore_leak_no_secret(guarded_lab: GuardedLab, canary_spec: Any) -> None:
    """A backup into the encrypted repository (the passphrase and the store's keys are canaries),
    its status, and a restore into a scratch cluster, verified and removed."""
    spec, env, look_for = canary_spec
    assert "CANARY_TARGETS_BAREMETAL_BACKUPS_PASSPHRASE" in look_for
    for args in BACKUP_COMMANDS:
        result = guarded_lab.run(" ".join(args[:1] + args[3:-1]), [*args, "--spec", str(spec)], env=env,
                                 cwd=spec.parent, timeout=600)
        assert result.returncode == 0, result.stdout.decode()[-4000:] + result.stderr.decode()[-4000:]
        answer = json.loads(result.stdout)
        if args[0] == "restore":
            assert answer["tables"] and answer["kept"] is False
        held = guarded_lab.sandbox.assert_no_leak({**look_for, **guarded_lab.lab_secrets()}, result)
        # The canaries did reach the host, in the one exempt file: the scan proves something.
        assert any(path.endswith("etc/pgbackrest/conf.d/secrets.conf") for path in held), held
