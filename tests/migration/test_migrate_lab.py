"""``toolkit migrate --to baremetal`` end to end on the lab, with the load generator writing throughout.

Real parts all the way: the RDS-like source on the AWS side, the standby bare-metal hosts, the
lab's DNS world (Route53's name servers, PowerDNS, the caching resolver). The load generator
writes to the AWS side's app during replication and through the cutover; afterwards its checker
replays every acknowledged write against the bare-metal app.

The migration is the operator's worst case: the toolkit is killed with ``kill -9`` (its whole
process group, as when the operator's laptop dies) at four points, and each time ``--resume``
carries the same run on until the next one. Once it ends, the service must be exactly where an
uninterrupted migration leaves it. A second test breaks the verification gate and expects the
rollback to hand the service back to the source.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.data.pglab import target_sql
from tests.migration.migration_lab import assert_migrated, start_load, stop_load, write_note
from tests.migration.worldstate import capture, changes
from toolkit import interface
from toolkit.dns.query import ask
from toolkit.migration.engine import GateFailed
from toolkit.runs.journal import Journal
from toolkit.runs.listing import list_runs

pytestmark = [pytest.mark.timeout(1800)]
Record = dict[str, Any]


def ended(step: str) -> Callable[[Record], bool]:
    return lambda record: record.get("event") == "step-ended" and record.get("step") == step


def started(step: str) -> Callable[[Record], bool]:
    return lambda record: record.get("event") == "step-started" and record.get("step") == step


KILL_POINTS = [
    ("after provisioning the standby", ended("standby")),
    ("in the middle of the initial copy", started("database.copy")),
    # The objects' final pass is running then, beside the database's recheck.
    ("in the cutover window, before the DNS switch", started("cutover.verify")),
    ("right after the DNS switch", ended("cutover.switch-dns")),
]


def migrate_command(spec: str, *more: str) -> list[str]:
    return [sys.executable, "-m", "toolkit", "migrate", "--to", "baremetal", "--yes", "--spec", spec, *more]


def toolkit_migrate(spec: str, *more: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(migrate_command(spec, "--json", *more), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)


def newest_migration(after: float) -> str | None:
    return next((r.id for r in list_runs() if r.kind == "migrate" and (r.started or 0) >= after), None)


def kill_when(process: subprocess.Popen[bytes], run_id: str | None, point: Callable[[Record], bool],
              started_at: float) -> str:
    """``kill -9`` the toolkit's process group as soon as its run's journal shows ``point``."""
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        if process.poll() is not None:
            stderr = process.stderr.read().decode() if process.stderr else ""
            raise AssertionError(f"the migration ended (exit {process.returncode}) before the kill point: "
                                 f"{stderr[-3000:]}")
        run_id = run_id or newest_migration(started_at)
        if run_id and any(point(r) for r in Journal(interface.run_dir(run_id)).records()):
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return run_id
        time.sleep(0.02)
    raise AssertionError("the kill point never came")


def test_a_migration_killed_four_times_and_resumed_loses_no_acknowledged_write(
        lab_standby: dict[str, Any], restore_source: list[str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    lab, spec = lab_standby, lab_standby["spec"]
    journal = tmp_path / "load.jsonl"
    load = start_load(lab, journal)
    run_id: str | None = None
    try:
        for where, point in KILL_POINTS:
            process = toolkit_migrate(spec, *(["--resume", run_id] if run_id else []))
            run_id = kill_when(process, run_id, point, time.time() - 1)
            if run_id not in restore_source:
                restore_source.append(run_id)
            records = list(Journal(interface.run_dir(run_id)).records())
            assert not any(r.get("event") == "run-ended" for r in records), f"killed {where}, yet it ended"
            if where == "in the middle of the initial copy":
                assert not any(ended("database.copy")(r) for r in records), "the copy ended before the kill"
            if where == KILL_POINTS[0][0]:
                # The dead run's lock is not taken silently: a new migration is refused, naming it.
                refused = subprocess.run(migrate_command(spec), capture_output=True, text=True, timeout=120)
                assert refused.returncode == 1 and run_id in refused.stderr, refused.stderr
        final = toolkit_migrate(spec, "--resume", str(run_id))
        stdout, stderr = final.communicate(timeout=900)
        assert final.returncode == 0, stderr.decode()[-4000:]
    finally:
        stop_load(load)
    assert run_id is not None
    report = json.loads(stdout)
    assert report["run_id"] == run_id
    assert_recoverable_from_the_cutover(report)
    resumes = [r for r in Journal(interface.run_dir(run_id)).records() if r.get("event") == "run-resumed"]
    assert len(resumes) == len(KILL_POINTS)
    assert_migrated(lab, run_id, journal, monkeypatch)


def assert_recoverable_from_the_cutover(report: dict[str, Any]) -> None:
    """The first full backup ended before the window, WAL archived after it, the window stated."""
    backups, opened = report["backups"], {s["name"]: s for s in report["steps"]}
    assert backups["first_backup"] and backups["archiving"] is True, backups
    assert backups["first_backup_completed_at"] <= opened["cutover.freeze"]["started_at"], backups
    window = backups["recovery_window"]
    assert window["from"] is not None and window["to"] is not None, window
    assert datetime.fromisoformat(window["to"]).timestamp() >= opened["cutover.open-writes"]["ended_at"] - 1


def test_a_failed_verification_gate_rolls_back_to_the_source(
        lab_standby: dict[str, Any], restore_source: list[str]) -> None:
    """A row only the target has, written behind the copy's back, is left unsettled by the live
    comparison before the window and fails its recheck inside it (``cutover.verify``): the
    migration rolls back by itself (the source unfrozen, the standby's app stopped again, the TTLs
    back), the source takes writes and DNS still names the source."""
    lab, spec = lab_standby, lab_standby["spec"]
    zone = lab["dns"]["zone"]
    before = sorted(ask(lab["dns"]["resolver"], zone, "A", recursive=True).values)
    tampered = threading.Event()

    def tamper_once_replicated() -> None:
        started_at = time.time() - 1
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and not tampered.is_set():
            run_id = newest_migration(started_at)
            if run_id and any(ended("replicate")(r) for r in Journal(interface.run_dir(run_id)).records()):
                target_sql(lab, "INSERT INTO notes (title, body, object_key, object_sha256) "
                                "VALUES ('stray', 'written on the target only', 'none', 'none')")
                tampered.set()
            time.sleep(0.05)

    tamperer = threading.Thread(target=tamper_once_replicated, daemon=True)
    tamperer.start()
    with pytest.raises(GateFailed) as failed:
        interface.migrate("baremetal", spec)
    tamperer.join(10)
    assert tampered.is_set()
    assert failed.value.step == "cutover.verify" and failed.value.rolled_back
    assert "public.notes" in failed.value.reason
    run_id = newest_migration(0)
    assert run_id is not None
    restore_source.append(run_id)
    report = json.loads((interface.run_dir(run_id) / "report.json").read_text())
    assert report["status"] == "rolled_back", report
    # Never switched: the resolver still answers the AWS side, and the source's app writes again.
    assert sorted(ask(lab["dns"]["resolver"], zone, "A", recursive=True).values) == before
    assert write_note(lab)["id"] > 0


def test_the_dry_run_changes_nothing_anywhere(lab_standby: dict[str, Any]) -> None:
    lab = lab_standby
    before = capture(lab)
    result = subprocess.run([sys.executable, "-m", "toolkit", "plan", "--to", "baremetal", "--json",
                             "--spec", lab["spec"]], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
    plan = json.loads(result.stdout)
    documented = {"steps", "estimated_total_seconds", "dns_changes", "ansible_check", "data_sizes",
                  "fits_deadline"}
    assert documented <= set(plan)
    # The CI gate passes on an unchanged lab, every part judged (tests/migration/test_gate.py fails one).
    assert plan["gate"]["passed"], plan["gate"]
    assert set(plan["gate"]["parts"]) == {"spec", "ansible_check", "pulumi_preview", "parity", "objectives"}
    first = ["preflight", "safety-snapshot", "standby", "preflight.target", "replicate"]
    assert [s["name"] for s in plan["steps"]][:5] == first
    assert all(s["estimate_seconds"] >= 0 for s in plan["steps"])
    assert plan["data_sizes"]["database"] > 0
    assert changes(before, capture(lab)) == {}
