"""Lab hosts: systemd-nspawn containers booted with systemd as PID 1 on a private overlay.

Each host runs on an overlayfs (lower: the shared image, upper/work: the host's own directories
in the lab dir) mounted by us, so a host's changes never reach the image. The mount's source is
named ``tk-<lab>-<host>`` so that ``lab down`` can find it in /proc/mounts even when the lab's
record is gone. There is no host systemd here, hence ``--register=no --keep-unit``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from toolkit.errors import CheckFailed
from toolkit.lab import cgroups
from toolkit.lab.image import DEPLOY_UID
from toolkit.lab.tools import run

log = logging.getLogger(__name__)

BOOT_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 20.0
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class HostDirs:
    """Where one host's overlay lives: ``<labdir>/hosts/<host>/{upper,work,root}``."""

    base: Path

    @property
    def upper(self) -> Path:
        return self.base / "upper"

    @property
    def work(self) -> Path:
        return self.base / "work"

    @property
    def root(self) -> Path:
        return self.base / "root"


def mount_overlay(dirs: HostDirs, lower: Path, source_name: str) -> None:
    for path in (dirs.upper, dirs.work, dirs.root):
        path.mkdir(parents=True, exist_ok=True)
    options = f"lowerdir={lower},upperdir={dirs.upper},workdir={dirs.work}"
    run(["mount", "-t", "overlay", source_name, "-o", options, str(dirs.root)],
        what=f"mounting the overlay of {source_name}")


def write_file(root: Path, path: str, content: str | bytes, *, mode: int = 0o644, uid: int = 0,
               gid: int | None = None) -> None:
    """Write ``path`` (absolute, inside the host) under ``root``, never following the host's links."""
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    data = content.encode() if isinstance(content, str) else content
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, mode)
    try:
        os.write(fd, data)
        os.fchmod(fd, mode)
        os.fchown(fd, uid, uid if gid is None else gid)
    finally:
        os.close(fd)


def set_identity(root: Path, *, hostname: str, host_key_private: bytes, host_key_public: str,
                 authorized_key: str | None, ssh_enabled: bool) -> None:
    """Give the host its own name and host key; let the operator key in as deploy (bare metal only)."""
    write_file(root, "/etc/hostname", f"{hostname}\n")
    # sudo resolves the host's own name; without this line every sudo prints a warning.
    write_file(root, "/etc/hosts", f"127.0.0.1\tlocalhost\n127.0.1.1\t{hostname}\n"
                                   "::1\tlocalhost ip6-localhost ip6-loopback\n")
    write_file(root, "/etc/ssh/ssh_host_ed25519_key", host_key_private, mode=0o600)
    write_file(root, "/etc/ssh/ssh_host_ed25519_key.pub", host_key_public + "\n")
    write_file(root, "/etc/ssh/sshd_config.d/toolkit-lab.conf",
               "# Written by toolkit lab: one host key, keys only.\n"
               "HostKey /etc/ssh/ssh_host_ed25519_key\nPasswordAuthentication no\nUseDNS no\n")
    if authorized_key is not None:
        home = root / "home/deploy/.ssh"
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chown(home, DEPLOY_UID, DEPLOY_UID)
        home.chmod(0o700)
        write_file(root, "/home/deploy/.ssh/authorized_keys", authorized_key + "\n", mode=0o600,
                   uid=DEPLOY_UID)
    if not ssh_enabled:
        # AWS-side hosts model managed services: no SSH at all.
        mask = root / "etc/systemd/system/ssh.service"
        mask.parent.mkdir(parents=True, exist_ok=True)
        if not mask.is_symlink():
            mask.symlink_to("/dev/null")


def install_unit(root: Path, unit_file: str, content: str, enable: Sequence[str],
                 wanted_by: str = "multi-user.target") -> None:
    """Install ``unit_file`` and enable ``enable`` (the unit, or instances of a template) at boot."""
    write_file(root, f"/etc/systemd/system/{unit_file}", content)
    wants = root / f"etc/systemd/system/{wanted_by}.wants"
    wants.mkdir(parents=True, exist_ok=True)
    for name in enable:
        link = wants / name
        if not link.is_symlink():
            link.symlink_to(f"/etc/systemd/system/{unit_file}")


# Every host's systemd (and its services) take inotify instances out of one budget: root's, on
# this machine. Debian's default of 128 runs out at about two labs, and a host that gets none
# never finishes booting. Labs need root anyway; raise the budget rather than fail obscurely.
INOTIFY_INSTANCES = Path("/proc/sys/fs/inotify/max_user_instances")
INOTIFY_FLOOR = 1024


def ensure_inotify_instances(floor: int = INOTIFY_FLOOR) -> None:
    try:
        current = int(INOTIFY_INSTANCES.read_text())
        if current < floor:
            INOTIFY_INSTANCES.write_text(f"{floor}\n")
            log.warning("hosts: raised fs.inotify.max_user_instances from %d to %d for the lab's hosts",
                        current, floor)
    except (OSError, ValueError) as exc:
        log.warning("hosts: cannot raise fs.inotify.max_user_instances (%s); hosts may fail to boot", exc)


def boot(*, root: Path, machine: str, netns: str, log_file: Path, cgroup_paths: Sequence[Path]) -> int:
    """Start ``systemd-nspawn --boot`` detached (own session, own cgroups); return its PID."""
    argv = ["systemd-nspawn", "--quiet", f"--directory={root}", "--boot", "--register=no",
            "--keep-unit", f"--network-namespace-path=/run/netns/{netns}", f"--machine={machine}",
            "--link-journal=no", "--resolv-conf=off", "--timezone=off", "--console=read-only",
            # Real servers load their own firewall; the host has a network namespace of its own.
            "--capability=CAP_NET_ADMIN"]
    log.info("hosts: booting %s", machine)
    with log_file.open("ab") as out:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, env={"PATH": PATH, "SYSTEMD_LOG_COLOR": "0"},
                                preexec_fn=cgroups.attacher(list(cgroup_paths)))
    return proc.pid


def alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def container_init(nspawn_pid: int) -> int | None:
    """The container's PID 1 as seen from the host: the nspawn process's child."""
    kids = children(nspawn_pid)
    return kids[0] if kids else None


def comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def nsenter_argv(init_pid: int, argv: Sequence[str], user: str | None = None) -> list[str]:
    inner = ["runuser", "-u", user, "--", *argv] if user else list(argv)
    return ["nsenter", f"--target={init_pid}", "--mount", "--uts", "--ipc", "--net", "--pid", "--",
            "env", "-i", f"PATH={PATH}", "LANG=C.UTF-8", *inner]


def exec_in(init_pid: int, argv: Sequence[str], *, what: str, user: str | None = None,
            input: str | None = None, timeout: float = 120, check: bool = True,
            env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run a command inside a running host (the lab's own management channel, not SSH)."""
    extra = [f"{key}={value}" for key, value in (env or {}).items()]
    full = nsenter_argv(init_pid, [*(["env", *extra] if extra else []), *argv], user=user)
    return run(full, what=what, input=input, timeout=timeout, check=check)


def wait_for_ssh(address: str, *, host: str, pid: int, log_file: Path,
                 timeout: float = BOOT_TIMEOUT_S) -> None:
    """Wait until sshd on ``address`` sends its banner; fail early if the container died."""
    deadline = time.monotonic() + timeout
    while True:
        if not alive(pid):
            raise CheckFailed(f"host {host} stopped while booting; see {log_file}")
        if ssh_banner(address):
            return
        if time.monotonic() > deadline:
            raise CheckFailed(f"host {host} did not answer SSH on {address}:22 within {timeout:.0f} s; "
                              f"see {log_file}")
        time.sleep(0.3)


def ssh_banner(address: str, timeout: float = 2.0) -> bool:
    try:
        with socket.create_connection((address, 22), timeout=timeout) as sock:
            sock.settimeout(timeout)
            return sock.recv(64).startswith(b"SSH-")
    except OSError:
        return False


def wait_for_boot(pid: int, *, host: str, log_file: Path, timeout: float = BOOT_TIMEOUT_S) -> int:
    """Wait until systemd inside finished booting; return the container's init PID."""
    deadline = time.monotonic() + timeout
    while True:
        if not alive(pid):
            raise CheckFailed(f"host {host} stopped while booting; see {log_file}")
        init = container_init(pid)
        if init is not None and comm(init) == "systemd":
            state = exec_in(init, ["systemctl", "is-system-running"], what=f"checking boot of {host}",
                            check=False, timeout=10).stdout.strip()
            if state in ("running", "degraded"):
                return init
        if time.monotonic() > deadline:
            raise CheckFailed(f"host {host} did not finish booting within {timeout:.0f} s; see {log_file}")
        time.sleep(0.3)


def signal_all(pids: Sequence[int], sig: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def stop(pids: Sequence[int], timeout: float = STOP_TIMEOUT_S) -> None:
    """SIGTERM (nspawn halts its host cleanly), then SIGKILL what is left after ``timeout``."""
    pids = [pid for pid in pids if alive(pid)]
    signal_all(pids, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = [pid for pid in pids if alive(pid)]
    if left:
        # The container's init with it: killing nspawn alone leaves its services running (a
        # PostgreSQL still shutting down would hold its port when the host boots again).
        log.warning("hosts: killing %s, still running after %.0f s", left, timeout)
        kill(left)


def kill(pids: Sequence[int], timeout: float = 10.0) -> None:
    """SIGKILL hosts whose disks are discarded (a snapshot restore, ``lab down``): no halt to wait
    for (a provisioned host takes 20 s and more: SeaweedFS alone is slow to stop). The container's
    init goes first: its PID namespace dies with it, where killing nspawn alone leaves it running."""
    pids = [pid for pid in pids if alive(pid)]
    inits = [init for pid in pids if (init := container_init(pid)) is not None]
    signal_all([*inits, *pids], signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while any(alive(pid) for pid in [*inits, *pids]) and time.monotonic() < deadline:
        time.sleep(0.05)
