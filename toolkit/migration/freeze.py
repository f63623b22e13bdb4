"""Freezing writes on the source database: enforced on the server, not advisory.

``ALTER DATABASE ... SET default_transaction_read_only`` is not a freeze: a client that says
``BEGIN READ WRITE`` (or sets the default off) still writes. The source's admin is RDS's master
user, not a superuser, so the freeze uses what that role can enforce:

1. find every *writer*: a role that owns a table of the database or holds INSERT, UPDATE, DELETE
   or TRUNCATE on one, and every role that is a member of a writer (it could ``SET ROLE``);
2. ``ALTER ROLE ... NOLOGIN`` on each, so no new session of theirs can start;
3. terminate their sessions on the database, all at once, and wait until each backend is gone (a
   transaction that had not committed is rolled back: its client never got an acknowledgement);
4. read ``pg_current_wal_lsn()``: every acknowledged write is before it, and none can follow.

What each role was (LOGIN or not) is returned before anything changes, so that ``unfreeze`` puts
back exactly that, also from a journal after a crash. The toolkit's own admin role is not frozen
(it drains, syncs sequences and unfreezes), and is not used to write. Superusers cannot be frozen
by a non-superuser: preflight (``coverage``) names them, and PUBLIC write grants, as gaps.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from toolkit.errors import CheckFailed

log = logging.getLogger(__name__)

WRITE_PRIVILEGES = ("INSERT", "UPDATE", "DELETE", "TRUNCATE")
TERMINATE_TIMEOUT_MS = 5000
TERMINATE_POLL_S = 0.005

# Owners and grantees of write privileges on ordinary and partitioned tables outside the
# catalogs; PUBLIC appears as grantee 0.
WRITERS_SQL = """
WITH tables AS (
    SELECT c.oid, c.relowner, c.relacl, format('%%I.%%I', n.nspname, c.relname) AS name
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p')
      AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%%'
), direct AS (
    SELECT relowner AS role, name FROM tables
    UNION
    SELECT a.grantee, t.name FROM tables t, aclexplode(t.relacl) a
    WHERE a.privilege_type = ANY(%(privileges)s)
)
SELECT role, array_agg(DISTINCT name ORDER BY name) FROM direct GROUP BY role
"""

# Every role that is, directly or through other roles, a member of one of the given roles.
MEMBERS_SQL = """
WITH RECURSIVE members(role) AS (
    SELECT unnest(%(roles)s::oid[])
    UNION
    SELECT m.member FROM pg_auth_members m JOIN members ON m.roleid = members.role
)
SELECT r.rolname, r.rolcanlogin, r.rolsuper FROM members JOIN pg_roles r ON r.oid = members.role
ORDER BY r.rolname
"""


@dataclass(frozen=True)
class Writer:
    name: str
    could_login: bool


@dataclass
class Coverage:
    """Who can write, what a freeze by roles cannot cover (each gap names its fix), and what to watch."""

    writers: list[Writer]
    gaps: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.gaps


@dataclass
class Frozen:
    """The result of a freeze: what to put back, and the WAL position no write can pass."""

    roles: dict[str, bool]  # role -> could log in before the freeze
    lsn: str
    frozen_at: float
    terminated: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def coverage(conn: psycopg.Connection[Any], admin: str) -> Coverage:
    """Every writer of the connected database, and what a role freeze would leave open."""
    rows = conn.execute(WRITERS_SQL, {"privileges": list(WRITE_PRIVILEGES)}).fetchall()
    gaps = [f"PUBLIC may write to {', '.join(tables)}: revoke it (REVOKE INSERT, UPDATE, DELETE, TRUNCATE "
            "ON ... FROM PUBLIC), a freeze by roles cannot stop PUBLIC" for role, tables in rows if role == 0]
    oids = [role for role, _ in rows if role != 0]
    members = conn.execute(MEMBERS_SQL, {"roles": oids}).fetchall()
    writers = [Writer(name, bool(login)) for name, login, superuser in members
               if name != admin and not superuser]
    # Superusers write past any grant and a non-superuser cannot stop them; on RDS that is
    # AWS's own rdsadmin. They are named, so that the operator knows no client uses one.
    supers = conn.execute("SELECT rolname FROM pg_roles WHERE rolsuper AND rolcanlogin ORDER BY 1").fetchall()
    warnings = [f"superuser {name} can write and cannot be frozen by {admin}; no client may use it"
                for (name,) in supers]
    gaps += _admin_gaps(conn, admin, writers)
    prepared = conn.execute(
        "SELECT gid FROM pg_prepared_xacts WHERE database = current_database()").fetchall()
    gaps += [f"prepared transaction {gid!r} could commit after the freeze: COMMIT or ROLLBACK PREPARED it"
             for (gid,) in prepared]
    return Coverage(writers=writers, gaps=gaps, warnings=warnings)


def _admin_gaps(conn: psycopg.Connection[Any], admin: str, writers: list[Writer]) -> list[str]:
    """What ``admin`` lacks to freeze these writers: CREATEROLE, and the right to end their sessions."""
    gaps = []
    row = conn.execute("SELECT rolcreaterole OR rolsuper FROM pg_roles WHERE rolname = %s",
                       (admin,)).fetchone()
    if not row or not row[0]:
        gaps.append(f"{admin} lacks CREATEROLE, so it cannot set writers NOLOGIN (RDS's master user has it)")
    can_signal = "SELECT pg_has_role(%s, %s, 'USAGE') OR pg_has_role(%s, 'pg_signal_backend', 'USAGE')"
    for writer in writers:
        if conn.execute(can_signal, (admin, writer.name, admin)).fetchone() != (True,):
            gaps.append(f"{admin} cannot end sessions of {writer.name}: GRANT pg_signal_backend TO {admin}")
    return gaps


def _alter_login(conn: psycopg.Connection[Any], role: str, login: bool) -> None:
    keyword = sql.SQL("LOGIN" if login else "NOLOGIN")
    conn.execute(sql.SQL("ALTER ROLE {} {}").format(sql.Identifier(role), keyword))


def freeze(conn: psycopg.Connection[Any], admin: str, *, before_change: Any = None) -> Frozen:
    """Freeze every writer of the connected database (autocommit connection as ``admin``).

    ``before_change(roles)`` is called with what will be put back before any role changes: the
    caller journals it, so an unfreeze after a crash restores the truth.
    """
    found = coverage(conn, admin)
    if not found.complete:
        raise CheckFailed("the source cannot be frozen safely: " + "; ".join(found.gaps))
    roles = {w.name: w.could_login for w in found.writers}
    if before_change is not None:
        before_change(roles)
    for role in roles:
        _alter_login(conn, role, False)
    frozen_at = time.time()
    terminated = _end_sessions(conn, list(roles))
    left = conn.execute(
        "SELECT pid, usename FROM pg_stat_activity WHERE datname = current_database() "
        "AND usename = ANY(%s)", (list(roles),)).fetchall()
    if left:
        raise CheckFailed(f"sessions of {', '.join(sorted({u for _, u in left}))} survived termination "
                          f"(pids {', '.join(str(p) for p, _ in left)}); the source is not frozen")
    row = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()
    assert row is not None
    log.info("freeze: %d roles set NOLOGIN, %d sessions ended, frozen at %s", len(roles), terminated, row[0])
    return Frozen(roles=roles, lsn=row[0], frozen_at=frozen_at, terminated=terminated)


def _end_sessions(conn: psycopg.Connection[Any], roles: list[str]) -> int:
    """Signal every session of ``roles`` at once, then wait until their backends are gone.

    A backend leaves ``pg_stat_activity`` only after its transaction was rolled back or its
    commit was written, so the WAL position read afterwards covers every write it made. (One
    ``pg_terminate_backend(pid, timeout)`` per session would wait in 100 ms steps, one session
    after the other: most of the freeze's time with a pool of idle connections.)
    """
    signalled = conn.execute(
        "SELECT coalesce(array_agg(pid) FILTER (WHERE pg_terminate_backend(pid)), '{}') "
        "FROM pg_stat_activity WHERE datname = current_database() AND usename = ANY(%s) "
        "AND pid <> pg_backend_pid()",
        (roles,)).fetchone()
    pids = list(signalled[0]) if signalled else []
    deadline = time.monotonic() + TERMINATE_TIMEOUT_MS / 1000
    while pids and time.monotonic() < deadline:
        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", (pids,)).fetchone()
        if row == (0,):
            break
        time.sleep(TERMINATE_POLL_S)
    return len(pids)


def unfreeze(conn: psycopg.Connection[Any], roles: dict[str, bool]) -> list[str]:
    """Give each role back the LOGIN it had; idempotent. Returns the roles that can log in again."""
    reopened = []
    for role, could_login in roles.items():
        if could_login:
            _alter_login(conn, role, True)
            reopened.append(role)
    log.info("unfreeze: %s can log in again", ", ".join(reopened) or "no role")
    return reopened
