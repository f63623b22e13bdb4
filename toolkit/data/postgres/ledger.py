"""The ledger: the copy's plan and progress, kept in the target database itself.

A range's rows and its ``done`` mark commit in one transaction, so the ledger is exact after any
crash. ``phases`` records which steps ended; ``source_changes`` what the mover changed on the
source besides its own objects (``REPLICA IDENTITY FULL``) and how to undo it. The schema is named
``toolkit_<service>`` (``verify``'s drift check and the catalog queries skip ``toolkit_*``) and is
dropped by ``stop``.
"""

from __future__ import annotations

from typing import Any

from toolkit.data.postgres.catalog import USER_SCHEMAS, Table
from toolkit.data.postgres.ranges import PageRange
from toolkit.data.postgres.sqltext import ident, literal
from toolkit.data.postgres.target import TargetHost


def create_sql(schema: str) -> str:
    s = ident(schema)
    return (f"CREATE SCHEMA IF NOT EXISTS {s};\n"
            f"CREATE TABLE IF NOT EXISTS {s}.ranges (tbl text, part int, schema_name text, table_name text, "
            "columns text[], binary_copy bool, condition text, planned_bytes bigint, done bool NOT NULL "
            "DEFAULT false, rows bigint, bytes bigint, seconds float8, PRIMARY KEY (tbl, part));\n"
            f"CREATE TABLE IF NOT EXISTS {s}.early (tbl text, name text, toc text, statement text, "
            "claimed bool NOT NULL DEFAULT false, built bool NOT NULL DEFAULT false, "
            "PRIMARY KEY (tbl, name));\n"
            f"CREATE TABLE IF NOT EXISTS {s}.phases (name text PRIMARY KEY, at timestamptz DEFAULT now());\n"
            # Tables the agent analyzed once copied and indexed; the analyze step does the rest.
            f"CREATE TABLE IF NOT EXISTS {s}.analyzed (tbl text PRIMARY KEY);\n"
            f"CREATE TABLE IF NOT EXISTS {s}.source_changes (what text PRIMARY KEY, undo text NOT NULL);\n")


def exists(target: TargetHost, schema: str) -> bool:
    return bool(target.json(f"SELECT to_json(to_regclass({literal(ident(schema) + '.phases')}) IS NOT NULL)"))


def ensure(target: TargetHost, schema: str) -> None:
    target.psql(create_sql(schema))


def phases(target: TargetHost, schema: str) -> set[str]:
    if not exists(target, schema):
        return set()
    return set(target.json(f"SELECT coalesce(json_agg(name), '[]') FROM {ident(schema)}.phases"))


def record_phase(target: TargetHost, schema: str, name: str) -> None:
    target.psql(f"INSERT INTO {ident(schema)}.phases (name) VALUES ({literal(name)}) ON CONFLICT DO NOTHING;")


def ranges(target: TargetHost, schema: str) -> list[dict[str, Any]]:
    if not exists(target, schema):
        return []
    return list(target.json(ranges_sql(schema)))


def ranges_sql(schema: str) -> str:
    """Every range and its progress, as one JSON array."""
    return ("SELECT coalesce(json_agg(r ORDER BY r.tbl, r.part), '[]') FROM (SELECT tbl, part, "
            f"planned_bytes, done, rows, bytes, seconds FROM {ident(schema)}.ranges) r")


def plan_sql(schema: str, plan: list[tuple[Table, list[PageRange]]]) -> str:
    """Replace the plan: every range of every table, none done."""
    rows = []
    for table, parts in plan:
        columns = "ARRAY[" + ", ".join(literal(c) for c in table.columns) + "]::text[]"
        share = table.bytes // max(1, len(parts))
        for part in parts:
            rows.append(f"({literal(table.label)}, {part.part}, {literal(table.schema)}, "
                        f"{literal(table.name)}, {columns}, {str(table.binary_copy).lower()}, "
                        f"{literal(part.where())}, {share})")
    values = ",\n".join(rows)
    insert = (f"INSERT INTO {ident(schema)}.ranges (tbl, part, schema_name, table_name, columns, "
              f"binary_copy, condition, planned_bytes) VALUES\n{values};\n") if rows else ""
    return f"BEGIN;\nDELETE FROM {ident(schema)}.ranges;\n{insert}COMMIT;\n"


def early_sql(schema: str, builds: list[tuple[str, str, str, str]]) -> str:
    """Replace the early builds: (table, name, its line in ``pg_restore -l``, statement)."""
    rows = ",\n".join(f"({literal(t)}, {literal(n)}, {literal(toc)}, {literal(sql)})"
                      for t, n, toc, sql in builds)
    insert = (f"INSERT INTO {ident(schema)}.early (tbl, name, toc, statement) VALUES\n{rows}\n"
              "ON CONFLICT DO NOTHING;\n") if rows else ""
    return f"BEGIN;\nDELETE FROM {ident(schema)}.early WHERE NOT built;\n{insert}COMMIT;\n"


def built_early(target: TargetHost, schema: str) -> list[str]:
    """The ``pg_restore -l`` entries the agent already built (post-data must skip them)."""
    if not exists(target, schema):
        return []
    return list(target.json(f"SELECT coalesce(json_agg(toc), '[]') FROM {ident(schema)}.early WHERE built"))


def left_to_analyze_sql(schema: str) -> str:
    """The tables and materialized views (quoted, ``schema.name``) that the agent did not analyze."""
    return ("SELECT coalesce(json_agg(format('%I.%I', n.nspname, c.relname) ORDER BY c.relpages DESC), '[]') "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'm') "
            f"AND {USER_SCHEMAS} AND format('%s.%s', n.nspname, c.relname) NOT IN "
            f"(SELECT tbl FROM {ident(schema)}.analyzed)")


def source_changes(target: TargetHost, schema: str) -> list[dict[str, str]]:
    if not exists(target, schema):
        return []
    return list(target.json(f"SELECT coalesce(json_agg(c), '[]') FROM {ident(schema)}.source_changes c"))


def record_source_change(target: TargetHost, schema: str, what: str, undo: str) -> None:
    target.psql(f"INSERT INTO {ident(schema)}.source_changes VALUES ({literal(what)}, {literal(undo)}) "
                "ON CONFLICT DO NOTHING;")


def drop(target: TargetHost, schema: str) -> bool:
    if not exists(target, schema):
        return False
    target.psql(f"DROP SCHEMA {ident(schema)} CASCADE;")
    return True
