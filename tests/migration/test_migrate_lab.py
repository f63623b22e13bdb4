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
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from refservice.checker import check
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


def bare_app_url(lab: dict[str, Any]) -> str:
    app = next(h for h in baremetal_hosts(lab) if "app" in h["groups"])
    port = load_spec(lab["spec"]).spec.app.port
    return f"http://{app['address']}:{port}"


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return json.load(answer)


@pytest.fixture
def restore_source(lab_standby: dict[str, Any], lab_states: LabStates) -> Iterator[list[str]]:
    """Yields a list the test appends its migration's run id to; puts the shared lab back after."""
    runs: list[str] = []
    yield runs
    loaded = load_spec(lab_standby["spec"])
    from toolkit.data.postgres import PostgresMover
    from toolkit.data.postgres.source import connect

    mover = PostgresMover(loaded)
    for run_id in runs:
        run = Run.resume(run_id)
        roles = run.measured("cutover.freeze").get("roles")
        if roles:
            with connect(mover.endpoint) as conn:
                unfreeze(conn, roles)
        before = cutover.load_before(run)
        if before is not None:
            cutover.rollback_to(load_world(loaded), before)
        run.finish("succeeded")
    mover.stop()
    lab_states.changed()


def test_a_migration_under_load_loses_no_acknowledged_write(
        lab_standby: dict[str, Any], restore_source: list[str], tmp_path: Path) -> None:
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

    # Every write the AWS side acknowledged is on bare metal (updates and deletes included).
    result = check(str(journal), bare_app_url(lab))
    assert result.acked > 50, "the load generator wrote during the migration"
    assert not result.findings, [f.sentence() for f in result.findings]
    # The frozen source and the new target hold the same data.
    assert get_json(f"{bare_app_url(lab)}/digest") == get_json(f"{aws_app_url(lab)}/digest")

    # Clients resolve the service to bare metal through the lab's caching resolver, and HTTPS works there.
    zone = lab["dns"]["zone"]
    web = sorted(h["address"] for h in baremetal_hosts(lab) if "web" in h["groups"])
    answer = ask(lab["dns"]["resolver"], zone, "A", recursive=True)
    assert sorted(answer.values) == web
    context = ssl.create_default_context(cafile=lab["ca_certificate"])
    for address in answer.values:
        connection = urllib.request.HTTPSHandler(context=context)
        opener = urllib.request.build_opener(connection)
        request = urllib.request.Request(f"https://{zone.rstrip('.')}/healthz")
        # Dial the resolved address with the service's name for SNI and the certificate.
        with _resolved(zone.rstrip("."), address), opener.open(request, timeout=10) as page:
            assert page.status == 200

    run_dir = interface.run_dir(report.run_id)
    assert (run_dir / "report.html").is_file() and json.loads((run_dir / "report.json").read_text())["run_id"]


class _resolved:
    """Make ``name`` resolve to ``address`` in this process while the block runs."""

    def __init__(self, name: str, address: str) -> None:
        self.name, self.address = name, address

    def __enter__(self) -> None:
        import socket

        self.original = socket.getaddrinfo

        def fake(host: Any, *args: Any, **kwargs: Any) -> Any:
            return self.original(self.address if host == self.name else host, *args, **kwargs)

        socket.getaddrinfo = fake  # type: ignore[assignment]

    def __exit__(self, *exc: object) -> None:
        import socket

        socket.getaddrinfo = self.original  # type: ignore[assignment]


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
