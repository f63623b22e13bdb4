"""``toolkit backup --status``: is the database recoverable, and to when?

Problems (the status exits 1 on any): no backup in the repository, the repository unreachable,
the WAL archiver failing (its last failure after its last success: ``archive_command`` is failing
now, so the recovery window stops growing), a backup timer not active, the last full backup older
than the retention.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from toolkit.backups.repository import STATUS_IO_TIMEOUT_S, Repository
from toolkit.errors import CheckFailed
from toolkit.spec import LoadedSpec


def _when(value: Any) -> datetime | None:
    return datetime.fromisoformat(str(value)) if value else None


def archiving_failing(archiver: dict[str, Any]) -> bool:
    failed, archived = _when(archiver.get("last_failed_time")), _when(archiver.get("last_archived_time"))
    return failed is not None and (archived is None or failed > archived)


def backup_status(loaded: LoadedSpec, repository: Repository | None = None) -> dict[str, Any]:
    repo = repository or Repository(loaded)
    now = datetime.now(UTC)
    problems: list[str] = []
    status: dict[str, Any] = {"host": repo.target.name, "stanza": repo.stanza,
                              "retention_days": loaded.spec.database.backups.retention_days}
    archiver = repo.archiver()
    status["archive"] = {**archiver, "failing": archiving_failing(archiver)}
    if archiver.get("archive_mode") != "on":
        problems.append("archive_mode is off: WAL is not archived, there is no point-in-time recovery")
    if status["archive"]["failing"]:
        problems.append(f"archiving is failing: {archiver.get('last_failed_wal')} failed at "
                        f"{archiver.get('last_failed_time')} ({archiver.get('failed_count')} failures; "
                        f"last success {archiver.get('last_archived_wal') or 'never'}); "
                        "see the PostgreSQL log")
    info = None
    if unreachable := repo.unreachable():
        problems.append(f"the repository cannot be read: {unreachable}")
    else:
        try:
            info = repo.info(io_timeout=STATUS_IO_TIMEOUT_S)
        except CheckFailed as exc:
            problems.append(f"the repository cannot be read: {exc}")
    if info is not None:
        backups = repo.backups(info)
        status["encrypted"] = info.get("cipher", "none") != "none"
        status["backups"] = [b.to_json() for b in backups]
        archive = (info.get("archive") or [{}])[-1]
        status["repository_wal"] = {"min": archive.get("min"), "max": archive.get("max")}
        fulls = [b for b in backups if b.type == "full"]
        if fulls:
            last = fulls[-1]
            age = (now - last.stopped).total_seconds()
            status["last_full"] = {**last.to_json(), "age_seconds": round(age)}
            if age > loaded.spec.database.backups.retention_days * 86400:
                problems.append(f"the last full backup ({last.label}) is {age / 86400:.1f} days old, "
                                f"older than the retention")
        else:
            status["last_full"] = None
            problems.append("the repository holds no full backup yet (run `toolkit backup --to baremetal`)")
        if backups:
            status["recovery_window"] = {
                "from": backups[0].stopped.isoformat(),
                "to": str(archiver.get("last_archived_time") or backups[-1].stopped.isoformat()),
            }
    status["timers"] = repo.timers()
    for timer, state in status["timers"].items():
        if not state.startswith("active"):
            problems.append(f"timer {timer} is {state}: scheduled backups do not run")
    status["problems"] = problems
    status["ok"] = not problems
    return status
