"""The explicit schema step, `python3 -m refservice.schema`."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.refservice.harness import ROOT, app_env

pytestmark = pytest.mark.postgres


def _run_schema(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "refservice.schema"], cwd=ROOT, capture_output=True, text=True, timeout=30,
        env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), **env},
    )


def test_schema_step_is_idempotent_and_every_table_has_a_primary_key(
    postgres_server, moto_server, refservice_tmp
) -> None:
    name = "refsvc_schema"
    password = postgres_server.create_database(name, owner=name)
    env = app_env(postgres_server, name, name, password, moto_server, "unused", refservice_tmp)
    row = ("kept", "written between the two runs", "notes/kept", "0" * 64)
    try:
        first = _run_schema(env)
        assert first.returncode == 0, first.stderr
        # Data written after the first run must survive the second: a re-run that recreates a
        # table would exit 0 as well, with every row gone.
        with postgres_server.connect(name) as conn:
            [(note_id,)] = conn.execute(
                "INSERT INTO notes (title, body, object_key, object_sha256) VALUES (%s, %s, %s, %s)"
                " RETURNING id", row).fetchall()
        second = _run_schema(env)
        assert second.returncode == 0, second.stderr
        for done in (first, second):
            assert password not in done.stdout + done.stderr
        with postgres_server.connect(name) as conn:
            kept = conn.execute("SELECT title, body, object_key, object_sha256 FROM notes WHERE id = %s",
                                (note_id,)).fetchall()
            assert kept == [row]
            # Nor may the sequence restart, or the next write would collide with the kept id.
            [(next_id,)] = conn.execute("SELECT nextval('notes_id_seq')").fetchall()
            assert next_id > note_id
            without_pk = conn.execute(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = 'public' AND c.relkind = 'r' AND NOT EXISTS"
                " (SELECT 1 FROM pg_constraint p WHERE p.conrelid = c.oid AND p.contype = 'p')"
            ).fetchall()
            tables = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
        assert without_pk == [] and ("notes",) in tables
    finally:
        postgres_server.drop_database(name, owner=name)


def test_schema_step_reports_bad_config_in_one_sentence() -> None:
    done = _run_schema({"REFSERVICE_DATABASE_URL": "postgresql://u:secret@127.0.0.1/db",
                        "REFSERVICE_S3_BUCKET": "b"})
    assert done.returncode == 2
    assert "must not contain a password" in done.stderr and "Traceback" not in done.stderr
