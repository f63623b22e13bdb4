"""A small YAML writer that can put a comment on the line of a value: ``# guessed: why``.

Values wrapped in ``Guess`` are written with their reason as a line comment; mappings wrapped in
``Flow`` are written on one line (secret references, DNS records). The output is plain YAML that
``toolkit.spec`` reads back like any hand-written spec.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml


@dataclass(frozen=True)
class Guess:
    value: Any
    why: str


class Flow(dict):
    """A mapping written inline: ``{env: NAME}``."""


def scalar(value: Any) -> str:
    text: str = yaml.safe_dump(value, default_flow_style=True, width=10**6, allow_unicode=True)
    return text.removesuffix("\n").removesuffix("\n...").strip()


def _inline(value: Any, reasons: list[str]) -> str:
    if isinstance(value, Guess):
        reasons.append(value.why)
        return _inline(value.value, reasons)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_inline(v, reasons)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_inline(v, reasons) for v in value) + "]"
    return scalar(value)


def _line(text: str, reasons: list[str]) -> str:
    return text + (f"  # guessed: {'; '.join(reasons)}" if reasons else "")


def _block_value(value: Any) -> bool:
    inner = value.value if isinstance(value, Guess) else value
    if isinstance(inner, Flow):
        return False
    if isinstance(inner, dict):
        return bool(inner)
    return isinstance(inner, list) and any(isinstance(v, dict) for v in inner)


def dump(data: dict[str, Any], indent: int = 0) -> list[str]:
    """Lines of YAML for ``data``; a blank line between top-level sections."""
    lines: list[str] = []
    pad = " " * indent
    for key, value in data.items():
        if indent == 0 and lines:
            lines.append("")
        if not _block_value(value):
            reasons: list[str] = []
            lines.append(_line(f"{pad}{key}: {_inline(value, reasons)}", reasons))
            continue
        reasons = []
        if isinstance(value, Guess):
            reasons.append(value.why)
            value = value.value
        lines.append(_line(f"{pad}{key}:", reasons))
        if isinstance(value, dict):
            lines.extend(dump(value, indent + 2))
            continue
        for item in value:
            if isinstance(item, Flow) or not isinstance(item, dict):
                reasons = []
                lines.append(_line(f"{pad}  - {_inline(item, reasons)}", reasons))
                continue
            nested = dump(item, indent + 4)
            lines.append(f"{pad}  - {nested[0].lstrip()}")
            lines.extend(nested[1:])
    return lines


def guesses(data: Any, path: tuple[str | int, ...] = ()) -> list[tuple[str, Any, str]]:
    """``(dotted path, value, why)`` of every guessed value, for JSON output."""
    if isinstance(data, Guess):
        return [(".".join(map(str, path)), plain(data.value), data.why), *guesses(data.value, path)]
    if isinstance(data, dict):
        return [g for key, value in data.items() for g in guesses(value, (*path, key))]
    if isinstance(data, list):
        return [g for index, value in enumerate(data) for g in guesses(value, (*path, index))]
    return []


def plain(data: Any) -> Any:
    """The data without markers (what the YAML means)."""
    if isinstance(data, Guess):
        return plain(data.value)
    if isinstance(data, dict):
        return {key: plain(value) for key, value in data.items()}
    if isinstance(data, list):
        return [plain(value) for value in data]
    return data
