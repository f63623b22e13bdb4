"""The PostgreSQL mover: the source (RDS) copied and streamed into the bare-metal database.

Steps of ``start`` (each one ``database.<name>`` in the run; what ended is recorded in the
target's ledger, so the command run again continues where things stand):

1. ``prepare``: the ledger on the target, the copy agent and the source's passfile on the target's
   database host, ``REPLICA IDENTITY FULL`` where asked, the publication (table by table);
2. ``schema``: the source's schema without indexes, keys or foreign keys (``schema.py``);
3. ``copy``: the agent's exported-snapshot copy, parallel across tables and ctid ranges
   (``agent.py``, ``copy.py``, ``resume.py``);
4. ``indexes``, ``analyze``: post-data in parallel (what the agent did not build), then ANALYZE
   of the tables the agent did not analyze (it analyzes each table once its copy and keys are in);
5. ``subscribe``: a native subscription on the agent's slot, ``copy_data = false``;
6. ``catchup``: until the target has applied what the source had written;
7. ``sequences``: their values (also a step of its own for the cutover: ``sync_sequences``).

Why the snapshot copy rather than a subscription with ``copy_data = true``: native table sync
copies each table in one transaction with one process, so one large table bounds the whole copy
and a crash restarts that table; the ranged copy spreads a large table over every worker (see the
README's database-copy benchmark for the measured difference).
"""

from __future__ import annotations

import logging
import shlex
import time
from typing import Any

from toolkit.data.mover import DataMover, Finding, MoverOptions, Verification
from toolkit.data.postgres import catalog, copy, ledger, preflight, schema, sequences, stream
from toolkit.data.postgres import verify as verifying
from toolkit.data.postgres.catalog import Table
from toolkit.data.postgres.names import Names
from toolkit.data.postgres.resume import CopyAction, Observed, plan_copy, redo_reason
from toolkit.data.postgres.source import SourceEndpoint, connect, scalar, source_endpoint
from toolkit.data.postgres.target import TargetHost, target_settings
from toolkit.errors import CheckFailed
from toolkit.runs import Run
from toolkit.spec import LoadedSpec

log = logging.getLogger(__name__)

RETAINED_WAL_WARNING = 1 << 30  # a slot holding more than this is a disk about to fill
CATCH_UP_TIMEOUT_S = 3600.0


class PostgresMover(DataMover):
    kind = "database"

    def __init__(self, loaded: LoadedSpec, options: MoverOptions | None = None) -> None:
        super().__init__(loaded, options)
        self.names = Names(loaded.spec.service.name)
        self._endpoint: SourceEndpoint | None = None
        self._target: TargetHost | None = None

    # -- the two sides ----------------------------------------------------------------------------
    @property
    def endpoint(self) -> SourceEndpoint:
        if self._endpoint is None:
            self._endpoint = source_endpoint(self.loaded)
        return self._endpoint

    @property
    def target(self) -> TargetHost:
        if self._target is None:
            self._target = TargetHost(target_settings(self.loaded))
        return self._target

    def _tables(self, conn: Any) -> list[Table]:
        return catalog.tables_from(scalar(conn, catalog.TABLES_SQL))

    # -- hooks ------------------------------------------------------------------------------------
    def source_preflight(self) -> list[Finding]:
        """The source's part of ``preflight`` (settings, privileges, tables replication cannot
        carry): what can be checked before the target exists."""
        with connect(self.endpoint) as conn:
            return preflight.source_findings(conn, self._tables(conn), self.names,
                                             self.options.replica_identity_full)

    def preflight(self) -> list[Finding]:
        with connect(self.endpoint) as conn:
            tables = self._tables(conn)
            found = preflight.source_findings(conn, tables, self.names, self.options.replica_identity_full)
            extensions = preflight.source_extensions(conn)
            size = int(scalar(conn, "SELECT pg_database_size(current_database())"))
        found += preflight.target_findings(self.target, self.names, extensions, size)
        return found

    def start(self, run: Run) -> None:
        target, names = self.target, self.names
        with connect(self.endpoint) as conn:
            tables = self._tables(conn)
            with run.step("database.prepare"):
                self._prepare(run, conn, tables)
            try:
                self._load(run, conn, tables)
            except BaseException:
                if not stream.subscription_exists(target, names):
                    removed = self._remove_source_objects(conn)
                    if removed:
                        run.note("the run stopped before streaming began; removed from the source: "
                                 + ", ".join(removed) + " (the next run copies again)", step="database.copy")
                raise
            with run.step("database.catchup"):
                self._catch_up(run, conn)
            with run.step("database.sequences"):
                run.measure("database.sequences", synced=sequences.sync(conn, target))

    def status(self) -> dict[str, Any]:
        names, target = self.names, self.target
        with connect(self.endpoint) as conn:
            slot = stream.slot(conn, names)
            publication = stream.publication_exists(conn, names)
            lag_seconds = scalar(conn, "SELECT extract(epoch FROM replay_lag) FROM pg_stat_replication "
                                       "WHERE application_name = %s", (names.subscription,))
        subscribed = stream.subscription_exists(target, names)
        running, agent = copy.agent_state(target, names)
        ranges = ledger.ranges(target, names.ledger)
        tables = stream.subscription_tables(target, names) if subscribed else {}
        copied = {r["tbl"] for r in ranges}
        for label in sorted(copied):
            if label not in tables:
                parts = [r for r in ranges if r["tbl"] == label]
                done = sum(1 for r in parts if r["done"])
                tables[label] = "copied" if done == len(parts) else f"copying ({done}/{len(parts)} ranges)"
        if subscribed:
            state = "streaming"
        elif running:
            state = "copying"
        elif slot or publication or ranges:
            state = "stopped before streaming"
        else:
            state = "not started"
        warnings = []
        if slot and slot["retained_wal_bytes"] > RETAINED_WAL_WARNING:
            held = slot["retained_wal_bytes"] // 2**20
            warnings.append(f"the slot {names.slot} holds {held} MiB of WAL on the source; if nothing reads "
                            "it, its disk fills: run replicate again, or --stop")
        if slot and not slot["active"] and subscribed:
            warnings.append(f"nothing reads the slot {names.slot}: the subscription on {target.name} "
                            "is not connected")
        lag_bytes = slot["lag_bytes"] if slot else None
        return {
            "state": state,
            "lag_bytes": lag_bytes,
            "lag_seconds": (0.0 if lag_bytes == 0 else round(float(lag_seconds), 3))
            if lag_seconds is not None or lag_bytes == 0 else None,
            "retained_wal_bytes": slot["retained_wal_bytes"] if slot else 0,
            "source_objects": [f"publication {names.publication}"] * bool(publication)
            + [f"replication slot {names.slot}"] * bool(slot),
            "target_objects": [f"subscription {names.subscription} on {target.name}"] * subscribed
            + [f"copy agent {names.unit} on {target.name}"] * running,
            "copy": {"agent": agent.get("phase"), "ranges": len(ranges),
                     "ranges_done": sum(1 for r in ranges if r["done"]),
                     "bytes_done": sum(int(r["bytes"] or 0) for r in ranges if r["done"])},
            "tables": tables,
            "warnings": warnings,
        }

    def verify(self, *, live: bool = False) -> Verification:
        """``live``: the source still takes writes; differing key ranges come back unsettled
        (``compared["unsettled"]``) for ``recheck`` once the source is frozen."""
        with connect(self.endpoint) as conn, self._passfile():
            return verifying.verify(conn, self.target, self.names, self.endpoint, live=live)

    def recheck(self, unsettled: list[dict[str, Any]]) -> Verification:
        """Digest again what a live ``verify`` left unsettled (the source frozen, the target drained)."""
        with connect(self.endpoint) as conn:
            return verifying.recheck(conn, self.target, [verifying.Unsettled(**item) for item in unsettled])

    def key_ceilings(self, unsettled: list[dict[str, Any]]) -> dict[str, int]:
        """A drill's marker: the largest key, now, of each unsettled table with an integer key."""
        with connect(self.endpoint) as conn:
            return verifying.key_ceilings(conn, [verifying.Unsettled(**item) for item in unsettled])

    def recheck_live(self, unsettled: list[dict[str, Any]], ceilings: dict[str, int]) -> Verification:
        """A drill's recheck: ``recheck`` while the source still takes writes (``verify.recheck_live``)."""
        with connect(self.endpoint) as conn:
            return verifying.recheck_live(conn, self.target, self.names,
                                          [verifying.Unsettled(**item) for item in unsettled], ceilings)

    def stream_health(self) -> dict[str, Any]:
        """What the cutover window checks instead of digesting everything again: the subscription's
        error count and the tables that are not streaming. Reads the target only; cheap at any size."""
        tables, errors = stream.health(self.target, self.names)
        return {"apply_errors": errors, "tables": len(tables),
                "not_streaming": sorted(name for name, state in tables.items() if state != "ready")}

    def stop(self) -> list[str]:
        names, target = self.names, self.target
        removed = []
        if copy.stop_agent(target, names):
            removed.append(f"copy agent {names.unit} on {target.name}")
        if stream.drop_subscription(target, names):
            removed.append(f"subscription {names.subscription} on {target.name}")
        changes = ledger.source_changes(target, names.ledger)
        with connect(self.endpoint) as conn:
            removed += self._remove_source_objects(conn)
            for change in changes:
                conn.execute(change["undo"])
                removed.append(change["what"])
        if ledger.drop(target, names.ledger):
            removed.append(f"ledger schema {names.ledger} on {target.name}")
        if target.run(f"sudo -n test -d {shlex.quote(names.directory)}", check=False).status == 0:
            target.run(f"sudo -n rm -rf {shlex.quote(names.directory)}")
            removed.append(f"{names.directory} (agent, passfile) on {target.name}")
        return removed

    def size_bytes(self) -> int:
        """The source database's size on disk (what the copy moves, indexes included)."""
        with connect(self.endpoint) as conn:
            return int(scalar(conn, "SELECT pg_database_size(current_database())"))

    def probe_bytes_per_second(self, size_mb: int = 32) -> float:
        """Server to server, as the copy travels: the target host reads ``size_mb`` from the source."""
        names = self.names
        select = f"COPY (SELECT repeat('x', 1048575) FROM generate_series(1, {int(size_mb)})) TO STDOUT"
        command = self.target.as_postgres(
            f"env PGPASSFILE={shlex.quote(names.passfile)} psql -X -q "
            f"{shlex.quote(self.endpoint.conninfo())} -c {shlex.quote(select)}") + " > /dev/null"
        with self._passfile():
            started = time.monotonic()
            self.target.run(command, what="the bandwidth probe")
            seconds = time.monotonic() - started
        return size_mb * 1024**2 / max(seconds, 1e-3)

    def sync_sequences(self) -> int:
        """The cutover's step: every sequence's value copied to the target; how many."""
        with connect(self.endpoint) as conn:
            return sequences.sync(conn, self.target)

    # -- steps ------------------------------------------------------------------------------------
    def _prepare(self, run: Run, conn: Any, tables: list[Table]) -> None:
        target, names = self.target, self.names
        copy.install(target, names, self.endpoint)
        ledger.ensure(target, names.ledger)
        if self.options.replica_identity_full:
            for table in tables:
                if table.replicable:
                    continue
                ledger.record_source_change(target, names.ledger,
                                            f"REPLICA IDENTITY of {table.label} back to DEFAULT",
                                            f"ALTER TABLE {table.qualified} REPLICA IDENTITY DEFAULT")
                conn.execute(f"ALTER TABLE {table.qualified} REPLICA IDENTITY FULL")
                run.note(f"{table.label}: REPLICA IDENTITY FULL set on the source "
                         f"({preflight.IDENTITY_FULL_COST})", step="database.prepare")
        if not stream.publication_exists(conn, names):
            stream.create_publication(conn, names, tables)
            run.measure("database.prepare", publication=names.publication, tables=len(tables))

    def _load(self, run: Run, conn: Any, tables: list[Table]) -> None:
        target, names = self.target, self.names
        done = ledger.phases(target, names.ledger)
        jobs = copy.workers_on(target)
        if "schema" not in done:
            with run.step("database.schema"):
                schema.dump(target, names, self.endpoint)
                schema.restore(target, names, "pre-data", strict="schema.started" not in done)
                ledger.record_phase(target, names.ledger, "schema")
        if "copy" not in done:
            with run.step("database.copy"):
                self._copy(run, conn, tables, jobs)
                ledger.record_phase(target, names.ledger, "copy")
        if "indexes" not in done:
            with run.step("database.indexes"):
                ledger.record_phase(target, names.ledger, "indexes.started")
                schema.restore(target, names, "post-data", jobs=jobs, strict="indexes.started" not in done,
                               skip=ledger.built_early(target, names.ledger))
                ledger.record_phase(target, names.ledger, "indexes")
        if "analyze" not in done:
            with run.step("database.analyze"):
                schema.analyze(target, names, jobs, target.json(ledger.left_to_analyze_sql(names.ledger)))
                ledger.record_phase(target, names.ledger, "analyze")
        if not stream.subscription_exists(target, names):
            with run.step("database.subscribe"):
                stream.create_subscription(target, names, self.endpoint)
                ledger.record_phase(target, names.ledger, "subscribe")

    def _copy(self, run: Run, conn: Any, tables: list[Table], jobs: int) -> None:
        target, names = self.target, self.names
        running, state, ranges = copy.poll(target, names, wait_s=0)
        seen = Observed(copy_recorded=False, ranges_planned=len(ranges),
                        ranges_done=sum(1 for r in ranges if r["done"]), agent_running=running,
                        agent_phase=state.get("phase"), slot_exists=stream.slot(conn, names) is not None)
        action = plan_copy(seen)
        run.measure("database.copy", action=action.value, ranges_planned=seen.ranges_planned,
                    ranges_done=seen.ranges_done)
        if action is CopyAction.ATTACH:
            run.note(f"the copy agent on {target.name} is still copying: following it", step="database.copy")
        if action is CopyAction.REDO:
            run.note(f"redoing the copy: {redo_reason(seen)}. Every planned table is truncated on the target "
                     "and copied again from a fresh slot and snapshot (the schema is kept)",
                     step="database.copy")
            stream.drop_slot(conn, names)
            copy.truncate_planned(target, names)
        if action is CopyAction.START or (action is CopyAction.REDO and not ranges):
            builds = [(row[0], row[1], row[2], row[3]) for row in scalar(conn, catalog.EARLY_BUILDS_SQL)]
            target.psql(ledger.plan_sql(names.ledger, copy.plan(tables, jobs))
                        + ledger.early_sql(names.ledger, builds))
        if action in (CopyAction.START, CopyAction.REDO):
            memory = schema.index_memory_mb(target, jobs)
            config = copy.write_config(target, names, self.endpoint, jobs, memory)
            copy.start_agent(target, names, config)
        if action is CopyAction.FINISH:
            copy.Follower.for_run(run).update(ledger.ranges(target, names.ledger))
        else:
            copy.follow(run, target, names)

    def _catch_up(self, run: Run, conn: Any) -> None:
        position = scalar(conn, "SELECT pg_current_wal_lsn()::text")
        deadline = time.monotonic() + CATCH_UP_TIMEOUT_S
        while True:
            lag = scalar(conn, "SELECT pg_wal_lsn_diff(%s::pg_lsn, confirmed_flush_lsn)::bigint FROM "
                               "pg_replication_slots WHERE slot_name = %s", (position, self.names.slot))
            if lag is None:
                raise CheckFailed(f"the replication slot {self.names.slot} disappeared from the source")
            run.progress("database.catchup", "applying what the source wrote during the copy",
                         lag_bytes=max(0, int(lag)))
            if lag <= 0:
                return
            if time.monotonic() > deadline:
                raise CheckFailed(f"the target did not catch up within {CATCH_UP_TIMEOUT_S:.0f} s "
                                  f"({lag} bytes behind); see replicate --status")
            time.sleep(0.5)

    def detach(self) -> bool:
        """The target stops applying the source's changes (a drill's target once its writes opened)."""
        return stream.disable_subscription(self.target, self.names)

    def release_source(self) -> list[str]:
        """The source's slot and publication only, for when ``stop`` could not reach the target:
        the target's reader is cut off first (a drill's teardown must free the source whatever
        became of its hosts)."""
        with connect(self.endpoint) as conn:
            conn.execute("SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots "
                         "WHERE slot_name = %s AND active", (self.names.slot,))
            names = self.names
            removed = [f"replication slot {names.slot}"] * stream.drop_slot(conn, names)
            return removed + [f"publication {names.publication}"] * stream.drop_publication(conn, names)

    def _remove_source_objects(self, conn: Any) -> list[str]:
        removed = []
        if copy.stop_agent(self.target, self.names):
            removed.append(f"copy agent {self.names.unit} on {self.target.name}")
        if stream.drop_slot(conn, self.names):
            removed.append(f"replication slot {self.names.slot}")
        if stream.drop_publication(conn, self.names):
            removed.append(f"publication {self.names.publication}")
        return removed

    def _passfile(self) -> Any:
        """The source's passfile on the target host for the duration of a check, if it is not there."""
        import contextlib

        @contextlib.contextmanager
        def ensure() -> Any:
            probe = f"sudo -n test -f {shlex.quote(self.names.passfile)}"
            present = self.target.run(probe, check=False).status == 0
            if not present:
                self.target.write_private(self.names.passfile, self.endpoint.passfile_line())
            try:
                yield
            finally:
                if not present:
                    self.target.run(f"sudo -n rm -rf {shlex.quote(self.names.directory)}", check=False)

        return ensure()
