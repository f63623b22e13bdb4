"""PostgreSQL access: one connection per thread, re-opened when the server drops it.

Failures are classified where they happen: a write that fails before COMMIT is `WritesRefused`
(nothing was applied), one that fails during COMMIT is `OutcomeUnknown`.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg
from psycopg.rows import dict_row

from refservice.config import Settings
from refservice.errors import OutcomeUnknown, Unavailable, WritesRefused

log = logging.getLogger(__name__)

T = TypeVar("T")
Conn = psycopg.Connection[dict[str, Any]]

class Database:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._local = threading.local()

    def connect(self) -> Conn:
        """Open a new connection (autocommit; transactions are explicit)."""
        s = self._settings
        kwargs: dict[str, Any] = {
            "autocommit": True,
            "row_factory": dict_row,
            "connect_timeout": s.connect_timeout_s,
            # Bounded statements: a frozen or locked database must answer quickly, never hang a worker.
            "options": f"-c statement_timeout={s.statement_timeout_ms}",
            "application_name": "refservice",
        }
        if s.database_password is not None:
            kwargs["password"] = s.database_password
        conn: Conn = psycopg.connect(s.database_url, **kwargs)
        return conn

    def _conn(self) -> Conn:
        conn: Conn | None = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            conn = self.connect()
            self._local.conn = conn
        return conn

    def _drop(self) -> None:
        conn: Conn | None = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            with contextlib.suppress(psycopg.Error):
                conn.close()

    def read(self, fn: Callable[[Conn], T]) -> T:
        """Run a read; retried once on a fresh connection if the old one was dropped by the server."""
        for attempt in (1, 2):
            try:
                conn = self._conn()
                with conn.transaction():
                    return fn(conn)
            except psycopg.OperationalError as exc:
                broken = self._was_dropped()
                self._drop()
                if attempt == 1 and broken:
                    continue
                raise Unavailable(f"database unavailable: {_reason(exc)}") from exc
        raise AssertionError("unreachable")

    def write(self, fn: Callable[[Conn], T]) -> T:
        """Run `fn` in one transaction; see the module docstring for how failures are reported."""
        for attempt in (1, 2):
            committing = False
            try:
                conn = self._conn()
                with conn.transaction():
                    result = fn(conn)
                    committing = True
                return result
            except psycopg.Error as exc:
                broken = self._was_dropped()
                if broken:
                    self._drop()
                if committing:
                    raise OutcomeUnknown(f"connection lost during commit: {_reason(exc)}") from exc
                if attempt == 1 and broken and isinstance(exc, psycopg.OperationalError):
                    # The server terminated our idle session (e.g. a write freeze); try a fresh one,
                    # which will see the database's current read-only setting.
                    continue
                # Failed before COMMIT, so nothing was applied: read-only (SQLSTATE 25006), terminated,
                # refusing connections, timed out, or any other error.
                raise WritesRefused(_reason(exc)) from exc
        raise AssertionError("unreachable")

    def _was_dropped(self) -> bool:
        conn: Conn | None = getattr(self._local, "conn", None)
        return conn is None or conn.closed or conn.broken

    def close(self) -> None:
        self._drop()


def _reason(exc: BaseException) -> str:
    # First line only: libpq messages are multi-line, and never contain the password.
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
