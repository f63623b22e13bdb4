"""The PostgreSQL mover against the lab: an RDS-like source, the standby bare-metal target.

Each test starts from ``lab_standby`` (database created, no schema) and leaves the source as it
found it. The source keeps serving writes, through the reference app and straight to every table,
during the whole replication: every one of those statements must succeed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from refservice.loadgen import run_load
from tests.data.pglab import (
    PUBLICATION,
    SLOT,
    TRICKY_SCHEMA,
    WRITES,
    clean_source,
    db_host,
    source,
    source_objects,
    target_sql,
)
from tests.fixtures.lab import lab_run
from tests.fixtures.lab_states import LabStates
from toolkit import interface
from toolkit.data.replication import PreflightRefused
from toolkit.lab.names import LabNames
from toolkit.runs.journal import Journal
from toolkit.runs.run import runs_root

pytestmark = [pytest.mark.lab, pytest.mark.timeout(1800)]

TOOLKIT = Path(sys.executable).parent / "toolkit"
BIG_ROWS = 1_000_000  # about 210 MB through COPY


class SourceWriter(threading.Thread):
    """INSERT, UPDATE and DELETE on every table of the source, as its owner, until stopped."""

    def __init__(self, lab: dict[str, Any]) -> None:
        super().__init__(daemon=True)
        self.lab, self.stopped, self.done, self.failures = lab, threading.Event(), 0, []  # type: ignore[var-annotated]

    def run(self) -> None:
        with source(self.lab) as conn:
            while not self.stopped.is_set():
                for table, statements in WRITES.items():
                    for statement in statements:
                        try:
                            conn.execute(statement)
                            self.done += 1
                        except Exception as exc:  # every failure is the test's finding
                            self.failures.append(f"{table}: {statement[:40]}: {exc}")
                time.sleep(0.1)

    def finish(self) -> None:
        self.stopped.set()
        self.join(30)


@pytest.fixture
def tricky(lab_standby: dict[str, Any], lab_states: LabStates) -> Iterator[dict[str, Any]]:
    clean_source(lab_standby)
    with source(lab_standby) as conn:
        conn.execute(TRICKY_SCHEMA)
    lab_states.changed()
    try:
        yield lab_standby
    finally:
        interface.stop_replication("baremetal", lab_standby["spec"])
        clean_source(lab_standby)


@pytest.fixture(scope="module")
def big_source(lab: dict[str, Any]) -> Iterator[int]:
    """A table of about 210 MB on the source, for the tests that copy for long enough to interrupt."""
    with source(lab) as conn:
        conn.execute("DROP TABLE IF EXISTS big")
        conn.execute("CREATE TABLE big (id bigint PRIMARY KEY, pad text)")
        conn.execute("INSERT INTO big SELECT g, repeat(md5(g::text), 6) "
                     f"FROM generate_series(1, {BIG_ROWS}) g")
        conn.execute("ANALYZE big")
    try:
        yield BIG_ROWS
    finally:
        with source(lab) as conn:
            conn.execute("DROP TABLE IF EXISTS big")


@pytest.fixture
def standby_with_big(big_source: int, lab_standby: dict[str, Any],
                     lab_states: LabStates) -> Iterator[dict[str, Any]]:
    lab_states.changed()
    try:
        yield lab_standby
    finally:
        interface.stop_replication("baremetal", lab_standby["spec"])


def ours(lab: dict[str, Any]) -> dict[str, list[str]]:
    found = source_objects(lab)
    return {kind: [name for name in names if name.startswith("toolkit_")] for kind, names in found.items()}


def run_notes(run_id: str) -> list[str]:
    return [r.get("message", "") for r in Journal(runs_root() / run_id).records() if r.get("event") == "note"]


def copied_bytes(run_id: str) -> int:
    return sum(r["values"]["bytes"] for r in Journal(runs_root() / run_id).records()
               if r.get("event") == "measure" and r.get("step") == "database.copy.range")


def test_tricky_data_under_writes_refused_then_replicated_verified_and_stopped(tricky: dict[str, Any],
                                                                             tmp_path: Path) -> None:
    lab, spec = tricky, tricky["spec"]
    writer = SourceWriter(lab)
    stop_load = threading.Event()
    load: dict[str, Any] = {}
    loader = threading.Thread(daemon=True, target=lambda: load.update(summary=run_load(
        lab["app_url"], rate=20, duration=900, journal_path=tmp_path / "load.jsonl", stop=stop_load)))
    writer.start()
    loader.start()
    try:
        # A table without a key is refused before anything is made, naming it and the fix.
        with pytest.raises(PreflightRefused) as refused:
            interface.replicate("baremetal", spec)
        message = str(refused.value)
        assert "public.nokey" in message and "--replica-identity-full" in message and "PRIMARY KEY" in message
        assert "public.Tricky Types" not in message
        assert ours(lab) == {"slots": [], "publications": []}
        assert target_sql(lab, "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN "
                               "('pg_catalog', 'information_schema')") == "0"

        result = interface.replicate("baremetal", spec, replica_identity_full=True)
        assert result.status["database"]["state"] == "streaming"
        assert ours(lab) == {"slots": [SLOT], "publications": [PUBLICATION]}
        status = interface.replication_status("baremetal", spec)["database"]
        assert status["tables"]["public.nokey"] == "ready"
        assert status["tables"]['Other Schema.Quoted "Name"'] == "ready"
        time.sleep(3)  # writes go on, and stream
    finally:
        writer.finish()
        stop_load.set()
        loader.join(60)
    assert writer.failures == [] and writer.done > 50
    assert load["summary"].acked > 10 and load["summary"].errors == 0, load["summary"]

    verified = interface.verify_data("baremetal", spec)[0]
    assert verified.ok and verified.compared["tables"] == 6, verified.to_json()
    # Generated columns computed, the 5 MB value whole, the sequence with gaps synced.
    assert target_sql(lab, 'SELECT count(*) FROM "Tricky Types" WHERE doubled IS DISTINCT FROM x * 2') == "0"
    assert target_sql(lab, 'SELECT max(length(b)) FROM "Tricky Types"') == str(5 * 2**20)
    assert target_sql(lab, "SELECT last_value FROM gappy") == "1000"

    # A row changed behind the target's back is found and named, down to its key range.
    target_sql(lab, 'UPDATE "Tricky Types" SET x = -1 WHERE id = 3')
    found = interface.verify_data("baremetal", spec)[0]
    assert not found.ok and [d.subject for d in found.differences] == ["public.Tricky Types"], found.to_json()
    assert "different content" in found.differences[0].message

    # DDL on the source is not replicated: drift is reported.
    with source(lab) as conn:
        conn.execute("ALTER TABLE nokey ADD COLUMN c int")
    drift = interface.verify_data("baremetal", spec)[0]
    assert "schema" in [d.subject for d in drift.differences] and "nokey" in str(drift.to_json())

    removed = interface.stop_replication("baremetal", spec)["database"]
    assert f"replication slot {SLOT}" in removed and f"publication {PUBLICATION}" in removed
    assert any("REPLICA IDENTITY of public.nokey" in what for what in removed)
    assert ours(lab) == {"slots": [], "publications": []}
    with source(lab) as conn:
        assert conn.execute("SELECT relreplident FROM pg_class WHERE relname = 'nokey'").fetchone() == ("d",)
    assert interface.stop_replication("baremetal", spec)["database"] == []


def start_replicate(spec: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([str(TOOLKIT), "replicate", "--to", "baremetal", "--spec", spec],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)


def wait_mid_copy(lab: dict[str, Any], process: subprocess.Popen[bytes]) -> None:
    """Until the copy is under way and not finished: ranges done or rows in flight, some left."""
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
        try:
            seen = target_sql(lab, "SELECT (SELECT count(*) FILTER (WHERE done) || '/' || count(*) "
                                   "FROM toolkit_refservice.ranges) || '/' || "
                                   "(SELECT coalesce(sum(tuples_processed), 0) FROM pg_stat_progress_copy)")
        except AssertionError:
            seen = ""  # the ledger is not there yet
        done, _, rest = seen.partition("/")
        total, _, in_flight = rest.partition("/")
        if done.isdigit() and int(done) < int(total) and (int(done) or int(in_flight) > BIG_ROWS // 10):
            return
        time.sleep(0.1)
    raise AssertionError("the copy never was under way")


def kill_toolkit_mid_copy(lab: dict[str, Any], spec: str) -> None:
    process = start_replicate(spec)
    wait_mid_copy(lab, process)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()


def test_kill_9_of_the_toolkit_mid_copy_then_again_is_exact(standby_with_big: dict[str, Any]) -> None:
    lab, spec = standby_with_big, standby_with_big["spec"]
    kill_toolkit_mid_copy(lab, spec)
    # The snapshot lives in the agent on the target host: the copy goes on without the toolkit.
    state = interface.replication_status("baremetal", spec)["database"]["state"]
    assert state in ("copying", "stopped before streaming")

    result = interface.replicate("baremetal", spec)
    assert result.resumed
    notes = run_notes(result.run_id)
    assert not any("redoing the copy" in note for note in notes), notes
    assert interface.verify_data("baremetal", spec)[0].ok
    with source(lab) as conn:
        expected = conn.execute("SELECT count(*) FROM big").fetchone()
    assert expected is not None and target_sql(lab, "SELECT count(*) FROM big") == str(expected[0])


def test_copy_agent_killed_mid_copy_is_redone_from_a_fresh_slot(standby_with_big: dict[str, Any]) -> None:
    lab, spec = standby_with_big, standby_with_big["spec"]
    kill_toolkit_mid_copy(lab, spec)
    lab_run(lab, db_host(lab), "sudo -n systemctl kill --signal=KILL toolkit-refservice-copy")

    result = interface.replicate("baremetal", spec)
    notes = run_notes(result.run_id)
    assert any("redoing the copy" in note and "truncated" in note for note in notes), notes
    assert interface.verify_data("baremetal", spec)[0].ok
    with source(lab) as conn:
        expected = conn.execute("SELECT count(*) FROM big").fetchone()
    assert expected is not None and expected[0] == BIG_ROWS
    assert target_sql(lab, "SELECT count(*) FROM big") == str(BIG_ROWS)


def test_stop_mid_copy_leaves_nothing_running_on_either_side(standby_with_big: dict[str, Any]) -> None:
    lab, spec = standby_with_big, standby_with_big["spec"]
    kill_toolkit_mid_copy(lab, spec)  # the agent copies on without the toolkit

    interface.stop_replication("baremetal", spec)
    # Neither the agent nor a load it started (they run in the target's backends) is left.
    agent = lab_run(lab, db_host(lab), "systemctl is-active toolkit-refservice-copy").stdout.strip()
    assert agent != "active"
    assert target_sql(lab, "SELECT count(*) FROM pg_stat_activity "
                           "WHERE application_name LIKE 'toolkit\\_refservice\\_%'") == "0"
    assert ours(lab) == {"slots": [], "publications": []}
    assert interface.replication_status("baremetal", spec)["database"]["state"] == "not started"


def bridge_bytes(lab: dict[str, Any]) -> int:
    statistics = Path("/sys/class/net") / LabNames(lab["name"]).bridge / "statistics"
    return sum(int((statistics / name).read_text()) for name in ("rx_bytes", "tx_bytes"))


def test_bulk_data_does_not_pass_through_the_operator(standby_with_big: dict[str, Any]) -> None:
    lab, spec = standby_with_big, standby_with_big["spec"]
    before = bridge_bytes(lab)
    result = interface.replicate("baremetal", spec)
    operator = bridge_bytes(lab) - before
    moved = copied_bytes(result.run_id)
    assert moved > 200 * 10**6
    assert operator < 0.05 * moved, f"the operator's traffic was {operator} bytes for {moved} bytes copied"
