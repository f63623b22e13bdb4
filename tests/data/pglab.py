"""Helpers for the PostgreSQL mover's lab tests: the source as its owner, the target through SSH."""

from __future__ import annotations

import shlex
from typing import Any

import psycopg

from tests.fixtures.lab import lab_run
from tests.fixtures.lab_states import hosts_in, secret
from toolkit.spec import load_spec

SLOT = PUBLICATION = "toolkit_refservice"

# Every kind of value the issue names, as the service's owner would create it on the source.
TRICKY_SCHEMA = r'''
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE "Tricky Types" (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    m mood, moods mood[], r int4range, tr tstzrange, a int[], ta text[],
    n numeric(30, 10), nn numeric, f float8, ff real, b bytea, j jsonb, ts timestamptz, iv interval,
    u uuid, x int, doubled int GENERATED ALWAYS AS (x * 2) STORED, "MixedCol" text
);
INSERT INTO "Tricky Types" (m, moods, r, tr, a, ta, n, nn, f, ff, b, j, ts, iv, u, x, "MixedCol")
SELECT (ARRAY['sad', 'ok', 'happy'])[1 + g % 3]::mood, ARRAY['ok', 'happy']::mood[], int4range(g, g + 10),
       tstzrange('2020-01-01 00:00+02', 'infinity'), ARRAY[g, NULL, -g], ARRAY['a"b', 'c,d', E'e\\f', NULL],
       g * 1.0000000001, CASE g % 4 WHEN 0 THEN 'NaN'::numeric WHEN 1 THEN 12345678901234567890.123456789
                        ELSE -0.000000000001 END,
       CASE g % 5 WHEN 0 THEN 'NaN'::float8 WHEN 1 THEN 'infinity' WHEN 2 THEN '-infinity' ELSE 1.0 / 3 END,
       0.1::real * g, E'\\x00ff00'::bytea || int4send(g), jsonb_build_object('k', g, 'nested', ARRAY[1, 2]),
       'infinity'::timestamptz, make_interval(days => g, secs => 0.5), gen_random_uuid(), g,
       E'quotes \' " and unicode \u00e9\u4e2d'
  FROM generate_series(1, 500) g;
INSERT INTO "Tricky Types" (b, x, ts) VALUES (NULL, NULL, '-infinity');
-- A 5 MB bytea, incompressible.
INSERT INTO "Tricky Types" (b, x)
SELECT decode(string_agg(md5(g::text), ''), 'hex'), 0 FROM generate_series(1, 327680) g;
CREATE TABLE nokey (a int, b text);
INSERT INTO nokey VALUES (1, 'twin'), (1, 'twin'), (2, 'single'), (NULL, NULL), (NULL, NULL);
CREATE TABLE events (id bigint, at date, payload text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
INSERT INTO events SELECT g, DATE '2025-06-01' + g, 'e' || g FROM generate_series(1, 400) g;
CREATE SCHEMA "Other Schema";
CREATE TABLE "Other Schema"."Quoted ""Name""" (
    id int PRIMARY KEY, parent bigint REFERENCES "Tricky Types" (id));
INSERT INTO "Other Schema"."Quoted ""Name""" SELECT g, g FROM generate_series(1, 50) g;
CREATE INDEX tricky_x ON "Tricky Types" (x);
CREATE SEQUENCE gappy INCREMENT 7 START 100;
SELECT nextval('gappy') FROM generate_series(1, 5);
SELECT setval('gappy', 1000);
CREATE VIEW "Happy View" AS SELECT id, x FROM "Tricky Types" WHERE m = 'happy';
CREATE FUNCTION double_it(v int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT v * 2';
'''

TRICKY_DROP = '''
DROP VIEW IF EXISTS "Happy View"; DROP FUNCTION IF EXISTS double_it(int);
DROP TABLE IF EXISTS "Other Schema"."Quoted ""Name""", "Tricky Types", nokey, events CASCADE;
DROP SCHEMA IF EXISTS "Other Schema"; DROP TYPE IF EXISTS mood; DROP SEQUENCE IF EXISTS gappy;
'''

QUOTED = '"Other Schema"."Quoted ""Name"""'
# One INSERT, UPDATE and DELETE per source table: run by the owner during replication, each must work.
WRITES = {
    "Tricky Types": ['INSERT INTO "Tricky Types" (x, m) VALUES (7, \'ok\')',
                     'UPDATE "Tricky Types" SET "MixedCol" = now()::text '
                     'WHERE id = (SELECT max(id) FROM "Tricky Types")',
                     'DELETE FROM "Tricky Types" WHERE id = (SELECT max(id) FROM "Tricky Types" WHERE x = 7) '
                     "AND (SELECT count(*) FROM \"Tricky Types\" WHERE x = 7) > 3"],
    "nokey": ["INSERT INTO nokey VALUES (3, 'new')", "UPDATE nokey SET b = 'changed' WHERE a = 3",
              "DELETE FROM nokey WHERE ctid = (SELECT min(ctid) FROM nokey WHERE a = 3) "
              "AND (SELECT count(*) FROM nokey WHERE a = 3) > 2"],
    "events": ["INSERT INTO events SELECT coalesce(max(id), 0) + 1, DATE '2026-03-01', 'new' FROM events",
               "UPDATE events SET payload = 'moved' WHERE id = (SELECT max(id) FROM events)",
               "DELETE FROM events WHERE id = (SELECT min(id) FROM events)"],
    "Quoted": [f"INSERT INTO {QUOTED} SELECT max(id) + 1, 1 FROM {QUOTED}",
               f"UPDATE {QUOTED} SET parent = 2 WHERE id = 1",
               f"DELETE FROM {QUOTED} WHERE id = (SELECT min(id) FROM {QUOTED})"],
}


def source_address(lab: dict[str, Any]) -> tuple[str, int]:
    endpoint = load_spec(lab["spec"]).spec.targets.aws.database_endpoint  # type: ignore[union-attr]
    assert endpoint is not None
    return endpoint.host, endpoint.port


def source(lab: dict[str, Any], role: str = "owner") -> psycopg.Connection[Any]:
    host, port = source_address(lab)
    user = "refservice" if role == "owner" else "toolkit_admin"
    return psycopg.connect(host=host, port=port, dbname="refservice", user=user, autocommit=True,
                           password=secret(lab, f"db_{role}_password"), connect_timeout=10)


def db_host(lab: dict[str, Any]) -> str:
    return hosts_in(lab, "db")[0]


def target_sql(lab: dict[str, Any], sql: str) -> str:
    """Run ``sql`` on the target database as its superuser; its unaligned output."""
    command = f"sudo -n -u postgres psql -X -q -At -v ON_ERROR_STOP=1 -d refservice -c {shlex.quote(sql)}"
    result = lab_run(lab, db_host(lab), command)
    assert result.status == 0, result.stderr
    return result.stdout.strip()


def source_objects(lab: dict[str, Any]) -> dict[str, list[str]]:
    with source(lab, "admin") as conn:
        slots = conn.execute("SELECT slot_name FROM pg_replication_slots").fetchall()
        publications = conn.execute("SELECT pubname FROM pg_publication").fetchall()
    return {"slots": [r[0] for r in slots], "publications": [r[0] for r in publications]}


def clean_source(lab: dict[str, Any]) -> None:
    with source(lab) as conn:
        conn.execute(TRICKY_DROP)
