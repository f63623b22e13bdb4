"""Looking at lab hosts from the controller: overlay upper dirs, rulesets loaded from outside."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path
from typing import Any

# Written by any SSH login and sudo (the preflight's own probe), and by a running PostgreSQL's
# background writes (checkpoints, autovacuum): not changes made by a run.
# The object store's data too: the database's WAL archive lands there on its own (archive_timeout).
LOGIN_RUNTIME = ("var/log/", "var/lib/systemd/", "run/", "var/lib/sudo/", "var/lib/postgresql/",
                 "srv/refservice-objects/")
# Also written by Ansible's own connection, in check mode too: its temporary files and caches.
RUNTIME = (*LOGIN_RUNTIME, "tmp/", "var/tmp/", "home/deploy/.ansible/", "root/.ansible/", "var/cache/",
           "home/deploy/.cache/")


def upper_dir(lab: dict[str, Any], host: str) -> Path:
    return Path(lab["dir"]) / "hosts" / host / "upper"


def hash_upper(root: Path, ignore: tuple[str, ...] = RUNTIME) -> dict[str, str]:
    """Path -> digest of type, mode, owner and content, for every entry of an overlay upper dir
    but those under ``ignore``."""
    digests: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = str(path.relative_to(root)) + ("/" if name in dirnames else "")
            if rel.startswith(ignore):
                continue
            info = path.lstat()
            h = hashlib.sha256(f"{info.st_mode}:{info.st_uid}:{info.st_gid}".encode())
            if stat.S_ISREG(info.st_mode):
                h.update(path.read_bytes())
            elif stat.S_ISLNK(info.st_mode):
                h.update(os.readlink(path).encode())
            elif stat.S_ISCHR(info.st_mode):  # overlay whiteout: a deletion
                h.update(b"whiteout")
            digests[rel] = h.hexdigest()
    return digests


def diff(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted(p for p in set(before) | set(after) if before.get(p) != after.get(p))
