"""One HTTP request per connection, resolving the host name afresh every time.

No connection pool: a long-lived connection would keep talking to the old address after a DNS
cutover. With a `DnsResolver`, the name is asked of one given DNS server (e.g. the authoritative
server the cutover changed) and the answered address is dialled with the right Host header.
Failures are split by whether the request can have reached the server: `NotSent` (connecting
failed, nothing was applied) versus `NoAnswer` (sent, but no complete answer; outcome unknown).
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import socket
import ssl
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

import dns.exception
import dns.resolver


class NotSent(Exception):
    """The request never reached the server (name resolution or connecting failed)."""


class NoAnswer(Exception):
    """The request was sent (or may have been) but no complete response came back."""


class Resolver(Protocol):
    def resolve(self, host: str, timeout: float) -> str: ...


class SystemResolver:
    """The operating system's resolver, asked afresh on every request."""

    def resolve(self, host: str, timeout: float) -> str:
        try:
            infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise NotSent(f"cannot resolve {host}: {exc}") from exc
        return str(infos[0][4][0])


class DnsResolver:
    """Ask one DNS server directly (no cache), for A then AAAA records."""

    def __init__(self, server: str) -> None:
        host, port = parse_server(server)
        self._resolver = dns.resolver.Resolver(configure=False)
        self._resolver.nameservers = [host]
        self._resolver.port = port
        self._resolver.cache = None

    def resolve(self, host: str, timeout: float) -> str:
        for rdtype in ("A", "AAAA"):
            try:
                answer = self._resolver.resolve(host, rdtype, lifetime=timeout)
            except (dns.resolver.NoAnswer, dns.resolver.NXDOMAIN):
                continue
            except dns.exception.DNSException as exc:
                raise NotSent(f"cannot resolve {host}: {exc}") from exc
            return str(answer[0])
        raise NotSent(f"cannot resolve {host}: no A or AAAA record")


def parse_server(server: str) -> tuple[str, int]:
    """'IP', 'IP:PORT' or '[IPv6]:PORT' to (ip, port); port 53 by default."""
    if server.startswith("["):
        host, _, rest = server[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else 53
    if server.count(":") == 1:
        host, port = server.split(":")
        return host, int(port)
    return server, 53


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None


class TlsConnection(http.client.HTTPSConnection):
    """HTTPS to a resolved address, with the URL's name for SNI and the certificate check.

    Trusted roots are the system's (``SSL_CERT_FILE`` names another bundle, e.g. a lab's CA).
    """

    def __init__(self, address: str, port: int, *, server_name: str, timeout: float) -> None:
        super().__init__(address, port, timeout=timeout, context=ssl.create_default_context())
        self.server_name = server_name

    def connect(self) -> None:
        http.client.HTTPConnection.connect(self)  # the TCP connection to the address
        self.sock = self._context.wrap_socket(self.sock, server_hostname=self.server_name)  # type: ignore[attr-defined]


def request(
    method: str,
    url: str,
    payload: Any = None,
    timeout: float = 2.0,
    resolver: Resolver | None = None,
) -> Response:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"only http:// and https:// URLs are supported, not {url!r}")
    host = parts.hostname
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        ipaddress.ip_address(host)
        address = host
    except ValueError:
        address = (resolver or SystemResolver()).resolve(host, timeout)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = {"Host": parts.netloc, "Connection": "close", "Accept": "application/json"}
    body = None
    if payload is not None:
        body = json.dumps(payload).encode()
        headers["Content-Type"] = "application/json"
    conn = (TlsConnection(address, port, server_name=host, timeout=timeout) if parts.scheme == "https"
            else http.client.HTTPConnection(address, port, timeout=timeout))
    try:
        try:
            conn.connect()
        except OSError as exc:
            raise NotSent(f"cannot connect to {address}:{port}: {exc}") from exc
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            return Response(resp.status, resp.read())
        except (OSError, http.client.HTTPException) as exc:
            raise NoAnswer(f"{method} {url}: {exc or type(exc).__name__}") from exc
    finally:
        conn.close()
