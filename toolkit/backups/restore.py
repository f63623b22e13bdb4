"""``toolkit restore``: a point in time of the database, restored from the repository and verified.

Into a scratch cluster (the default): pgBackRest restores the backup before the target time into a
new data directory on the database host and writes the recovery settings; PostgreSQL replays the
archived WAL up to the time and promotes. The cluster runs beside the live one on a free port,
with WAL archiving off (it must never write into the live stanza's archive) and no logical
replication worker (a restored subscription must not consume the live one's slot). Every table is
then read in full and digested the way ``verify`` digests the two sides of a replication (row
count and content digest per table), which proves that the restored data is readable and gives
figures to compare with a digest taken at that time. The scratch cluster is removed unless kept.

Over the live cluster (``in_place``): PostgreSQL is stopped, its data directory kept aside
(renamed, reported), the point in time restored in its place, and the cluster started again; it
archives on a new timeline. The caller asks for confirmation first.
"""

from __future__ import annotations

import logging
import shlex
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from toolkit.backups.repository import Repository
from toolkit.data.postgres import catalog, checksums
from toolkit.data.postgres.sqltext import SESSION_SETTINGS
from toolkit.data.postgres.target import TargetHost
from toolkit.data.postgres.verify import all_in_one
from toolkit.errors import BadInput, CheckFailed
from toolkit.spec import LoadedSpec

log = logging.getLogger(__name__)

PG_BIN = "/usr/lib/postgresql/{version}/bin"
SOCKET_DIR = "/var/run/postgresql"
SCRATCH_ROOT = "/var/lib/postgresql/toolkit-restore"
ARCHIVED_WAIT_S = 120.0
PROMOTE_WAIT_S = 3600.0
SCRATCH_SETTINGS = """\
# Written by toolkit restore: a scratch cluster beside the live one.
port = {port}
listen_addresses = 'localhost'
unix_socket_directories = '{socket_dir}'
max_logical_replication_workers = 0
logging_collector = off
"""
SCRATCH_HBA = "local all postgres peer\n"


@dataclass
class Restored:
    host: str
    port: int
    data_directory: str
    target_time: str | None
    backup: str
    kept: bool
    seconds: dict[str, float] = field(default_factory=dict)
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"host": self.host, "port": self.port, "data_directory": self.data_directory,
                "target_time": self.target_time, "backup": self.backup, "kept": self.kept,
                "user": "postgres", "seconds": self.seconds, "tables": self.tables,
                "rows": sum(int(t["rows"]) for t in self.tables.values())}


def parse_time(text: str) -> datetime:
    """An ISO 8601 time; without a zone it is UTC."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise BadInput(f"--time {text!r} is not a time like 2026-12-05T14:03:00Z") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def check_reachable(repo: Repository, moment: datetime | None) -> str:
    """The label of the backup a restore to ``moment`` (None: the latest) starts from; bad input when
    none can reach it."""
    backups = repo.backups()
    if not backups:
        raise CheckFailed(f"{repo.target.name}: the repository holds no backup to restore from")
    if moment is None:
        return backups[-1].label
    if moment > datetime.now(UTC):
        raise BadInput(f"--time {moment.isoformat()} is in the future")
    # pgBackRest records whole seconds: a backup is surely consistent before ``moment`` only when
    # its stop second has passed by then.
    usable = [b for b in backups if b.stopped + timedelta(seconds=1) <= moment]
    if not usable:
        raise BadInput(f"--time {moment.isoformat()} is before the recovery window, which starts at "
                       f"{backups[0].stopped.isoformat()} (the oldest backup's end)")
    return usable[-1].label


def wait_archived(repo: Repository, timeout: float = ARCHIVED_WAIT_S) -> None:
    """Close the live cluster's current WAL segment and wait until the archiver has it, so that
    a time up to now is in the repository."""
    segment = repo.switch_wal()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # A backup history file (SEGMENT.OFFSET.backup) is archived after its stop segment.
        if str(repo.archiver().get("last_archived_wal") or "")[:24] >= segment:
            return
        time.sleep(0.5)
    raise CheckFailed(f"{repo.target.name}: WAL segment {segment} was not archived within {timeout:.0f} s "
                      "(see `toolkit backup --to baremetal --status`)")


def table_digests(target: TargetHost) -> dict[str, dict[str, Any]]:
    """Row count and content digest of every table of the database, in one query (verify's digests)."""
    tables = catalog.tables_from(target.json(catalog.TABLES_SQL))
    if not tables:
        return {}
    answers = target.json(all_in_one([checksums.digest_sql(t) for t in tables]), prelude=SESSION_SETTINGS)
    found = {}
    for table, digest in zip(tables, answers, strict=True):
        rows = sum(int(d["rows"]) for d in digest)
        found[table.label] = {"rows": rows, "digest": digest[0]["digest"] if digest else None}
    return found


def recovery_target(backup: str, moment: datetime | None) -> list[str]:
    """pgBackRest's restore options: from ``backup`` (the set check_reachable chose, not pgBackRest's
    own whole-second pick) to ``moment``, or to the end of the archived WAL; then promote."""
    if moment is None:
        return [f"--set={backup}"]  # replays every archived segment, then promotes
    return [f"--set={backup}", "--type=time", f"--target={moment.isoformat(sep=' ')}",
            "--target-action=promote"]


def start_and_promote(target: TargetHost, bin_dir: str, directory: str, port: int) -> None:
    """Start the cluster in ``directory`` and wait until it has replayed to its target and promoted."""
    quoted = shlex.quote(directory)
    start = f"{bin_dir}/pg_ctl -D {quoted} -l {quoted}/restore.log -w -t 600 start"
    result = target.run(target.as_postgres(start), timeout=700.0, check=False)
    if result.status != 0 or not wait_promoted(target, port):
        tail = target.run(f"sudo -n tail -n 8 {quoted}/restore.log", check=False).stdout.strip()
        raise CheckFailed(f"{target.name}: the restored cluster did not come up: {tail[-900:]}")


def wait_promoted(target: TargetHost, port: int, timeout: float = PROMOTE_WAIT_S) -> bool:
    """Until the cluster on ``port`` has left recovery; False when it stopped or did not in time."""
    deadline = time.monotonic() + timeout
    ask = target.as_postgres(f"psql -X -At -p {port} -d postgres -c 'SELECT pg_is_in_recovery()'")
    while time.monotonic() < deadline:
        state = target.run(ask, check=False)
        if state.stdout.strip() == "f":
            return True
        if state.status != 0 and "No such file" in state.stderr:
            return False  # the server stopped: recovery failed
        time.sleep(0.5)
    return False


def free_port(target: TargetHost, start: int) -> int:
    taken = target.run(f"ls -a {SOCKET_DIR}", check=False).stdout.split()
    port = start
    while f".s.PGSQL.{port}" in taken:
        port += 1
    return port


class ScratchRestore:
    """One restore into a scratch cluster on the database host."""

    def __init__(self, loaded: LoadedSpec, repo: Repository | None = None) -> None:
        self.loaded = loaded
        self.repo = repo or Repository(loaded)
        self.target = self.repo.target
        self.bin = PG_BIN.format(version=loaded.spec.database.version)

    def run(self, moment: datetime | None, *, keep: bool = False, port: int | None = None) -> Restored:
        started = time.monotonic()
        backup = check_reachable(self.repo, moment)
        wait_archived(self.repo)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        directory = f"{SCRATCH_ROOT}/{stamp}"
        port = port or free_port(self.target, self.loaded.spec.database.port + 1)
        restored = Restored(host=self.target.name, port=port, data_directory=directory,
                            target_time=moment.isoformat() if moment else None, backup=backup, kept=keep)
        try:
            self._restore(directory, backup, moment, port)
            restored.seconds["restore"] = round(time.monotonic() - started, 2)
            start_and_promote(self.target, self.bin, directory, port)
            restored.seconds["recovery"] = round(time.monotonic() - started - restored.seconds["restore"], 2)
            before = time.monotonic()
            scratch = TargetHost(replace(self.target.settings, port=port))
            try:
                restored.tables = table_digests(scratch)
            finally:
                scratch.close()
            restored.seconds["verify"] = round(time.monotonic() - before, 2)
        finally:
            if not keep:
                self.remove(directory)
        restored.seconds["total"] = round(time.monotonic() - started, 2)
        return restored

    def _restore(self, directory: str, backup: str, moment: datetime | None, port: int) -> None:
        self.target.run(f"sudo -n install -d -m 0700 -o postgres -g postgres {SCRATCH_ROOT}", what="mkdir")
        self.repo.pgbackrest(f"--pg1-path={directory}", "--archive-mode=off",
                             *recovery_target(backup, moment), "restore")
        # Debian keeps a cluster's settings outside its data directory: the scratch one gets its own.
        settings = SCRATCH_SETTINGS.format(port=port, socket_dir=SOCKET_DIR)
        self.target.write_private(f"{directory}/postgresql.conf", settings)
        self.target.write_private(f"{directory}/pg_hba.conf", SCRATCH_HBA)

    def remove(self, directory: str) -> None:
        quoted = shlex.quote(directory)
        stop = f"{self.bin}/pg_ctl -D {quoted} -m immediate stop"
        self.target.run(self.target.as_postgres(stop), check=False)
        self.target.run(f"sudo -n rm -rf {quoted}", check=False)
        log.info("restore: removed the scratch cluster %s", directory)


def restore_in_place(loaded: LoadedSpec, moment: datetime | None,
                     repo: Repository | None = None) -> dict[str, Any]:
    """The live cluster replaced by the point in time; its data directory kept aside, named in the result."""
    repo = repo or Repository(loaded)
    target, version = repo.target, loaded.spec.database.version
    backup = check_reachable(repo, moment)
    wait_archived(repo)
    started = time.monotonic()
    unit = f"postgresql@{version}-main.service"
    data = f"/var/lib/postgresql/{version}/main"
    aside = f"{data}.before-restore-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}"
    target.run(f"sudo -n systemctl stop {unit}", what=f"stopping {unit}")
    target.run(f"sudo -n mv {shlex.quote(data)} {shlex.quote(aside)}", what="moving the data directory aside")
    log.warning("restore: %s stopped, its data directory kept as %s", unit, aside)
    repo.pgbackrest(*recovery_target(backup, moment), "restore")
    target.run(f"sudo -n systemctl start {unit}", timeout=700.0, what=f"starting {unit}")
    if not wait_promoted(target, loaded.spec.database.port):
        journal = target.run(f"sudo -n journalctl -u {unit} -n 10 --no-pager -o cat", check=False).stdout
        raise CheckFailed(f"{target.name}: the restored live cluster did not come up (its former data is "
                          f"{aside}): {journal.strip()[-900:]}")
    return {"host": target.name, "port": loaded.spec.database.port,
            "target_time": moment.isoformat() if moment else None, "backup": backup,
            "previous_data_directory": aside, "seconds": round(time.monotonic() - started, 2),
            "tables": table_digests(target)}
