"""A cgroup of its own for each host, in every hierarchy, before systemd-nspawn starts.

Without a host systemd, ``--keep-unit`` makes nspawn use the cgroup it was started in. Hosts
started from the same place would then share one cgroup tree, and each host's systemd would
create, and remove, the same ``system.slice/<unit>`` cgroups as its neighbours: units fail to
start at random, and stopping a unit on one host could kill its namesake on another. So every
host's nspawn moves itself (before exec) into ``<current cgroup>/tk-<lab>-<host>`` in each
mounted hierarchy, cgroup v1 and v2 alike.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

CGROUP_ROOT = Path("/sys/fs/cgroup")


@dataclass(frozen=True)
class Hierarchy:
    mount: Path
    current: str  # this process's cgroup in it, e.g. "/" or "/process_api/abc"

    def path(self, name: str) -> Path:
        return self.mount / self.current.lstrip("/") / name


def hierarchies() -> list[Hierarchy]:
    """Every cgroup hierarchy mounted here, with this process's place in it."""
    own: dict[str, str] = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            own[controller] = path
    found = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        parts = line.split()
        if len(parts) < 4 or parts[2] not in ("cgroup", "cgroup2"):
            continue
        mount = Path(parts[1])
        if parts[2] == "cgroup2":
            key = ""
        else:
            options = parts[3].split(",")
            keys = [opt for opt in options if opt in own]
            if not keys:
                continue
            key = keys[0]
        if key in own:
            found.append(Hierarchy(mount, own[key]))
    return found


def hierarchy_paths(name: str) -> list[Path]:
    return [hierarchy.path(name) for hierarchy in hierarchies()]


def create(name: str) -> list[Path]:
    """Create the cgroup ``name`` under this process's cgroup in every hierarchy."""
    made = []
    for hierarchy in hierarchies():
        path = hierarchy.path(name)
        try:
            path.mkdir(exist_ok=True)
            # A new cpuset cgroup starts with no CPUs and no memory nodes; inherit the parent's.
            for knob in ("cpuset.cpus", "cpuset.mems"):
                if (path / knob).exists() and not (path / knob).read_text().strip():
                    (path / knob).write_text((path.parent / knob).read_text())
            made.append(path)
        except OSError as exc:
            log.warning("cgroups: cannot create %s (%s); the host shares its parent's cgroup there",
                        path, exc.strerror)
    return made


def attacher(paths: list[Path]) -> Callable[[], None]:
    """A ``preexec_fn`` that moves the starting process into ``paths`` before it execs."""

    def attach() -> None:
        pid = str(os.getpid())
        for path in paths:
            # A hierarchy that refuses us is not worth failing the host for.
            with contextlib.suppress(OSError):
                (path / "cgroup.procs").write_text(pid)

    return attach


def remove_tree(top: Path) -> bool:
    """Remove the cgroup ``top`` and every cgroup inside it, deepest first; True if it is gone."""
    if not top.is_dir():
        return False
    for dirpath, _, _ in sorted(os.walk(top), key=lambda item: item[0].count("/"), reverse=True):
        try:
            os.rmdir(dirpath)
        except OSError as exc:
            log.warning("cgroups: cannot remove %s (%s)", dirpath, exc.strerror)
    return not top.exists()


def remove(name: str) -> list[Path]:
    """Remove the cgroup ``name`` (and what the host's systemd made inside it) in every hierarchy."""
    return [path for path in hierarchy_paths(name) if remove_tree(path)]


def own(prefix: str) -> list[str]:
    """Names of cgroups (directly under this process's cgroups) that start with ``prefix``."""
    names: set[str] = set()
    for hierarchy in hierarchies():
        base = hierarchy.path("")
        if base.is_dir():
            names.update(entry.name for entry in base.iterdir()
                         if entry.is_dir() and entry.name.startswith(prefix))
    return sorted(names)


def cpu_seconds(name: str) -> float | None:
    """CPU time used so far by everything in the cgroup ``name`` (a host), cgroup v1 or v2; None
    when neither accounting is there."""
    for path in hierarchy_paths(name):
        if (path / "cpuacct.usage").is_file():
            return int((path / "cpuacct.usage").read_text()) / 1e9
        if (path / "cpu.stat").is_file():
            usage = dict(line.split() for line in (path / "cpu.stat").read_text().splitlines())
            if "usage_usec" in usage:
                return int(usage["usage_usec"]) / 1e6
    return None
