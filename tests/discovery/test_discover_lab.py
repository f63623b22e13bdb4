"""``discover`` pointed at the lab's moto finds the reference service (integration, root).

The lab's AWS side holds what ``lab up`` seeded from the sample spec (the RDS instance, the EC2
instances, the bucket the app fills, the Route53 zone): the draft must carry the same components,
buckets and records as the lab's own spec.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from toolkit import interface
from toolkit.lab.aws_side import ARTIFACT_BUCKET
from toolkit.spec import load_spec, parse_spec

pytestmark = [pytest.mark.lab, pytest.mark.timeout(900)]


def records(spec: dict[str, Any]) -> set[tuple[str, str, str, int]]:
    return {
        (r["name"], r["type"], r.get("target") or " ".join(r["values"]), r.get("ttl", 300))
        for r in spec["dns"]["records"]
    }


def test_discover_finds_the_reference_service(lab: dict[str, Any], tmp_path: Path) -> None:
    result = interface.discover("aws", spec_path=lab["spec"], output=tmp_path / "service.yaml")
    assert result.complete, [str(gap) for gap in result.inventory.gaps]
    assert result.draft.path == tmp_path / "service.yaml"
    text = result.draft.path.read_text()
    parse_spec(text, str(result.draft.path), check_environment=False)
    draft = yaml.safe_load(text)
    own = load_spec(lab["spec"], check_environment=False).spec.model_dump(mode="json")

    assert {"app", "database", "buckets", "dns"} <= set(draft)
    # The account also holds the bucket the stack keeps the app's release archives in (as the
    # lab's AWS side does): discovery finds it too.
    assert {b["name"] for b in draft["buckets"]} == {b["name"] for b in own["buckets"]} | {ARTIFACT_BUCKET}
    assert draft["dns"]["zone"] == own["dns"]["zone"]
    assert records(draft) == records(own)
    for field in ("version", "name", "port"):
        assert draft["database"][field] == own["database"][field], field
    assert draft["database"]["admin"]["name"] == own["database"]["admin"]["name"]
    theirs, ours = own["targets"]["aws"], draft["targets"]["aws"]
    assert ours["endpoint"] == theirs["endpoint"] and ours["region"] == theirs["region"]
    # The lab's own references (files), made absolute: the draft lives elsewhere.
    assert ours["credentials"] == {
        key: {"file": str(Path(lab["dir"]) / ref["file"])} for key, ref in theirs["credentials"].items()
    }
    assert ours["resources"]["db_instance"] == theirs["resources"]["db_instance"]
    assert ours["resources"]["hosted_zone_id"] == theirs["resources"]["hosted_zone_id"]
    assert set(ours["resources"]["instances"]) == set(theirs["resources"]["instances"])

    services = {row["service"]: row for row in result.report.to_json()["services"]}
    assert not result.report.unsupported
    assert services["S3"]["items"] and services["S3"]["bytes"]  # the notes' files the app wrote
    assert services["RDS for PostgreSQL"]["names"] == ["refservice-db"]
