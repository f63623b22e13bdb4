"""The load generator against the real app, a silent socket, and a DNS server of our own."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import dns.message
import dns.rdatatype
import dns.rrset
import pytest

from refservice.loadgen import Summary, parse_mix, run_load
from tests.refservice.harness import ROOT, Deployment

pytestmark = pytest.mark.postgres


def _records(path: Path) -> list[dict[str, object]]:
    text = path.read_text()
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def _counted_in_journal(records: list[dict[str, object]]) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {}
    for r in records:
        by_status = counts.setdefault(str(r["op"]), {})
        by_status[str(r["status"])] = by_status.get(str(r["status"]), 0) + 1
    return counts


def test_cli_run_journals_acked_ops(deployment: Deployment, tmp_path: Path) -> None:
    journal = tmp_path / "journal.jsonl"
    # A timeout no busy machine reaches: every operation gets its answer, so all are acked.
    done = subprocess.run(
        [sys.executable, "-m", "refservice.loadgen", "--url", deployment.url, "--rate", "40",
         "--duration", "2", "--timeout", "60", "--journal", str(journal), "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    records = _records(journal)
    # Every slot of the schedule (rate x duration) runs, late or not, and is journaled once acked.
    assert summary["attempted"] == summary["acked"] == len(records) == 80
    assert summary["unknown"] == summary["refused"] == summary["errors"] == 0
    assert summary["by_op"] == _counted_in_journal(records)
    # The rate is computed from the run's own clock, whatever that clock read. Both figures are
    # rounded (the rate to 0.01, the time to 1 ms): the tolerance is what the two roundings allow.
    elapsed = summary["elapsed_s"]
    rounding = 0.005 + summary["attempted"] * 0.0005 / (elapsed * (elapsed - 0.0005)) + 1e-9
    assert summary["achieved_rate"] == pytest.approx(summary["attempted"] / elapsed, abs=rounding)
    assert {r["op"] for r in records} == {"write", "update", "delete"}
    assert [r["seq"] for r in records] == list(range(1, len(records) + 1))
    for r in records:
        assert set(r) == {"seq", "op", "id", "checksum", "status", "t"} and r["status"] == "acked"

    checked = subprocess.run(
        [sys.executable, "-m", "refservice.checker", "--journal", str(journal), "--url", deployment.url],
        cwd=ROOT, capture_output=True, text=True, timeout=600, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "clean" in checked.stdout


def test_timeouts_are_unknown_not_acked(tmp_path: Path) -> None:
    # Listening but never accepting: the kernel completes the handshake, nobody ever answers.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(128)
        port = silent.getsockname()[1]
        journal = tmp_path / "journal.jsonl"
        summary = run_load(f"http://127.0.0.1:{port}", rate=10, duration=1.0, journal_path=journal,
                           timeout=0.3)
    records = _records(journal)
    assert summary.acked == summary.errors == 0
    assert summary.unknown == summary.attempted == len(records) == 10
    assert all(r["status"] == "unknown" and r["id"] is None for r in records)


def test_refused_connection_is_an_error_not_unknown(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens
    summary = run_load(f"http://127.0.0.1:{port}", rate=20, duration=0.5, journal_path=tmp_path / "j")
    assert summary.errors == summary.attempted == 10 and summary.acked == summary.unknown == 0
    # Never sent, so nothing to prove later: an error is not journaled.
    assert (tmp_path / "j").read_text() == ""


@pytest.mark.timeout(600)  # a hang guard: without the stop, this run would last an hour
def test_stop_event_ends_the_run(deployment: Deployment, tmp_path: Path) -> None:
    journal = tmp_path / "j"
    stop = threading.Event()
    result: list[Summary] = []
    run = threading.Thread(target=lambda: result.append(
        run_load(deployment.url, rate=20, duration=3600, journal_path=journal, stop=stop, timeout=60)))
    run.start()
    # Stop once an operation has been acknowledged, whenever that is on this machine.
    while not (journal.exists() and journal.read_text()) and run.is_alive():
        time.sleep(0.05)
    stop.set()
    run.join()
    [summary] = result
    assert summary.acked > 0 and summary.attempted < 20 * 3600
    # In-flight operations finished and were journaled before the run returned.
    assert summary.acked + summary.unknown + summary.refused == len(_records(journal))
    assert summary.errors == 0


def test_a_stop_set_before_the_run_performs_nothing(tmp_path: Path) -> None:
    stop = threading.Event()
    stop.set()
    summary = run_load("http://127.0.0.1:9", rate=20, duration=3600, journal_path=tmp_path / "j", stop=stop)
    assert summary.attempted == 0 and (tmp_path / "j").read_text() == ""


@pytest.fixture
def dns_server() -> Iterator[tuple[str, list[str]]]:
    """A tiny DNS server answering app.refservice.test. with 127.0.0.1; yields 'IP:PORT' and the queries."""
    queries: list[str] = []
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.1)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                data, peer = sock.recvfrom(4096)
            except TimeoutError:
                continue
            query = dns.message.from_wire(data)
            answer = dns.message.make_response(query)
            question = query.question[0]
            queries.append(question.name.to_text())
            if question.rdtype == dns.rdatatype.A and question.name.to_text() == "app.refservice.test.":
                answer.answer.append(dns.rrset.from_text(question.name, 1, "IN", "A", "127.0.0.1"))
            sock.sendto(answer.to_wire(), peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"127.0.0.1:{sock.getsockname()[1]}", queries
    stop.set()
    thread.join()
    sock.close()


def test_resolve_with_asks_the_given_dns_server_every_request(
    deployment: Deployment, dns_server: tuple[str, list[str]], tmp_path: Path
) -> None:
    server, queries = dns_server
    port = deployment.url.rsplit(":", 1)[1]
    summary = run_load(f"http://app.refservice.test:{port}", rate=20, duration=1.0,
                       journal_path=tmp_path / "j", resolve_with=server, timeout=60)
    assert summary.acked == summary.attempted == 20 and summary.errors == 0
    assert len(queries) >= summary.attempted


def test_parse_mix_rejects_unknown_ops() -> None:
    assert parse_mix("write=1,delete=0.5") == {"write": 1.0, "delete": 0.5}
    with pytest.raises(ValueError, match="unknown operation"):
        parse_mix("write=1,explode=1")
