"""What the migration's lab tests share: the load generator on the AWS side, the checks that the
service now runs on bare metal and lost nothing, and putting the shared lab's source back."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from refservice.checker import check
from refservice.dialer import DnsResolver, request
from tests.fixtures.lab import baremetal_hosts
from toolkit import interface
from toolkit.data.objects.feed import ChangeFeed
from toolkit.dns import cutover
from toolkit.dns.query import ask
from toolkit.dns.world import load_world
from toolkit.migration.freeze import unfreeze
from toolkit.runs import Run
from toolkit.runs.journal import Journal
from toolkit.spec import load_spec

DIGEST_TIMEOUT_S = 60  # /digest reads every object (see source_digest)


def aws_app_url(lab: dict[str, Any]) -> str:
    return str(lab["app_url"])


def start_load(lab: dict[str, Any], journal: Path) -> subprocess.Popen[bytes]:
    """The load generator writing to the AWS side's app, its acknowledgements in ``journal``."""
    load = subprocess.Popen([sys.executable, "-m", "refservice.loadgen", "--url", aws_app_url(lab),
                             "--rate", "20", "--duration", "1500", "--journal", str(journal)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(3)  # writes are flowing before the migration starts
    assert load.poll() is None, load.stderr.read() if load.stderr else ""
    return load


def stop_load(load: subprocess.Popen[bytes]) -> None:
    load.terminate()
    load.wait(timeout=30)


def source_digest(lab: dict[str, Any]) -> Any:
    """The AWS side app's /digest, once it is connected to its database again."""
    deadline = time.monotonic() + 180
    while True:
        try:
            # The digest reads every object back from moto, one by one: about 2,000 after a
            # migration under load, 10-20 s on a busy 2 cores. A timed-out attempt leaves the app
            # still reading, so the next would only queue behind it.
            with urllib.request.urlopen(f"{aws_app_url(lab)}/digest", timeout=DIGEST_TIMEOUT_S) as answer:
                return json.load(answer)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def write_note(lab: dict[str, Any]) -> Any:
    """A note written through the AWS side's app, once it is connected to its database again."""
    body = json.dumps({"title": "after the rollback", "body": "the source writes again",
                       "file": base64.b64encode(b"still here").decode()}).encode()
    deadline = time.monotonic() + 60
    while True:
        post = urllib.request.Request(f"{aws_app_url(lab)}/notes", data=body, method="POST",
                                      headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(post, timeout=10) as answer:
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


def assert_migrated(lab: dict[str, Any], run_id: str, load_journal: Path,
                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The service runs on bare metal, with every acknowledged write, and the report is written.

    Puts the source back (it compares the target with the unfrozen source's own digest)."""
    report = json.loads((interface.run_dir(run_id) / "report.json").read_text())
    assert report["status"] == "succeeded", report
    outcomes: dict[str, set[str]] = {}
    for step in report["steps"]:
        outcomes.setdefault(step["name"], set()).add(step["status"])
    # Each step succeeded; one a crash cut short is also there as interrupted (then redone).
    assert {name: seen for name, seen in outcomes.items()
            if "succeeded" not in seen or not seen <= {"succeeded", "interrupted"}} == {}
    assert report["rto_seconds"] is not None and report["rto_seconds"] > 0
    verdicts = {v["step"]: v["ok"] for v in report["verifications"]}
    # Everything compared before the window, continuity checked inside it.
    checked = ("database.verify", "objects.verify", "cutover.verify")
    assert {verdicts.get(step) for step in checked} == {True}, report["verifications"]
    assert (interface.run_dir(run_id) / "report.html").is_file()
    # The objects' change feed left the source with the slot and publication: named, then gone.
    removed = [v for r in Journal(interface.run_dir(run_id)).records()
               if r.get("event") == "measure" and r.get("step") == "clean-up" for v in r["values"]["removed"]]
    feed = ChangeFeed(load_spec(lab["spec"]))
    assert f"SQS queue {feed.name}" in removed, removed
    assert feed.close() == []

    # Clients now reach bare metal: the lab's caching resolver answers the service's name with the
    # web hosts, and HTTPS through that answer (SNI, the lab's CA) reaches the app behind nginx.
    zone = lab["dns"]["zone"].rstrip(".")
    web = sorted(h["address"] for h in baremetal_hosts(lab) if "web" in h["groups"])
    assert sorted(ask(lab["dns"]["resolver"], zone + ".", "A", recursive=True).values) == web
    monkeypatch.setenv("SSL_CERT_FILE", lab["ca_certificate"])
    resolver = DnsResolver(lab["dns"]["resolver"])
    assert request("GET", f"https://{zone}/healthz", resolver=resolver, timeout=10).status == 200

    # Every write the AWS side acknowledged is there (updates and deletes included) ...
    result = check(str(load_journal), f"https://{zone}", resolve_with=lab["dns"]["resolver"])
    assert result.acked > 50, "the load generator wrote during the migration"
    assert not result.findings, [f.sentence() for f in result.findings]
    # ... and the new target holds what the source held at the freeze: nothing has written to the
    # source since (the load generator is stopped), so once unfrozen its app shows that data.
    digest = request("GET", f"https://{zone}/digest", resolver=resolver, timeout=DIGEST_TIMEOUT_S).json()
    put_source_back(lab, run_id)
    assert digest == source_digest(lab)
