"""Sequences are not carried by logical replication: their values are copied on demand.

The cutover calls ``sync`` once writes are frozen on the source; ``replicate`` calls it too, so a
target is never far behind. Each sequence is read as itself (``last_value, is_called``: exact, even
for a sequence never used) and set on the target with ``setval``.
"""

from __future__ import annotations

from typing import Any

from toolkit.data.postgres.source import query
from toolkit.data.postgres.sqltext import literal, qualified
from toolkit.data.postgres.target import TargetHost


def read(conn: Any) -> dict[str, tuple[int, bool]]:
    names = query(conn, "SELECT schemaname, sequencename FROM pg_sequences "
                        "WHERE schemaname NOT LIKE 'toolkit\\_%' ORDER BY 1, 2")
    if not names:
        return {}
    # One round trip for all of them (the cutover window waits on it).
    each = [f"SELECT {literal(qualified(schema, name))}, last_value, is_called FROM {qualified(schema, name)}"
            for schema, name in names]
    return {name: (int(value), bool(called)) for name, value, called in query(conn, " UNION ALL ".join(each))}


def sync_sql(values: dict[str, tuple[int, bool]]) -> str:
    return "".join(f"SELECT setval({literal(name)}, {value}, {str(called).lower()});\n"
                   for name, (value, called) in values.items())


def sync(conn: Any, target: TargetHost) -> int:
    """Copy every sequence's value to the target; how many were set."""
    values = read(conn)
    if values:
        target.psql("BEGIN;\n" + sync_sql(values) + "COMMIT;\n")
    return len(values)
