"""The explicit schema step: `python3 -m refservice.schema` applies schema.sql idempotently.

It uses the same environment configuration as the app. The app never creates tables itself, so
a migration target being replicated into never gets a competing schema.
"""

from __future__ import annotations

import sys
from importlib import resources

import psycopg

from refservice.config import Settings
from refservice.db import Database
from refservice.errors import ConfigError


def schema_sql() -> str:
    return resources.files("refservice").joinpath("schema.sql").read_text(encoding="utf-8")


def apply_schema(settings: Settings) -> None:
    with Database(settings).connect() as conn, conn.transaction():
        # Serialize concurrent runs of this step on the same database.
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('refservice.schema'))")
        conn.execute(schema_sql())


def main() -> int:
    try:
        apply_schema(Settings.from_env())
    except ConfigError as exc:
        print(f"refservice.schema: {exc}", file=sys.stderr)
        return 2
    except psycopg.Error as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        print(f"refservice.schema: could not apply the schema: {reason}", file=sys.stderr)
        return 1
    print("refservice.schema: schema applied")
    return 0


if __name__ == "__main__":
    sys.exit(main())
