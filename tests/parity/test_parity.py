"""``toolkit parity``: the AWS program's realization against Ansible's evaluation of the roles."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.stacks.specdir import REPO, make_spec
from toolkit import interface
from toolkit.parity.compare import compare
from toolkit.spec import load_spec
from toolkit.targets.baremetal.realization import ROLES

TOOLKIT = Path(sys.executable).parent / "toolkit"
REAL_PLAYBOOKS = REPO / "playbooks"

# Fake roles that follow the contract exactly (tasks/realization.yml sets realization_<component>
# from the role's defaults, which derive from the `spec` extra var).
FAKE_DEFAULTS = {
    "postgresql": {
        "pg_version": "{{ spec.database.version | int }}",
        "pg_port": "{{ spec.database.port | int }}",
    },
    "backups": {
        "bk_retention_days": "{{ spec.database.backups.retention_days | int }}",
        "bk_encrypted": "{{ spec.targets.baremetal.backups.passphrase is not none }}",
    },
    "objectstore": {"store_port": "{{ spec.targets.baremetal.object_store.port | int }}"},
    "app": {"app_port": "{{ spec.app.port | int }}"},
    "proxy": {"proxy_tls": "{{ spec.tls is not none }}"},
    "dns": {"dns_zone": "{{ spec.dns.zone }}"},
    "firewall": {"fw_app_port": "{{ spec.app.port | int }}"},
}
FAKE_FACTS = {
    "postgresql": (
        "database",
        {
            "engine": "postgresql",
            "version": "{{ pg_version | int }}",
            "port": "{{ pg_port | int }}",
            "name": "{{ spec.database.name }}",
            "owner": "{{ spec.database.owner.name }}",
            "encoding": "UTF8",
            "locale": "C.UTF-8",
            "extensions": "{{ spec.database.extensions }}",
            "logical_replication": True,
        },
    ),
    "backups": (
        "backups",
        {
            "service": "pgBackRest",
            "retention_days": "{{ bk_retention_days | int }}",
            "point_in_time": True,
            "encrypted": "{{ bk_encrypted | bool }}",
            "window": "{{ spec.database.backups.window }}",
            "repository": "s3 bucket {{ spec.service.name }}-backups on the object store",
        },
    ),
    "objectstore": (
        "objects",
        {"buckets": "{{ spec.buckets | map(attribute='name') | sort }}", "port": "{{ store_port | int }}",
         "versioned": "{{ spec.buckets | selectattr('versioning') | map(attribute='name') | sort }}"},
    ),
    "app": (
        "app",
        {
            "port": "{{ app_port | int }}",
            "processes": "{{ spec.app.processes | int }}",
            "health_path": "{{ spec.app.health_path }}",
        },
    ),
    "proxy": ("proxy", {"https_port": 443, "http_port": 80, "http_redirect": True, "tls": "{{ proxy_tls }}"}),
    "dns": ("dns", {"zone": "{{ dns_zone }}", "records": ["@ A", "@ CAA", "@ MX", "@ TXT", "www CNAME"]}),
    "firewall": (
        "firewall",
        {
            "rules": [
                {"group": "web", "port": 443, "protocol": "tcp", "source": "any"},
                {"group": "web", "port": 80, "protocol": "tcp", "source": "any"},
                {"group": "app", "port": "{{ fw_app_port | int }}", "protocol": "tcp", "source": "web"},
                {"group": "app", "port": "{{ fw_app_port | int + 1 }}", "protocol": "tcp", "source": "web"},
                {"group": "db", "port": 5432, "protocol": "tcp", "source": "app"},
                {"group": "dns", "port": 53, "protocol": "udp", "source": "any"},
                {"group": "objects", "port": 9000, "protocol": "tcp", "source": "app"},
                {"group": "ssh", "port": 22, "protocol": "tcp", "source": "operator"},
            ]
        },
    ),
}


def fake_playbooks(root: Path, *, without: tuple[str, ...] = ()) -> Path:
    for role, (component, facts) in FAKE_FACTS.items():
        if role in without:
            continue
        (root / "roles" / role / "tasks").mkdir(parents=True)
        (root / "roles" / role / "defaults").mkdir(parents=True)
        (root / "roles" / role / "defaults" / "main.yml").write_text(yaml.safe_dump(FAKE_DEFAULTS[role]))
        task = [
            {"name": f"Describe {component}", "ansible.builtin.set_fact": {f"realization_{component}": facts}}
        ]
        (root / "roles" / role / "tasks" / "realization.yml").write_text(
            yaml.safe_dump(task, sort_keys=False)
        )
    return root


def parity_cli(spec: Path, playbooks: Path) -> subprocess.CompletedProcess[str]:
    """The real command line, in a subprocess (Pulumi's mock runtime is process-global)."""
    env = {**os.environ, "PATH": os.pathsep.join([str(TOOLKIT.parent), "/usr/bin", "/bin"])}
    return subprocess.run(
        [str(TOOLKIT), "parity", "--json", "--spec", str(spec), "--playbooks", str(playbooks)],
        cwd=spec.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def parity(spec: Path, playbooks: Path) -> dict:
    """In-process (each AWS program run gets a fresh Pulumi context): faster than the CLI."""
    return interface.parity(spec, playbooks_dir=playbooks).to_json()


def component(report: dict, name: str) -> dict:
    return next(c for c in report["components"] if c["name"] == name)


@pytest.fixture
def spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return make_spec(tmp_path / "spec", monkeypatch)


def test_fake_roles_following_the_contract_agree_with_aws(spec: Path, tmp_path: Path) -> None:
    report = parity(spec, fake_playbooks(tmp_path / "playbooks"))
    assert report["ok"] is True, report
    assert report["lockin"]["findings"] == [], report["lockin"]
    assert {c["name"] for c in report["components"]} == set(ROLES.values())
    database = component(report, "database")
    assert (
        database["aws"][0] == "RDS for PostgreSQL 15" and database["baremetal"][0] == "PostgreSQL 15 (Debian)"
    )
    notes = " ".join(component(report, "firewall")["notes"])
    assert "ssh 22/tcp from operator" in notes and "dns 53/udp from any" in notes
    backups = component(report, "backups")
    assert backups["aws"][:3] == [
        "RDS automated backups", "retention 7 days, point-in-time recovery on", "encrypted yes"
    ]
    assert backups["baremetal"][:3] == [
        "pgBackRest, s3 bucket refservice-backups on the object store",
        "retention 7 days, point-in-time recovery on",
        "encrypted yes",
    ]
    assert "the timer starts at the window's start" in backups["notes"][0]
    assert "backup" not in " ".join(database["aws"])  # the backups are their own component now


def test_drift_in_a_role_default_fails_naming_component_and_value(spec: Path, tmp_path: Path) -> None:
    playbooks = fake_playbooks(tmp_path / "playbooks")
    (playbooks / "roles" / "postgresql" / "defaults" / "main.yml").write_text(
        yaml.safe_dump({"pg_version": 16, "pg_port": 5433})
    )
    result = parity_cli(spec, playbooks)
    assert result.returncode == 1, result.stdout + result.stderr
    differences = component(json.loads(result.stdout), "database")["differences"]
    assert "database: version differs: aws 15, baremetal 16" in differences
    assert "database: port differs: aws 5432, baremetal 5433" in differences
    assert "database: version differs" in result.stderr


def test_a_component_only_one_target_realizes_fails(spec: Path, tmp_path: Path) -> None:
    report = parity(spec, fake_playbooks(tmp_path / "playbooks", without=("dns",)))
    assert report["ok"] is False
    dns = component(report, "dns")
    assert dns["aws"] and dns["baremetal"] == [] and dns["ok"] is False
    assert "dns: no realization on baremetal" in dns["differences"][0]
    assert "roles/dns/tasks/realization.yml does not exist" in dns["differences"][0]


def test_backups_missing_on_bare_metal_fail_naming_the_component(spec: Path, tmp_path: Path) -> None:
    report = parity(spec, fake_playbooks(tmp_path / "playbooks", without=("backups",)))
    assert report["ok"] is False
    backups = component(report, "backups")
    assert backups["aws"] and backups["baremetal"] == [] and backups["ok"] is False
    [difference] = backups["differences"]
    assert difference.startswith("backups: no realization on baremetal")
    assert "roles/backups/tasks/realization.yml does not exist" in difference


def test_a_shorter_bare_metal_retention_fails_naming_both_values(spec: Path, tmp_path: Path) -> None:
    playbooks = fake_playbooks(tmp_path / "playbooks")
    defaults = playbooks / "roles" / "backups" / "defaults" / "main.yml"
    defaults.write_text(yaml.safe_dump({**yaml.safe_load(defaults.read_text()), "bk_retention_days": 3}))
    result = parity_cli(spec, playbooks)
    assert result.returncode == 1, result.stdout + result.stderr
    differences = component(json.loads(result.stdout), "backups")["differences"]
    assert differences == ["backups: retention_days differs: aws 7, baremetal 3"]
    assert "backups: retention_days differs" in result.stderr


def test_an_unencrypted_backup_repository_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    targets = yaml.safe_load((REPO / "service.yaml").read_text())["targets"]
    del targets["baremetal"]["backups"]  # no passphrase: pgBackRest would not encrypt
    spec = make_spec(tmp_path / "spec", monkeypatch, targets=targets)
    report = parity(spec, fake_playbooks(tmp_path / "playbooks"))
    assert report["ok"] is False
    backups = component(report, "backups")
    assert backups["differences"] == ["backups: encrypted differs: aws True, baremetal False"]
    assert "encrypted NO" in backups["baremetal"]


def test_firewall_drift_is_a_difference(spec: Path) -> None:
    loaded = load_spec(spec)
    aws = {"firewall": {"rules": [{"group": "app", "port": 8000, "protocol": "tcp", "source": "web"}]}}
    bare = {
        "firewall": {
            "rules": [
                {"group": "app", "port": 8000, "protocol": "tcp", "source": "any"},
                {"group": "cache", "port": 6379, "protocol": "tcp", "source": "app"},
            ]
        }
    }
    [firewall] = [c for c in compare(loaded.spec, aws, bare) if c.name == "firewall"]
    assert firewall.differences == [
        "firewall: app 8000/tcp from web is open on aws only",
        "firewall: app 8000/tcp from any is open on baremetal only",
        "firewall: cache 6379/tcp from app is open on baremetal only (group 'cache' has no AWS counterpart)",
    ]


def test_a_component_realized_on_aws_only_fails_even_if_not_expected(spec: Path) -> None:
    loaded = load_spec(spec)
    results = {c.name: c for c in compare(loaded.spec, {"objects": {"buckets": ["x"]}}, {})}
    assert results["objects"].differences == ["objects: no realization on baremetal"]
    assert not results["database"].ok  # expected on both, realized by neither


missing = [
    f"playbooks/roles/{role}/tasks/realization.yml"
    for role in ROLES
    if not (REAL_PLAYBOOKS / "roles" / role / "tasks" / "realization.yml").is_file()
]


@pytest.mark.skipif(bool(missing), reason=f"bare-metal roles not written yet: {', '.join(missing)}")
def test_the_real_roles_agree_with_the_aws_program(spec: Path) -> None:
    report = parity(spec, REAL_PLAYBOOKS)
    assert report["ok"] is True, [c["differences"] for c in report["components"]]


@pytest.mark.skipif(bool(missing), reason=f"bare-metal roles not written yet: {', '.join(missing)}")
def test_a_changed_postgresql_default_in_a_copy_of_the_real_roles_fails(spec: Path, tmp_path: Path) -> None:
    copy = tmp_path / "playbooks"
    shutil.copytree(REAL_PLAYBOOKS, copy)
    defaults = copy / "roles" / "postgresql" / "defaults" / "main.yml"
    text = defaults.read_text()
    assert 'postgresql_port: "{{ spec.database.port | int }}"' in text
    defaults.write_text(
        text.replace('postgresql_port: "{{ spec.database.port | int }}"', "postgresql_port: 5433")
    )
    report = parity(spec, copy)
    assert report["ok"] is False
    assert "database: port differs: aws 5432, baremetal 5433" in component(report, "database")["differences"]


@pytest.mark.skipif(bool(missing), reason=f"bare-metal roles not written yet: {', '.join(missing)}")
def test_the_real_backups_role_without_a_passphrase_fails_parity(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    targets = yaml.safe_load((REPO / "service.yaml").read_text())["targets"]
    del targets["baremetal"]["backups"]
    report = parity(make_spec(tmp_path / "spec", monkeypatch, targets=targets), REAL_PLAYBOOKS)
    differences = [d for c in report["components"] for d in c["differences"]]
    assert differences == ["backups: encrypted differs: aws True, baremetal False"]
