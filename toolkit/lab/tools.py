"""Running the system tools the lab needs: root check, tool check, and subprocesses with clear errors."""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from toolkit.errors import CheckFailed, EnvironmentNotReady

log = logging.getLogger(__name__)

# The tool each lab step runs, and the Debian package that provides it.
TOOLS = {
    "debootstrap": "debootstrap",
    "systemd-nspawn": "systemd-container",
    "ip": "iproute2",
    "nsenter": "util-linux",
    "mount": "mount",
    "umount": "mount",
}


def require_root() -> None:
    if os.geteuid() != 0:
        raise EnvironmentNotReady("the lab needs root (network namespaces, mounts and containers); "
                                  "run it as root (from a root shell, or with sudo)")


def require_tool(tool: str, package: str | None = None) -> str:
    path = shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/sbin:/usr/bin:/bin")
    if path is None:
        package = package or TOOLS.get(tool, tool)
        raise EnvironmentNotReady(f"{tool} is not installed; install the Debian package {package} "
                                  f"(apt-get install {package})")
    return path


def require_tools(*tools: str) -> None:
    for tool in tools:
        require_tool(tool)


def run(argv: Sequence[str], *, what: str, timeout: float = 120, check: bool = True,
        env: Mapping[str, str] | None = None, input: str | None = None,
        preexec_fn: Callable[[], None] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` (never a shell string); on failure raise one sentence naming ``what`` failed."""
    log.debug("run: %s", " ".join(argv))
    try:
        result = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout,
                                env=dict(env) if env is not None else None, input=input,
                                stdin=None if input is not None else subprocess.DEVNULL,
                                preexec_fn=preexec_fn)
    except subprocess.TimeoutExpired as exc:
        raise CheckFailed(f"{what} did not finish within {timeout:.0f} s") from exc
    except FileNotFoundError as exc:
        raise EnvironmentNotReady(f"{what} failed: {argv[0]} is not installed") from exc
    if check and result.returncode != 0:
        detail = (result.stderr.strip() or result.stdout.strip()).splitlines()[-5:]
        raise CheckFailed(f"{what} failed (exit {result.returncode}): {' / '.join(detail)}")
    return result


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing) across processes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
