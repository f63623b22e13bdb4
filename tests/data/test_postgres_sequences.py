"""Reading the source's sequences for the cutover's sync, against a real PostgreSQL."""

from __future__ import annotations

import pytest

from toolkit.data.postgres import sequences

pytestmark = pytest.mark.postgres


def test_every_sequence_is_read_exactly_in_one_query(postgres_server) -> None:
    with postgres_server.connect() as conn:
        conn.execute('CREATE SCHEMA "Odd Schema"')
        conn.execute('CREATE SEQUENCE "Odd Schema"."Mixed Seq" START 40')
        conn.execute("CREATE SEQUENCE public.used_seq")
        conn.execute("SELECT nextval('public.used_seq'), nextval('public.used_seq')")
        conn.execute("CREATE SCHEMA toolkit_ledger")  # the toolkit's own: never synced
        conn.execute("CREATE SEQUENCE toolkit_ledger.own")
        try:
            assert sequences.read(conn) == {'"Odd Schema"."Mixed Seq"': (40, False),
                                            '"public"."used_seq"': (2, True)}
            assert "setval('\"public\".\"used_seq\"', 2, true)" in sequences.sync_sql(sequences.read(conn))
        finally:
            conn.execute('DROP SCHEMA "Odd Schema", toolkit_ledger CASCADE')
            conn.execute("DROP SEQUENCE public.used_seq")
