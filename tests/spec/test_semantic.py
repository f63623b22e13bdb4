"""Semantic checks: references, versions, conflicts, files and secret references."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from toolkit.spec import IssueKind, SpecError, load_spec


def kinds_paths(path: Path) -> set[tuple[IssueKind, str]]:
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    return {(issue.kind, issue.path) for issue in caught.value.issues}


def test_record_must_target_a_known_component(write_spec: Callable[[str], Path], sample_text: str) -> None:
    path = write_spec(sample_text.replace("type: A, target: app", "type: A, target: api"))
    assert kinds_paths(path) == {(IssueKind.BROKEN_REFERENCE, "dns.records[0].target")}


def test_target_dns_needs_a_dns_provider(write_spec: Callable[[str], Path], sample_text: str) -> None:
    text = sample_text.replace("type: A, target: app", "type: A, target: dns")
    text = text[: text.index("    dns:\n      provider")]
    assert kinds_paths(write_spec(text)) == {(IssueKind.BROKEN_REFERENCE, "dns.records[0].target")}


def test_postgres_version_bare_metal_cannot_run(write_spec: Callable[[str], Path], sample_text: str) -> None:
    path = write_spec(sample_text.replace("version: 15", "version: 16"))
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    [issue] = caught.value.issues
    assert (issue.kind, issue.path) == (IssueKind.UNSUPPORTED_VERSION, "database.version")
    assert "baremetal" in issue.message and "15" in issue.message


def test_postgres_version_no_target_supports(write_spec: Callable[[str], Path], sample_text: str) -> None:
    path = write_spec(sample_text.replace("version: 15", "version: 11"))
    assert kinds_paths(path) == {(IssueKind.UNSUPPORTED_VERSION, "database.version")}


def test_unresolvable_env_secret(write_spec: Callable[[str], Path], sample_text: str,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REFSERVICE_PDNS_API_KEY")
    path = write_spec(sample_text)
    assert kinds_paths(path) == {(IssueKind.UNRESOLVABLE_SECRET, "targets.baremetal.dns.api_key")}


def test_unresolvable_file_secret(write_spec: Callable[[str], Path], sample_text: str,
                                  spec_dir: Path) -> None:
    (spec_dir / "inventories" / "example" / "deploy_key").unlink()
    expected = {(IssueKind.UNRESOLVABLE_SECRET, "targets.baremetal.ssh.key")}
    assert kinds_paths(write_spec(sample_text)) == expected


def test_secret_file_readable_by_others_is_a_warning(spec_dir: Path) -> None:
    key = spec_dir / "inventories" / "example" / "deploy_key"
    key.chmod(0o644)
    loaded = load_spec(spec_dir / "service.yaml")
    [warning] = loaded.warnings
    assert warning.warning and warning.kind is IssueKind.INSECURE_SECRET_FILE
    assert warning.path == "targets.baremetal.ssh.key" and "chmod 600" in warning.message


def test_secret_values_resolve_from_env_and_file(spec_dir: Path) -> None:
    loaded = load_spec(spec_dir / "service.yaml")
    spec = loaded.spec
    owner = spec.database.owner.password.resolve(loaded.base_dir)
    assert owner.reveal() == "owner-password-123"
    assert "owner-password-123" not in repr(owner)
    assert spec.targets.baremetal is not None
    assert spec.targets.baremetal.ssh.key.resolve(loaded.base_dir).reveal() == "not a real key"


def test_app_ports_must_not_collide(write_spec: Callable[[str], Path], sample_text: str) -> None:
    path = write_spec(sample_text.replace("port: 8000 ", "port: 5431 "))
    assert kinds_paths(path) == {(IssueKind.CONFLICT, "app.port")}


def test_duplicate_record_and_cname_rules(write_spec: Callable[[str], Path], sample_text: str) -> None:
    text = sample_text.replace(
        '    - {name: "@", type: TXT',
        '    - {name: www, type: A, values: ["192.0.2.1"]}\n'
        '    - {name: "@", type: CNAME, values: ["x.example."]}\n'
        '    - {name: "@", type: TXT, values: ["dup"]}\n'
        '    - {name: "@", type: TXT')
    assert kinds_paths(write_spec(text)) == {
        (IssueKind.CONFLICT, "dns.records[1]"),  # www has a CNAME and an A
        (IssueKind.CONFLICT, "dns.records[4].type"),  # CNAME at the apex
        (IssueKind.CONFLICT, "dns.records[6]"),  # second @ TXT
    }


def test_duplicate_buckets(write_spec: Callable[[str], Path], sample_text: str) -> None:
    bucket = "  - name: refservice-files\n"
    text = sample_text.replace(bucket, bucket * 2)
    assert kinds_paths(write_spec(text)) == {(IssueKind.CONFLICT, "buckets[1].name")}


def test_missing_inventory_and_source(write_spec: Callable[[str], Path], sample_text: str) -> None:
    text = sample_text.replace("inventories/example/hosts.yml", "nowhere/hosts.yml")
    text = text.replace("source: refservice ", "source: no-such-dir ")
    assert kinds_paths(write_spec(text)) == {
        (IssueKind.MISSING_FILE, "targets.baremetal.inventory"),
        (IssueKind.MISSING_FILE, "app.source"),
    }


def test_without_the_environment_files_and_secrets_are_not_checked(
        write_spec: Callable[[str], Path], sample_text: str, spec_dir: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REFSERVICE_PDNS_API_KEY")
    (spec_dir / "inventories" / "example" / "deploy_key").unlink()
    (spec_dir / "inventories" / "example" / "known_hosts").unlink()
    path = write_spec(sample_text)
    assert (IssueKind.UNRESOLVABLE_SECRET, "targets.baremetal.dns.api_key") in kinds_paths(path)
    spec = load_spec(path, check_environment=False).spec
    assert spec.targets.baremetal is not None and spec.targets.baremetal.dns is not None
    assert spec.targets.baremetal.dns.api_key.env == "REFSERVICE_PDNS_API_KEY"


def test_without_the_environment_the_spec_is_still_checked_whole(write_spec: Callable[[str], Path],
                                                                  sample_text: str) -> None:
    path = write_spec(sample_text.replace("port: 8000 ", "port: 5431 "))
    with pytest.raises(SpecError) as caught:
        load_spec(path, check_environment=False)
    assert {(i.kind, i.path) for i in caught.value.issues} == {(IssueKind.CONFLICT, "app.port")}
