"""One run at a time per subject (a service's migration, its replication): a lock file with an owner.

The lock is a file created exclusively under ``<state>/locks/`` holding who took it (run, pid,
host, time). It is not an ``flock``: a killed toolkit leaves its child processes running for a
moment (ansible-playbook finished one more task after a ``kill -9``), and the lock must outlive
them. A lock whose owner process is gone is *stale*: it is reported with what to do, never taken
silently, because the dead run may have left work half done. Only the same run, resumed, takes
its own stale lock over.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from toolkit.errors import CheckFailed
from toolkit.state import private_dir, state_root


class RunLocked(CheckFailed):
    """Another run holds the lock on this subject (alive, or dead and not yet dealt with)."""

    def __init__(self, message: str, holder: LockHolder, stale: bool) -> None:
        super().__init__(message)
        self.holder = holder
        self.stale = stale


@dataclass(frozen=True)
class LockHolder:
    run_id: str
    pid: int
    host: str
    since: float

    def alive(self) -> bool:
        if self.host != socket.gethostname():
            return True  # another machine's process: we cannot tell, so assume it lives
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


def lock_path(subject: str) -> Path:
    return private_dir(state_root() / "locks") / f"{subject}.lock"


def read_holder(subject: str) -> LockHolder | None:
    try:
        data = json.loads(lock_path(subject).read_text())
        return LockHolder(**data)
    except FileNotFoundError:
        return None
    except (ValueError, TypeError):
        # A lock torn by a crash while being written: its owner died in that instant.
        return LockHolder(run_id="unknown", pid=0, host=socket.gethostname(), since=0.0)


def acquire(subject: str, run_id: str) -> LockHolder:
    """Take the lock for ``run_id`` or raise ``RunLocked`` naming the holder and what to do."""
    path = lock_path(subject)
    me = LockHolder(run_id=run_id, pid=os.getpid(), host=socket.gethostname(), since=time.time())
    while True:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            holder = read_holder(subject)
            if holder is None:
                continue  # released between our two looks
            if holder.alive():
                if holder.run_id == run_id and holder.pid == os.getpid():
                    return holder
                raise RunLocked(f"{subject} is locked by run {holder.run_id} (pid {holder.pid} on "
                                f"{holder.host}, running); wait for it to end", holder, stale=False) from None
            if holder.run_id != run_id:
                raise RunLocked(
                    f"{subject} is locked by run {holder.run_id}, whose process {holder.pid} is gone: "
                    f"resume it with --resume {holder.run_id}, or inspect it and remove {path}",
                    holder, stale=True) from None
            path.unlink(missing_ok=True)  # our own run, resumed: take over its stale lock
            continue
        with os.fdopen(fd, "w") as handle:
            json.dump(asdict(me), handle)
            handle.flush()
            os.fsync(handle.fileno())
        return me


def release(subject: str, run_id: str) -> None:
    holder = read_holder(subject)
    if holder is not None and holder.run_id == run_id:
        lock_path(subject).unlink(missing_ok=True)
