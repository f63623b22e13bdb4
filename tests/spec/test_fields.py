"""Every field of the spec: the sample is valid, and each field refuses what it should."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from toolkit.spec import IssueKind, SpecError, load_spec
from toolkit.spec.model import seconds


def set_path(data: Any, path: tuple[Any, ...], value: Any) -> None:
    for part in path[:-1]:
        data = data[part]
    if value is DELETE:
        del data[path[-1]]
    else:
        data[path[-1]] = value


DELETE = object()


def load_with(spec_dir: Path, sample_data: dict, path: tuple[Any, ...], value: Any) -> SpecError:
    set_path(sample_data, path, value)
    (spec_dir / "service.yaml").write_text(yaml.safe_dump(sample_data, sort_keys=False))
    with pytest.raises(SpecError) as caught:
        load_spec(spec_dir / "service.yaml")
    return caught.value


def test_sample_spec_is_valid(spec_dir: Path) -> None:
    loaded = load_spec(spec_dir / "service.yaml")
    spec = loaded.spec
    assert spec.service.name == "refservice"
    assert spec.database.version == 15
    assert list(spec.app.ports) == [8000, 8001]
    assert spec.objectives.rto_seconds == 300
    assert spec.objectives.rpo_seconds == 0
    assert spec.dns is not None and spec.dns.zone == "refservice.example."
    assert loaded.warnings == []


BAD_VALUES = [
    (("version",), 2, IssueKind.UNSUPPORTED_VERSION, "version"),
    (("version",), DELETE, IssueKind.MISSING_FIELD, "version"),
    (("service", "name"), "Not Valid!", IssueKind.INVALID_VALUE, "service.name"),
    (("app", "source"), "", IssueKind.INVALID_VALUE, "app.source"),
    (("app", "command"), DELETE, IssueKind.MISSING_FIELD, "app.command"),
    (("app", "port"), 70000, IssueKind.INVALID_VALUE, "app.port"),
    (("app", "port"), "eighty", IssueKind.INVALID_VALUE, "app.port"),
    (("app", "processes"), 0, IssueKind.INVALID_VALUE, "app.processes"),
    (("app", "health_path"), "healthz", IssueKind.INVALID_VALUE, "app.health_path"),
    (("app", "environment"), {"1BAD": "x"}, IssueKind.INVALID_VALUE, "app.environment"),
    (("app", "environment"), ["A=B"], IssueKind.INVALID_VALUE, "app.environment"),
    (("app", "secret_environment"), {"TOKEN": "literal"}, IssueKind.LITERAL_SECRET,
     "app.secret_environment.TOKEN"),
    (("database", "engine"), "mysql", IssueKind.INVALID_VALUE, "database.engine"),
    (("database", "version"), "fifteen", IssueKind.INVALID_VALUE, "database.version"),
    (("database", "name"), "Bad-Name", IssueKind.INVALID_VALUE, "database.name"),
    (("database", "port"), 0, IssueKind.INVALID_VALUE, "database.port"),
    (("database", "extensions"), ["pg crypto"], IssueKind.INVALID_VALUE, "database.extensions[0]"),
    (("database", "owner", "password"), "hunter2", IssueKind.LITERAL_SECRET, "database.owner.password"),
    (("database", "owner", "password"), {"env": "A", "file": "b"}, IssueKind.INVALID_VALUE,
     "database.owner.password"),
    (("database", "owner", "password"), {}, IssueKind.INVALID_VALUE, "database.owner.password"),
    (("database", "admin", "password"), 12345, IssueKind.LITERAL_SECRET, "database.admin.password"),
    (("database", "owner", "name"), DELETE, IssueKind.MISSING_FIELD, "database.owner.name"),
    (("buckets", 0, "name"), "Bad_Bucket", IssueKind.INVALID_VALUE, "buckets[0].name"),
    (("buckets",), "refservice-files", IssueKind.INVALID_VALUE, "buckets"),
    (("dns", "zone"), "localhost", IssueKind.INVALID_VALUE, "dns.zone"),
    (("dns", "records", 0, "type"), "AXFR", IssueKind.INVALID_VALUE, "dns.records[0].type"),
    (("dns", "records", 0, "ttl"), 0, IssueKind.INVALID_VALUE, "dns.records[0].ttl"),
    (("dns", "records", 1, "values"), ["not a host!"], IssueKind.INVALID_VALUE,
     "dns.records[1].values[0]"),
    (("dns", "records", 3, "values"), [], IssueKind.INVALID_VALUE, "dns.records[3].values"),
    (("dns", "records", 2, "target"), "app", IssueKind.INVALID_VALUE, "dns.records[2]"),
    (("tls", "key"), "-----BEGIN PRIVATE KEY-----", IssueKind.LITERAL_SECRET, "tls.key"),
    (("objectives", "rto"), "five minutes", IssueKind.INVALID_VALUE, "objectives.rto"),
    (("objectives", "rpo"), 5, IssueKind.INVALID_VALUE, "objectives.rpo"),
    (("targets", "aws", "region"), "mars", IssueKind.INVALID_VALUE, "targets.aws.region"),
    (("targets", "aws", "endpoint"), "ftp://x", IssueKind.INVALID_VALUE, "targets.aws.endpoint"),
    (("targets", "aws", "credentials", "secret_access_key"), "abc", IssueKind.LITERAL_SECRET,
     "targets.aws.credentials.secret_access_key"),
    (("targets", "aws", "s3_requests_per_second"), 0, IssueKind.INVALID_VALUE,
     "targets.aws.s3_requests_per_second"),
    (("targets", "aws", "database_endpoint"), {"port": 5432}, IssueKind.MISSING_FIELD,
     "targets.aws.database_endpoint.host"),
    (("targets", "baremetal", "inventory"), DELETE, IssueKind.MISSING_FIELD, "targets.baremetal.inventory"),
    (("targets", "baremetal", "ssh", "user"), "Root User", IssueKind.INVALID_VALUE,
     "targets.baremetal.ssh.user"),
    (("targets", "baremetal", "object_store", "secret_key"), "s3cr3t", IssueKind.LITERAL_SECRET,
     "targets.baremetal.object_store.secret_key"),
    (("targets", "baremetal", "dns", "provider"), "bind", IssueKind.INVALID_VALUE,
     "targets.baremetal.dns.provider"),
    (("targets", "baremetal", "dns", "api_key"), "key", IssueKind.LITERAL_SECRET,
     "targets.baremetal.dns.api_key"),
]


@pytest.mark.parametrize(("path", "value", "kind", "field"), BAD_VALUES,
                         ids=[".".join(map(str, case[0])) + f"={case[1]!r}"[:30] for case in BAD_VALUES])
def test_each_field_refuses_bad_values(spec_dir: Path, sample_data: dict, path: tuple[Any, ...],
                                       value: Any, kind: IssueKind, field: str) -> None:
    error = load_with(spec_dir, sample_data, path, value)
    assert [(issue.kind, issue.path) for issue in error.issues] == [(kind, field)], str(error)
    assert error.issues[0].line > 0


def test_secret_environment_by_reference_is_valid(spec_dir: Path, sample_data: dict,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_TOKEN", "t")
    sample_data["app"]["secret_environment"] = {"TOKEN": {"env": "API_TOKEN"}}
    (spec_dir / "service.yaml").write_text(yaml.safe_dump(sample_data))
    assert load_spec(spec_dir / "service.yaml").spec.app.secret_environment["TOKEN"].env == "API_TOKEN"


@pytest.mark.parametrize(("rtype", "value"), [
    ("A", "192.0.2.1"), ("AAAA", "2001:db8::1"), ("CNAME", "www.example.com."),
    ("MX", "10 mail.example.com."), ("TXT", "hello world"), ("NS", "ns1.example.com."),
    ("SRV", "10 5 5060 sip.example.com."), ("CAA", '0 issue "letsencrypt.org"'), ("PTR", "host.example."),
])
def test_every_common_record_type(spec_dir: Path, sample_data: dict, rtype: str, value: str) -> None:
    sample_data["dns"]["records"] = [{"name": "rec", "type": rtype, "values": [value]}]
    (spec_dir / "service.yaml").write_text(yaml.safe_dump(sample_data))
    record = load_spec(spec_dir / "service.yaml").spec.dns.records[0]  # type: ignore[union-attr]
    assert (record.type, record.values) == (rtype, [value])


@pytest.mark.parametrize(("rtype", "value"), [
    ("A", "2001:db8::1"), ("AAAA", "192.0.2.1"), ("MX", "mail.example.com."),
    ("SRV", "10 5 sip.example.com."), ("CAA", "0 bogus x"), ("TXT", ""),
])
def test_record_values_must_fit_their_type(spec_dir: Path, sample_data: dict, rtype: str, value: str) -> None:
    records = [{"name": "r", "type": rtype, "values": [value]}]
    error = load_with(spec_dir, sample_data, ("dns", "records"), records)
    assert [(i.kind, i.path) for i in error.issues] == [(IssueKind.INVALID_VALUE, "dns.records[0].values[0]")]


@pytest.mark.parametrize(("text", "expected"), [("0s", 0), ("90s", 90), ("5m", 300), ("1.5h", 5400),
                                                ("2d", 172800), ("250ms", 0.25)])
def test_durations(text: str, expected: float) -> None:
    assert seconds(text) == expected


def test_zone_gets_a_trailing_dot(spec_dir: Path, sample_data: dict) -> None:
    sample_data["dns"]["zone"] = "refservice.example"
    (spec_dir / "service.yaml").write_text(yaml.safe_dump(sample_data))
    assert load_spec(spec_dir / "service.yaml").spec.dns.zone == "refservice.example."  # type: ignore[union-attr]
