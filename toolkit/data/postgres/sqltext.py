"""SQL text built on the operator and run on either side (source over psycopg, target through psql).

The target is reached with ``psql`` over SSH, so statements are plain text: identifiers are quoted
here, one way, and literals too.
"""

from __future__ import annotations

from collections.abc import Iterable


def ident(name: str) -> str:
    """A quoted identifier: mixed case, spaces and quotes survive."""
    return '"' + name.replace('"', '""') + '"'


def qualified(schema: str, table: str) -> str:
    return f"{ident(schema)}.{ident(table)}"


def literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def column_list(columns: Iterable[str]) -> str:
    return ", ".join(ident(column) for column in columns)


# Both sides render values the same way before they are hashed or compared.
SESSION_SETTINGS = ("SET TimeZone = 'UTC'; SET DateStyle = 'ISO, MDY'; SET IntervalStyle = 'postgres'; "
                    "SET extra_float_digits = 1; SET bytea_output = 'hex';")
