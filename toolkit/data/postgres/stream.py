"""The change stream: publication and slot on the source, the subscription on the target.

The publication lists the tables one by one (``FOR ALL TABLES`` needs a superuser on RDS) and is
created before the slot: pgoutput reads publications as of each change's time. The subscription
uses the agent's slot (``create_slot = false``) and starts where the copy's snapshot ended
(``copy_data = false``), so copy and stream meet with no gap and no overlap. It reaches the source
with the passfile on the target host: no password is stored in the target's catalog.
"""

from __future__ import annotations

import time
from typing import Any

from toolkit.data.postgres.catalog import Table
from toolkit.data.postgres.names import Names
from toolkit.data.postgres.source import SourceEndpoint, query, scalar
from toolkit.data.postgres.sqltext import ident, literal
from toolkit.data.postgres.target import TargetHost
from toolkit.errors import CheckFailed

SLOT_DROP_WAIT_S = 20.0


def publication_exists(conn: Any, names: Names) -> bool:
    return bool(scalar(conn, "SELECT count(*) FROM pg_publication WHERE pubname = %s", (names.publication,)))


def create_publication(conn: Any, names: Names, tables: list[Table]) -> None:
    listed = ", ".join(f"ONLY {table.qualified}" for table in tables)
    conn.execute(f"CREATE PUBLICATION {ident(names.publication)} FOR TABLE {listed}")


def drop_publication(conn: Any, names: Names) -> bool:
    if not publication_exists(conn, names):
        return False
    conn.execute(f"DROP PUBLICATION IF EXISTS {ident(names.publication)}")
    return True


def slot(conn: Any, names: Names) -> dict[str, Any] | None:
    rows = query(conn, "SELECT active, restart_lsn::text, confirmed_flush_lsn::text, "
                       "pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint, "
                       "pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint, wal_status "
                       "FROM pg_replication_slots WHERE slot_name = %s", (names.slot,))
    if not rows:
        return None
    active, restart, confirmed, retained, lag, wal_status = rows[0]
    return {"name": names.slot, "active": active, "restart_lsn": restart, "confirmed_flush_lsn": confirmed,
            "retained_wal_bytes": int(retained or 0), "lag_bytes": int(lag or 0), "wal_status": wal_status}


def drop_slot(conn: Any, names: Names) -> bool:
    deadline = time.monotonic() + SLOT_DROP_WAIT_S
    while True:
        found = slot(conn, names)
        if found is None:
            return False
        if not found["active"]:
            conn.execute("SELECT pg_drop_replication_slot(%s)", (names.slot,))
            return True
        if time.monotonic() > deadline:
            raise CheckFailed(f"the replication slot {names.slot} on the source is still in use after "
                              f"{SLOT_DROP_WAIT_S:.0f} s; stop its reader and run --stop again")
        time.sleep(0.5)


def subscription_exists(target: TargetHost, names: Names) -> bool:
    return bool(target.json(f"SELECT to_json(count(*) > 0) FROM pg_subscription WHERE subname = "
                            f"{literal(names.subscription)}"))


def create_subscription(target: TargetHost, names: Names, endpoint: SourceEndpoint) -> None:
    conninfo = (f"host={endpoint.host} port={endpoint.port} dbname={endpoint.dbname} user={endpoint.user} "
                f"passfile={names.passfile} application_name={names.subscription}")
    target.psql(f"CREATE SUBSCRIPTION {ident(names.subscription)} CONNECTION {literal(conninfo)} "
                f"PUBLICATION {ident(names.publication)} WITH (create_slot = false, slot_name = "
                f"{literal(names.slot)}, copy_data = false, enabled = true);")


def disable_subscription(target: TargetHost, names: Names) -> bool:
    """The target stops applying (the slot stays, and keeps what follows); False when there is none."""
    if not subscription_exists(target, names):
        return False
    target.psql(f"ALTER SUBSCRIPTION {ident(names.subscription)} DISABLE;\n")
    return True


def drop_subscription(target: TargetHost, names: Names) -> bool:
    """Detached from its slot first, so that the drop never needs the source (the slot is ours)."""
    if not subscription_exists(target, names):
        return False
    sub = ident(names.subscription)
    target.psql(f"ALTER SUBSCRIPTION {sub} DISABLE;\nALTER SUBSCRIPTION {sub} SET (slot_name = NONE);\n"
                f"DROP SUBSCRIPTION {sub};\n")
    return True


STATES = {"i": "initializing", "d": "copying", "f": "copied", "s": "synchronized", "r": "ready"}


def _tables_sql(names: Names) -> str:
    return ("SELECT coalesce(json_agg(json_build_array(format('%s.%s', n.nspname, c.relname), "
            "r.srsubstate)), '[]') "
            "FROM pg_subscription_rel r JOIN pg_subscription s ON s.oid = r.srsubid "
            "JOIN pg_class c ON c.oid = r.srrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
            f"WHERE s.subname = {literal(names.subscription)}")


def _errors_sql(names: Names) -> str:
    return ("SELECT to_json(apply_error_count + sync_error_count) FROM pg_stat_subscription_stats "
            f"WHERE subname = {literal(names.subscription)}")


def _states(rows: list[list[str]] | None) -> dict[str, str]:
    return {name: STATES.get(state, state) for name, state in rows or []}


def subscription_tables(target: TargetHost, names: Names) -> dict[str, str]:
    """Each subscribed table's state: ``ready`` once it is streaming."""
    return _states(target.json(_tables_sql(names)))


def receipt(target: TargetHost, names: Names) -> dict[str, Any]:
    """The apply worker's last contact with the source (seconds since), from the target."""
    found = target.json(
        "SELECT coalesce(json_agg(json_build_object('pid', pid, 'received_lsn', received_lsn::text, "
        "'seconds_since_message', extract(epoch FROM now() - last_msg_receipt_time), "
        "'seconds_since_source_end', extract(epoch FROM now() - latest_end_time))), '[]') "
        f"FROM pg_stat_subscription WHERE subname = {literal(names.subscription)} AND relid IS NULL")
    return found[0] if found else {}


def apply_errors(target: TargetHost, names: Names) -> int | None:
    """Errors the subscription's workers met since it was made (applying or syncing a table);
    ``None`` when there is no subscription. A change the target refused shows here."""
    errors = target.json(_errors_sql(names))
    return None if errors is None else int(errors)


def health(target: TargetHost, names: Names) -> tuple[dict[str, str], int | None]:
    """``subscription_tables`` and ``apply_errors`` in one round trip (the cutover window's)."""
    both = target.json(f"SELECT json_build_array(({_tables_sql(names)}), ({_errors_sql(names)}))")
    return _states(both[0]), None if both[1] is None else int(both[1])
