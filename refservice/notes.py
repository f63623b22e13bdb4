"""The notes domain: a row in PostgreSQL plus a file in S3, kept consistent.

Objects are written once under `notes/<id>/v<version>` before the row that names them commits, and
the previous version is deleted only after the commit. So a committed row always names an object
that exists, and a refused or failed write leaves the committed state untouched.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from refservice import canonical
from refservice.db import Conn, Database
from refservice.errors import NotFound, Unavailable, WritesRefused
from refservice.objects import ObjectStore, S3Errors

log = logging.getLogger(__name__)

_COLUMNS = "id, title, body, version, object_key, object_sha256, updated_at"


def object_key(note_id: int, version: int) -> str:
    return f"notes/{note_id}/v{version}"


@dataclass(frozen=True)
class NoteInput:
    title: str
    body: str
    content: bytes


class Notes:
    def __init__(self, db: Database, store: ObjectStore) -> None:
        self.db = db
        self.store = store

    def _put(self, key: str, data: bytes) -> None:
        try:
            self.store.put(key, data)
        except S3Errors as exc:
            raise WritesRefused(f"object store refused the write: {exc}") from exc

    def _delete_object(self, key: str) -> None:
        # After a commit: a failure only leaves an unreferenced object behind, so log and go on.
        try:
            self.store.delete(key)
        except S3Errors as exc:
            log.warning("delete_object: %s left behind: %s", key, exc)

    def _object_sha(self, key: str) -> str | None:
        try:
            return self.store.sha256(key)
        except S3Errors as exc:
            raise Unavailable(f"object store unavailable: {exc}") from exc

    def create(self, note: NoteInput) -> dict[str, Any]:
        sha = canonical.sha256_hex(note.content)

        def tx(conn: Conn) -> dict[str, Any]:
            row = conn.execute("SELECT nextval(pg_get_serial_sequence('notes', 'id')) AS id").fetchone()
            assert row is not None
            key = object_key(row["id"], 1)
            # Insert first so that a read-only database refuses before anything reaches S3.
            inserted = conn.execute(
                f"INSERT INTO notes (id, title, body, version, object_key, object_sha256, updated_at)"
                f" VALUES (%s, %s, %s, 1, %s, %s, now()) RETURNING {_COLUMNS}",
                (row["id"], note.title, note.body, key, sha),
            ).fetchone()
            assert inserted is not None
            self._put(key, note.content)
            return inserted

        row = self.db.write(tx)
        return {"id": row["id"], "version": row["version"], "checksum": canonical.note_checksum(row, sha)}

    def update(self, note_id: int, note: NoteInput) -> dict[str, Any]:
        sha = canonical.sha256_hex(note.content)

        def tx(conn: Conn) -> tuple[dict[str, Any], str]:
            old = conn.execute(
                "SELECT version, object_key FROM notes WHERE id = %s FOR UPDATE", (note_id,)
            ).fetchone()
            if old is None:
                raise NotFound(f"note {note_id} does not exist")
            key = object_key(note_id, old["version"] + 1)
            self._put(key, note.content)
            row = conn.execute(
                "UPDATE notes SET title = %s, body = %s, version = version + 1, object_key = %s,"
                f" object_sha256 = %s, updated_at = now() WHERE id = %s RETURNING {_COLUMNS}",
                (note.title, note.body, key, sha, note_id),
            ).fetchone()
            assert row is not None
            return row, old["object_key"]

        row, old_key = self.db.write(tx)
        if old_key != row["object_key"]:
            self._delete_object(old_key)
        return {"id": row["id"], "version": row["version"], "checksum": canonical.note_checksum(row, sha)}

    def delete(self, note_id: int) -> None:
        def tx(conn: Conn) -> str:
            row = conn.execute("DELETE FROM notes WHERE id = %s RETURNING object_key", (note_id,)).fetchone()
            if row is None:
                raise NotFound(f"note {note_id} does not exist")
            key: str = row["object_key"]
            return key

        self._delete_object(self.db.write(tx))

    def get(self, note_id: int) -> dict[str, Any]:
        row = self.db.read(
            lambda conn: conn.execute(f"SELECT {_COLUMNS} FROM notes WHERE id = %s", (note_id,)).fetchone()
        )
        if row is None:
            raise NotFound(f"note {note_id} does not exist")
        actual = self._object_sha(row["object_key"])
        doc = canonical.row_document(row)
        doc["object_present"] = actual is not None
        doc["checksum"] = canonical.note_checksum(row, actual)
        return doc

    def list(self, after: int, limit: int) -> dict[str, Any]:
        rows = self.db.read(
            lambda conn: conn.execute(
                f"SELECT {_COLUMNS} FROM notes WHERE id > %s ORDER BY id LIMIT %s", (after, limit)
            ).fetchall()
        )
        notes = [canonical.row_document(r) for r in rows]
        return {"notes": notes, "next": notes[-1]["id"] if len(notes) == limit else None}

    def digest(self) -> dict[str, Any]:
        def rows(conn: Conn) -> list[dict[str, Any]]:
            # One snapshot for all rows.
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            return conn.execute(f"SELECT {_COLUMNS} FROM notes ORDER BY id").fetchall()

        all_rows = self.db.read(rows)
        try:
            keys = sorted(self.store.keys())
            objects = []
            for key in keys:
                sha = self.store.sha256(key)
                if sha is not None:  # deleted between listing and reading
                    objects.append((key, sha))
        except S3Errors as exc:
            raise Unavailable(f"object store unavailable: {exc}") from exc
        value, n_rows, n_objects = canonical.digest(all_rows, objects)
        return {"digest": value, "rows": n_rows, "objects": n_objects}

    def health(self) -> None:
        """Raise Unavailable with the reason unless the table and the bucket are reachable."""
        try:
            self.db.read(lambda conn: conn.execute("SELECT 1 FROM notes LIMIT 1").fetchall())
        except Unavailable:
            raise
        except Exception as exc:  # e.g. UndefinedTable: the schema step has not been run
            raise Unavailable(f"database not ready: {str(exc).splitlines()[0]}") from exc
        try:
            self.store.check()
        except S3Errors as exc:
            raise Unavailable(f"bucket {self.store.bucket} unreachable: {exc}") from exc
