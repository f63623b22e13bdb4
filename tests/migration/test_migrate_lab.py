"""``toolkit migrate --to baremetal`` end to end on the lab, with the load generator writing throughout.

Real parts all the way: the RDS-like source on the AWS side, the standby bare-metal hosts, the
lab's DNS world (Route53's name servers, PowerDNS, the caching resolver). The load generator
writes to the AWS side's app during replication and through the cutover; afterwards its checker
replays every acknowledged write against the bare-metal app.

A migration leaves the source frozen and the zone pointing at bare metal: the teardown puts the
shared lab back (roles unfrozen from the run's journal, every DNS provider restored from the
records saved before the switch) and marks the bare-metal hosts changed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from refservice.checker import check
from refservice.dialer import DnsResolver, request
from tests.fixtures.lab import baremetal_hosts
from tests.fixtures.lab_states import LabStates
from tests.migration.worldstate import capture, changes
from toolkit import interface
from toolkit.dns import cutover
from toolkit.dns.query import ask
from toolkit.dns.world import load_world
from toolkit.migration.freeze import unfreeze
from toolkit.runs import Run
from toolkit.spec import load_spec

pytestmark = [pytest.mark.timeout(1800)]


def aws_app_url(lab: dict[str, Any]) -> str:
    return str(lab["app_url"])


def source_digest(lab: dict[str, Any]) -> Any:
    """The AWS side app's /digest, once it is connected to its database again."""
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{aws_app_url(lab)}/digest", timeout=10) as answer:
                return json.load(answer)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def put_source_back(lab: dict[str, Any], run_id: str) -> None:
    """The source unfrozen (roles from the run's journal), every DNS provider as before the switch."""
    from toolkit.data.postgres import PostgresMover
    from toolkit.data.postgres.source import connect

    loaded = load_spec(lab["spec"])
    run = Run.resume(run_id)
    roles = run.measured("cutover.freeze").get("roles")
    if roles:
        with connect(PostgresMover(loaded).endpoint) as conn:
            unfreeze(conn, roles)
    before = cutover.load_before(run)
    if before is not None:
        cutover.rollback_to(load_world(loaded), before)
    run.finish("succeeded")


@pytest.fixture
def restore_source(lab_standby: dict[str, Any], lab_states: LabStates) -> Iterator[list[str]]:
    """Yields a list the test appends its migration's run id to; puts the shared lab back after."""
    from toolkit.data.postgres import PostgresMover

    runs: list[str] = []
    yield runs
    for run_id in runs:
        put_source_back(lab_standby, run_id)
    PostgresMover(load_spec(lab_standby["spec"])).stop()
    lab_states.changed()


def test_a_migration_under_load_loses_no_acknowledged_write(
        lab_standby: dict[str, Any], restore_source: list[str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    lab = lab_standby
    journal = tmp_path / "load.jsonl"
    load = subprocess.Popen([sys.executable, "-m", "refservice.loadgen", "--url", aws_app_url(lab),
                             "--rate", "20", "--duration", "900", "--journal", str(journal)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        time.sleep(3)  # writes are flowing before the migration starts
        assert load.poll() is None, load.stderr.read() if load.stderr else ""
        report = interface.migrate("baremetal", lab["spec"])
        restore_source.append(report.run_id)
    finally:
        load.terminate()
        load.wait(timeout=30)
    data = report.to_json()
    assert data["status"] == "succeeded", data
    assert {s["name"]: s["status"] for s in data["steps"] if s["status"] != "succeeded"} == {}
    assert data["rto_seconds"] is not None and data["rto_seconds"] > 0
    verdicts = {v["step"]: v["ok"] for v in data["verifications"]}
    assert verdicts.get("database.verify") is True, data["verifications"]

    # Clients now reach bare metal: the lab's caching resolver answers the service's name with the
    # web hosts, and HTTPS through that answer (SNI, the lab's CA) reaches the app behind nginx.
    zone = lab["dns"]["zone"].rstrip(".")
    web = sorted(h["address"] for h in baremetal_hosts(lab) if "web" in h["groups"])
    assert sorted(ask(lab["dns"]["resolver"], zone + ".", "A", recursive=True).values) == web
    monkeypatch.setenv("SSL_CERT_FILE", lab["ca_certificate"])
    resolver = DnsResolver(lab["dns"]["resolver"])
    assert request("GET", f"https://{zone}/healthz", resolver=resolver, timeout=10).status == 200

    # Every write the AWS side acknowledged is there (updates and deletes included) ...
    result = check(str(journal), f"https://{zone}", resolve_with=lab["dns"]["resolver"])
    assert result.acked > 50, "the load generator wrote during the migration"
    assert not result.findings, [f.sentence() for f in result.findings]
    # ... and the new target holds what the source held at the freeze: nothing has written to the
    # source since (the load generator is stopped), so once unfrozen its app shows that data.
    digest = request("GET", f"https://{zone}/digest", resolver=resolver, timeout=30).json()
    put_source_back(lab, report.run_id)
    assert digest == source_digest(lab)

    run_dir = interface.run_dir(report.run_id)
    assert (run_dir / "report.html").is_file() and json.loads((run_dir / "report.json").read_text())["run_id"]


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
    assert [s["name"] for s in plan["steps"]][:4] == ["preflight", "safety-snapshot", "standby", "replicate"]
    assert all(s["estimate_seconds"] >= 0 for s in plan["steps"])
    assert plan["data_sizes"]["database"] > 0
    assert changes(before, capture(lab)) == {}
