"""The initial copy, driven from the operator, done on the target's database host by the agent.

The operator plans the ranges (``ranges.page_ranges`` over the source's tables), writes them to
the ledger, ships ``agent.py`` with its config and the source's passfile (0600, postgres) to the
target host, starts it as a transient systemd unit, and follows the ledger: every range that
ends is journaled in the run (``database.copy.range``), with progress in bytes and tables.
"""

from __future__ import annotations

import json
import logging
import shlex
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolkit.data.postgres import ledger
from toolkit.data.postgres.catalog import Table
from toolkit.data.postgres.names import Names
from toolkit.data.postgres.ranges import PageRange, page_ranges
from toolkit.data.postgres.source import SourceEndpoint
from toolkit.data.postgres.sqltext import ident, literal
from toolkit.data.postgres.target import TargetHost
from toolkit.errors import CheckFailed
from toolkit.runs import Run

log = logging.getLogger(__name__)

AGENT_SOURCE = Path(__file__).with_name("agent.py")
POLL_S = 1.0
Probe = tuple[bool, dict[str, Any], list[dict[str, Any]]]  # the agent runs; its state; the ledger's ranges


class CopyFailed(CheckFailed):
    """The copy agent on the target host stopped with an error."""


def plan(tables: list[Table], workers: int) -> list[tuple[Table, list[PageRange]]]:
    """Every table's ranges, the largest tables first (the agent takes the smallest tables first)."""
    ordered = sorted(tables, key=lambda t: (-t.bytes, t.label))
    return [(table, page_ranges(table.pages, size=table.bytes, workers=workers)) for table in ordered]


def workers_on(target: TargetHost) -> int:
    cores = int(target.run("nproc", what="counting cores").stdout.strip() or 1)
    return max(2, min(8, cores * 2))  # COPY waits on I/O and on the network half the time


def install(target: TargetHost, names: Names, endpoint: SourceEndpoint) -> None:
    """The agent, its passfile and a config without secrets, in a 0700 directory of postgres."""
    target.write_private(names.passfile, endpoint.passfile_line())
    target.write_private(f"{names.directory}/agent.py", AGENT_SOURCE.read_text())


def write_config(target: TargetHost, names: Names, endpoint: SourceEndpoint, workers: int,
                 index_memory_mb: int) -> str:
    config = {"source": {"host": endpoint.host, "port": endpoint.port, "dbname": endpoint.dbname,
                         "user": endpoint.user},
              "passfile": names.passfile, "dbname": target.settings.dbname, "port": target.settings.port,
              "slot": names.slot, "ledger": names.ledger, "workers": workers,
              "index_memory_mb": index_memory_mb}
    path = f"{names.directory}/config.json"
    target.write_private(path, json.dumps(config))
    return path


def agent_state(target: TargetHost, names: Names) -> tuple[bool, dict[str, Any]]:
    """Whether the agent's unit runs, and its last state (empty when it never ran)."""
    running, state, _ = _probe(target, names, wait_s=0, with_ranges=False)
    return running, state


def poll(target: TargetHost, names: Names, *, wait_s: float) -> Probe:
    """``agent_state`` and the ledger's ranges in one SSH round trip and one sudo, after waiting on
    the host, at most ``wait_s``, for the agent to end: the operator hears of its end within 0.1 s.
    On two cores busy with the copy, a poll's processes are work taken from it."""
    return _probe(target, names, wait_s=wait_s, with_ranges=True)


def _probe(target: TargetHost, names: Names, *, wait_s: float, with_ranges: bool) -> Probe:
    unit = shlex.quote(names.unit)
    wait = (f'pid=$(systemctl show -p MainPID --value {unit}); [ "${{pid:-0}}" -gt 0 ] && '
            f'timeout {wait_s:g} tail -s 0.1 -f --pid="$pid" /dev/null; ') if wait_s > 0 else ""
    read = f"cat {shlex.quote(names.directory + '/state.json')} 2>/dev/null; echo"
    if with_ranges:
        settings = target.settings
        read += (f"; psql -X -q -At -v ON_ERROR_STOP=1 -p {settings.port} -d {shlex.quote(settings.dbname)} "
                 f"-c {shlex.quote(ledger.ranges_sql(names.ledger))}")
    out = target.run(f"{wait}systemctl is-active {unit}; sudo -n -u postgres sh -c {shlex.quote(read)}",
                     check=False).stdout
    return parse_probe(out)


def parse_probe(out: str) -> Probe:
    """The probe's output: the unit's state on the first line, the agent's ``state.json`` (or an
    empty line) on the second, the ranges' JSON array (over several lines) after them, if read."""
    lines = out.splitlines()
    running = bool(lines) and lines[0].strip() in ("active", "activating")
    state = _json(lines[1]) if len(lines) > 1 else None
    ranges = _json("\n".join(lines[2:]))
    return running, state if isinstance(state, dict) else {}, ranges if isinstance(ranges, list) else []


def _json(text: str) -> Any:
    try:
        return json.loads(text) if text.strip() else None
    except ValueError:
        return None


def start_agent(target: TargetHost, names: Names, config_path: str) -> None:
    target.run(f"sudo -n rm -f {shlex.quote(names.directory + '/state.json')}; "
               f"sudo -n systemctl reset-failed {shlex.quote(names.unit)} 2>/dev/null; "
               f"sudo -n systemd-run --quiet --collect --unit={shlex.quote(names.unit)} --uid=postgres "
               f"--gid=postgres --working-directory={shlex.quote(names.directory)} "
               f"--property=Description='toolkit: initial copy of the {names.service} database' "
               f"python3 {shlex.quote(names.directory + '/agent.py')} {shlex.quote(config_path)}",
               what="starting the copy agent")


def stop_agent(target: TargetHost, names: Names) -> bool:
    running, _ = agent_state(target, names)
    if running:
        target.run(f"sudo -n systemctl stop {shlex.quote(names.unit)}", check=False)
    return end_loaders(target, names) > 0 or running


def end_loaders(target: TargetHost, names: Names) -> int:
    """Ends the loads a stopped or killed agent left behind; how many. They run in the target's
    backends (``COPY ... FROM PROGRAM``), which outlive the agent until their COPY ends, and then
    roll back. Waits up to 10 s for each to go, so that a TRUNCATE after it does not wait on it.
    A PostgreSQL that does not answer runs no loads: that is not an error here (a failed run's
    clean-up calls this, and its own error is the one to report)."""
    try:
        out = target.psql("SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 10000)) "
                          f"FROM pg_stat_activity WHERE application_name = {literal(names.loader)} "
                          "AND pid <> pg_backend_pid();")
    except CheckFailed as exc:
        log.warning("could not look for the copy agent's loads on %s: %s", target.name, exc)
        return 0
    return int(out.strip() or 0)


def truncate_planned(target: TargetHost, names: Names) -> None:
    tables = target.json("SELECT coalesce(json_agg(DISTINCT format('%I.%I', schema_name, table_name)), "
                         f"'[]') FROM {ident(names.ledger)}.ranges")
    end_loaders(target, names)
    if tables:
        target.psql(f"TRUNCATE {', '.join(tables)};\nUPDATE {ident(names.ledger)}.ranges SET done = false, "
                    "rows = NULL, bytes = NULL, seconds = NULL;\n"
                    f"UPDATE {ident(names.ledger)}.early SET claimed = false WHERE NOT built;\n"
                    f"DELETE FROM {ident(names.ledger)}.analyzed;\n")


@dataclass
class Follower:
    """Turns the ledger's ranges into journal records and progress events."""

    run: Run
    journaled: set[tuple[str, int]]
    started: float = 0.0
    first_bytes: int = 0

    @classmethod
    def for_run(cls, run: Run) -> Follower:
        seen = {(r["values"]["table"], int(r["values"]["range"])) for r in run.journal.records()
                if r.get("event") == "measure" and r.get("step") == "database.copy.range"}
        return cls(run=run, journaled=seen, started=time.monotonic())

    def update(self, ranges: list[dict[str, Any]]) -> tuple[int, int]:
        done_bytes = sum(int(r["bytes"] or 0) for r in ranges if r["done"])
        # A range's bytes are its share of its table's size on the source's disk, planned and done
        # alike (the agent splices the rows without counting them).
        total = sum(int(r["planned_bytes"] or 0) for r in ranges)
        for r in ranges:
            key = (r["tbl"], int(r["part"]))
            if r["done"] and key not in self.journaled:
                self.journaled.add(key)
                self.run.measure("database.copy.range", table=r["tbl"], range=int(r["part"]),
                                 rows=int(r["rows"] or 0), bytes=int(r["bytes"] or 0),
                                 seconds=round(float(r["seconds"] or 0), 3))
        tables = {r["tbl"] for r in ranges}
        finished = {t for t in tables if all(r["done"] for r in ranges if r["tbl"] == t)}
        elapsed = max(1e-6, time.monotonic() - self.started)
        rate = max(0, done_bytes - self.first_bytes) / elapsed
        left = max(0, total - done_bytes)
        self.run.progress("database.copy", f"{len(finished)}/{len(tables)} tables",
                          done=done_bytes, total=max(total, done_bytes), unit="bytes",
                          rate=round(rate), eta=round(left / rate, 1) if rate > 0 else None,
                          tables_done=len(finished), tables=len(tables))
        return len(finished), len(tables)


def follow(run: Run, target: TargetHost, names: Names) -> dict[str, Any]:
    """Wait for the agent, journaling ranges as they end; its final state."""
    follower = Follower.for_run(run)
    follower.first_bytes = sum(int(r["bytes"] or 0) for r in ledger.ranges(target, names.ledger) if r["done"])
    while True:
        # Waits on the host, POLL_S at most, for the agent's end; the ranges read after it.
        running, state, ranges = poll(target, names, wait_s=POLL_S)
        follower.update(ranges)
        if not running:
            if state.get("phase") != "copied":
                raise CopyFailed(f"the copy agent on {target.name} stopped: "
                                 f"{state.get('error') or state.get('phase') or 'it left no state'}")
            return state
