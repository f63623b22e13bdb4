"""What can be wrong with a spec: one ``SpecIssue`` per finding, each of a specific kind."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from toolkit.errors import BadInput

_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


class IssueKind(StrEnum):
    """Every way a spec can be refused. There is deliberately no generic kind."""

    TOO_LARGE = "too_large"  # the document is bigger than any real spec
    UNSAFE_YAML = "unsafe_yaml"  # alias bombs, runaway nesting, language-specific tags
    YAML_SYNTAX = "yaml_syntax"  # not parseable as YAML
    NOT_A_MAPPING = "not_a_mapping"  # the document is empty or not a mapping
    DUPLICATE_KEY = "duplicate_key"
    INVALID_KEY = "invalid_key"  # a key that is not a plain string
    UNKNOWN_FIELD = "unknown_field"
    MISSING_FIELD = "missing_field"
    INVALID_VALUE = "invalid_value"
    LITERAL_SECRET = "literal_secret"  # a credential given as a literal instead of a reference
    UNSUPPORTED_VERSION = "unsupported_version"
    BROKEN_REFERENCE = "broken_reference"  # one component names another that is not there
    CONFLICT = "conflict"  # two parts of the spec contradict each other
    UNRESOLVABLE_SECRET = "unresolvable_secret"
    MISSING_FILE = "missing_file"
    INSECURE_SECRET_FILE = "insecure_secret_file"  # a warning, not an error


@dataclass(frozen=True)
class SpecIssue:
    kind: IssueKind
    message: str
    file: str
    line: int  # 1-based; 0 when the issue concerns the whole file
    column: int  # 1-based
    path: str = ""  # dotted field path, e.g. "dns.records[2].values[0]"
    warning: bool = False

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}" if self.line else self.file
        field = f" {self.path}:" if self.path else ""
        severity = " warning:" if self.warning else ""
        return f"{where}:{severity}{field} {self.message}"

    def to_json(self) -> dict[str, object]:
        return {
            "kind": self.kind.value,
            "message": self.message,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "path": self.path,
            "warning": self.warning,
        }


class SpecError(BadInput):
    """The spec is invalid; ``issues`` lists every finding, one line each."""

    def __init__(self, issues: list[SpecIssue]) -> None:
        self.issues = issues
        super().__init__("\n".join(str(issue) for issue in issues))


def format_path(path: tuple[str | int, ...]) -> str:
    if len(path) > 12:  # runaway nesting: keep the line readable
        return f"{format_path(path[:4])}...{format_path(path[-2:])}"
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif not _PLAIN_KEY.match(part):  # keep odd keys on one readable line
            text += f"[{part!r}]"
        else:
            text += f".{part}" if text else part
    return text
