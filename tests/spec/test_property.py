"""Property: any input ends in a valid spec or in specific, located issues; never anything else.

There is no generic issue kind to fall back on, and any other exception fails the test, so a
catch-all in the loader cannot make this pass.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fixtures.spec import REPO, SAMPLE, SAMPLE_ENV
from toolkit.spec import IssueKind, LoadedSpec, SpecError, parse_spec

SPECIFIC_KINDS = set(IssueKind)
SAMPLE_DATA = yaml.safe_load(SAMPLE.read_text())

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True), st.text(max_size=20),
    st.sampled_from(["15", "@", "A", "app", "5m", "0s", "x" * 300, "refservice", "{env: X}"]),
)
structures = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(st.text(max_size=8), children, max_size=4)),
    max_leaves=12,
)


@pytest.fixture(scope="module")
def spec_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("spec-home")
    (home / "refservice").mkdir()
    example = home / "inventories" / "example"
    example.mkdir(parents=True)
    shutil.copy(REPO / "inventories" / "example" / "hosts.yml", example / "hosts.yml")
    (example / "known_hosts").write_text("")
    (example / "deploy_key").write_text("key\n")
    (example / "deploy_key").chmod(0o600)
    saved = {name: os.environ.get(name) for name in SAMPLE_ENV}
    os.environ.update(SAMPLE_ENV)
    yield home
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def outcome(text: str, home: Path) -> LoadedSpec | list[Any]:
    try:
        return parse_spec(text, "fuzz.yaml", home / "service.yaml")
    except SpecError as error:
        assert error.issues, "a SpecError must carry at least one issue"
        for issue in error.issues:
            assert issue.kind in SPECIFIC_KINDS
            assert not issue.warning
            assert "\n" not in str(issue)
            assert str(issue).startswith("fuzz.yaml")
        return error.issues


def mutate(data: Any, path: list[int], value: Any, action: str) -> Any:
    """Replace, delete or add at a position chosen by walking ``path`` indices into ``data``."""
    if not path or not isinstance(data, dict | list) or not data:
        return value if action != "add" or not isinstance(data, dict) else {**data, "extra": value}
    index = path[0] % len(data)
    if isinstance(data, dict):
        key = list(data)[index]
        copy = dict(data)
        if action == "delete" and len(path) == 1:
            del copy[key]
        else:
            copy[key] = mutate(data[key], path[1:], value, action)
        return copy
    copy_list = list(data)
    copy_list[index] = mutate(data[index], path[1:], value, action)
    return copy_list


relaxed = settings(max_examples=150, deadline=None,
                   suppress_health_check=[HealthCheck.function_scoped_fixture])


@relaxed
@given(text=st.text(max_size=300))
def test_random_text(spec_home: Path, text: str) -> None:
    outcome(text, spec_home)


@relaxed
@given(data=structures)
def test_random_structures(spec_home: Path, data: Any) -> None:
    outcome(yaml.safe_dump(data), spec_home)


@relaxed
@given(path=st.lists(st.integers(min_value=0, max_value=50), min_size=1, max_size=6), value=structures,
       action=st.sampled_from(["replace", "delete", "add"]))
def test_mutated_valid_spec(spec_home: Path, path: list[int], value: Any, action: str) -> None:
    outcome(yaml.safe_dump(mutate(SAMPLE_DATA, path, value, action), sort_keys=False), spec_home)


@relaxed
@given(position=st.integers(min_value=0, max_value=len(SAMPLE.read_text())),
       insert=st.text(alphabet=":-[]{}&*!|>'\"#%@ \n\tx1", max_size=6), cut=st.integers(0, 8))
def test_corrupted_sample_text(spec_home: Path, position: int, insert: str, cut: int) -> None:
    text = SAMPLE.read_text()
    outcome(text[:position] + insert + text[position + cut:], spec_home)


def test_unmodified_sample_is_valid(spec_home: Path) -> None:
    assert isinstance(outcome(SAMPLE.read_text(), spec_home), LoadedSpec)
