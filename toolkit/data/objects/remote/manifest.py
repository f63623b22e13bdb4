"""The manifest: one line per copied object, proving what the target holds and where it came from.

An entry records the key, size, SHA-256 of the bytes (computed on the source stream and found
again in the bytes read back from the target), Content-Type, user metadata, the source's ETag,
Last-Modified and version, and the target's ETag. Shards write their own; ``merge`` makes one.
``Planner`` says what a pass must copy; ``compare`` what ``verify`` reports.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ObjectId = tuple[str, str]  # (bucket, key)


@dataclass(frozen=True)
class Listed:
    """An object as a bucket listing shows it (no content, no metadata)."""

    bucket: str
    key: str
    size: int
    etag: str
    last_modified: str  # ISO 8601, as the listing gives it

    @property
    def id(self) -> ObjectId:
        return (self.bucket, self.key)


@dataclass(frozen=True)
class Entry:
    bucket: str
    key: str
    size: int
    sha256: str
    content_type: str
    metadata: dict[str, str] = field(default_factory=dict)
    source_etag: str = ""
    source_last_modified: str = ""
    source_version: str | None = None
    target_etag: str = ""

    @property
    def id(self) -> ObjectId:
        return (self.bucket, self.key)

    def proves(self, listed: Listed) -> bool:
        """Whether this entry still describes the source object ``listed`` (unchanged since the copy)."""
        return (self.size == listed.size and self.source_etag == listed.etag
                and self.source_last_modified == listed.last_modified)

    def still_on(self, target: Listed | None) -> bool:
        """Whether the target object ``target`` is still the one the copy left."""
        return target is not None and target.size == self.size and (
            not self.target_etag or target.etag == self.target_etag)

    def to_line(self) -> str:
        # vars(), not asdict(), which deep-copies every field: 6 µs a line here against 20.
        return json.dumps(vars(self), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Entry:
        return cls(**{name: data[name] for name in cls.__dataclass_fields__ if name in data})


def read(path: Path) -> Iterator[Entry]:
    """Entries of a JSON-lines file; a torn last line (a killed writer) is skipped."""
    if not path.is_file():
        return
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            try:
                yield Entry.from_json(json.loads(line))
            except (ValueError, TypeError, KeyError):
                continue


def write(path: Path, entries: Iterable[Entry]) -> None:
    """Write atomically: a reader sees the old file or the whole new one."""
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        for entry in sorted(entries, key=lambda e: e.id):
            handle.write(entry.to_line() + "\n")
        handle.flush()
    tmp.replace(path)


def merge(*sources: Iterable[Entry]) -> dict[ObjectId, Entry]:
    """One manifest from many (shards, or an old pass and a newer one): later sources win."""
    merged: dict[ObjectId, Entry] = {}
    for source in sources:
        for entry in source:
            merged[entry.id] = entry
    return merged


@dataclass
class Plan:
    copy: list[Listed] = field(default_factory=list)  # new or changed since the manifest
    keep: list[Entry] = field(default_factory=list)  # proven by the manifest: not copied again
    gone: list[Entry] = field(default_factory=list)  # in the manifest, no longer on the source


class Planner:
    """What a pass copies, decided page by page as the source is listed (the copy starts with
    the first page): every listed object the manifest does not prove, or that is no longer on the
    target as the copy left it (emptied, rebuilt or changed behind our back); once the listing is
    complete, what the source no longer has (``gone``).

    ``spare_target``: writes are open on the target, so what differs there may be the service's
    own write. Then only objects the target has never had are copied, and only objects still as
    the copy left them are deleted: nothing the service wrote or deleted there is undone."""

    def __init__(self, known: dict[ObjectId, Entry], target: Iterable[Listed], *,
                 spare_target: bool = False) -> None:
        self.known, self.spare_target = known, spare_target
        self.on_target = {listed.id: listed for listed in target}
        self.keep: list[Entry] = []  # proven by the manifest: not copied again
        self._seen: set[ObjectId] = set()

    def page(self, listing: Iterable[Listed]) -> list[Listed]:
        """The objects of ``listing`` (one page of the source) to copy."""
        copy = []
        for listed in listing:
            self._seen.add(listed.id)
            entry = self.known.get(listed.id)
            if entry is not None and entry.proves(listed) and entry.still_on(self.on_target.get(listed.id)):
                self.keep.append(entry)
            elif not self.spare_target or (entry is None and listed.id not in self.on_target):
                copy.append(listed)
            elif entry is not None:
                self.keep.append(entry)  # the target's own version stands
        return copy

    def gone(self) -> list[Entry]:
        """In the manifest, not in the listing: call it once every page has been seen."""
        return [entry for oid, entry in self.known.items() if oid not in self._seen
                and (not self.spare_target or entry.still_on(self.on_target.get(oid)))]


def plan(listing: Iterable[Listed], known: dict[ObjectId, Entry], target: Iterable[Listed], *,
         spare_target: bool = False) -> Plan:
    """The ``Planner``'s answer for a whole listing at once."""
    planner = Planner(known, target, spare_target=spare_target)
    copy = planner.page(listing)
    return Plan(copy=copy, keep=planner.keep, gone=planner.gone())


@dataclass(frozen=True)
class Mismatch:
    bucket: str
    key: str
    message: str


def compare(source: Iterable[Listed], target: Iterable[Listed],
            known: dict[ObjectId, Entry]) -> list[Mismatch]:
    """Source listing, target listing and manifest side by side: every object that differs, named.

    A source object the manifest does not prove was not copied (or changed since); a target object
    whose size or ETag is not the one the copy left was changed behind the target's back.
    """
    found: list[Mismatch] = []
    targets = {listed.id: listed for listed in target}
    sources = {listed.id: listed for listed in source}
    for oid, listed in sorted(sources.items()):
        entry = known.get(oid)
        on_target = targets.get(oid)
        if entry is None:
            found.append(Mismatch(*oid, "on the source, never copied"))
        elif not entry.proves(listed):
            found.append(Mismatch(*oid, f"changed on the source since the copy (ETag {entry.source_etag} "
                                        f"-> {listed.etag}, {entry.size} -> {listed.size} bytes)"))
        elif on_target is None:
            found.append(Mismatch(*oid, "missing on the target"))
        elif not entry.still_on(on_target):
            found.append(Mismatch(*oid, f"changed on the target behind the copy's back ({entry.size} -> "
                                        f"{on_target.size} bytes, ETag {entry.target_etag} -> "
                                        f"{on_target.etag})"))
    for oid in sorted(set(targets) - set(sources)):
        why = "deleted on the source, still on the target" if oid in known else "on the target only"
        found.append(Mismatch(*oid, why))
    return found
