"""The checker: clean on an untouched deployment, and it catches each kind of lost operation."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import requests

from refservice.checker import check, expected_states
from refservice.journal import JournalWriter, Record
from tests.refservice.harness import ROOT, Deployment

pytestmark = pytest.mark.postgres


def _post(deployment: Deployment, content: bytes) -> dict[str, Any]:
    r = requests.post(f"{deployment.url}/notes", timeout=5,
                      json={"title": "c", "body": "c", "file": base64.b64encode(content).decode()})
    assert r.status_code == 201
    return r.json()


def _checker_cli(journal: Path, url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "refservice.checker", "--journal", str(journal), "--url", url, "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def test_clean_then_catches_missing_changed_and_lost_delete(deployment: Deployment, tmp_path: Path) -> None:
    journal_path = tmp_path / "journal.jsonl"
    journal = JournalWriter(journal_path)
    notes = {}
    for name in ("missing", "row_edit", "object_edit", "deleted", "untouched"):
        note = _post(deployment, name.encode())
        journal.append("write", note["id"], note["checksum"], "acked")
        notes[name] = note["id"]
    deleted_row = deployment.sql("SELECT id, title, body, version, object_key, object_sha256, updated_at"
                                 " FROM notes WHERE id = %s", (notes["deleted"],))[0]
    assert requests.delete(f"{deployment.url}/notes/{notes['deleted']}", timeout=5).status_code == 200
    journal.append("delete", notes["deleted"], None, "acked")
    journal.close()

    assert check(str(journal_path), deployment.url).clean
    assert _checker_cli(journal_path, deployment.url).returncode == 0

    # Behind the app's back: lose a write, change a row, change an object, resurrect a deleted row.
    deployment.sql("DELETE FROM notes WHERE id = %s", (notes["missing"],))
    deployment.sql("UPDATE notes SET title = 'tampered' WHERE id = %s", (notes["row_edit"],))
    [(key,)] = deployment.sql("SELECT object_key FROM notes WHERE id = %s", (notes["object_edit"],))
    deployment.s3.put_object(Bucket=deployment.bucket, Key=key, Body=b"tampered")
    deployment.sql("INSERT INTO notes (id, title, body, version, object_key, object_sha256, updated_at)"
                   " VALUES (%s, %s, %s, %s, %s, %s, %s)", deleted_row)

    done = _checker_cli(journal_path, deployment.url)
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    found = {(f["id"], f["kind"]) for f in report["findings"]}
    assert found == {
        (notes["missing"], "missing"),
        (notes["row_edit"], "changed"),
        (notes["object_edit"], "changed"),
        (notes["deleted"], "lost_delete"),
    }
    assert report["clean"] is False


def test_a_write_the_app_did_but_the_journal_has_not_yet_is_no_finding(
        deployment: Deployment, tmp_path: Path) -> None:
    """The load generator still writing: the app answered, the journal line comes a moment later."""
    journal_path = tmp_path / "journal.jsonl"
    journal = JournalWriter(journal_path)
    note = _post(deployment, b"first")
    journal.append("write", note["id"], note["checksum"], "acked")
    second = {"title": "c", "body": "c", "file": base64.b64encode(b"second").decode()}
    updated = requests.put(f"{deployment.url}/notes/{note['id']}", timeout=5, json=second).json()
    def answered() -> None:
        journal.append("update", note["id"], updated["checksum"], "acked")
        journal.close()

    late = threading.Timer(0.3, answered)
    late.start()
    report = check(str(journal_path), deployment.url, settle=1.5)
    late.join()
    assert report.clean, [f.sentence() for f in report.findings]
    # Without that line the loss stands after the second look.
    lost = tmp_path / "lost.jsonl"
    only_first = JournalWriter(lost)
    only_first.append("write", note["id"], note["checksum"], "acked")
    only_first.close()
    assert [f.kind for f in check(str(lost), deployment.url, settle=0.1).findings] == ["changed"]


def _rec(seq: int, op: str, note_id: int | None, checksum: str | None, status: str) -> Record:
    return Record(seq, op, note_id, checksum, status, 0.0)


def test_unknown_ops_allow_either_outcome() -> None:
    states = expected_states([
        _rec(1, "write", 1, "a", "acked"),
        _rec(2, "update", 1, None, "unknown"),
        _rec(3, "write", 2, "b", "acked"),
        _rec(4, "delete", 2, None, "unknown"),
        _rec(5, "write", 3, "c", "acked"),
        _rec(6, "update", 3, None, "refused"),
        _rec(7, "write", None, None, "unknown"),
    ])
    assert states[1].states == {"a", "*"}
    assert states[2].states == {"b", None}
    assert states[3].states == {"c"}
    assert set(states) == {1, 2, 3}


def test_a_note_is_judged_as_it_was_when_asked() -> None:
    # Asked at t=10, answered by 11, settle 3: acked by 10 counts, acked in (10, 14] may show,
    # acked after 14 was done after the question and cannot.
    timed = [Record(1, "write", 1, "a", "acked", 5.0), Record(2, "update", 1, "b", "acked", 12.0),
             Record(3, "update", 1, "c", "acked", 20.0)]
    assert expected_states(timed, 10.0, 14.0)[1].states == {"a", "b"}
    assert expected_states(timed, 13.0, 20.0)[1].states == {"b", "c"}
    assert expected_states(timed)[1].states == {"c"}  # the load stopped: every line counts


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "does not exist"), ("not json\n", "line 1 is not valid JSON"),
     ('{"seq": 1, "op": "write"}\n', "lacks a valid field")],
)
def test_bad_journal_exits_2_with_one_sentence(tmp_path: Path, content: str | None, message: str) -> None:
    journal = tmp_path / "journal.jsonl"
    if content is not None:
        journal.write_text(content)
    done = subprocess.run(
        [sys.executable, "-m", "refservice.checker", "--journal", str(journal), "--url", "http://127.0.0.1:9"],
        cwd=ROOT, capture_output=True, text=True, timeout=30, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_torn_last_line_is_ignored(tmp_path: Path) -> None:
    journal = tmp_path / "journal.jsonl"
    journal.write_text('{"seq":1,"op":"delete","id":5,"checksum":null,"status":"refused","t":1}\n{"seq":2,"op')
    report = check(str(journal), "http://127.0.0.1:9")
    assert report.torn_tail_ignored and report.journal_records == 1 and report.clean
