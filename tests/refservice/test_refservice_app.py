"""The reference service under real gunicorn, PostgreSQL and moto S3."""

from __future__ import annotations

import base64

import pytest
import requests

from tests.fixtures.moto import moto_client
from tests.refservice.harness import Deployment, app_env, run_app

pytestmark = pytest.mark.postgres

# A guard against a hung request only: these tests assert what the app answers, never how fast.
HANG = 60


def _note(title: str = "t", body: str = "b", content: bytes = b"hello") -> dict[str, str]:
    return {"title": title, "body": body, "file": base64.b64encode(content).decode()}


def test_healthz_ok(deployment: Deployment) -> None:
    r = requests.get(f"{deployment.url}/healthz", timeout=HANG)
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


def test_write_read_update_delete(deployment: Deployment) -> None:
    url = deployment.url
    r = requests.post(f"{url}/notes", json=_note("first", "body one", b"\x00\x01binary"), timeout=HANG)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["version"] == 1
    note_id = created["id"]

    got = requests.get(f"{url}/notes/{note_id}", timeout=HANG).json()
    assert got["title"] == "first" and got["checksum"] == created["checksum"] and got["object_present"]
    stored = deployment.s3.get_object(Bucket=deployment.bucket, Key=got["object_key"])["Body"].read()
    assert stored == b"\x00\x01binary"

    r = requests.put(f"{url}/notes/{note_id}", json={"title": "second", "body": "b2", "content": "text"},
                     timeout=HANG)
    assert r.status_code == 200, r.text
    updated = r.json()
    assert updated["version"] == 2 and updated["checksum"] != created["checksum"]
    got = requests.get(f"{url}/notes/{note_id}", timeout=HANG).json()
    assert got["title"] == "second" and got["checksum"] == updated["checksum"]
    # The previous object version is gone once the update committed.
    keys = [o["Key"] for o in deployment.s3.list_objects_v2(Bucket=deployment.bucket,
                                                            Prefix=f"notes/{note_id}/").get("Contents", [])]
    assert keys == [got["object_key"]]

    listed = requests.get(f"{url}/notes", params={"after": note_id - 1, "limit": 1}, timeout=HANG).json()
    assert listed["notes"][0]["id"] == note_id

    assert requests.delete(f"{url}/notes/{note_id}", timeout=HANG).status_code == 200
    assert requests.get(f"{url}/notes/{note_id}", timeout=HANG).status_code == 404
    assert requests.delete(f"{url}/notes/{note_id}", timeout=HANG).status_code == 404
    left = deployment.s3.list_objects_v2(Bucket=deployment.bucket, Prefix=f"notes/{note_id}/")
    assert "Contents" not in left


def test_bad_input_is_400(deployment: Deployment) -> None:
    r = requests.post(f"{deployment.url}/notes", json={"title": "x"}, timeout=HANG)
    assert r.status_code == 400 and "error" in r.json()


def test_ids_come_from_the_sequence(deployment: Deployment) -> None:
    ids = [requests.post(f"{deployment.url}/notes", json=_note(), timeout=HANG).json()["id"]
           for _ in range(3)]
    assert ids == sorted(ids) and len(set(ids)) == 3
    [(last_value,)] = deployment.sql("SELECT last_value FROM notes_id_seq")
    assert last_value >= ids[-1]


def _set_db(deployment: Deployment, setting: str) -> None:
    with deployment.pg.connect() as conn:
        conn.execute(f'ALTER DATABASE "{deployment.dbname}" {setting}')
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (deployment.dbname,),
        )


def _notes_state(deployment: Deployment) -> list[tuple[object, ...]]:
    """Every row as the database holds it, read behind the app's back."""
    return deployment.sql("SELECT id, title, body, object_key, object_sha256, version FROM notes ORDER BY id")


def test_writes_refused_when_database_read_only_or_closed(deployment: Deployment) -> None:
    url = deployment.url
    note_id = requests.post(f"{url}/notes", json=_note(), timeout=HANG).json()["id"]
    before = _notes_state(deployment)
    try:
        _set_db(deployment, "SET default_transaction_read_only = on")
        for method, path, body in [("POST", "/notes", _note()), ("PUT", f"/notes/{note_id}", _note("x")),
                                   ("DELETE", f"/notes/{note_id}", None)]:
            r = requests.request(method, url + path, json=body, timeout=HANG)
            assert r.status_code == 503 and r.json()["error"] == "writes refused", (method, r.text)
        # Reads still work on a read-only database.
        assert requests.get(f"{url}/notes/{note_id}", timeout=HANG).json()["version"] == 1

        _set_db(deployment, "ALLOW_CONNECTIONS false")
        r = requests.post(f"{url}/notes", json=_note(), timeout=HANG)
        assert r.status_code == 503 and r.json()["error"] == "writes refused"
        assert requests.get(f"{url}/healthz", timeout=HANG).status_code == 503
    finally:
        _set_db(deployment, "ALLOW_CONNECTIONS true")
        _set_db(deployment, "RESET default_transaction_read_only")
    # A refused write changed nothing: no row added, updated or deleted.
    assert _notes_state(deployment) == before
    # Reconnects on its own once writes are open again.
    assert requests.post(f"{url}/notes", json=_note(), timeout=HANG).status_code == 201
    kept = requests.get(f"{url}/notes/{note_id}", timeout=HANG).json()
    assert kept["version"] == 1 and kept["object_present"]


def _digest(deployment: Deployment) -> dict[str, object]:
    r = requests.get(f"{deployment.url}/digest", timeout=HANG)
    assert r.status_code == 200
    return r.json()


def test_digest_sees_behind_the_back_edits(deployment: Deployment) -> None:
    note = requests.post(f"{deployment.url}/notes", json=_note("d", "d", b"digest me"), timeout=HANG).json()
    key = requests.get(f"{deployment.url}/notes/{note['id']}", timeout=HANG).json()["object_key"]
    d0 = _digest(deployment)
    assert d0 == _digest(deployment)  # stable when nothing changes
    assert d0["rows"] >= 1 and d0["objects"] >= 1

    deployment.sql("UPDATE notes SET body = body || '!' WHERE id = %s", (note["id"],))
    d1 = _digest(deployment)
    assert d1["digest"] != d0["digest"] and d1["rows"] == d0["rows"]

    deployment.s3.put_object(Bucket=deployment.bucket, Key=key, Body=b"digest mE")
    d2 = _digest(deployment)
    assert d2["digest"] != d1["digest"]

    # An object no row mentions still counts: the whole bucket is listed.
    deployment.s3.put_object(Bucket=deployment.bucket, Key="stray/object", Body=b"x")
    d3 = _digest(deployment)
    assert d3["digest"] != d2["digest"] and d3["objects"] == d2["objects"] + 1
    deployment.s3.delete_object(Bucket=deployment.bucket, Key="stray/object")


def test_starting_the_app_creates_no_schema(postgres_server, moto_server, refservice_tmp) -> None:
    name = "refsvc_noschema"
    password = postgres_server.create_database(name, owner=name)
    moto_client(moto_server, "s3").create_bucket(Bucket="refsvc-noschema")
    env = app_env(postgres_server, name, name, password, moto_server, "refsvc-noschema", refservice_tmp)
    try:
        with run_app(env, refservice_tmp) as url:
            health = requests.get(f"{url}/healthz", timeout=HANG)
            assert health.status_code == 503 and "notes" in health.json()["reason"]
            r = requests.post(f"{url}/notes", json=_note(), timeout=HANG)
            assert r.status_code == 503 and r.json()["error"] == "writes refused"
        with postgres_server.connect(name) as conn:
            tables = conn.execute(
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = 'public'"
            ).fetchone()
        assert tables == (0,)
    finally:
        postgres_server.drop_database(name, owner=name)
