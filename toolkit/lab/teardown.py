"""Removing a lab: every process, mount, namespace, link and file it made, and nothing else.

What to remove is found twice: from the lab's record, and by the name patterns of names.py
(namespaces ``tk-<lab>-<host>``, links ``tk<hash>...``, mounts named ``tk-<lab>-<host>`` or
under the lab dir, nspawn processes with ``--machine=tk-<lab>-<host>``, and every process inside
the lab's namespaces). So it works twice in a row and after a ``lab up`` killed at any point.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from toolkit.errors import CheckFailed
from toolkit.lab import cgroups, hosts, network
from toolkit.lab.names import LabNames
from toolkit.lab.record import RECORD, LabRecord, lab_dir
from toolkit.lab.tools import run

log = logging.getLogger(__name__)


@dataclass
class Removed:
    processes: list[int] = field(default_factory=list)
    mounts: list[str] = field(default_factory=list)
    namespaces: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    cgroups: list[str] = field(default_factory=list)
    directory: str | None = None

    def to_json(self) -> dict[str, object]:
        return {"processes": self.processes, "mounts": self.mounts, "namespaces": self.namespaces,
                "links": self.links, "cgroups": self.cgroups, "directory": self.directory}


def nspawn_processes(names: LabNames) -> list[int]:
    """nspawn processes of this lab, found by their ``--machine=`` argument."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        argv = hosts.cmdline(int(entry.name))
        if not argv or not Path(argv[0]).name.startswith("systemd-nspawn"):
            continue
        for arg in argv:
            if arg.startswith("--machine=") and names.is_own_netns(arg.removeprefix("--machine=")):
                found.append(int(entry.name))
    return found


def processes_rooted_in(directory: Path) -> list[int]:
    """Processes whose root directory is inside ``directory`` (container processes that lost nspawn)."""
    found = []
    prefix = str(directory.resolve()) + "/"
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            root = os.readlink(entry / "root")
        except OSError:
            continue
        if (root + "/").startswith(prefix):
            found.append(int(entry.name))
    return found


def own_mounts(names: LabNames, directory: Path) -> list[str]:
    """Mount points of this lab, deepest first."""
    found = []
    prefix = str(directory) + "/"
    for line in Path("/proc/mounts").read_text().splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        source, target = parts[0], parts[1].replace("\\040", " ")
        if names.is_own_netns(source) or target.startswith(prefix) or target == str(directory):
            found.append(target)
    return sorted(set(found), key=lambda path: path.count("/"), reverse=True)


def remove(name: str) -> Removed:
    names = LabNames(name)
    directory = lab_dir(name)
    removed = Removed()
    record = LabRecord.load(directory / RECORD)
    nspawn = nspawn_processes(names)
    if nspawn:
        log.info("down: halting %d hosts", len(nspawn))
        hosts.kill(sorted(nspawn))  # everything of the lab is removed: no clean halt to wait for
        removed.processes += sorted(nspawn)

    # 2. Anything else still running in the lab's namespaces or on its overlays (moto, orphans).
    leftovers: set[int] = set()
    for ns in network.own_namespaces(names):
        leftovers.update(network.netns_pids(ns))
    if directory.exists():
        leftovers.update(processes_rooted_in(directory))
    leftovers.discard(os.getpid())
    if leftovers:
        log.info("down: stopping %d processes", len(leftovers))
        hosts.stop(sorted(leftovers), timeout=5)
        removed.processes += sorted(leftovers)

    # 3. Mounts (the overlays), deepest first; lazily if something still holds one.
    for target in own_mounts(names, directory):
        result = run(["umount", target], what=f"unmounting {target}", check=False)
        if result.returncode != 0:
            log.warning("down: %s is busy, detaching it lazily", target)
            run(["umount", "--lazy", target], what=f"unmounting {target}")
        removed.mounts.append(target)

    # 4. Namespaces (their veth ends go with them), then any link left (the bridge).
    for ns in network.own_namespaces(names):
        network.delete_namespace(ns)
        removed.namespaces.append(ns)
    for link in network.own_links(names):
        network.delete_link(link)
        removed.links.append(link)

    # 5. The hosts' cgroups: those recorded, and any of ours found by name where we stand.
    recorded = [Path(p) for m in (record.members if record else []) for p in m.cgroups]
    for path in recorded:
        if cgroups.remove_tree(path):
            removed.cgroups.append(str(path))
    for found in cgroups.own(f"tk-{name}-"):
        if names.is_own_netns(found):
            removed.cgroups += [str(path) for path in cgroups.remove(found)]

    # 6. Files: only once nothing is mounted under the lab dir any more.
    if directory.exists():
        still = own_mounts(names, directory)
        if still:
            raise CheckFailed(f"lab {name}: {still[0]} is still mounted; not removing {directory}")
        shutil.rmtree(directory)
        removed.directory = str(directory)
    return removed
