"""Canonical serialization of notes, their checksums and the whole-deployment digest.

Row document: the JSON object with exactly the keys id, title, body, version, object_key,
object_sha256, updated_at; `updated_at` as UTC `YYYY-MM-DDTHH:MM:SS.ffffffZ`; serialized with
sorted keys, separators `,` and `:`, non-ASCII kept as UTF-8 (`ensure_ascii=False`).

Note checksum: sha256 over `row_json + b"\\0" + sha256_hex(object bytes as stored in S3)`, where a
missing object contributes the empty string. It therefore covers the row and the object content.

Digest: one sha256 fed, in this order,
  for each row of `notes` ordered by id:          b"row\\0" + row_json + b"\\n"
  for each object in the bucket ordered by key:   b"object\\0" + key + b"\\0" + sha256_hex + b"\\n"
Every object in the bucket counts, referenced by a row or not.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

ROW_KEYS = ("id", "title", "body", "version", "object_key", "object_sha256", "updated_at")


def format_timestamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def row_document(row: Mapping[str, Any]) -> dict[str, Any]:
    doc = {key: row[key] for key in ROW_KEYS}
    if isinstance(doc["updated_at"], datetime):
        doc["updated_at"] = format_timestamp(doc["updated_at"])
    return doc


def row_json(row: Mapping[str, Any]) -> bytes:
    return json.dumps(row_document(row), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def note_checksum(row: Mapping[str, Any], object_sha256: str | None) -> str:
    return sha256_hex(row_json(row) + b"\0" + (object_sha256 or "").encode())


def digest(rows: Iterable[Mapping[str, Any]], objects: Iterable[tuple[str, str]]) -> tuple[str, int, int]:
    """Return (digest, row count, object count); rows must come ordered by id, objects by key."""
    h = hashlib.sha256()
    n_rows = n_objects = 0
    for row in rows:
        h.update(b"row\0" + row_json(row) + b"\n")
        n_rows += 1
    for key, sha in objects:
        h.update(b"object\0" + key.encode() + b"\0" + sha.encode() + b"\n")
        n_objects += 1
    return h.hexdigest(), n_rows, n_objects
