"""The target's database host, reached over SSH as the deploy user, superuser only through sudo.

No superuser password exists or crosses the network: SQL runs as the ``postgres`` OS user over
the local socket (peer authentication), fed on stdin so that nothing of it shows in ``ps``.
"""

from __future__ import annotations

import json
import logging
import shlex
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


class TargetSqlFailed(CheckFailed):
    """A statement failed on the target's database."""


@dataclass(frozen=True)
class TargetSettings:
    host: InventoryHost
    user: str
    key_file: Path
    known_hosts: Path
    dbname: str
    port: int


def target_settings(loaded: LoadedSpec) -> TargetSettings:
    fleet = read_fleet(loaded, every_group=False)
    db_hosts = [host for host in fleet.hosts.values() if "db" in host.groups]
    if not db_hosts:
        raise BadInput(f"inventory {fleet.inventory} has no host in group db")
    return TargetSettings(host=db_hosts[0], user=db_hosts[0].user or fleet.ssh.user,
                          key_file=fleet.ssh.key_file, known_hosts=fleet.ssh.known_hosts,
                          dbname=loaded.spec.database.name, port=loaded.spec.database.port)


class TargetHost:
    """One SSH connection to the target's database host, opened on first use."""

    def __init__(self, settings: TargetSettings) -> None:
        self.settings = settings
        self._client: paramiko.SSHClient | None = None

    @property
    def name(self) -> str:
        return self.settings.host.name

    def client(self) -> paramiko.SSHClient:
        if self._client is None or not self._client.get_transport() or \
                not self._client.get_transport().is_active():  # type: ignore[union-attr]
            s = self.settings
            self._client = ssh.connect(s.host.address, user=s.user, key_file=s.key_file,
                                       known_hosts=s.known_hosts, port=s.host.port)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def run(self, command: str, *, input: str | None = None, timeout: float = 600.0,
            check: bool = True, what: str = "") -> ssh.CommandResult:
        result = ssh.run(self.client(), command, input=input, timeout=timeout)
        if check and result.status != 0:
            raise CheckFailed(f"{self.name}: {what or command.split()[0]} failed ({result.status}): "
                              f"{result.stderr.strip()[-600:]}")
        return result

    def as_postgres(self, command: str) -> str:
        return f"sudo -n -u postgres {command}"

    def psql(self, sql: str, *, dbname: str | None = None, timeout: float = 600.0) -> str:
        """Run ``sql`` (fed on stdin, stopping at the first error) as the superuser; its output."""
        db = dbname or self.settings.dbname
        command = self.as_postgres(f"psql -X -q -At -v ON_ERROR_STOP=1 -p {self.settings.port} "
                                   f"-d {shlex.quote(db)} -f -")
        result = ssh.run(self.client(), command, input=sql, timeout=timeout)
        if result.status != 0:
            raise TargetSqlFailed(f"{self.name}: SQL on {db} failed: {result.stderr.strip()[-600:]}")
        return result.stdout

    def json(self, select: str, *, dbname: str | None = None, prelude: str = "") -> Any:
        """The value of a one-cell ``SELECT`` that returns JSON."""
        out = self.psql(f"{prelude}\n{select};\n", dbname=dbname).strip()
        return json.loads(out) if out else None  # json_agg spans lines

    def write_private(self, path: str, content: str, *, owner: str = "postgres") -> None:
        """A 0600 file owned by ``owner``; the content travels on stdin, never on a command line."""
        directory = shlex.quote(str(Path(path).parent))
        quoted = shlex.quote(path)
        self.run(f"sudo -n install -d -m 0700 -o {owner} -g {owner} {directory} && "
                 f"sudo -n -u {owner} sh -c 'umask 077 && cat > \"$1\"' sh {quoted}", input=content,
                 what=f"writing {path}")
