"""Snapshots of the bare-metal hosts' disks: save a state once, return to it in seconds.

A host's disk is an overlay: the shared image below, the host's own changes in its upper
directory. A snapshot is a copy of the upper directories, taken while the hosts are halted so
that PostgreSQL and every other service are consistent on disk. Restoring halts the hosts,
puts the copy back and boots them again: a re-provisioning that takes a minute becomes a
reboot. ``lab up`` takes the snapshot ``booted`` (blank hosts) before the first boot, so every
lab can go back to blank hosts.
"""

from __future__ import annotations

import concurrent.futures
import logging
import re
import shutil
from collections.abc import Callable
from pathlib import Path

from toolkit.errors import BadInput, CheckFailed
from toolkit.lab import cgroups, hosts
from toolkit.lab.names import LabNames
from toolkit.lab.record import LabRecord, Member
from toolkit.lab.tools import run

log = logging.getLogger(__name__)

BOOTED = "booted"
LABEL = re.compile(r"^[a-z][a-z0-9-]{0,31}$")


def snapshots_dir(record: LabRecord) -> Path:
    return Path(record.dir) / "snapshots"


def labels(record: LabRecord) -> list[str]:
    base = snapshots_dir(record)
    return sorted(entry.name for entry in base.iterdir() if entry.is_dir()) if base.is_dir() else []


def check_label(label: str) -> str:
    if not LABEL.match(label):
        raise BadInput(f"snapshot name {label!r} is not valid: use 1-32 lowercase letters, digits and '-', "
                       "starting with a letter")
    return label


def copy_tree(source: Path, target: Path) -> None:
    """Copy an upper directory exactly: owners, modes, links, xattrs and overlay whiteouts."""
    target.parent.mkdir(parents=True, exist_ok=True)
    run(["cp", "-a", "--reflink=auto", str(source), str(target)], what=f"copying {source}", timeout=600)


def save_upper(record: LabRecord, label: str, member: Member) -> None:
    """Copy ``member``'s upper directory into snapshot ``label`` (the host must not be running)."""
    target = snapshots_dir(record) / label / member.name
    partial = target.with_name(f".{member.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    copy_tree(hosts.HostDirs(Path(record.dir) / "hosts" / member.name).upper, partial)
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)  # a killed copy never looks like a snapshot


def _baremetal(record: LabRecord) -> list[Member]:
    return [m for m in record.members if m.side == "baremetal"]


def _halt(record: LabRecord, member: Member, *, keep_disk: bool) -> None:
    """Halt ``member`` cleanly when its disk is kept (a snapshot must be consistent), else kill it."""
    dirs = hosts.HostDirs(Path(record.dir) / "hosts" / member.name)
    if member.pid is not None:
        (hosts.stop if keep_disk else hosts.kill)([member.pid])
    member.pid = None
    if str(dirs.root) in Path("/proc/mounts").read_text():
        run(["umount", str(dirs.root)], what=f"unmounting the disk of {member.name}")


def _boot(record: LabRecord, member: Member, rootfs: Path) -> None:
    names = LabNames(record.name)
    base = Path(record.dir)
    dirs = hosts.HostDirs(base / "hosts" / member.name)
    hosts.mount_overlay(dirs, rootfs, member.netns)
    machine = names.machine(member.name)
    # The halted host's systemd leaves its own cgroups behind; start from an empty one.
    cgroups.remove(machine)
    paths = cgroups.create(machine)
    member.pid = hosts.boot(root=dirs.root, machine=machine, netns=member.netns, cgroup_paths=paths,
                            log_file=base / "logs" / f"{member.name}.log")


def _each(members: list[Member], work: Callable[[Member], None]) -> None:
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(members) or 1) as pool:
        for future in [pool.submit(work, member) for member in members]:
            future.result()


def _cycle(record: LabRecord, while_halted: Callable[[Member], None], *, keep_disk: bool) -> None:
    """Halt every bare-metal host, run ``while_halted`` on its disk, boot it again, wait for SSH."""
    members = _baremetal(record)
    rootfs = Path(str(record.image))

    def halted(member: Member) -> None:
        _halt(record, member, keep_disk=keep_disk)
        while_halted(member)

    try:
        _each(members, halted)
    finally:
        # Boot whatever is halted, also after a failure, so the lab stays usable and recorded.
        for member in members:
            if member.pid is None:
                _boot(record, member, rootfs)
        record.save()
    for member in members:
        assert member.pid is not None
        hosts.wait_for_ssh(member.address, host=member.name, pid=member.pid,
                           log_file=Path(record.dir) / "logs" / f"{member.name}.log")


def take(record: LabRecord, label: str) -> None:
    """Snapshot every bare-metal host's disk as ``label`` (halts and boots the hosts)."""
    check_label(label)
    log.info("take: snapshot %s of lab %s", label, record.name)
    _cycle(record, lambda member: save_upper(record, label, member), keep_disk=True)


def restore(record: LabRecord, label: str) -> None:
    """Return every bare-metal host's disk to snapshot ``label``; hosts boot from it."""
    check_label(label)
    saved = snapshots_dir(record) / label
    missing = [m.name for m in _baremetal(record) if not (saved / m.name).is_dir()]
    if missing:
        known = ", ".join(labels(record)) or "none"
        raise CheckFailed(f"lab {record.name} has no snapshot {label!r} of {', '.join(missing)} "
                          f"(snapshots: {known})")
    log.info("restore: lab %s to snapshot %s", record.name, label)

    def put_back(member: Member) -> None:
        dirs = hosts.HostDirs(Path(record.dir) / "hosts" / member.name)
        for path in (dirs.upper, dirs.work):
            shutil.rmtree(path, ignore_errors=True)
        copy_tree(saved / member.name, dirs.upper)

    _cycle(record, put_back, keep_disk=False)  # the disks are replaced: nothing to halt cleanly for
