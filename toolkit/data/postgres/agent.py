"""The copy agent: runs on the target's database host, so that no row passes through the operator.

Shipped there by ``copy.py`` and started as a transient systemd unit, as the ``postgres`` OS user,
it outlives the operator's SSH session: a ``kill -9`` of the toolkit does not end the copy, and
the command run again finds it going on. It needs only Python 3, psycopg 3 and psql (Debian:
python3-psycopg, postgresql-client), and imports nothing from the toolkit.

1. On a replication connection to the source: ``CREATE_REPLICATION_SLOT <slot> LOGICAL pgoutput
   EXPORT_SNAPSHOT``. The connection is then left idle: the snapshot lives as long as it does.
2. Workers take the pending ranges of the ledger (``<ledger>.ranges``, planned by the operator),
   round-robin over the tables. Each range is one pipe: ``psql`` on the source (a REPEATABLE READ
   transaction importing the snapshot, ``COPY (SELECT ... WHERE ctid ...) TO STDOUT``) read in
   1 MB chunks into ``COPY ... FROM STDIN`` on the target, in one target transaction that also
   marks the range done. A range is therefore copied exactly once, or not at all.
   The worker that commits a table's last range then builds that table's keys and indexes (the
   ledger's ``early`` list, claimed so that one worker builds them), while the others copy on.
3. When every range is done, the snapshot is released (the slot stays) and the agent exits 0.

The source's password comes from a 0600 passfile (``PGPASSFILE``), never from a command line.
State for the operator: ``state.json`` next to the config (phase, slot, LSN, error).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from typing import Any

import psycopg

CHUNK = 1 << 20


def write_state(path: str, **state: Any) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as handle:
        json.dump({**state, "pid": os.getpid(), "at": time.time()}, handle)
    os.replace(tmp, path)


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def pending_ranges(target: psycopg.Connection[Any], ledger: str) -> list[tuple[Any, ...]]:
    """Ranges not done, round-robin over tables (the first range of each, then the second, ...):
    smaller tables finish early and their indexes build while the largest one is still copying."""
    rows = target.execute(
        f"SELECT tbl, part, schema_name, table_name, columns, binary_copy, condition "
        f"FROM {ident(ledger)}.ranges WHERE NOT done ORDER BY part, planned_bytes DESC, tbl").fetchall()
    return list(rows)


def build_early(config: dict[str, Any], tbl: str) -> None:
    """Once ``tbl``'s last range is in: its keys and indexes, each committed with its ledger mark."""
    ledger = ident(config["ledger"])
    with psycopg.connect(dbname=config["dbname"], port=config["port"], autocommit=True) as conn:
        row = conn.execute(f"SELECT count(*) FROM {ledger}.ranges WHERE tbl = %s AND NOT done",
                           (tbl,)).fetchone()
        if row is None or row[0]:
            return
        claimed = conn.execute(f"UPDATE {ledger}.early SET claimed = true WHERE tbl = %s AND NOT claimed "
                               "AND NOT built RETURNING name, statement", (tbl,)).fetchall()
        conn.execute(f"SET maintenance_work_mem = '{int(config['index_memory_mb'])}MB'")
        for name, statement in claimed:
            with conn.transaction():
                conn.execute(statement)
                conn.execute(f"UPDATE {ledger}.early SET built = true WHERE tbl = %s AND name = %s",
                             (tbl, name))


def copy_range(config: dict[str, Any], snapshot: str, item: tuple[Any, ...]) -> None:
    tbl, part, schema, table, columns, binary, condition = item
    qualified = f"{ident(schema)}.{ident(table)}"
    cols = ", ".join(ident(c) for c in columns)
    fmt = " (FORMAT binary)" if binary else ""
    where = f" WHERE {condition}" if condition else ""
    select = f"COPY (SELECT {cols} FROM ONLY {qualified}{where}) TO STDOUT{fmt}"
    source = config["source"]
    env = {**os.environ, "PGPASSFILE": config["passfile"], "PGAPPNAME": config["slot"] + "_copy",
           "PGCONNECT_TIMEOUT": "10"}
    argv = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", source["host"], "-p", str(source["port"]),
            "-U", source["user"], "-d", source["dbname"],
            "-c", "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
            "-c", f"SET TRANSACTION SNAPSHOT '{snapshot}'", "-c", select]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert proc.stdout is not None and proc.stderr is not None
    moved = 0
    try:
        with psycopg.connect(dbname=config["dbname"], port=config["port"], autocommit=False) as target:
            with target.cursor() as cursor:
                with cursor.copy(f"COPY {qualified} ({cols}) FROM STDIN{fmt}") as copy:
                    while True:
                        chunk = os.read(proc.stdout.fileno(), CHUNK)
                        if not chunk:
                            break
                        moved += len(chunk)
                        copy.write(chunk)
                    status = proc.wait()
                    if status != 0:
                        # Leaving the block with an error rolls the target's transaction back.
                        raise RuntimeError(f"source COPY of {tbl} part {part} failed: "
                                           f"{proc.stderr.read().decode(errors='replace').strip()[-500:]}")
                rows = cursor.rowcount
                cursor.execute(f"UPDATE {ident(config['ledger'])}.ranges SET done = true, rows = %s, "
                               f"bytes = %s, seconds = extract(epoch FROM clock_timestamp() - now()) "
                               f"WHERE tbl = %s AND part = %s", (rows, moved, tbl, part))
            target.commit()
        build_early(config, tbl)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def main(config_path: str) -> int:
    with open(config_path) as handle:
        config = json.load(handle)
    state_file = os.path.join(os.path.dirname(config_path), "state.json")
    write_state(state_file, phase="starting")
    source = config["source"]
    os.environ["PGPASSFILE"] = config["passfile"]
    try:
        replication = psycopg.connect(host=source["host"], port=source["port"], dbname=source["dbname"],
                                      user=source["user"], replication="database", autocommit=True,
                                      application_name=config["slot"], connect_timeout=10)
        row = replication.execute(
            f"CREATE_REPLICATION_SLOT {ident(config['slot'])} LOGICAL pgoutput EXPORT_SNAPSHOT").fetchone()
        assert row is not None
        slot, lsn, snapshot = row[0], row[1], row[2]
        write_state(state_file, phase="copying", slot=slot, lsn=lsn)
        with psycopg.connect(dbname=config["dbname"], port=config["port"], autocommit=True) as target:
            work = pending_ranges(target, config["ledger"])
        lock = threading.Lock()
        failures: list[str] = []

        def worker() -> None:
            while True:
                with lock:
                    if not work or failures:
                        return
                    item = work.pop(0)
                try:
                    copy_range(config, snapshot, item)
                except Exception as exc:  # one failure stops the others: the operator decides
                    with lock:
                        failures.append(f"{exc}")
                    return

        threads = [threading.Thread(target=worker) for _ in range(max(1, int(config["workers"])))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        replication.close()  # the snapshot ends here; the slot stays for the subscription
        if failures:
            write_state(state_file, phase="failed", slot=slot, lsn=lsn, error=failures[0])
            return 1
        write_state(state_file, phase="copied", slot=slot, lsn=lsn)
        return 0
    except Exception as exc:
        write_state(state_file, phase="failed", error=str(exc).strip()[-800:])
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
