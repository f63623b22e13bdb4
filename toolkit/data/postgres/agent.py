"""The copy agent: runs on the target's database host, so that no row passes through the operator.

Shipped there by ``copy.py`` and started as a transient systemd unit, as the ``postgres`` OS user,
it outlives the operator's SSH session: a ``kill -9`` of the toolkit does not end the copy, and
the command run again finds it going on. It needs only Python 3, psycopg 3 and psql (Debian:
python3-psycopg, postgresql-client), and imports nothing from the toolkit.

1. On a replication connection to the source: ``CREATE_REPLICATION_SLOT <slot> LOGICAL pgoutput
   EXPORT_SNAPSHOT``. The connection is then left idle: the snapshot lives as long as it does.
2. Workers take the pending ranges of the ledger (``<ledger>.ranges``, planned by the operator),
   the smallest tables first. Each range is one transaction of the target: ``COPY ... FROM
   PROGRAM`` runs ``psql`` against the source (a REPEATABLE READ transaction importing the
   snapshot, ``COPY (SELECT ... WHERE ctid ...) TO STDOUT``) and loads what it prints, then the
   range is marked done in the ledger. A range is therefore copied exactly once, or not at all.
   The loads run in the target's backends: a killed agent's roll back when their COPY ends, and
   the operator ends them sooner (``copy.end_loaders``), by their ``application_name``.
   The worker that commits a table's last range then builds that table's keys and indexes (the
   ledger's ``early`` list, claimed so that one worker builds them) and ANALYZEs it (claimed in
   the ledger's ``analyzed``), while the others copy on.
3. When every range is done, the snapshot is released (the slot stays) and the agent exits 0.

The source's password comes from a 0600 passfile (``PGPASSFILE``), never from a command line.
State for the operator: ``state.json`` next to the config (phase, slot, LSN, error).
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import sys
import threading
import time
from typing import Any

import psycopg
from psycopg import sql


def write_state(path: str, **state: Any) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as handle:
        json.dump({**state, "pid": os.getpid(), "at": time.time()}, handle)
    os.replace(tmp, path)


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def loader_name(config: dict[str, Any]) -> str:
    """The ``application_name`` of the agent's connections to the target."""
    return f"{config['slot']}_load"


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


def build_early(target: psycopg.Connection[Any], config: dict[str, Any], tbl: str, qualified: str) -> None:
    """Once ``tbl``'s last range is in: its keys and indexes, each committed with its ledger mark,
    then its statistics."""
    ledger = ident(config["ledger"])
    row = target.execute(f"SELECT count(*) FROM {ledger}.ranges WHERE tbl = %s AND NOT done",
                         (tbl,)).fetchone()
    if row is None or row[0]:
        return
    claimed = target.execute(f"UPDATE {ledger}.early SET claimed = true WHERE tbl = %s AND NOT claimed "
                             "AND NOT built RETURNING name, statement", (tbl,)).fetchall()
    for name, statement in claimed:
        with target.transaction():
            target.execute(statement)
            target.execute(f"UPDATE {ledger}.early SET built = true WHERE tbl = %s AND name = %s",
                           (tbl, name))
    analyze_early(target, config, tbl, qualified)


def analyze_early(target: psycopg.Connection[Any], config: dict[str, Any], tbl: str, qualified: str) -> None:
    """ANALYZE of a table copied whole with its keys and indexes built (expression indexes have
    statistics too), claimed in the ledger so that one worker runs it: while the other tables
    still copy, rather than all at the end. Not a partition: its indexes come with post-data."""
    ledger = ident(config["ledger"])
    with target.transaction():
        claimed = target.execute(
            f"INSERT INTO {ledger}.analyzed (tbl) SELECT %s WHERE NOT EXISTS (SELECT 1 FROM {ledger}.early "
            "WHERE tbl = %s AND NOT built) AND NOT (SELECT relispartition FROM pg_class "
            "WHERE oid = %s::regclass) ON CONFLICT DO NOTHING RETURNING tbl",
            (tbl, tbl, qualified)).fetchone()
        if claimed:
            target.execute(f"ANALYZE {qualified}")


def copy_range(target: psycopg.Connection[Any], config: dict[str, Any], snapshot: str,
               item: tuple[Any, ...]) -> None:
    """One range, in one transaction of the target: ``COPY ... FROM PROGRAM`` runs ``psql`` on the
    source's side of the pipe, so that the target's backend reads the rows straight from it, and the
    range's mark in the ledger (with the row count) commits with them. PostgreSQL fails the COPY,
    and the transaction, when the program exits non-zero: a source cut short at a row's end cannot
    pass for a complete copy.

    Each range was a pipe from ``psql`` into ``psql`` before, spliced by the agent: without the
    target's ``psql`` the whole machine's CPU over the lab's 1.3 GB copy fell from 69.4 s to 58.5 s
    (perf, every process), on two cores busy throughout. Relaying the rows through Python before
    that (psycopg's ``copy.write``) cost the agent alone 10.5 s."""
    tbl, part, schema, table, columns, binary, condition = item
    qualified = f"{ident(schema)}.{ident(table)}"
    cols = ", ".join(ident(c) for c in columns)
    fmt = " (FORMAT binary)" if binary else ""
    where = f" WHERE {condition}" if condition else ""
    select = f"COPY (SELECT {cols} FROM ONLY {qualified}{where}) TO STDOUT{fmt}"
    source = config["source"]
    # In the agent's private directory: what the source's psql said, for the error if it fails.
    said = os.path.join(os.path.dirname(config["passfile"]), f"range-{threading.get_ident()}.err")
    # stdbuf: psql writes its stdout in 1 MB blocks, not 4 KB ones (a row at a time into stdio's
    # default buffer); on the lab's 1.07 GB table that halved the system time of psql and its reader.
    reader = ["env", f"PGPASSFILE={config['passfile']}", f"PGAPPNAME={config['slot']}_copy",
              "PGCONNECT_TIMEOUT=10", "stdbuf", "-o", "1M", "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1",
              "-h", source["host"], "-p", str(source["port"]), "-U", source["user"], "-d", source["dbname"],
              "-c", "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
              "-c", f"SET TRANSACTION SNAPSHOT '{snapshot}'", "-c", select]
    program = " ".join(shlex.quote(arg) for arg in reader) + f" 2>{shlex.quote(said)}"
    try:
        with target.transaction():
            cursor = target.execute(sql.SQL("COPY {} ({}) FROM PROGRAM {}{}").format(
                sql.SQL(qualified), sql.SQL(cols), sql.Literal(program), sql.SQL(fmt)))
            target.execute(sql.SQL(
                "UPDATE {}.ranges SET done = true, rows = %s, bytes = planned_bytes, "
                "seconds = extract(epoch FROM clock_timestamp() - now()) WHERE tbl = %s AND part = %s"
            ).format(sql.Identifier(config["ledger"])), (cursor.rowcount, tbl, int(part)))
    except psycopg.Error as exc:
        raise RuntimeError(f"the copy of {tbl} part {part} failed: {str(exc).strip()} {_said(said)}") from exc
    finally:
        with contextlib.suppress(OSError):
            os.unlink(said)


def _said(path: str) -> str:
    try:
        with open(path, errors="replace") as handle:
            return handle.read().strip()[-500:]
    except OSError:
        return ""


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
            try:
                # One connection a worker, named so that the operator can end what a killed agent
                # left loading (the loads run in the target's backends, not in the agent).
                with psycopg.connect(dbname=config["dbname"], port=config["port"], autocommit=True,
                                     application_name=loader_name(config)) as target:
                    target.execute(f"SET maintenance_work_mem = '{int(config['index_memory_mb'])}MB'")
                    while True:
                        with lock:
                            if not work or failures:
                                return
                            item = work.pop(0)
                        copy_range(target, config, snapshot, item)
                        build_early(target, config, item[0], f"{ident(item[2])}.{ident(item[3])}")
            except Exception as exc:  # one failure stops the others: the operator decides
                with lock:
                    failures.append(f"{exc}")

        threads = [threading.Thread(target=worker) for _ in range(max(1, int(config["workers"])))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        replication.close()  # the snapshot ends here; the slot stays for the subscription
        if not failures:  # "copied" is said only of a ledger with nothing left to copy
            with psycopg.connect(dbname=config["dbname"], port=config["port"], autocommit=True) as target:
                left = len(pending_ranges(target, config["ledger"]))
            if left:
                failures.append(f"{left} ranges were not copied, and no worker said why")
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
