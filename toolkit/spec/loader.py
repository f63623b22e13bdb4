"""Read a spec file into a validated ``Spec``, or fail with every issue located in the file."""

from __future__ import annotations

import difflib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from toolkit.errors import BadInput
from toolkit.spec.checks import semantic_issues
from toolkit.spec.issues import IssueKind, SpecError, SpecIssue
from toolkit.spec.model import SPEC_VERSION, Spec
from toolkit.spec.yamlsource import Located, decode, load_yaml

DEFAULT_SPEC = "service.yaml"

_KINDS = {
    "missing": IssueKind.MISSING_FIELD,
    "extra_forbidden": IssueKind.UNKNOWN_FIELD,
    "literal_secret": IssueKind.LITERAL_SECRET,
}


@dataclass
class LoadedSpec:
    spec: Spec
    path: Path
    warnings: list[SpecIssue] = field(default_factory=list)

    @property
    def base_dir(self) -> Path:
        """Relative paths in the spec (app source, inventory, secret files) start here."""
        return self.path.parent

    def resolve_path(self, relative: str) -> Path:
        path = Path(relative).expanduser()
        return path if path.is_absolute() else self.base_dir / path


def load_spec(path: Path | str | None = None, *, check_environment: bool = True) -> LoadedSpec:
    """Load and validate a spec.

    ``check_environment`` also checks what the spec names on this machine: files exist and every
    secret reference resolves. Without it the spec is still checked whole (schema and semantics),
    for readers that need the model but not the secrets (the lab reads the sample spec this way).
    """
    spec_path = Path(path) if path is not None else Path.cwd() / DEFAULT_SPEC
    if not spec_path.is_file():
        hint = "" if path is not None else " (pass --spec FILE, or run where service.yaml is)"
        raise BadInput(f"spec file {spec_path} does not exist{hint}")
    try:
        data = spec_path.read_bytes()
    except OSError as exc:
        raise BadInput(f"cannot read spec file {spec_path}: {exc.strerror}") from exc
    text = decode(data, str(spec_path))
    return parse_spec(text, str(spec_path), spec_path, check_environment=check_environment)


def parse_spec(text: str, file: str, spec_path: Path | None = None, *,
               check_environment: bool = True) -> LoadedSpec:
    located = load_yaml(text, file)
    version = located.data.get("version")
    if version is not None and version != SPEC_VERSION:
        raise SpecError([located.issue(IssueKind.UNSUPPORTED_VERSION, ("version",),
                                       f"spec version {version!r} is not supported "
                                       f"(this toolkit reads version {SPEC_VERSION})")])
    try:
        spec = Spec.model_validate(located.data)
    except ValidationError as exc:
        raise SpecError(_issues_from_pydantic(exc, located)) from exc
    path = (spec_path or Path(file)).resolve()
    issues = list(semantic_issues(spec, located, path.parent, environment=check_environment))
    errors = [issue for issue in issues if not issue.warning]
    if errors:
        raise SpecError(errors)
    return LoadedSpec(spec=spec, path=path, warnings=[i for i in issues if i.warning])


def _issues_from_pydantic(exc: ValidationError, located: Located) -> list[SpecIssue]:
    issues = []
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"]) + tuple(error.get("ctx", {}).get("field", ()))
        kind = _KINDS.get(error["type"], IssueKind.INVALID_VALUE)
        if kind is IssueKind.UNKNOWN_FIELD:
            name = str(loc[-1])
            close = difflib.get_close_matches(name, _fields_at(loc[:-1]), n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            message = f"unknown field {name!r}{hint}"
            issues.append(located.issue(kind, loc, message, key=True))
            continue
        if kind is IssueKind.MISSING_FIELD:
            message = f"required field {loc[-1]!r} is missing"
        else:
            message = _describe(error)
        issues.append(located.issue(kind, loc, message))
    issues.sort(key=lambda issue: (issue.line, issue.column))
    return issues


def _describe(error: Any) -> str:
    message = str(error["msg"])
    message = message.removeprefix("Value error, ")
    message = message[:1].lower() + message[1:]
    if error["type"] in ("literal_error", "string_type", "int_type", "int_parsing", "bool_type",
                         "bool_parsing", "dict_type", "list_type", "model_type", "float_type",
                         "greater_than_equal", "less_than_equal", "string_pattern_mismatch",
                         "string_too_short", "int_from_float", "model_attributes_type"):
        shown = repr(error.get("input"))
        message += f" (got {shown[:60] + '...' if len(shown) > 60 else shown})"
    return message


def _fields_at(loc: tuple[Any, ...]) -> list[str]:
    """Field names of the model found at ``loc`` (for 'did you mean' suggestions)."""
    current: Any = Spec
    for part in loc:
        current = _model_of(current, part)
        if current is None:
            return []
    return list(current.model_fields) if _is_model(current) else []


def _is_model(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, BaseModel)


def _model_of(container: Any, part: Any) -> Any:
    """Step one element of a location path through models, lists, dicts and optionals."""
    if _is_model(container):
        if not isinstance(part, str) or part not in container.model_fields:
            return None
        return _unwrap(container.model_fields[part].annotation)
    origin = typing.get_origin(container)
    if origin is list and isinstance(part, int):
        return _unwrap(typing.get_args(container)[0])
    if origin is dict:
        return _unwrap(typing.get_args(container)[1])
    return None


def _unwrap(annotation: Any) -> Any:
    """``X | None`` -> ``X``; ``Annotated[X, ...]`` -> ``X``."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        return _unwrap(members[0]) if len(members) == 1 else annotation
    return annotation
