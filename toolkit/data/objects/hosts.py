"""The object copy's hosts: every host of the target's ``objects`` group, reached over SSH.

The worker package (``remote/``) is shipped into a private work directory in the deploy user's
home (mode 0700) and run there with the host's ``python3``. A job's credentials travel in a 0600
file the worker removes as soon as it has read it; the controller removes it too if the worker
never started. Nothing is run as root: the copy only talks S3.
"""

from __future__ import annotations

import json
import logging
import shlex
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paramiko

from toolkit import ssh
from toolkit.errors import BadInput, CheckFailed
from toolkit.spec import LoadedSpec
from toolkit.targets.baremetal.fleet import read_fleet
from toolkit.targets.baremetal.inventory import InventoryHost

log = logging.getLogger(__name__)

REMOTE_PACKAGE = Path(__file__).resolve().parent / "remote"
PACKAGE_NAME = "objectsworker"  # the worker package's name on the hosts


class WorkerFailed(CheckFailed):
    """A worker on an objects host failed; the message names the host and its last words."""


@dataclass(frozen=True)
class ObjectHost:
    name: str
    inventory: InventoryHost
    shard: int
    shards: int


@dataclass(frozen=True)
class Fleet:
    """The objects hosts of the spec's inventory, in shard order, and how to reach them."""

    hosts: list[ObjectHost]
    user: str
    key_file: Path
    known_hosts: Path
    workdir: str  # relative to the deploy user's home

    @classmethod
    def of(cls, loaded: LoadedSpec) -> Fleet:
        fleet = read_fleet(loaded, every_group=False)
        members = sorted((h for h in fleet.hosts.values() if "objects" in h.groups), key=lambda h: h.name)
        if not members:
            raise BadInput(f"{fleet.inventory}: no host in group objects to copy the objects")
        return cls(hosts=[ObjectHost(h.name, h, i, len(members)) for i, h in enumerate(members)],
                   user=fleet.ssh.user, key_file=fleet.ssh.key_file, known_hosts=fleet.ssh.known_hosts,
                   workdir=f".toolkit-objects/{loaded.spec.service.name}")

    @contextmanager
    def connect(self, host: ObjectHost) -> Iterator[paramiko.SSHClient]:
        client = ssh.connect(host.inventory.address, user=host.inventory.user or self.user,
                             key_file=self.key_file, known_hosts=self.known_hosts, port=host.inventory.port)
        try:
            yield client
        finally:
            client.close()

    def ship(self, client: paramiko.SSHClient) -> None:
        """The worker package into the work directory (0700), replacing what an older pass left."""
        target = f"{self.workdir}/{PACKAGE_NAME}"
        workdir = shlex.quote(self.workdir)
        made = ssh.run(client, f"mkdir -p -m 700 {workdir} && chmod 700 {workdir}"
                               f" && rm -rf {shlex.quote(target)} && mkdir {shlex.quote(target)}")
        if made.status != 0:
            raise WorkerFailed(f"cannot make the work directory ~/{self.workdir}: {made.stderr.strip()}")
        with client.open_sftp() as sftp:
            for module in sorted(REMOTE_PACKAGE.glob("*.py")):
                sftp.put(str(module), f"{target}/{module.name}")

    def run_job(self, client: paramiko.SSHClient, host: ObjectHost, job: dict[str, Any],
                started: Callable[[ssh.Stream], None] | None = None) -> Iterator[dict[str, Any]]:
        """Run one job on ``host``; yield the worker's JSON lines. Raises ``WorkerFailed`` on a failure.
        ``started`` receives the running command (its stdin: the ``follow`` mode's commands)."""
        job = {**job, "shard": host.shard, "shards": host.shards, "workdir": "."}
        job_file = f"job-{host.shard}.json"
        ssh.write_private(client, f"{self.workdir}/{job_file}", json.dumps(job).encode())
        command = (f"cd {shlex.quote(self.workdir)} && echo $$ > worker.pid && "
                   f"exec python3 -m {PACKAGE_NAME}.worker {job_file}")
        running = ssh.stream(client, command)
        if started is not None:
            started(running)
        last: dict[str, Any] = {}
        try:
            for line in running:
                try:
                    record = json.loads(line)
                except ValueError:
                    log.warning("objects: %s said %s", host.name, line[:200])
                    continue
                last = record if record.get("type") != "exit" else last
                yield record
        finally:
            workdir = shlex.quote(self.workdir)
            ssh.run(client, f"rm -f {workdir}/{job_file} {workdir}/worker.pid")
        if running.status != 0 and not (running.status == 1 and last.get("type") == "done"):
            error = last.get("message") or running.stderr.strip()[-500:] or f"exit status {running.status}"
            raise WorkerFailed(f"the object worker on {host.name} failed: {error}")

    def stop_worker(self, client: paramiko.SSHClient) -> bool:
        """End a worker a killed pass left running (its pid file names it); whether there was one."""
        pid_file = shlex.quote(f"{self.workdir}/worker.pid")
        found = ssh.run(client, f"test -f {pid_file} && pid=$(cat {pid_file}) && grep -q {PACKAGE_NAME} "
                                "/proc/$pid/cmdline 2>/dev/null && kill $pid && echo killed")
        ssh.run(client, f"rm -f {pid_file}")
        return "killed" in found.stdout

    def has_workdir(self, client: paramiko.SSHClient) -> bool:
        return ssh.run(client, f"test -d {shlex.quote(self.workdir)}").status == 0

    def remove_workdir(self, client: paramiko.SSHClient) -> None:
        done = ssh.run(client, f"rm -rf {shlex.quote(self.workdir)} "
                               "&& rmdir --ignore-fail-on-non-empty .toolkit-objects")
        if done.status != 0:
            raise WorkerFailed(f"cannot remove ~/{self.workdir}: {done.stderr.strip()}")
