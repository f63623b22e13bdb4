"""Writes on the target held shut until the cutover opens them: the app's roles NOLOGIN there.

The standby's app runs, and its proxies serve it, well before the window (``standby.serve``),
but the target's database refuses the roles that write, so nothing is written there while
replication applies the source's changes (its apply worker is the superuser's). Opening writes
in the window is then one statement per role instead of an Ansible run: the source's freeze
mirrored on the target.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from toolkit.data.postgres.sqltext import ident, literal
from toolkit.data.postgres.target import TargetHost

TERMINATE_TIMEOUT_MS = 5000


def hold_shut(target: TargetHost, roles: Iterable[str],
              before_change: Callable[[dict[str, bool]], None]) -> dict[str, bool]:
    """Set each of ``roles`` that exists on the target NOLOGIN and end its sessions there.

    ``before_change(saved)`` gets whether each could log in before anything changes: the caller
    journals it, so that opening after a crash gives back exactly what was there.
    """
    names = ", ".join(literal(role) for role in sorted(set(roles))) or "NULL"
    saved: dict[str, bool] = target.json(
        "SELECT coalesce(json_object_agg(rolname, rolcanlogin), '{}') FROM pg_roles "
        f"WHERE rolname IN ({names})") or {}
    before_change(saved)
    if saved:
        listed = ", ".join(literal(role) for role in saved)
        target.psql("".join(f"ALTER ROLE {ident(role)} NOLOGIN;\n" for role in saved)
                    + f"SELECT count(pg_terminate_backend(pid, {TERMINATE_TIMEOUT_MS})) "
                      f"FROM pg_stat_activity WHERE usename IN ({listed});\n")
    return saved


def open_writes(target: TargetHost, saved: dict[str, bool]) -> list[str]:
    """Give each role back the LOGIN it had; idempotent. Returns the roles that can log in now."""
    reopened = sorted(role for role, could_login in saved.items() if could_login)
    if reopened:
        target.psql("".join(f"ALTER ROLE {ident(role)} LOGIN;\n" for role in reopened))
    return reopened
