"""The lab reads the sample spec through the spec model: one place owns every default.

No root needed: these are the pure parts of ``lab up`` (reading the sample, writing the lab's spec).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from tests.fixtures.spec import SAMPLE, SAMPLE_ENV
from toolkit.errors import EnvironmentNotReady
from toolkit.lab.artifacts import DRILL_INVENTORY, SpecWiring, lab_spec, sample_spec
from toolkit.spec import SpecError, parse_spec
from toolkit.spec.model import App, Database

WIRING = SpecWiring(app_source=Path("/opt/src/refservice"), moto_url="http://198.18.0.2:5000",
                    hosted_zone_id="Z0LAB", instances=["i-0aa", "i-0bb"], db_address="198.18.0.11",
                    objects_address="198.18.0.24", dns_address="198.18.0.25",
                    resolver_address="198.18.0.5", registry_address="198.18.0.3")


def written(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "service.yaml"
    path.write_text(text)
    return path


def test_the_sample_loads_without_its_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    # The sample's secrets name the user's environment; the lab makes its own.
    for name in SAMPLE_ENV:
        monkeypatch.delenv(name, raising=False)
    spec = sample_spec(SAMPLE)
    assert spec.service.name == "refservice"
    assert spec.app.ports == range(8000, 8002)


def test_fields_the_sample_leaves_out_get_the_models_defaults(tmp_path: Path) -> None:
    text = SAMPLE.read_text()
    for line in ("  port: 8000                          # processes use 8000..8001\n", "  processes: 2\n"):
        assert line in text
        text = text.replace(line, "")
    spec = sample_spec(written(tmp_path, text))
    defaults_ports = range(App.model_fields["port"].default,
                           App.model_fields["port"].default + App.model_fields["processes"].default)
    assert spec.app.ports == defaults_ports and len(defaults_ports) == 2  # the model says 2, not 1
    lab = lab_spec(spec, WIRING)
    # Left out of the lab's spec too, so that its reader takes the same defaults from the model.
    assert "port" not in lab["app"] and "processes" not in lab["app"]
    assert lab["targets"]["aws"]["database_endpoint"]["port"] == Database.model_fields["port"].default
    again = parse_spec(yaml.safe_dump(lab), "lab.yaml", tmp_path / "lab.yaml", check_environment=False)
    assert again.spec.app.ports == defaults_ports


def test_the_lab_spec_points_every_secret_at_the_lab(tmp_path: Path) -> None:
    lab = lab_spec(sample_spec(SAMPLE), WIRING)
    spec = parse_spec(yaml.safe_dump(lab), "lab.yaml", tmp_path / "lab.yaml", check_environment=False).spec
    refs = dict(spec.secret_refs())
    assert refs and all(ref.env is None for ref in refs.values())
    assert spec.app.source == "/opt/src/refservice"
    assert spec.targets.aws is not None and spec.targets.aws.endpoint == WIRING.moto_url


def test_the_lab_spec_names_the_drill_hosts_only_when_there_are_some(tmp_path: Path) -> None:
    sample = sample_spec(SAMPLE)
    assert "drill" not in lab_spec(sample, WIRING)["targets"]["baremetal"]
    lab = lab_spec(sample, dataclasses.replace(WIRING, drill_hosts=1))
    assert lab["targets"]["baremetal"]["drill"] == {"inventory": "inventory/drill.yml", "label": "drill"}
    spec = parse_spec(yaml.safe_dump(lab), "lab.yaml", tmp_path / "lab.yaml", check_environment=False).spec
    bare = spec.targets.baremetal
    assert bare is not None and bare.drill is not None
    assert (bare.drill.inventory, bare.drill.label) == (DRILL_INVENTORY, "drill")
    assert bare.inventory != bare.drill.inventory


def test_a_sample_without_dns_is_refused_in_one_sentence(tmp_path: Path) -> None:
    text = SAMPLE.read_text()
    start, end = text.index("dns:\n  zone:"), text.index("tls:\n")
    text = text[:start] + text[end:]
    with pytest.raises(EnvironmentNotReady, match="needs a dns zone and a bucket"):
        sample_spec(written(tmp_path, text))


def test_an_invalid_sample_is_a_located_spec_error(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as caught:
        sample_spec(written(tmp_path, SAMPLE.read_text().replace("  processes: 2", "  processes: 0")))
    [issue] = caught.value.issues
    assert issue.path == "app.processes" and issue.line > 0
