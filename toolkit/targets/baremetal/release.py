"""The app's code as one reproducible archive, which the app role ships and compares in one step.

Copying the source tree file by file cost a few SSH round trips per file on every run, changed
or not. One archive is one transfer, and ``tar --diff`` on the host (Ansible's ``unarchive``)
still finds a drifted or missing file anywhere in it.

The archive depends on the content only: members sorted, owned by root, files 0644 and
directories 0755 (what the per-file copy gave), one fixed modification time, and a gzip header
without a time stamp. So the same source gives the same bytes (and digest), and a fresh checkout
of unchanged code changes nothing on the hosts. The fixed time is harmless to Python: the units
set ``PYTHONDONTWRITEBYTECODE`` and the code is root's, so no byte-code cache trusts it.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

# 1980-01-01, the earliest time a zip (hence a wheel) can hold: the usual reproducible-build epoch.
FIXED_MTIME = 315532800
# Byte-code caches differ between the controller and the hosts: source files only.
SKIPPED_DIRS = frozenset({"__pycache__"})
SKIPPED_SUFFIXES = (".pyc",)


@dataclass(frozen=True)
class Release:
    path: Path
    sha256: str
    files: int


def members(source: Path) -> list[tuple[str, Path]]:
    """(name in the archive, path) of every directory and regular file to ship, sorted.

    Symbolic links and special files are left out, as the per-file copy did.
    """
    found: list[tuple[str, Path]] = []
    for root, dirs, files in os.walk(source):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS and not (Path(root) / d).is_symlink())
        base = Path(root)
        rel_root = base.relative_to(source)
        if base != source:
            found.append((rel_root.as_posix(), base))
        for name in sorted(files):
            path = base / name
            if name.endswith(SKIPPED_SUFFIXES) or path.is_symlink() or not path.is_file():
                continue
            found.append(((rel_root / name).as_posix(), path))
    return sorted(found)


def build_release(source: Path, dest_dir: Path) -> Release:
    """Pack ``source`` (a directory) into ``dest_dir/<name>.tar.gz``; members are relative to it."""
    target = dest_dir / f"{source.name}.tar.gz"
    entries = members(source)
    files = 0
    with target.open("wb") as raw, \
            gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as packed, \
            tarfile.open(fileobj=packed, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name, path in entries:
            info = tarfile.TarInfo(name)
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            info.mtime = FIXED_MTIME
            if path.is_dir():
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tar.addfile(info)
            else:
                info.mode = 0o644
                info.size = path.stat().st_size
                with path.open("rb") as content:
                    tar.addfile(info, content)
                files += 1
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    log.info("build_release: %s, %d files, sha256 %s", target.name, files, digest)
    return Release(path=target, sha256=digest, files=files)
