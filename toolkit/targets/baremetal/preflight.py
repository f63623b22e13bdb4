"""Preflight: before any host is changed, every host must answer over SSH with its known host key,
as the deploy user, and be able to ``sudo`` without a password.

A failure is ``CheckFailed`` (exit 1): the input was fine, the world was not. Its message names
each host that failed and why; nothing has been changed on any host.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from toolkit import ssh
from toolkit.errors import CheckFailed
from toolkit.targets.baremetal.inventory import InventoryHost

log = logging.getLogger(__name__)


class PreflightFailed(CheckFailed):
    """One or more hosts cannot be provisioned; nothing was changed."""

    def __init__(self, problems: dict[str, str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  {host}: {reason}" for host, reason in sorted(problems.items()))
        super().__init__(f"preflight failed, no host was changed:\n{lines}")


@dataclass(frozen=True)
class SshSettings:
    user: str
    key_file: Path
    known_hosts: Path


def check_host(host: InventoryHost, settings: SshSettings, timeout: float = 10.0) -> str | None:
    """Why ``host`` cannot be provisioned, or None when it can."""
    user = host.user or settings.user
    try:
        client = ssh.connect(host.address, user=user, key_file=settings.key_file,
                             known_hosts=settings.known_hosts, port=host.port, timeout=timeout)
    except CheckFailed as exc:
        return str(exc)
    try:
        result = ssh.run(client, "sudo -n true", timeout=timeout)
    finally:
        client.close()
    if result.status != 0:
        return f"user {user} cannot sudo without a password: {result.stderr.strip() or result.status}"
    return None


def preflight(hosts: dict[str, InventoryHost], settings: SshSettings, timeout: float = 10.0) -> None:
    """Raise ``PreflightFailed`` unless every host passes ``check_host``."""
    with ThreadPoolExecutor(max_workers=min(16, len(hosts))) as pool:
        results = dict(zip(hosts, pool.map(lambda h: check_host(h, settings, timeout), hosts.values()),
                           strict=True))
    problems = {name: reason for name, reason in results.items() if reason}
    if problems:
        raise PreflightFailed(problems)
    log.info("preflight: %d hosts reachable with known host keys and sudo", len(hosts))
