"""Unsafe or explosive YAML is refused with a clear message, before anything walks it."""

from __future__ import annotations

import pytest

from toolkit.spec import IssueKind, SpecError, parse_spec
from toolkit.spec.yamlsource import MAX_BYTES

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


def test_plain_anchors_and_merge_keys_still_work() -> None:
    text = "base: &base {x: 1, y: 2}\nvalue:\n  <<: *base\n  y: 3\n"
    with pytest.raises(SpecError) as caught:
        parse_spec(text, "merge.yaml")
    # Parsed fine; refused only for not being a spec.
    assert {i.kind for i in caught.value.issues} <= {IssueKind.UNKNOWN_FIELD, IssueKind.MISSING_FIELD}
