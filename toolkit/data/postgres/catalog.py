"""The tables of a database as the mover needs them, read with one query that runs on either side.

``TABLES_SQL`` returns JSON so that the same text serves the source (psycopg) and the target
(psql over SSH). Only tables that hold rows (``relkind = 'r'``, partitions included) are copied
and published; partitioned parents hold none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from toolkit.data.postgres.sqltext import literal, qualified

USER_SCHEMAS = ("n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' "
                "AND n.nspname NOT LIKE 'pg_temp%' AND n.nspname NOT LIKE 'toolkit\\_%'")

TABLES_SQL = f"""
SELECT coalesce(json_agg(t ORDER BY t.schema, t.name), '[]'::json) FROM (
  SELECT n.nspname AS schema, c.relname AS name, c.relreplident AS identity,
         greatest(c.relpages, (pg_relation_size(c.oid) / current_setting('block_size')::int)::int) AS pages,
         pg_table_size(c.oid) AS bytes,
         c.relispartition AS partition,
         (SELECT coalesce(json_agg(a.attname ORDER BY array_position(i.indkey::int2[], a.attnum)), '[]'::json)
            FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
           WHERE i.indrelid = c.oid AND i.indisprimary) AS key,
         EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisreplident) AS identity_index,
         (SELECT json_agg(a.attname ORDER BY a.attnum) FROM pg_attribute a
           WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
             AND a.attgenerated = '') AS columns,
         (SELECT coalesce(bool_and(ty.oid < 16384 AND coalesce(el.oid, 0) < 16384), true)
            FROM pg_attribute a JOIN pg_type ty ON ty.oid = a.atttypid
            LEFT JOIN pg_type el ON el.oid = ty.typelem AND ty.typcategory = 'A'
           WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS builtin_types,
         (SELECT ty.typname IN ('int2', 'int4', 'int8')
            FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
            JOIN pg_type ty ON ty.oid = a.atttypid
           WHERE i.indrelid = c.oid AND i.indisprimary AND i.indnatts = 1) AS integer_key
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind = 'r' AND {USER_SCHEMAS}
) t
"""


# Keys, unique constraints and indexes of each plain table (partitions excluded: their indexes
# attach to their parent's, which post-data builds), as statements and as ``pg_restore -l`` names.
EARLY_BUILDS_SQL = f"""
SELECT coalesce(json_agg(json_build_array(format('%s.%s', n.nspname, c.relname), x.name, x.toc, x.statement)),
                '[]'::json)
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 CROSS JOIN LATERAL (
   SELECT ic.relname AS name, format('INDEX %s %s', n.nspname, ic.relname) AS toc,
          pg_get_indexdef(i.indexrelid) AS statement
     FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
    WHERE i.indrelid = c.oid
      AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid AND k.conrelid = c.oid)
   UNION ALL
   SELECT k.conname, format('CONSTRAINT %s %s %s', n.nspname, c.relname, k.conname),
          format('ALTER TABLE ONLY %I.%I ADD CONSTRAINT %I %s', n.nspname, c.relname, k.conname,
                 pg_get_constraintdef(k.oid))
     FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype IN ('p', 'u', 'x')
 ) x
 WHERE c.relkind = 'r' AND NOT c.relispartition AND {USER_SCHEMAS}
"""


@dataclass(frozen=True)
class Table:
    schema: str
    name: str
    identity: str  # relreplident: d(efault: the key), n(othing), f(ull), i(ndex)
    pages: int
    bytes: int
    partition: bool
    key: tuple[str, ...]
    identity_index: bool
    columns: tuple[str, ...]  # copied columns: generated ones are computed by the target
    builtin_types: bool
    integer_key: bool

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Table:
        return cls(schema=data["schema"], name=data["name"], identity=data["identity"],
                   pages=int(data["pages"] or 0), bytes=int(data["bytes"] or 0),
                   partition=bool(data["partition"]), key=tuple(data["key"] or ()),
                   identity_index=bool(data["identity_index"]), columns=tuple(data["columns"] or ()),
                   builtin_types=bool(data["builtin_types"]), integer_key=bool(data["integer_key"]))

    @property
    def qualified(self) -> str:
        return qualified(self.schema, self.name)

    @property
    def label(self) -> str:
        """How output names the table: schema.name as a user would type it."""
        return f"{self.schema}.{self.name}"

    @property
    def replicable(self) -> bool:
        """Whether UPDATE and DELETE still work on the source once the table is published."""
        return (self.identity == "d" and bool(self.key)) or self.identity == "f" or (
            self.identity == "i" and self.identity_index)

    @property
    def binary_copy(self) -> bool:
        # Binary COPY carries type OIDs inside arrays and records: only built-in types match
        # between two clusters.
        return self.builtin_types


def tables_from(rows: Any) -> list[Table]:
    return [Table.from_json(row) for row in rows]


def table_literal(table: Table) -> str:
    return literal(table.label)
