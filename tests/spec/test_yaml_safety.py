"""Unsafe or explosive YAML is refused with a clear message, before anything walks it."""

from __future__ import annotations

import pytest

from toolkit.spec import IssueKind, SpecError, parse_spec
from toolkit.spec.yamlsource import MAX_BYTES, load_yaml

BILLION_LAUGHS = "\n".join(
    [f"l0: &l0 [{', '.join(['lol'] * 9)}]"]
    + [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 9)]
) + "\n"


def refused(text: str) -> list:
    with pytest.raises(SpecError) as caught:
        parse_spec(text, "evil.yaml")
    return caught.value.issues


def test_alias_bomb_is_refused() -> None:
    [issue] = refused(BILLION_LAUGHS)
    assert issue.kind is IssueKind.UNSAFE_YAML
    assert "alias bomb" in issue.message


def test_recursive_alias_is_refused() -> None:
    [issue] = refused("a: &a [*a]\n")
    assert issue.kind is IssueKind.UNSAFE_YAML


def test_huge_document_is_refused_before_parsing() -> None:
    [issue] = refused("a: " + "x" * (MAX_BYTES + 1) + "\n")
    assert issue.kind is IssueKind.TOO_LARGE


def test_deep_nesting_is_refused() -> None:
    kinds = {i.kind for i in refused("a: " + "[" * 5000 + "]" * 5000 + "\n")}
    assert kinds == {IssueKind.UNSAFE_YAML}


@pytest.mark.parametrize("text", [
    "a: !!python/object/apply:os.system ['true']\n",
    "a: !!python/name:os.system\n",
    "a: !custom {x: 1}\n",
    "a: !!set {x, y}\n",
])
def test_language_and_custom_tags_are_refused(text: str) -> None:
    [issue] = refused(text)
    assert issue.kind is IssueKind.UNSAFE_YAML
    assert "tag" in issue.message


def test_merge_keys_fold_in_below_explicit_keys() -> None:
    located = load_yaml("base: &base {x: 1, y: 2}\nvalue:\n  <<: *base\n  y: 3\n", "merge.yaml")
    assert located.data == {"base": {"x": 1, "y": 2}, "value": {"x": 1, "y": 3}}
    # A merged value is located where it is written, in the anchored mapping; an explicit key
    # where it overrides it.
    assert located.position(("value", "x")) == (1, 17)
    assert located.position(("value", "y")) == (4, 6)


def test_a_spec_written_with_merge_keys_loads_as_if_written_out(sample_text: str) -> None:
    owner = "  owner:\n    name: refservice\n    password: {env: REFSERVICE_DB_PASSWORD}\n"
    admin = "  admin:                              # RDS master user: not a superuser\n" \
            "    name: toolkit_admin\n    password: {env: REFSERVICE_DB_ADMIN_PASSWORD}\n"
    assert owner in sample_text and admin in sample_text
    # The admin role takes the owner's password reference by a merge key; without the merge it
    # would have no password and the spec would be refused.
    merged = sample_text.replace(owner, owner.replace("  owner:", "  owner: &owner")).replace(
        admin, "  admin:\n    <<: *owner\n    name: toolkit_admin\n")
    spec = parse_spec(merged, "merge.yaml", check_environment=False).spec
    assert spec.database.admin is not None
    assert spec.database.admin.name == "toolkit_admin"
    assert spec.database.admin.password.env == "REFSERVICE_DB_PASSWORD"
    assert spec.database.owner.name == "refservice"
