"""``toolkit drill --to baremetal`` on a lab of its own: one production host, one drill host.

A drill rehearses the real path (replication from the live source, the window with a WAL marker
for the freeze, the DNS switch on the drill's own zone, writes opened on the drill target) while
the load generator writes to the source, and must leave production exactly as it found it:
the source accepting writes throughout, Route53's record sets byte for byte, no slot or
publication of the drill's on the source, the drill host with no service and no data of the
drill. It starts where a drill killed with ``kill -9`` left its slot and publication on the
source, which it cleans first. Then a drill stopped with SIGTERM must tear itself down. (A missed
objective's exit 1 is a unit test: ``tests/drills/test_report.py``.)
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from refservice.journal import read_journal
from tests.fixtures.lab import drill_hosts, lab_run
from tests.migration.migration_lab import start_load, stop_load
from tests.migration.worldstate import route53_state, source_state
from toolkit.runs.journal import Journal
from toolkit.runs.listing import list_runs

pytestmark = [pytest.mark.timeout(1500)]
LAB_HOSTS = 1
LAB_DRILL_HOSTS = 1
Record = dict[str, Any]


def drill_command(spec: str, *more: str) -> list[str]:
    return [sys.executable, "-m", "toolkit", "drill", "--to", "baremetal", "--json", "--spec", spec, *more]


def toolkit_drill(spec: str, *more: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(drill_command(spec, *more), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True, env=env)


def finished(process: subprocess.Popen[bytes], timeout: float = 900) -> tuple[int, Record, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, json.loads(out) if out.strip() else {}, err.decode()[-3000:]


def newest_drill(after: float) -> str | None:
    return next((r.id for r in list_runs() if r.kind == "drill" and (r.started or 0) >= after), None)


def wait_for(process: subprocess.Popen[bytes], started_at: float, point: Callable[[Record], bool]) -> str:
    """The drill's run id once its journal shows ``point``."""
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the drill ended (exit {process.returncode}) before the point: "
                                 f"{process.stderr.read().decode()[-2000:] if process.stderr else ''}")
        run_id = newest_drill(started_at)
        if run_id and any(point(r) for r in Journal(Path(os.environ["TOOLKIT_STATE_DIR"]) / "runs" / run_id)
                          .records()):
            return run_id
        time.sleep(0.2)
    raise AssertionError("the drill never reached the point")


def ended(step: str) -> Callable[[Record], bool]:
    return lambda record: record.get("event") == "step-ended" and record.get("step") == step


def drill_slots(lab: dict[str, Any]) -> list[Any]:
    state = source_state(lab)
    return [s for s in state["slots"] + state["publications"] if "drill" in str(s[0])]


def drill_leftovers(lab: dict[str, Any]) -> list[str]:
    """What of the drill is still on its hosts: a service running, a file or directory."""
    units = ["refservice-drill@8000", "refservice-drill@8001", "refservice-drill-objects", "nginx", "pdns",
             "postgresql@15-main"]
    paths = ["/etc/postgresql/15/main", "/var/lib/postgresql/15/main", "/opt/refservice-drill",
             "/etc/refservice-drill", "/srv/refservice-drill-objects", "/var/lib/powerdns/pdns.sqlite3",
             "/etc/nginx/tls/refservice-drill", "/home/deploy/.toolkit-objects/refservice-drill"]
    found = []
    for host in drill_hosts(lab):
        states = lab_run(lab, host["name"], f"systemctl is-active {' '.join(units)}").stdout.split()
        found += [f"{host['name']}: {unit} active" for unit, state in zip(units, states, strict=True)
                  if state == "active"]
        probe = " ; ".join(f"test -e {p} && echo {p}" for p in paths) + " ; true"
        present = lab_run(lab, host["name"], probe)
        found += [f"{host['name']}: {path}" for path in present.stdout.split()]
    return found


def killed_drill(lab: dict[str, Any]) -> str:
    """The run id of a drill killed with ``kill -9`` once its standby serves, its slot and
    publication left on the source."""
    started = time.time()
    process = toolkit_drill(lab["spec"])
    killed = wait_for(process, started, ended("standby.serve"))
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=60)
    assert drill_slots(lab), "the killed drill left its slot and publication on the source"
    return killed


def test_a_drill_cleans_a_killed_one_rehearses_the_exit_and_leaves_production_untouched(
        module_lab: dict[str, Any], tmp_path: Path) -> None:
    lab = module_lab
    route53_before, source_before = route53_state(lab), source_state(lab)
    killed = killed_drill(lab)
    journal = tmp_path / "load.jsonl"
    load = start_load(lab, journal)
    zone = yaml.safe_load(Path(lab["spec"]).read_text())["dns"]["zone"].rstrip(".")
    drill_dns = next(h["address"] for h in drill_hosts(lab) if "dns" in h["groups"])
    env = {**os.environ, "SSL_CERT_FILE": lab["ca_certificate"]}
    started = time.time()
    try:
        code, result, stderr = finished(toolkit_drill(
            lab["spec"], "--load-journal", str(journal), "--load-url", f"https://drill.{zone}",
            "--resolve-with", drill_dns, env=env))
        drill_ended = time.time()
    finally:
        stop_load(load)
    assert code == 0, stderr
    assert result["objectives_met"] and result["torn_down"] and result["status"] == "succeeded", result
    assert result["cleaned_before"] == killed
    killed_report = json.loads((Path(os.environ["TOOLKIT_STATE_DIR"]) / "runs" / killed / "report.json")
                               .read_text())
    assert killed_report["drill"]["torn_down"] is True and killed_report["status"] == "failed"
    assert 0 < result["rto_seconds"] < 300
    assert result["rpo"]["acknowledged_writes_lost"] == 0 and result["rpo"]["verified_at_marker"] is True
    steps = {s["name"]: s["status"] for s in result["steps"]}
    for step in ("cutover.marker", "cutover.drain", "cutover.verify", "cutover.switch-dns",
                 "cutover.verify-dns", "cutover.open-writes", "app.health", "teardown"):
        assert steps.get(step) == "succeeded", f"{step}: {steps.get(step)}"
    assert "cutover.freeze" not in steps and "safety-snapshot" not in steps
    assert all(v["ok"] for v in result["verifications"]), result["verifications"]

    # The source took writes throughout: no pause between acknowledged writes longer than the
    # load generator's own jitter, from the drill's start to its end.
    acked = sorted(r.t for r in read_journal(journal)[0]
                   if r.status == "acked" and started <= r.t <= drill_ended)
    assert len(acked) > 100
    assert max(b - a for a, b in itertools.pairwise(acked)) < 2.0
    assert route53_state(lab) == route53_before, "Route53 changed"
    assert source_state(lab) == source_before, "the source's slots, publications, roles or settings changed"
    assert drill_leftovers(lab) == []
    assert Path(result["report"]).read_text().count('id="trend-rto"') == 1


def test_a_drill_stopped_with_sigterm_tears_down(module_lab: dict[str, Any]) -> None:
    lab = module_lab
    started = time.time()
    process = toolkit_drill(lab["spec"])
    run_id = wait_for(process, started, ended("database.prepare"))
    assert drill_slots(lab), "the drill's publication and slot are on the source at this point"
    process.send_signal(signal.SIGTERM)
    code, _, stderr = finished(process)
    assert code == 130, stderr
    teardown = [r for r in Journal(Path(os.environ["TOOLKIT_STATE_DIR"]) / "runs" / run_id).records()
                if r.get("event") == "measure" and r.get("step") == "teardown"]
    assert teardown and teardown[-1]["values"]["torn_down"] is True, teardown
    assert drill_slots(lab) == []
    assert drill_leftovers(lab) == []
    cleanup = subprocess.run([sys.executable, "-m", "toolkit", "drill", "--to", "baremetal", "--cleanup",
                              "--json", "--spec", lab["spec"]], capture_output=True, text=True, timeout=300)
    assert cleanup.returncode == 0 and json.loads(cleanup.stdout) == {"cleaned": None}, cleanup.stderr
