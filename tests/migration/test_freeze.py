"""The freeze is enforced by the server: a hostile client that insists on READ WRITE gets nothing in.

Real PostgreSQL, set up like RDS: the admin is not a superuser, has CREATEROLE and is a member of
the owner role; other roles write through grants or through membership.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from tests.fixtures.postgres import PostgresServer
from toolkit.errors import CheckFailed
from toolkit.migration.freeze import coverage, freeze, unfreeze

DB = "freezedb"
ROLES = ("fz_owner", "fz_admin", "fz_batch", "fz_member", "fz_reader", "fz_disabled")


@pytest.fixture
def source(postgres_server: PostgresServer) -> Iterator[PostgresServer]:
    server = postgres_server
    with server.connect() as conn:
        for role in ROLES:
            conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'pw'")
        conn.execute("ALTER ROLE fz_admin NOSUPERUSER CREATEROLE")
        conn.execute("GRANT pg_signal_backend TO fz_admin")  # RDS's master has it through rds_superuser
        conn.execute("ALTER ROLE fz_disabled NOLOGIN")
        conn.execute("GRANT fz_owner TO fz_admin, fz_member")
        conn.execute(f"CREATE DATABASE {DB} OWNER fz_owner")
    with psycopg.connect(server.dsn(DB, "fz_owner", "pw"), autocommit=True) as conn:
        conn.execute("CREATE TABLE notes (id bigserial PRIMARY KEY, body text)")
        conn.execute("CREATE TABLE audit (at timestamptz DEFAULT now()) PARTITION BY RANGE (at)")
        conn.execute("GRANT INSERT ON notes TO fz_batch")
        conn.execute("GRANT USAGE ON SEQUENCE notes_id_seq TO fz_batch")
        conn.execute("GRANT SELECT ON notes TO fz_reader")
        conn.execute("GRANT SELECT, INSERT ON audit TO fz_disabled")
    yield server
    with server.connect() as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        for role in ROLES:
            conn.execute(f"DROP ROLE IF EXISTS {role}")


def admin(server: PostgresServer) -> psycopg.Connection[Any]:
    return psycopg.connect(server.dsn(DB, "fz_admin", "pw"), autocommit=True)


def test_coverage_finds_owners_grantees_and_members_but_not_readers(source: PostgresServer) -> None:
    with admin(source) as conn:
        found = coverage(conn, "fz_admin")
    assert {w.name: w.could_login for w in found.writers} == {
        "fz_owner": True, "fz_batch": True, "fz_member": True, "fz_disabled": False}
    assert found.complete, found.gaps
    assert any("superuser postgres" in w for w in found.warnings)


def test_an_admin_that_cannot_end_sessions_is_a_gap(source: PostgresServer) -> None:
    with source.connect() as conn:
        conn.execute("REVOKE pg_signal_backend FROM fz_admin")
    with admin(source) as conn:
        gaps = coverage(conn, "fz_admin").gaps
    # Its membership in the owner role lets it end the owner's sessions, not the others'.
    assert gaps == [f"fz_admin cannot end sessions of {role}: GRANT pg_signal_backend TO fz_admin"
                    for role in ("fz_batch", "fz_disabled", "fz_member")]


def test_public_write_grants_are_a_gap_named_by_table(source: PostgresServer) -> None:
    with psycopg.connect(source.dsn(DB, "fz_owner", "pw"), autocommit=True) as conn:
        conn.execute("GRANT INSERT ON notes TO PUBLIC")
    with admin(source) as conn, pytest.raises(CheckFailed, match=r"PUBLIC may write to public\.notes"):
        freeze(conn, "fz_admin")
    with admin(source) as conn:
        owner = conn.execute("SELECT rolcanlogin FROM pg_roles WHERE rolname = 'fz_owner'").fetchone()
    assert owner == (True,), "a refused freeze changed a role"


class HostileWriter(threading.Thread):
    """Writes as the owner in explicit READ WRITE transactions, reconnecting after every failure."""

    def __init__(self, server: PostgresServer) -> None:
        super().__init__(daemon=True)
        self.dsn = server.dsn(DB, "fz_owner", "pw")
        self.acknowledged: list[int] = []
        self.failures = 0
        self.stop = threading.Event()

    def run(self) -> None:
        conn: psycopg.Connection[Any] | None = None
        while not self.stop.is_set():
            try:
                if conn is None or conn.closed:
                    conn = psycopg.connect(self.dsn, autocommit=True, connect_timeout=2)
                    conn.execute("SET default_transaction_read_only = off")
                conn.execute("BEGIN READ WRITE")
                row = conn.execute("INSERT INTO notes (body) VALUES ('x') RETURNING id").fetchone()
                conn.execute("COMMIT")
                assert row is not None
                self.acknowledged.append(row[0])
            except psycopg.Error:
                self.failures += 1
                conn = None
                time.sleep(0.01)


def count(server: PostgresServer) -> int:
    with server.connect(DB) as conn:
        row = conn.execute("SELECT count(*) FROM notes").fetchone()
        assert row is not None
        return int(row[0])


def test_a_hostile_read_write_client_gets_no_write_in_after_the_freeze(source: PostgresServer) -> None:
    writer = HostileWriter(source)
    writer.start()
    while len(writer.acknowledged) < 50:
        time.sleep(0.01)
    idle = [psycopg.connect(source.dsn(DB, "fz_owner", "pw"), autocommit=True) for _ in range(5)]  # a pool
    journaled: list[dict[str, bool]] = []
    with admin(source) as conn:
        frozen = freeze(conn, "fz_admin", before_change=journaled.append)
    at_freeze = count(source)
    for pooled in idle:  # every session ended, the idle ones too
        with pytest.raises(psycopg.OperationalError):
            pooled.execute("SELECT 1")
    time.sleep(1.0)  # the client keeps trying: reconnecting, BEGIN READ WRITE, INSERT
    writer.stop.set()
    writer.join()
    assert journaled == [frozen.roles]
    assert frozen.terminated >= len(idle) + 1
    assert count(source) == at_freeze, "a write got in after the freeze"
    with source.connect(DB) as conn:
        ids = {r[0] for r in conn.execute("SELECT id FROM notes")}
    assert set(writer.acknowledged) <= ids, "an acknowledged write is missing"
    assert writer.failures > 1
    with pytest.raises(psycopg.OperationalError, match="not permitted to log in"):
        psycopg.connect(source.dsn(DB, "fz_member", "pw"))


def test_unfreeze_restores_exactly_what_each_role_had(source: PostgresServer) -> None:
    with admin(source) as conn:
        frozen = freeze(conn, "fz_admin")
        assert unfreeze(conn, frozen.roles) == ["fz_batch", "fz_member", "fz_owner"]
        assert unfreeze(conn, frozen.roles) == ["fz_batch", "fz_member", "fz_owner"]  # idempotent
        logins = dict(conn.execute("SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname LIKE 'fz_%'"))
    assert logins == {"fz_owner": True, "fz_admin": True, "fz_batch": True, "fz_member": True,
                      "fz_reader": True, "fz_disabled": False}
    with psycopg.connect(source.dsn(DB, "fz_batch", "pw"), autocommit=True) as conn:
        conn.execute("INSERT INTO notes (body) VALUES ('after')")
