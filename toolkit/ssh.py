"""SSH clients that trust exactly one known_hosts file: an unknown or changed host key is refused.

Every SSH connection of the toolkit goes through ``connect()``: it loads only the given
known_hosts file (never the user's or the system's), never accepts a key it has not seen
(``paramiko.RejectPolicy``), and authenticates with the given private key only (no agent, no
keys found lying around).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import paramiko

from toolkit.errors import CheckFailed, EnvironmentNotReady

log = logging.getLogger(__name__)


class HostKeyRejected(CheckFailed):
    """The host's key is not in the known_hosts file, or differs from the one recorded there."""


class SshUnreachable(CheckFailed):
    """The host did not answer on its SSH port, or refused the credentials."""


@dataclass(frozen=True)
class CommandResult:
    status: int
    stdout: str
    stderr: str


def connect(host: str, *, user: str, key_file: Path | str, known_hosts: Path | str, port: int = 22,
            timeout: float = 10.0) -> paramiko.SSHClient:
    """An authenticated client for ``user@host``, the host key verified against ``known_hosts``."""
    known_hosts = Path(known_hosts)
    if not known_hosts.is_file():
        raise EnvironmentNotReady(f"known_hosts file {known_hosts} does not exist")
    client = paramiko.SSHClient()
    client.load_host_keys(str(known_hosts))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    try:
        client.connect(hostname=host, port=port, username=user, key_filename=str(key_file),
                       look_for_keys=False, allow_agent=False, timeout=timeout,
                       banner_timeout=timeout, auth_timeout=timeout)
    except paramiko.BadHostKeyException as exc:
        client.close()
        raise HostKeyRejected(
            f"host {host} presented a {exc.key.get_name()} key that differs from the one recorded in "
            f"{known_hosts}; refusing to connect (the host was rebuilt, or this is not the host)"
        ) from exc
    except paramiko.SSHException as exc:
        client.close()
        if "not found in known_hosts" in str(exc):
            raise HostKeyRejected(f"host {host} is not in {known_hosts}; refusing an unknown host key "
                                  "(record it there first)") from exc
        if isinstance(exc, paramiko.AuthenticationException):
            raise SshUnreachable(f"host {host} refused the key {key_file} for user {user}") from exc
        raise SshUnreachable(f"SSH to {user}@{host}:{port} failed: {exc}") from exc
    except (TimeoutError, OSError) as exc:
        client.close()
        raise SshUnreachable(f"host {host} did not answer on SSH port {port}: {exc}") from exc
    log.debug("connect: %s@%s verified against %s", user, host, known_hosts)
    return client


def run(client: paramiko.SSHClient, command: str, *, timeout: float = 60.0,
        input: str | bytes | None = None) -> CommandResult:
    """Run ``command`` (a remote shell line: quote its parts with shlex.quote) and wait for it.

    ``input`` is written to the command's stdin, then closed: the way to hand a remote command a
    secret or a script without putting it on a command line (``ps`` shows those).
    """
    stdin, stdout, stderr = client.exec_command(command, timeout=timeout)
    if input is not None:
        stdin.write(input.encode() if isinstance(input, str) else input)
        stdin.flush()
    stdin.channel.shutdown_write()
    out = stdout.read().decode(errors="replace")
    err = stderr.read().decode(errors="replace")
    return CommandResult(stdout.channel.recv_exit_status(), out, err)


def write_private(client: paramiko.SSHClient, path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` on the host over SFTP, mode 0600 before any byte is written."""
    with client.open_sftp() as sftp, sftp.open(path, "wb") as handle:
        handle.chmod(0o600)
        handle.write(data)


def read_remote(client: paramiko.SSHClient, path: str) -> bytes:
    with client.open_sftp() as sftp, sftp.open(path, "rb") as handle:
        handle.prefetch()
        return bytes(handle.read())


@dataclass
class Stream:
    """A running remote command: iterate for its stdout lines, then ``status`` (after the last)."""

    channel: paramiko.Channel
    status: int | None = None
    stderr: str = ""

    def send(self, text: str) -> None:
        """A line (or more) to the command's stdin, which stays open for the next."""
        self.channel.sendall(text.encode())

    def __iter__(self) -> Iterator[str]:
        with self.channel.makefile("rb") as out:
            for line in out:
                yield line.decode(errors="replace").rstrip("\n")
        with self.channel.makefile_stderr("rb") as err:
            self.stderr = err.read().decode(errors="replace")
        self.status = self.channel.recv_exit_status()


def stream(client: paramiko.SSHClient, command: str) -> Stream:
    """Start ``command`` (quoted with shlex.quote) and read its output line by line as it comes."""
    transport = client.get_transport()
    if transport is None:
        raise SshUnreachable("the SSH connection is closed")
    channel = transport.open_session()
    channel.exec_command(command)
    return Stream(channel)
