"""Safe YAML reading that remembers where every value came from.

PyYAML's composer gives nodes with marks; we construct plain Python values ourselves so that
each field path maps to a (line, column), duplicate keys are caught, and documents that would
explode when expanded (alias bombs, runaway nesting) are refused before anything walks them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from toolkit.spec.issues import IssueKind, SpecError, SpecIssue, format_path

MAX_BYTES = 1024 * 1024  # a real spec is a few KiB
MAX_NODES = 100_000  # counted with aliases expanded: stops billion-laughs documents
MAX_DEPTH = 64

Path = tuple[str | int, ...]
_PLAIN_TAGS = ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")


@dataclass
class Located:
    """A parsed document plus the position of every value (and of every mapping key)."""

    file: str
    data: Any
    values: dict[Path, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def position(self, path: Path, *, key: bool = False) -> tuple[int, int]:
        """Where ``path`` is written, or its nearest written ancestor (for missing fields)."""
        probe = tuple(path)
        while True:
            table = self.keys if key and probe in self.keys else self.values
            if probe in table:
                return table[probe]
            if not probe:
                return (1, 1)
            probe = probe[:-1]

    def issue(self, kind: IssueKind, path: Path, message: str, *, key: bool = False,
              warning: bool = False) -> SpecIssue:
        line, column = self.position(path, key=key)
        return SpecIssue(kind, message, self.file, line, column, format_path(path), warning)


class _Refused(Exception):
    def __init__(self, kind: IssueKind, message: str, mark: yaml.Mark | None, path: Path) -> None:
        super().__init__(message)
        self.kind, self.message, self.mark, self.path = kind, message, mark, path


def _at(mark: yaml.Mark | None) -> tuple[int, int]:
    return (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)


class _Builder:
    def __init__(self, loader: yaml.SafeLoader, located: Located) -> None:
        self.loader = loader
        self.located = located
        self.nodes = 0

    def build(self, node: yaml.Node, path: Path, depth: int) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _Refused(IssueKind.UNSAFE_YAML,
                           f"the document expands to more than {MAX_NODES} values "
                           "(an alias bomb?); refusing it", node.start_mark, path)
        if depth > MAX_DEPTH:
            raise _Refused(IssueKind.UNSAFE_YAML,
                           f"values are nested more than {MAX_DEPTH} levels deep "
                           "(a recursive alias?); refusing it", node.start_mark, path)
        self.located.values.setdefault(path, _at(node.start_mark))
        if isinstance(node, yaml.MappingNode | yaml.SequenceNode) and node.tag not in _PLAIN_TAGS:
            # !!set, !!omap and language tags would change what the mapping means: refuse them.
            raise _Refused(IssueKind.UNSAFE_YAML, f"unsupported YAML tag {node.tag!r}",
                           node.start_mark, path)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path, depth)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        return self._scalar(node, path)

    def _scalar(self, node: yaml.Node, path: Path) -> Any:
        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError as exc:
            # Raised for tags the safe loader does not know, e.g. !!python/object.
            raise _Refused(IssueKind.UNSAFE_YAML, f"unsupported YAML tag {node.tag!r}",
                           node.start_mark, path) from exc
        except (ValueError, TypeError, OverflowError) as exc:
            # e.g. an !!int tag on text that is no integer, or an impossible timestamp.
            raise _Refused(IssueKind.INVALID_VALUE, f"cannot read {node.value!r} as {node.tag}",
                           node.start_mark, path) from exc

    def _pairs(self, node: yaml.MappingNode, path: Path) -> list[tuple[yaml.Node, yaml.Node]]:
        """The mapping's own pairs, with YAML merge keys (``<<: *base``) folded in below them."""
        own: list[tuple[yaml.Node, yaml.Node]] = []
        merged: list[tuple[yaml.Node, yaml.Node]] = []
        for key_node, value_node in node.value:
            if key_node.tag != "tag:yaml.org,2002:merge":
                own.append((key_node, value_node))
                continue
            sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
            for source in sources:
                if not isinstance(source, yaml.MappingNode):
                    raise _Refused(IssueKind.YAML_SYNTAX, "a merge key (<<) must name a mapping",
                                   source.start_mark, path)
                self.nodes += len(source.value)
                merged.extend(self._pairs(source, path))
        explicit = {k.value for k, _ in own if isinstance(k, yaml.ScalarNode)}
        return own + [(k, v) for k, v in merged if not (isinstance(k, yaml.ScalarNode)
                                                         and k.value in explicit)]

    def _mapping(self, node: yaml.MappingNode, path: Path, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        first_seen: dict[str, int] = {}
        for key_node, value_node in self._pairs(node, path):
            if not isinstance(key_node, yaml.ScalarNode):
                raise _Refused(IssueKind.INVALID_KEY, "a key must be a plain string, not a collection",
                               key_node.start_mark, path)
            key = self._scalar(key_node, path)
            if not isinstance(key, str):
                raise _Refused(IssueKind.INVALID_KEY,
                               f"key {key_node.value!r} must be a string (quote it)",
                               key_node.start_mark, path)
            child = (*path, key)
            if key in result:
                raise _Refused(IssueKind.DUPLICATE_KEY,
                               f"duplicate key {key!r} (first given on line {first_seen[key]})",
                               key_node.start_mark, child)
            first_seen[key] = key_node.start_mark.line + 1
            self.located.keys[child] = _at(key_node.start_mark)
            result[key] = self.build(value_node, child, depth + 1)
        return result


def decode(data: bytes, file: str) -> str:
    """The file's text; if it is not UTF-8, a ``SpecError`` at the line and column of the first bad byte."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line_start = data.rfind(b"\n", 0, exc.start) + 1
        line = data.count(b"\n", 0, exc.start) + 1
        # Columns count characters, as in every other issue; what precedes the bad byte decodes.
        column = len(data[line_start:exc.start].decode("utf-8")) + 1
        raise SpecError([SpecIssue(
            IssueKind.YAML_SYNTAX,
            f"the file is not UTF-8 text (byte 0x{data[exc.start]:02x}: {exc.reason}); save it as UTF-8",
            file, line, column)]) from exc


def load_yaml(text: str, file: str) -> Located:
    """Parse one YAML document; raise ``SpecError`` with a single located issue if refused."""
    def refuse(kind: IssueKind, message: str, mark: yaml.Mark | None = None,
               path: Path = ()) -> SpecError:
        line, column = _at(mark) if mark is not None else (0, 0)
        return SpecError([SpecIssue(kind, message, file, line, column, format_path(path))])

    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise refuse(IssueKind.TOO_LARGE, f"the file is larger than {MAX_BYTES // 1024} KiB; "
                     "a service spec is a few KiB, refusing it")
    try:
        loader = yaml.SafeLoader(text)  # the reader checks characters already here
    except yaml.YAMLError as exc:
        raise refuse(IssueKind.YAML_SYNTAX, f"invalid YAML: {exc}".replace("\n", " ")) from exc
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        problem = exc.problem or exc.context or "invalid YAML"
        raise refuse(IssueKind.YAML_SYNTAX, f"invalid YAML: {problem}",
                     exc.problem_mark or exc.context_mark) from exc
    except yaml.YAMLError as exc:  # reader errors met later in the stream
        raise refuse(IssueKind.YAML_SYNTAX, f"invalid YAML: {exc}".replace("\n", " ")) from exc
    except RecursionError as exc:  # PyYAML's composer recurses per nesting level
        raise refuse(IssueKind.UNSAFE_YAML, "the document is nested too deeply; refusing it") from exc
    finally:
        loader.dispose()
    if node is None:
        raise refuse(IssueKind.NOT_A_MAPPING, "the file is empty; a spec is a YAML mapping")
    located = Located(file=file, data=None)
    try:
        located.data = _Builder(loader, located).build(node, (), 0)
    except _Refused as exc:
        raise refuse(exc.kind, exc.message, exc.mark, exc.path) from exc
    except RecursionError as exc:
        raise refuse(IssueKind.UNSAFE_YAML, "the document is nested too deeply; refusing it") from exc
    if not isinstance(located.data, dict):
        raise refuse(IssueKind.NOT_A_MAPPING,
                     "the document must be a mapping of fields (version:, app:, ...)", node.start_mark)
    return located
