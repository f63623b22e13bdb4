"""Backups on bare metal with real parts: pgBackRest on the database host, its repository in the
SeaweedFS store over HTTPS, a point in time restored into a scratch cluster and compared with the
data at that time; the archiver failing and recovering; timers and archiving after restarts;
versioned buckets keeping old versions."""

from __future__ import annotations

import base64
import json
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from tests.fixtures.lab import lab_host, lab_run
from tests.fixtures.lab_states import LabStates, hosts_in, secret
from toolkit import interface
from toolkit.backups.restore import ScratchRestore, table_digests
from toolkit.data.postgres.target import TargetHost, target_settings
from toolkit.spec import load_spec

pytestmark = [pytest.mark.lab, pytest.mark.timeout(900)]

TOOLKIT = Path(sys.executable).parent / "toolkit"


def app_request(lab: dict[str, Any], method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """The reference app through the first web host, over HTTPS (the lab's CA)."""
    web = lab_host(lab, hosts_in(lab, "web")[0])["address"]
    request = urllib.request.Request(f"https://{web}{path}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json"})
    context = ssl.create_default_context(cafile=lab["ca_certificate"])
    with urllib.request.urlopen(request, context=context, timeout=15) as answer:
        text = answer.read()
        return json.loads(text) if text else None


def new_note(lab: dict[str, Any], title: str) -> dict[str, Any]:
    return dict(app_request(lab, "POST", "/notes", {"title": title, "body": f"body of {title}",
                                                    "file": base64.b64encode(title.encode()).decode()}))


def database(lab: dict[str, Any]) -> TargetHost:
    return TargetHost(target_settings(load_spec(lab["spec"])))


def status_cli(lab: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    command = [str(TOOLKIT), "backup", "--to", "baremetal", "--status", "--json", "--spec", lab["spec"]]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, json.loads(done.stdout)


def write_and_switch_wal(db: TargetHost) -> None:
    """Some WAL, and its segment closed so that the archiver takes it now."""
    db.psql("SELECT pg_logical_emit_message(false, 'toolkit-test', 'x'); SELECT pg_switch_wal();",
            dbname="postgres")


def wait_status(lab: dict[str, Any], db: TargetHost, ok: bool, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        code, status = status_cli(lab)
        if (code == 0) == ok and status["archive"]["failing"] == (not ok):
            return status
        assert time.monotonic() < deadline, f"the status did not become {'ok' if ok else 'failing'}: {status}"
        write_and_switch_wal(db)
        time.sleep(3)


def test_point_in_time_restore_holds_exactly_the_data_at_that_time(
        lab_provisioned: dict[str, Any], lab_states: LabStates) -> None:
    lab = lab_provisioned
    lab_states.changed()  # notes written, backups taken
    made = interface.backup("baremetal", lab["spec"])
    assert made["type"] == "full" and made["repository_bytes"] > 0
    time.sleep(1.2)  # past the backup's stop second (pgBackRest records whole seconds)
    before = [new_note(lab, f"before T {i}") for i in range(5)]
    db = database(lab)
    at_t = table_digests(db)
    moment = db.json("SELECT to_json(clock_timestamp())", dbname="postgres")
    time.sleep(0.5)
    after = new_note(lab, "after T")
    app_request(lab, "PUT", f"/notes/{before[0]['id']}", {"title": "changed after T", "body": "b",
                                                            "content": "changed"})
    app_request(lab, "DELETE", f"/notes/{before[1]['id']}")
    assert table_digests(db) != at_t, "the later writes changed the live database"

    restored = interface.restore("baremetal", lab["spec"], time=moment, keep=True)
    try:
        assert restored["tables"] == at_t, "the restored tables equal the data at T, rows and digests"
        assert restored["tables"]["public.notes"]["rows"] >= 5
        # Kept: reachable as postgres on that host and port, without the changes after T.
        query = ("SELECT json_build_object('after', (SELECT count(*) FROM notes WHERE id = {a}), "
                 "'deleted', (SELECT count(*) FROM notes WHERE id = {d}), "
                 "'title', (SELECT title FROM notes WHERE id = {u}))").format(
            a=int(after["id"]), d=int(before[1]["id"]), u=int(before[0]["id"]))
        host = next(h["name"] for h in lab["hosts"] if h["name"] == restored["host"])
        answer = lab_run(lab, host, f"sudo -n -u postgres psql -X -At -p {int(restored['port'])} "
                                    f"-d refservice -c \"{query}\"")
        assert answer.status == 0, answer.stderr
        assert json.loads(answer.stdout) == {"after": 0, "deleted": 1, "title": "before T 0"}
        # The scratch cluster archives nothing into the live stanza.
        psql = f"sudo -n -u postgres psql -X -At -p {int(restored['port'])} -d postgres"
        shown = "-c 'SHOW archive_mode' -c 'SHOW max_logical_replication_workers'"
        settings = lab_run(lab, host, f"{psql} {shown}")
        assert settings.stdout.split() == ["off", "0"]
    finally:
        ScratchRestore(load_spec(lab["spec"])).remove(restored["data_directory"])
    gone = lab_run(lab, restored["host"], f"sudo -n test -e {restored['data_directory']}")
    assert gone.status == 1, "the scratch cluster's directory is removed"
    assert table_digests(db) != at_t, "the live database was not touched"


def test_a_failing_archive_is_reported_then_recovers(lab_provisioned: dict[str, Any],
                                                     lab_states: LabStates) -> None:
    lab = lab_provisioned
    lab_states.changed()
    db = database(lab)
    interface.backup("baremetal", lab["spec"])
    assert wait_status(lab, db, ok=True, timeout=60)["ok"]
    objects = hosts_in(lab, "objects")[0]
    unit = "refservice-objects.service"
    stopped = lab_run(lab, objects, f"sudo -n systemctl stop {unit}")
    assert stopped.status == 0, stopped.stderr
    try:
        failing = wait_status(lab, db, ok=False, timeout=240)
        assert any("archiving is failing" in p for p in failing["problems"]), failing["problems"]
        # Said at once by a connection probe, not after pgBackRest's retries of every file.
        assert any("cannot connect to the repository's store" in p for p in failing["problems"])
        assert failing["archive"]["failed_count"] > 0
    finally:
        started = lab_run(lab, objects, f"sudo -n systemctl start {unit}")
        assert started.status == 0, started.stderr
    recovered = wait_status(lab, db, ok=True, timeout=240)
    assert recovered["archive"]["last_archived_wal"] >= failing["archive"]["last_failed_wal"][:24]


def test_timers_and_archiving_survive_restarts(lab_provisioned: dict[str, Any],
                                               lab_states: LabStates) -> None:
    lab = lab_provisioned
    lab_states.changed()
    db_host = hosts_in(lab, "db")[0]
    interface.backup("baremetal", lab["spec"])  # the provisioned state has none (the status says so)
    restarted = lab_run(lab, db_host, "sudo -n systemctl restart postgresql@15-main")
    assert restarted.status == 0, restarted.stderr
    # Every bare-metal host halted and booted again on its own disk (a snapshot is taken that way).
    interface.lab_snapshot(lab["name"], "backups-restart")
    lab_states.refresh()
    db = database(lab)
    timers = "refservice-backup-full.timer refservice-backup-diff.timer"
    deadline = time.monotonic() + 120
    while (states := lab_run(lab, db_host, f"systemctl is-active postgresql@15-main {timers}").stdout.split()
           ) != ["active"] * 3:
        assert time.monotonic() < deadline, states
        time.sleep(2)
    enabled = lab_run(lab, db_host, f"systemctl is-enabled {timers}")
    assert enabled.stdout.split() == ["enabled", "enabled"]
    before = db.json("SELECT to_json(archived_count) FROM pg_stat_archiver", dbname="postgres")
    status = wait_status(lab, db, ok=True, timeout=180)
    assert status["archive"]["archived_count"] > before or status["archive"]["archive_mode"] == "on"
    made = interface.backup("baremetal", lab["spec"], kind="diff")
    assert made["type"] in ("diff", "full")


def test_versioned_buckets_keep_old_versions_on_the_bare_metal_store(lab_provisioned: dict[str, Any],
                                                                     lab_states: LabStates) -> None:
    lab = lab_provisioned
    lab_states.changed()
    spec = load_spec(lab["spec"]).spec
    store = spec.targets.baremetal.object_store  # type: ignore[union-attr]
    bucket = next(b.name for b in spec.buckets if b.versioning)
    s3 = boto3.client("s3", endpoint_url=store.endpoint, region_name="us-east-1",
                      aws_access_key_id=secret(lab, "objects_access_key"),
                      aws_secret_access_key=secret(lab, "objects_secret_key"),
                      config=Config(s3={"addressing_style": "path"}))
    assert s3.get_bucket_versioning(Bucket=bucket).get("Status") == "Enabled"
    key = "versioning/kept.txt"
    first = s3.put_object(Bucket=bucket, Key=key, Body=b"one")["VersionId"]
    s3.put_object(Bucket=bucket, Key=key, Body=b"two")
    s3.delete_object(Bucket=bucket, Key=key)
    listed = s3.list_object_versions(Bucket=bucket, Prefix=key)
    assert len(listed.get("Versions", [])) == 2
    assert [m["IsLatest"] for m in listed.get("DeleteMarkers", [])] == [True]
    assert s3.get_object(Bucket=bucket, Key=key, VersionId=first)["Body"].read() == b"one"
    # The backup repository's bucket is the store's too, and not versioned (pgBackRest expires it).
    backups = f"{spec.service.name}-backups"
    assert s3.get_bucket_versioning(Bucket=backups).get("Status") != "Enabled"


def restore_cli(lab: dict[str, Any], *args: str) -> subprocess.CompletedProcess[str]:
    command = [str(TOOLKIT), "restore", "--to", "baremetal", "--json", "--spec", lab["spec"], *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL)


def test_restoring_over_the_live_database_asks_first_then_keeps_the_old_data_aside(
        lab_provisioned: dict[str, Any], lab_states: LabStates) -> None:
    lab = lab_provisioned
    lab_states.changed()
    db = database(lab)
    interface.backup("baremetal", lab["spec"])
    time.sleep(1.2)  # past the backup's stop second
    kept = new_note(lab, "kept by the restore")
    moment = db.json("SELECT to_json(clock_timestamp())", dbname="postgres")
    at_t = table_digests(db)
    time.sleep(0.5)
    undone = new_note(lab, "undone by the restore")

    refused = restore_cli(lab, "--time", moment, "--in-place")
    assert refused.returncode == 2 and "--yes" in refused.stderr, refused.stderr
    assert "Traceback" not in refused.stderr
    assert table_digests(db) != at_t, "the refusal changed nothing"

    done = restore_cli(lab, "--time", moment, "--in-place", "--yes")
    assert done.returncode == 0, done.stderr[-3000:]
    restored = json.loads(done.stdout)
    assert restored["tables"] == at_t, "the live database holds exactly the data at T"
    aside = lab_run(lab, restored["host"], f"sudo -n test -d {restored['previous_data_directory']}")
    assert aside.status == 0, "the former data directory is kept aside"
    # The app serves the restored data; the database archives on its new timeline.
    deadline = time.monotonic() + 60
    while True:
        try:
            assert app_request(lab, "GET", f"/notes/{kept['id']}")["title"] == "kept by the restore"
            break
        except (OSError, AssertionError):
            assert time.monotonic() < deadline, "the app did not serve the restored database"
            time.sleep(1)
    with pytest.raises(urllib.error.HTTPError) as gone:
        app_request(lab, "GET", f"/notes/{undone['id']}")
    assert gone.value.code == 404
    assert wait_status(lab, db, ok=True, timeout=180)["ok"]
