"""The stanza on the target's database host: ``pgbackrest`` run as ``postgres`` over SSH.

The timers and ``toolkit backup`` start the same systemd unit (``<service>-backup@<type>``), so a
backup taken by hand is the one the schedule takes, with its log in the journal and pgBackRest's.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from toolkit.data.postgres.target import TargetHost, target_settings
from toolkit.errors import BadInput, CheckFailed
from toolkit.spec import LoadedSpec

BACKUP_TYPES = ("full", "diff", "incr")
# A status must answer while the store is down: pgBackRest would retry for minutes by default.
STATUS_IO_TIMEOUT_S = 10
CONFIG = "/etc/pgbackrest/pgbackrest.conf"  # the backups role's
CONNECT_TIMEOUT_S = 3


@dataclass(frozen=True)
class Backup:
    label: str
    type: str
    started: datetime
    stopped: datetime
    bytes: int
    repository_bytes: int
    wal_start: str
    wal_stop: str

    @classmethod
    def from_info(cls, data: dict[str, Any]) -> Backup:
        stamp = data["timestamp"]
        return cls(label=data["label"], type=data["type"],
                   started=datetime.fromtimestamp(int(stamp["start"]), UTC),
                   stopped=datetime.fromtimestamp(int(stamp["stop"]), UTC),
                   bytes=int(data["info"]["size"]), repository_bytes=int(data["info"]["repository"]["size"]),
                   wal_start=data["archive"]["start"], wal_stop=data["archive"]["stop"])

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, "type": self.type, "started": self.started.isoformat(),
                "stopped": self.stopped.isoformat(), "bytes": self.bytes,
                "repository_bytes": self.repository_bytes, "wal": [self.wal_start, self.wal_stop]}


class Repository:
    """pgBackRest's stanza for the spec's database, reached through the target's database host."""

    def __init__(self, loaded: LoadedSpec, target: TargetHost | None = None) -> None:
        if loaded.spec.targets.baremetal is None:
            raise BadInput("the spec has no targets.baremetal: there is nothing to back up there")
        self.loaded = loaded
        self.stanza = loaded.spec.service.name
        self.unit_prefix = f"{loaded.spec.service.name}-backup"
        self.target = target or TargetHost(target_settings(loaded))

    def pgbackrest(self, *args: str, timeout: float = 3600.0, check: bool = True) -> str:
        command = " ".join(["pgbackrest", f"--stanza={shlex.quote(self.stanza)}", *map(shlex.quote, args)])
        result = self.target.run(self.target.as_postgres(command), timeout=timeout, check=False)
        if check and result.status != 0:
            raise CheckFailed(f"{self.target.name}: pgbackrest {args[-1]} failed ({result.status}): "
                              f"{(result.stderr or result.stdout).strip()[-600:]}")
        return result.stdout

    def unreachable(self) -> str | None:
        """Why the database host cannot open a connection to the repository's store, or None.

        Seconds instead of the ~40 s pgBackRest spends retrying each of its files (``io-timeout``)
        before it says a store that refuses connections is down."""
        # Without the role's configuration there is nothing to probe: ``info`` says what is missing.
        probe = (f"conf={CONFIG}; [ -r $conf ] || exit 0; host=$(sed -n 's/^repo1-s3-endpoint=//p' $conf); "
                 "port=$(sed -n 's/^repo1-storage-port=//p' $conf); port=${port:-443}; "
                 f"timeout {CONNECT_TIMEOUT_S} bash -c \"exec 3<>/dev/tcp/$host/$port\" 2>/dev/null "
                 "|| { echo \"$host:$port\"; exit 1; }")
        result = self.target.run(self.target.as_postgres(f"bash -c {shlex.quote(probe)}"), timeout=30.0,
                                 check=False)
        if result.status == 0:
            return None
        return (f"{self.target.name} cannot connect to the repository's store {result.stdout.strip()} "
                f"within {CONNECT_TIMEOUT_S} s (is the objects host's SeaweedFS running?)")

    def info(self, io_timeout: int | None = None) -> dict[str, Any]:
        """pgBackRest's view of the stanza (``info --output=json``) for this stanza."""
        extra = [f"--io-timeout={io_timeout}"] if io_timeout else []
        stanzas = json.loads(self.pgbackrest(*extra, "--output=json", "info", timeout=120.0) or "[]")
        found = [s for s in stanzas if s.get("name") == self.stanza]
        if not found:
            raise CheckFailed(f"{self.target.name}: pgBackRest has no stanza {self.stanza!r} "
                              "(is the target provisioned with the backups role?)")
        return dict(found[0])

    def backups(self, info: dict[str, Any] | None = None) -> list[Backup]:
        return [Backup.from_info(b) for b in (info if info is not None else self.info()).get("backup", [])]

    def backup(self, kind: str = "full") -> Backup:
        """Take a backup now, through the unit the timers start; the backup it made."""
        if kind not in BACKUP_TYPES:
            raise BadInput(f"backup type {kind!r} is not one of {', '.join(BACKUP_TYPES)}")
        before = {b.label for b in self.backups()}
        unit = f"{self.unit_prefix}@{kind}.service"
        # A oneshot unit: `systemctl start` returns once the backup has ended.
        result = self.target.run(f"sudo -n systemctl start {shlex.quote(unit)}", timeout=24 * 3600.0,
                                 check=False)
        if result.status != 0:
            log = self.target.run(f"sudo -n journalctl -u {shlex.quote(unit)} -n 15 --no-pager -o cat",
                                  check=False).stdout
            raise CheckFailed(f"{self.target.name}: the {kind} backup ({unit}) failed: {log.strip()[-800:]}")
        made = [b for b in self.backups() if b.label not in before]
        if not made:
            raise CheckFailed(f"{self.target.name}: {unit} ended but the repository shows no new backup")
        return made[-1]

    def archiver(self) -> dict[str, Any]:
        """PostgreSQL's own account of archiving (``pg_stat_archiver``) and where WAL is now."""
        row = self.target.json(
            "SELECT json_build_object('archived_count', archived_count, "
            "'last_archived_wal', last_archived_wal, 'last_archived_time', last_archived_time, "
            "'failed_count', failed_count, "
            "'last_failed_wal', last_failed_wal, 'last_failed_time', last_failed_time, "
            "'current_wal', pg_walfile_name(pg_current_wal_lsn()), "
            "'archive_mode', current_setting('archive_mode')) FROM pg_stat_archiver", dbname="postgres")
        return dict(row or {})

    def switch_wal(self) -> str:
        """Close the current WAL segment so that it is archived now; its name."""
        return str(self.target.json("SELECT to_json(pg_walfile_name(pg_switch_wal()))", dbname="postgres"))

    def timers(self) -> dict[str, str]:
        """Each backup timer's next run, as systemd states it."""
        names = [f"{self.unit_prefix}-{kind}.timer" for kind in ("full", "diff")]
        out = self.target.run("systemctl show --property=Id,NextElapseUSecRealtime,ActiveState "
                              + " ".join(names), check=False).stdout
        timers: dict[str, str] = {}
        for block in out.strip().split("\n\n"):
            fields = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
            state = fields.get("ActiveState", "missing")
            if fields.get("Id"):
                next_run = fields.get("NextElapseUSecRealtime")
                timers[fields["Id"]] = f"{state}, next {next_run}" if state == "active" else state
        return timers
