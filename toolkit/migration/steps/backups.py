"""The target recoverable from the moment writes open on it: a full backup while replication
runs (before the window), WAL archived from then on, and the recovery window stated at the end."""

from __future__ import annotations

import time
from typing import Any, ClassVar

from toolkit.errors import CheckFailed
from toolkit.migration.context import MigrationContext
from toolkit.migration.step import Step


def _repository(ctx: MigrationContext) -> Any:
    from toolkit.backups.repository import Repository

    return Repository(ctx.loaded, ctx.database.target)


class FirstBackup(Step):
    """A full backup of the standby once the initial copy has landed and it streams: a restore can
    then reach any point after it, the cutover included, through the WAL archived since."""

    name: ClassVar[str] = "backup.first"

    def run(self, ctx: MigrationContext) -> None:
        if ctx.measured(self.name).get("label"):
            return  # taken before a crash: the archive has gone on since
        from toolkit.backups.status import archiving_failing

        repo = _repository(ctx)
        started = time.monotonic()
        made = repo.backup("full")
        archiver = repo.archiver()
        if archiver.get("archive_mode") != "on" or archiving_failing(archiver):
            raise CheckFailed("the target's WAL archive is not running: writes must not open on a database "
                              "that cannot be recovered (see `toolkit backup --to baremetal --status`)")
        ctx.run.measure(self.name, label=made.label, completed_at=made.stopped.timestamp(),
                        bytes=made.bytes, repository_bytes=made.repository_bytes,
                        seconds=round(time.monotonic() - started, 2))

    def plan(self, ctx: MigrationContext) -> dict[str, Any]:
        return {"type": "full", "repository": "pgBackRest stanza in the bare-metal object store",
                "then": "WAL archived continuously, the backup timers running"}

    def estimate(self, ctx: MigrationContext) -> float:
        from toolkit.migration.planning import data_sizes

        return 5.0 + data_sizes(ctx).get("database", 0) / (100 * 1024**2)


class RecoveryWindow(Step):
    """After the window: the WAL written since the cutover archived, the recovery window stated."""

    name: ClassVar[str] = "backup.window"
    gate: ClassVar[bool] = False  # writes are open on the target: nothing here rolls back

    def run(self, ctx: MigrationContext) -> None:
        from toolkit.backups.restore import wait_archived
        from toolkit.backups.status import backup_status

        repo = _repository(ctx)
        wait_archived(repo)
        status = backup_status(ctx.loaded, repo)
        for problem in status["problems"]:
            ctx.run.note(f"backups: {problem}", step=self.name)
        window = status.get("recovery_window") or {}
        ctx.run.measure(self.name, archiving=not status["archive"]["failing"], ok=status["ok"],
                        recovery_from=window.get("from"), recovery_to=window.get("to"),
                        last_archived_wal=status["archive"].get("last_archived_wal"))
