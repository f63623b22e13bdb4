"""Error message forms: one line each, file:line:column, the field path, what is wrong."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from toolkit.spec import IssueKind, SpecError, load_spec, parse_spec

LINE = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+):(?P<col>\d+): (?P<path>[\w.\[\]]+): (?P<msg>.+)$")


def issues_of(path: Path) -> list:
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    return caught.value.issues


def test_message_names_file_line_column_path(write_spec: Callable[[str], Path], sample_text: str) -> None:
    path = write_spec(sample_text.replace("  port: 8000 ", "  port: 99999"))
    [issue] = issues_of(path)
    match = LINE.match(str(issue))
    assert match, str(issue)
    line_no = next(i for i, line in enumerate(sample_text.splitlines(), 1) if line.startswith("  port: 8000"))
    assert (match["file"], int(match["line"]), int(match["col"])) == (str(path), line_no, 9)
    assert match["path"] == "app.port"
    assert "65535" in match["msg"] and "99999" in match["msg"]


def test_deeply_nested_field_is_located(write_spec: Callable[[str], Path], sample_text: str) -> None:
    text = sample_text.replace("      api_port: 8081", "      api_port: many")
    path = write_spec(text)
    [issue] = issues_of(path)
    line_no = next(i for i, line in enumerate(text.splitlines(), 1) if "api_port: many" in line)
    assert (issue.line, issue.column, issue.path) == (line_no, 17, "targets.baremetal.dns.api_port")
    assert issue.kind is IssueKind.INVALID_VALUE


def test_unknown_key_suggests_the_close_name(write_spec: Callable[[str], Path], sample_text: str) -> None:
    path = write_spec(sample_text.replace("  health_path:", "  helth_path:"))
    [issue] = issues_of(path)
    assert issue.kind is IssueKind.UNKNOWN_FIELD
    assert issue.path == "app.helth_path"
    assert "did you mean 'health_path'?" in issue.message


def test_unknown_key_deep_inside_a_list(write_spec: Callable[[str], Path], sample_text: str) -> None:
    path = write_spec(sample_text.replace("- {name: www, type: CNAME,", "- {name: www, tpye: CNAME,"))
    kinds = {(i.kind, i.path) for i in issues_of(path)}
    assert (IssueKind.UNKNOWN_FIELD, "dns.records[1].tpye") in kinds
    assert (IssueKind.MISSING_FIELD, "dns.records[1].type") in kinds


def test_unknown_key_without_close_name_has_no_suggestion(write_spec: Callable[[str], Path],
                                                           sample_text: str) -> None:
    path = write_spec(sample_text + "zzzqqq: 1\n")
    [issue] = issues_of(path)
    assert issue.message == "unknown field 'zzzqqq'"


def test_duplicate_keys_are_errors(write_spec: Callable[[str], Path], sample_text: str) -> None:
    path = write_spec(sample_text.replace("  processes: 2\n", "  processes: 2\n  processes: 3\n"))
    [issue] = issues_of(path)
    assert issue.kind is IssueKind.DUPLICATE_KEY
    assert issue.path == "app.processes"
    assert "first given on line" in issue.message


def test_missing_field_points_at_its_parent(write_spec: Callable[[str], Path], sample_text: str) -> None:
    text = sample_text.replace("  command: gunicorn", "  comand: gunicorn")
    path = write_spec(text)
    kinds = {(i.kind, i.path) for i in issues_of(path)}
    assert kinds == {(IssueKind.UNKNOWN_FIELD, "app.comand"), (IssueKind.MISSING_FIELD, "app.command")}


def test_literal_secret_names_the_field(write_spec: Callable[[str], Path], sample_text: str) -> None:
    path = write_spec(sample_text.replace("{env: REFSERVICE_OBJECTS_SECRET_KEY}", "plain-text-secret"))
    [issue] = issues_of(path)
    assert issue.kind is IssueKind.LITERAL_SECRET
    assert issue.path == "targets.baremetal.object_store.secret_key"
    assert "plain-text-secret" not in str(issue)  # never echo a secret back


def test_every_issue_is_one_line(write_spec: Callable[[str], Path], sample_text: str) -> None:
    text = sample_text.replace("version: 15", "version: x").replace("  port: 8000", "  port: -1")
    for issue in issues_of(write_spec(text)):
        assert "\n" not in str(issue)


def test_syntax_error_is_located() -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec("version: 1\napp: [unclosed\n", "broken.yaml")
    [issue] = caught.value.issues
    assert issue.kind is IssueKind.YAML_SYNTAX
    assert str(issue).startswith("broken.yaml:3:1:")


def test_wrong_document_shapes() -> None:
    for text in ("", "# only a comment\n", "- a list\n", "just a string\n"):
        with pytest.raises(SpecError) as caught:
            parse_spec(text, "x.yaml")
        assert [i.kind for i in caught.value.issues] == [IssueKind.NOT_A_MAPPING], text


def test_non_string_keys_are_refused() -> None:
    for text in ("1: x\n", "? [a, b]\n: x\n", "null: x\n", "yes: 1\n"):
        with pytest.raises(SpecError) as caught:
            parse_spec(text, "x.yaml")
        assert [i.kind for i in caught.value.issues] == [IssueKind.INVALID_KEY], text


def test_missing_spec_file_is_bad_input(tmp_path: Path) -> None:
    from toolkit.errors import BadInput

    with pytest.raises(BadInput, match="does not exist"):
        load_spec(tmp_path / "nope.yaml")


def test_non_utf8_file_names_the_line_and_column_of_the_first_bad_byte(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    # Valid multi-byte characters before the bad byte: the column counts characters, not bytes.
    path.write_bytes("version: 1\nservice:\n  description: «Crème» ".encode() + b"caf\xe9 \xff\n")
    [issue] = issues_of(path)
    assert issue.kind is IssueKind.YAML_SYNTAX
    assert (issue.file, issue.line, issue.column) == (str(path), 3, 27)
    assert str(issue) == (f"{path}:3:27: the file is not UTF-8 text (byte 0xe9: invalid continuation byte); "
                          "save it as UTF-8")


@pytest.mark.parametrize(("data", "where"), [
    (b"\xff\xfeversion: 1\n", (1, 1)),  # UTF-16 byte order mark
    (b"version: 1\nservice: {name: x}\n\n# ends inside a character \xe2\x82", (4, 27)),
])
def test_non_utf8_position_at_the_edges(tmp_path: Path, data: bytes, where: tuple[int, int]) -> None:
    path = tmp_path / "bad.yaml"
    path.write_bytes(data)
    [issue] = issues_of(path)
    assert (issue.line, issue.column) == where
