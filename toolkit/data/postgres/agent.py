"""The copy agent: runs on the target's database host, so that no row passes through the operator.

Shipped there by ``copy.py`` and started as a transient systemd unit, as the ``postgres`` OS user,
it outlives the operator's SSH session: a ``kill -9`` of the toolkit does not end the copy, and
the command run again finds it going on. It needs only Python 3, psycopg 3 and psql (Debian:
python3-psycopg, postgresql-client), and imports nothing from the toolkit.

1. On a replication connection to the source: ``CREATE_REPLICATION_SLOT <slot> LOGICAL pgoutput
   EXPORT_SNAPSHOT``. The connection is then left idle: the snapshot lives as long as it does.
2. Workers take the pending ranges of the ledger (``<ledger>.ranges``, planned by the operator),
   the smallest tables first. Each range is one pipe: ``psql`` on the source (a REPEATABLE READ
   transaction importing the snapshot, ``COPY (SELECT ... WHERE ctid ...) TO STDOUT``) spliced
   into ``psql`` on the target, whose one transaction loads the rows and marks the range done.
   A range is therefore copied exactly once, or not at all.
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
import tempfile
import threading
import time
from typing import Any

import psycopg

CHUNK = 1 << 20  # the most a splice moves at a time


def write_state(path: str, **state: Any) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as handle:
        json.dump({**state, "pid": os.getpid(), "at": time.time()}, handle)
    os.replace(tmp, path)


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def pending_ranges(target: psycopg.Connection[Any], ledger: str) -> list[tuple[Any, ...]]:
    """Ranges not done, the smallest tables first, each table's ranges together.

    A table's keys and indexes build once its last range is in, and the largest table's ranges end
    the copy whatever the order. Smallest first ends every other table early, so that their index
    builds run beside the largest table's copy instead of after it. On the lab's 1.3 GB (a jsonb
    table whose GIN index takes 8 s to build), the jsonb table was in 4.8 s into the copy instead
    of 7.2 s taking ranges round-robin over the tables, and the copy ended 3.9 s after the largest
    table's last range instead of 5.2 s."""
    rows = target.execute(
        f"SELECT tbl, part, schema_name, table_name, columns, binary_copy, condition "
        f"FROM {ident(ledger)}.ranges r WHERE NOT done "
        f"ORDER BY (SELECT sum(planned_bytes) FROM {ident(ledger)}.ranges WHERE tbl = r.tbl), tbl, part"
    ).fetchall()
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
    """One range: ``psql`` on the source into ``psql`` on the target, the bytes spliced between
    them in the kernel. The target's ``psql`` runs one transaction: ``\\copy`` from its stdin,
    then the range's mark in the ledger with the row count. Its stdin is closed, which lets it
    commit, only once the source's ``psql`` has exited 0; otherwise it is killed and its
    transaction rolled back (a source cut short at a row's end would look like a complete copy).

    Relaying the rows through Python (psycopg's ``copy.write``, pure Python on Debian) cost the
    agent 10.5 s of CPU over the lab's 1.3 GB, twice what the target's COPY itself cost."""
    tbl, part, schema, table, columns, binary, condition = item
    qualified = f"{ident(schema)}.{ident(table)}"
    cols = ", ".join(ident(c) for c in columns)
    fmt = " (FORMAT binary)" if binary else ""
    where = f" WHERE {condition}" if condition else ""
    select = f"COPY (SELECT {cols} FROM ONLY {qualified}{where}) TO STDOUT{fmt}"
    source = config["source"]
    env = {**os.environ, "PGPASSFILE": config["passfile"], "PGAPPNAME": config["slot"] + "_copy",
           "PGCONNECT_TIMEOUT": "10"}
    reader = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", source["host"], "-p", str(source["port"]),
              "-U", source["user"], "-d", source["dbname"],
              "-c", "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
              "-c", f"SET TRANSACTION SNAPSHOT '{snapshot}'", "-c", select]
    # \copy takes the rest of its line as it is (no variable is interpolated there); :ROW_COUNT is
    # the rows it loaded.
    script = (f"\\copy {qualified} ({cols}) FROM pstdin{fmt}\n"
              f"UPDATE {ident(config['ledger'])}.ranges SET done = true, rows = :ROW_COUNT, "
              "bytes = planned_bytes, seconds = extract(epoch FROM clock_timestamp() - now()) "
              f"WHERE tbl = {literal(tbl)} AND part = {int(part)};\n")
    # In the agent's private directory, where the passfile is.
    with tempfile.NamedTemporaryFile("w", suffix=".sql", dir=os.path.dirname(config["passfile"])) as file:
        file.write(script)
        file.flush()
        writer = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction",
                  "-p", str(config["port"]), "-d", config["dbname"], "-f", file.name]
        load = subprocess.Popen(writer, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        read = subprocess.Popen(reader, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        assert read.stdout is not None and load.stdin is not None
        try:
            try:
                while os.splice(read.stdout.fileno(), load.stdin.fileno(), CHUNK):
                    pass
            except BrokenPipeError:  # the target's psql stopped, with an error
                read.kill()
                load.wait()
            else:
                if read.wait() != 0:
                    load.kill()
                    raise RuntimeError(f"source COPY of {tbl} part {part} failed: {_said(read)}")
                load.stdin.close()
            if load.wait() != 0:
                raise RuntimeError(f"target COPY of {tbl} part {part} failed: {_said(load)}")
        finally:
            for proc in (read, load):
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
    build_early(config, tbl)


def _said(proc: subprocess.Popen[bytes]) -> str:
    return proc.stderr.read().decode(errors="replace").strip()[-500:] if proc.stderr else ""


def literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


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
