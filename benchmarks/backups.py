"""Backups on bare metal: a full backup and a point-in-time restore of the 1 GB benchmark
database, and the load WAL archiving adds while the target replicates under the load generator.

    sudo .venv/bin/python benchmarks/backups.py [--lab NAME] [--megabytes 1000] [--load-seconds 60]

The lab (one bare-metal host: database, object store and app together, as the database copy's
benchmark has it) is provisioned ``--standby``, with the backups role (the stanza in the object
store, WAL archived), and saved as its snapshot ``standby``, where every run starts. The source
gets a ``bulk`` table of ``--megabytes`` and the target replicates it (``toolkit replicate``), as
during a migration, where the first full backup is taken. Printed:

- the full backup (``toolkit backup``: pgBackRest, zstd, AES-256, into SeaweedFS over HTTPS), its
  size and size in the repository, MB/s; against the floor, reading the data directory once
  (``tar | cat``, nothing compressed, encrypted or stored);
- the load generator at 200 writes/s on the source for ``--load-seconds``, twice: with archiving
  as provisioned (pgBackRest's ``archive-push``), and last with ``archive_command = '/bin/true'``
  (the same WAL, nothing pushed): the replication lag, the writes achieved, the database host's
  CPU time and the WAL archived. The setting is put back afterwards;
- between the two, a point-in-time restore (``toolkit restore --time T``, T after the first load)
  into a scratch cluster: pgBackRest's restore, the WAL replay to T, the verification of every
  table; checked equal to the digests at T.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[0] = str(REPO)  # not benchmarks/: its dns.py would shadow dnspython's package

from benchmarks.cutover import drop_bulk, seed  # noqa: E402
from benchmarks.database_copy import steady_lag  # noqa: E402
from toolkit import interface  # noqa: E402
from toolkit.backups.restore import table_digests  # noqa: E402
from toolkit.data.postgres.target import TargetHost, target_settings  # noqa: E402
from toolkit.lab import cgroups  # noqa: E402
from toolkit.lab.names import LabNames  # noqa: E402
from toolkit.lab.record import RECORD, LabRecord, lab_dir  # noqa: E402
from toolkit.spec import load_spec  # noqa: E402
from toolkit.targets.baremetal.provision import provision_baremetal  # noqa: E402

DATA = "/var/lib/postgresql/15/main"


def ensure_lab(name: str) -> dict[str, Any]:
    record = LabRecord.load(lab_dir(name) / RECORD)
    if record is None or record.phase != "up" or record.hosts != 1:
        status = interface.lab_up(name, 1)
        result = provision_baremetal(load_spec(status["spec"]), standby=True)
        if not result.ok:
            sys.exit(f"provisioning the lab failed: {result.summary_lines()}")
        interface.lab_snapshot(name, "standby")
    interface.lab_restore(name, "standby")  # every run from the same start: no data, no backup
    return interface.lab_status(name)


def timed(what: str, action: Any) -> tuple[float, Any]:
    print(f"{what} ...", flush=True)
    started = time.monotonic()
    result = action()
    seconds = time.monotonic() - started
    print(f"  {seconds:.1f} s", flush=True)
    return seconds, result


def full_backup(db: TargetHost, spec: str) -> dict[str, Any]:
    floor, _ = timed("the floor: the data directory read once (tar | cat)",
                     lambda: db.run(f"sudo -n tar -C {DATA} -cf - . | cat > /dev/null", timeout=3600.0))
    seconds, made = timed("full backup (toolkit backup --type full)",
                          lambda: interface.backup("baremetal", spec, kind="full"))
    return {"seconds": round(seconds, 1), "bytes": made["bytes"],
            "repository_bytes": made["repository_bytes"], "mb_per_s": round(made["bytes"] / 1e6 / seconds, 1),
            "floor_seconds": round(floor, 1), "to_floor": round(seconds / floor, 2)}


def point_in_time_restore(db: TargetHost, spec: str) -> dict[str, Any]:
    """T taken while the source is quiet and the target caught up, then writes after T."""
    time.sleep(1.2)  # past the last backup's stop second
    at_t = table_digests(db)
    moment = str(db.json("SELECT to_json(clock_timestamp())", dbname="postgres"))
    time.sleep(0.5)
    db.psql("DELETE FROM bulk WHERE id % 100 = 0", dbname="refservice")  # on the target: after T
    seconds, restored = timed(f"point-in-time restore to {moment} (toolkit restore --time)",
                              lambda: interface.restore("baremetal", spec, time=moment))
    if restored["tables"] != at_t:
        sys.exit("the restored tables differ from the digests at T")
    return {"seconds": round(seconds, 1), "parts": restored["seconds"], "rows": restored["rows"],
            "equal_to_T": True}


def load_phase(db: TargetHost, lab: dict[str, Any], seconds: float, archiving: str) -> dict[str, Any]:
    """The load generator on the source while the target replicates: lag, writes, the database
    host's CPU time (its cgroup) and the WAL it wrote and archived."""
    print(f"load generator, 200 writes/s for {seconds:.0f} s, archiving {archiving} ...", flush=True)
    machine = LabNames(lab["name"]).machine(db.name)
    archived = db.json("SELECT to_json(archived_count) FROM pg_stat_archiver", dbname="postgres")
    wal = db.json("SELECT to_json(pg_current_wal_lsn()::text)", dbname="postgres")
    cpu = cgroups.cpu_seconds(machine)
    lag = steady_lag(lab, seconds)
    cpu_after = cgroups.cpu_seconds(machine)
    lag["segments_archived"] = db.json("SELECT to_json(archived_count) FROM pg_stat_archiver",
                                       dbname="postgres") - archived
    lag["wal_bytes"] = db.json(f"SELECT to_json(pg_current_wal_lsn() - '{wal}'::pg_lsn)", dbname="postgres")
    lag["db_host_cpu_seconds"] = (round(cpu_after - cpu, 1)
                                  if cpu is not None and cpu_after is not None else None)
    print("  " + json.dumps(lag), flush=True)
    return lag


def without_archiving(db: TargetHost, lab: dict[str, Any], seconds: float) -> dict[str, Any]:
    """The same load with ``archive_command = '/bin/true'``: the same WAL, nothing pushed. It leaves
    a hole in the archive (a restore cannot cross it until the next full backup): measured last."""
    db.psql("ALTER SYSTEM SET archive_command = '/bin/true'; SELECT pg_reload_conf();", dbname="postgres")
    try:
        return load_phase(db, lab, seconds, "off (archive_command = /bin/true)")
    finally:
        db.psql("ALTER SYSTEM RESET archive_command; SELECT pg_reload_conf();", dbname="postgres")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lab", default="bench-backups")
    parser.add_argument("--megabytes", type=int, default=1000, help="size of the bulk table on the source")
    parser.add_argument("--load-seconds", type=float, default=60)
    args = parser.parse_args()
    lab = ensure_lab(args.lab)
    spec = lab["spec"]
    interface.stop_replication("baremetal", spec)  # a previous run's on the source, if any
    size = seed(spec, args.megabytes, random=True)  # compresses as real data does, not 30 to 1
    db = TargetHost(target_settings(load_spec(spec)))
    try:
        replicated, _ = timed(f"replicate {size / 1e6:.0f} MB to the target",
                              lambda: interface.replicate("baremetal", spec))
        database = int(db.json("SELECT to_json(pg_database_size('refservice'))", dbname="postgres"))
        results = {"database_bytes": database, "replicate_seconds": round(replicated, 1),
                   "full_backup": full_backup(db, spec)}
        pushed = load_phase(db, lab, args.load_seconds, "on (pgBackRest archive-push)")
        results["load"] = {"with_archiving": pushed}
        # T after the load: the restore replays its WAL.
        results["restore"] = point_in_time_restore(db, spec)
        results["load"]["without"] = without_archiving(db, lab, args.load_seconds)
    finally:
        interface.stop_replication("baremetal", spec)
        drop_bulk(spec)
        db.close()
    backup, restore, load = results["full_backup"], results["restore"], results["load"]
    print(f"\n== {database / 1e6:.0f} MB database on the target")
    print(f"full backup {backup['seconds']} s, {backup['mb_per_s']} MB/s, "
          f"{backup['repository_bytes'] / 1e6:.0f} MB in the repository; "
          f"floor (read once) {backup['floor_seconds']} s, ratio {backup['to_floor']}")
    print(f"point-in-time restore {restore['seconds']} s: {restore['parts']}; equal to the data at T")
    for name, phase in load.items():
        print(f"{name:15} writes/s {phase['writes_per_s']}, lag median {phase['lag_bytes_median']} B, "
              f"max {phase['lag_bytes_max']} B; db host CPU {phase['db_host_cpu_seconds']} s; "
              f"{phase['wal_bytes'] / 1e6:.1f} MB WAL, {phase['segments_archived']} segments archived")
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
