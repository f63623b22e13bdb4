"""The cutover window (RTO) under write load, at two data sizes, and what users felt.

    sudo .venv/bin/python benchmarks/cutover.py [--lab NAME] [--sizes 100,1000] [--rate 50]

For each size (MB of database on the source): the lab's bare-metal hosts go back to the standby
snapshot (made once: provisioned ``--standby``), the source gets a table of that size, the dry
run is timed, then the reference app's load generator writes through the service's name (the
lab's resolver, HTTPS: the AWS side's load balancer until DNS moves, then bare metal) while
``toolkit migrate --to baremetal --yes`` runs with its journal. Printed per size: RTO (writes
frozen on the source to writes open on the target), each window step's share of it, the client
outage users felt (stale caches included), acknowledged writes lost, total migration time and
the dry run's time. The source is put back afterwards (unfrozen, DNS as before, the table gone).

The peer is the window's floor, as the issue gives it: freeze, drain to the frozen position and
the sequence sync, the database's part that cannot be avoided; the benchmark prints the window's
ratio to it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[0] = str(REPO)  # not benchmarks/: its dns.py would shadow dnspython's package

from tests.migration.migration_lab import put_source_back  # noqa: E402
from toolkit import interface  # noqa: E402
from toolkit.data.postgres import PostgresMover  # noqa: E402
from toolkit.data.postgres.source import connect  # noqa: E402
from toolkit.lab.api import lab_dir  # noqa: E402
from toolkit.lab.record import RECORD, LabRecord  # noqa: E402
from toolkit.spec import load_spec  # noqa: E402
from toolkit.targets.baremetal.provision import provision_baremetal  # noqa: E402

TOOLKIT = [sys.executable, "-m", "toolkit"]
FLOOR = ("cutover.freeze", "cutover.drain", "cutover.sequences")
ROW_BYTES = 1000  # the bulk table's rows: about this much heap each


def ensure_lab(name: str) -> dict[str, Any]:
    record = LabRecord.load(lab_dir(name) / RECORD)
    if record is None or record.phase != "up":
        status = interface.lab_up(name, 5)
        result = provision_baremetal(load_spec(status["spec"]), standby=True)
        if not result.ok:
            sys.exit(f"provisioning the lab failed: {result.summary_lines()}")
        interface.lab_snapshot(name, "standby")
    return interface.lab_status(name)


def seed(spec: str, megabytes: int, *, random: bool = False) -> int:
    """A ``bulk`` table of about ``megabytes`` on the source, owned by the app's role; its size.
    Its rows repeat one hash, or with ``random`` are random hex (about 2 to 1 under zstd)."""
    hashes = ROW_BYTES // 32
    payload = " || ".join(["md5(random()::text)"] * hashes) if random else "repeat(md5(g::text), %(repeat)s)"
    mover = PostgresMover(load_spec(spec))
    owner = load_spec(spec).spec.database.owner.name
    rows = megabytes * 1024 * 1024 // ROW_BYTES
    with connect(mover.endpoint) as conn:
        conn.execute("DROP TABLE IF EXISTS bulk")
        conn.execute("CREATE TABLE bulk (id bigint PRIMARY KEY, payload text NOT NULL)")
        conn.execute(f'ALTER TABLE bulk OWNER TO "{owner}"')
        conn.execute(f"INSERT INTO bulk SELECT g, {payload} FROM generate_series(1, %(rows)s) g",
                     {"rows": rows, "repeat": hashes})
        conn.execute("ANALYZE bulk")
        row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    assert row is not None
    return int(row[0])


def drop_bulk(spec: str) -> None:
    with connect(PostgresMover(load_spec(spec)).endpoint) as conn:
        conn.execute("DROP TABLE IF EXISTS bulk")


def timed_plan(spec: str) -> float:
    started = time.monotonic()
    subprocess.run([*TOOLKIT, "plan", "--to", "baremetal", "--json", "--spec", spec], check=True,
                   capture_output=True, timeout=1800)
    return time.monotonic() - started


def migrate_under_load(status: dict[str, Any], rate: int, work: Path) -> tuple[dict[str, Any], float]:
    url, resolver = status["service_url"], status["dns"]["resolver"]
    journal = work / "load.jsonl"
    journal.unlink(missing_ok=True)  # the journal appends: one per run
    env = {**os.environ, "SSL_CERT_FILE": status["ca_certificate"]}
    load = subprocess.Popen([sys.executable, "-m", "refservice.loadgen", "--url", url, "--resolve-with",
                             resolver, "--rate", str(rate), "--duration", "7200", "--journal", str(journal)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(5)
        started = time.monotonic()
        done = subprocess.run([*TOOLKIT, "migrate", "--to", "baremetal", "--yes", "--json", "--spec",
                               status["spec"], "--load-journal", str(journal), "--load-url", url,
                               "--resolve-with", resolver], env=env, capture_output=True, text=True,
                              timeout=7200)
        seconds = time.monotonic() - started
    finally:
        load.terminate()
        load.wait(30)
    if done.returncode != 0:
        sys.exit(f"migrate failed ({done.returncode}): {done.stderr[-3000:]}")
    return json.loads(done.stdout), seconds


def window_steps(report: dict[str, Any]) -> dict[str, float]:
    """Seconds of each step inside the window, in order."""
    return {step["name"]: round(step["ended_at"] - step["started_at"], 3) for step in report["steps"]
            if step["name"].startswith("cutover.") and step["ended_at"] and step["status"] == "succeeded"}


def one_size(name: str, megabytes: int, rate: int) -> dict[str, Any]:
    interface.lab_restore(name, "standby")
    status = interface.lab_status(name)
    spec = status["spec"]
    size = seed(spec, megabytes)
    dry_run = timed_plan(spec)
    work = Path(lab_dir(name)) / "bench-cutover"
    work.mkdir(exist_ok=True)
    report, total = migrate_under_load(status, rate, work)
    try:
        steps = window_steps(report)
        rto = report["rto_seconds"]
        floor = sum(steps.get(step, 0.0) for step in FLOOR)
        return {
            "database_bytes": size, "rto_seconds": rto, "floor_seconds": round(floor, 3),
            "rto_to_floor": round(rto / floor, 2) if floor else None,
            "window_steps": steps,
            "client_outage_seconds": report.get("client_outage_seconds"),
            "acknowledged_writes_lost": report.get("rpo", {}).get("acknowledged_writes_lost"),
            "migration_seconds": round(total, 1), "dry_run_seconds": round(dry_run, 1),
            "run": report["run_id"],
        }
    finally:
        put_source_back(status, report["run_id"])
        drop_bulk(spec)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lab", default="bench-cutover")
    parser.add_argument("--sizes", default="100,1000", help="database sizes to add, MB, comma-separated")
    parser.add_argument("--rate", type=int, default=50, help="load generator operations per second")
    args = parser.parse_args()
    ensure_lab(args.lab)
    results = {}
    for megabytes in (int(size) for size in args.sizes.split(",")):
        result = one_size(args.lab, megabytes, args.rate)
        results[megabytes] = result
        rto = result["rto_seconds"]
        print(f"\n== {megabytes} MB added ({result['database_bytes'] / 1e6:.0f} MB database), "
              f"{args.rate} ops/s through DNS")
        print(f"RTO {rto:.2f} s; floor (freeze + drain + sequences) {result['floor_seconds']:.2f} s, "
              f"ratio {result['rto_to_floor']}")
        for step, seconds in result["window_steps"].items():
            print(f"  {step:26} {seconds:7.3f} s  {100 * seconds / rto:5.1f} %")
        print(f"client outage {result['client_outage_seconds']} s; acknowledged writes lost "
              f"{result['acknowledged_writes_lost']}; migration {result['migration_seconds']} s; "
              f"dry run {result['dry_run_seconds']} s")
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
