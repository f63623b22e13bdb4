"""The draft spec and the report from a hand-made inventory: records, guesses, files, bandwidth."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from toolkit.discovery import draft, report
from toolkit.discovery.inventory import Inventory, Resource
from toolkit.discovery.yamlout import plain
from toolkit.errors import BadInput
from toolkit.spec import parse_spec

ZONE = "example.org."


def record(name: str, rtype: str, values: list[str], ttl: int | None = 300, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "type": rtype,
        "ttl": ttl,
        "values": values,
        "alias": None,
        "set_identifier": None,
        **extra,
    }


def inventory(*resources: Resource) -> Inventory:
    found = Inventory(regions=["eu-west-1"], account="111122223333")
    found.resources.extend(resources)
    return found


def zone(records: list[dict[str, Any]]) -> Resource:
    return Resource(
        "AWS::Route53::HostedZone",
        ZONE,
        "global",
        {"id": "Z1", "private": False, "records": records},
        items=len(records),
    )


def build(found: Inventory) -> draft.Draft:
    return draft.build(found, draft.Wiring(region="eu-west-1"))


def test_records_become_spec_records() -> None:
    app = Resource("AWS::EC2::Instance", "i-1", "eu-west-1", {"addresses": ["203.0.113.7", "10.0.0.7"]})
    balancer = Resource(
        "AWS::ElasticLoadBalancingV2::LoadBalancer",
        "web",
        "eu-west-1",
        {"dns_name": "web-1.eu-west-1.elb.amazonaws.com"},
    )
    result = build(
        inventory(
            app,
            balancer,
            zone(
                [
                    record(ZONE, "SOA", ["ns.awsdns. hostmaster. 1 7200 900 1209600 86400"], 900),
                    record(ZONE, "NS", ["ns-1.awsdns-1.org."], 172800),
                    record(ZONE, "A", ["203.0.113.7"], 60),
                    record(f"api.{ZONE}", "A", ["198.51.100.1"], 60),
                    record(f"www.{ZONE}", "CNAME", ["web-1.eu-west-1.elb.amazonaws.com."], 300),
                    record(ZONE, "TXT", ['"v=spf1 " "-all"', '"say \\"hi\\""'], 3600),
                    record(f"cdn.{ZONE}", "A", [], None, alias="d111.cloudfront.net."),
                    record(f"w.{ZONE}", "A", ["198.51.100.2"], 60, set_identifier="blue"),
                    record(f"w.{ZONE}", "A", ["198.51.100.3"], 60, set_identifier="green"),
                    record(f"old.{ZONE}", "SPF", ['"v=spf1 -all"'], 60),
                    record(f"sub.{ZONE}", "NS", ["ns1.elsewhere.net."], 3600),
                ]
            ),
        )
    )
    records = plain(result.data)["dns"]["records"]
    assert records == [
        {"name": "@", "type": "A", "target": "app", "ttl": 60},
        {"name": "api", "type": "A", "values": ["198.51.100.1"], "ttl": 60},
        {"name": "www", "type": "CNAME", "target": "app", "ttl": 300},
        {"name": "@", "type": "TXT", "values": ["v=spf1 -all", 'say "hi"'], "ttl": 3600},
        {"name": "w", "type": "A", "values": ["198.51.100.2"], "ttl": 60},
        {"name": "sub", "type": "NS", "values": ["ns1.elsewhere.net."], "ttl": 3600},
    ]
    notes = "\n".join(result.notes)
    assert "A cdn.example.org.: an alias to d111.cloudfront.net., which is not the app: not carried" in notes
    assert "(green): routing policies are not carried" in notes
    assert "SPF old.example.org.: not a record the spec can carry" in notes
    # What was written is what the data says, and the spec loader reads it.
    assert yaml.safe_load(result.text) == plain(result.data)
    parse_spec(result.text, "draft", check_environment=False)


def test_every_guess_is_marked_on_its_line() -> None:
    result = build(inventory(Resource("AWS::S3::Bucket", "files", "eu-west-1", {})))
    guessed_lines = [line for line in result.text.splitlines() if "# guessed: " in line]
    guessed_keys = {path.split(".")[-1] for path, _, _ in result.guesses if not path.split(".")[-1].isdigit()}
    assert guessed_keys == {
        "name",
        "source",
        "command",
        "port",
        "processes",
        "health_path",
        "version",
        "password",
        "objectives",
        "versioning",
    }
    for key in guessed_keys:
        assert any(f"{key}: " in line for line in guessed_lines), key
    assert len(guessed_lines) == len(result.guesses)
    assert "- {name: files, versioning: true}  # guessed: versioning could not be read" in result.text


def test_an_unsupported_postgres_version_is_a_guess_with_its_reason() -> None:
    old = Resource(
        "AWS::RDS::DBInstance",
        "legacy-db",
        "eu-west-1",
        {
            "engine": "postgres",
            "engine_version": "11.22",
            "db_name": "legacy",
            "master_username": "root",
            "port": 5433,
        },
    )
    result = build(inventory(old))
    [line] = [line for line in result.text.splitlines() if line.startswith("  version:")]
    assert line.startswith("  version: 17  # guessed: the database runs PostgreSQL 11.22")
    database = plain(result.data)["database"]
    assert (database["name"], database["port"], database["admin"]["name"]) == ("legacy", 5433, "root")
    assert plain(result.data)["service"]["name"] == "legacy"


def postgres(**properties: Any) -> Resource:
    return Resource(
        "AWS::RDS::DBInstance",
        "shop-db",
        "eu-west-1",
        {"engine": "postgres", "engine_version": "15.4", "db_name": "shop", **properties},
    )


def test_automated_backups_become_the_specs_backups() -> None:
    result = build(inventory(postgres(backup_retention_days=14, backup_window="05:00-05:45")))
    assert plain(result.data)["database"]["backups"] == {"retention_days": 14, "window": "05:00-05:45"}
    spec = parse_spec(result.text, "draft", check_environment=False).spec
    assert (spec.database.backups.retention_days, spec.database.backups.window) == (14, "05:00-05:45")
    assert not any("backup" in note for note in result.notes)


def test_automated_backups_off_keep_the_specs_default_with_a_note() -> None:
    result = build(inventory(postgres(backup_retention_days=0, backup_window="05:00-05:45")))
    assert "backups" not in plain(result.data)["database"]
    assert parse_spec(result.text, "draft", check_environment=False).spec.database.backups.retention_days == 7
    notes = " ".join(result.notes)
    assert "RDS shop-db has automated backups off: the draft keeps the spec's default" in notes


def test_an_unreadable_backup_window_is_a_guess() -> None:
    result = build(inventory(postgres(backup_retention_days=3)))
    assert plain(result.data)["database"]["backups"] == {"retention_days": 3, "window": "03:00-04:00"}
    [line] = [line for line in result.text.splitlines() if line.startswith("    window:")]
    assert line == "    window: 03:00-04:00  # guessed: the backup window could not be read"


def test_the_draft_never_overwrites_a_file(tmp_path: Path) -> None:
    target = tmp_path / "service.yaml"
    assert draft.beside(target) == target
    target.write_text("mine")
    assert draft.beside(target) == tmp_path / "service.discovered.yaml"
    result = build(inventory())
    assert draft.write(result, target) == tmp_path / "service.discovered.yaml"
    assert draft.write(result, target) == tmp_path / "service.discovered-2.yaml"
    assert target.read_text() == "mine"


@pytest.mark.parametrize(
    ("text", "per_second"),
    [("1Gbit/s", 125e6), ("200Mbps", 25e6), ("50MB/s", 50e6), ("8 mbit/s", 1e6), ("1.5GB/s", 1.5e9)],
)
def test_bandwidth(text: str, per_second: float) -> None:
    assert report.bandwidth_bytes(text) == per_second


@pytest.mark.parametrize("text", ["fast", "0Mbit/s", "10 parsecs", ""])
def test_bad_bandwidth(text: str) -> None:
    with pytest.raises(BadInput, match="is not a bandwidth"):
        report.bandwidth_bytes(text)


def test_the_exit_time_is_the_data_over_the_bandwidth() -> None:
    found = inventory(
        Resource("AWS::S3::Bucket", "a", "eu-west-1", bytes=3 * 10**9, items=10),
        Resource("AWS::DynamoDB::Table", "t", "eu-west-1", bytes=10**9),
        Resource("AWS::Made::Up", "m", "eu-west-1"),
    )
    lockin = report.build(found, "100Mbit/s")
    data = lockin.to_json()["data"]
    assert (data["bytes"], data["exit_seconds"], data["exit_time"]) == (4 * 10**9, 320.0, "5 min")
    services = {r["service"]: r for r in lockin.to_json()["services"]}
    assert services["DynamoDB"]["baremetal"] == "none: needs a plan"
    assert services["DynamoDB"]["exit_seconds"] == 80.0
    assert services["AWS::Made::Up"]["status"] == "review"
    assert lockin.to_json()["unsupported"] == ["DynamoDB"]
