"""One keep-alive HTTP/1.1 connection: the requests of the copy's hot path (``s3http.py``), lean.

A profile of the copy pass put a fifth of the worker's CPU in ``http.client``: each answer's
headers go through the ``email`` package's parser, each request's through a validating
``putheader``, and each answer makes a new file object over the socket. A GET, a PUT and a
read-back per small object (30,000 requests a pass over 10,000 objects) pay that every time.
Here a connection keeps one buffered reader, a request is written with one ``sendall`` (its body
too, when it is held in memory), and an answer's headers are split on ``:`` into a dict.

It speaks only what S3 answers: a status line, headers, and a body framed by Content-Length,
chunked transfer encoding or the end of the connection.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterable
from typing import Any

MAX_LINE = 65536
MAX_HEADERS = 200
NO_BODY_STATUSES = frozenset({204, 304})
HELD_BODY_LIMIT = 1024 * 1024  # a held body up to this size goes out with the request's headers


class Disconnected(ConnectionResetError):
    """The server closed the connection before its answer: a kept-alive connection it had
    dropped, or a server that ended mid-answer."""


class BadAnswer(OSError):
    """An answer that is not HTTP/1.x as S3 speaks it."""


class Connection:
    """A connection to ``host:port``, opened when first used and again after it closed."""

    def __init__(self, host: str, port: int, *, timeout: float, tls: ssl.SSLContext | None = None) -> None:
        self.host, self.port, self.timeout, self.tls = host, port, timeout, tls
        self._socket: socket.socket | None = None
        self._reader: Any = None
        self._answer: Answer | None = None

    @property
    def fresh(self) -> bool:
        """Whether the next request opens a new connection (a failure then is no stale keep-alive)."""
        return self._socket is None

    def request(self, method: str, target: str, headers: dict[str, str],
                body: bytes | Iterable[bytes] | None = None) -> Answer:
        """Send a request and read its answer's status and headers; the body is the caller's to
        read (or close) before the next request."""
        if self._answer is not None and not self._answer.done:
            self._answer.done = True  # left unread: its rest would be taken for this answer
            self.close()
        if self._socket is None:
            self._open()
        assert self._socket is not None
        lines = [f"{method} {target} HTTP/1.1", *(f"{name}: {value}" for name, value in headers.items())]
        head = "\r\n".join([*lines, "", ""]).encode("latin-1")
        if head.count(b"\n") != len(lines) + 1:  # a line break in a value would forge headers
            raise ValueError(f"a line break in a header of {method} {target}")
        try:
            if isinstance(body, bytes) and len(body) <= HELD_BODY_LIMIT:
                self._socket.sendall(head + body)
            else:
                self._socket.sendall(head)
                for block in [body] if isinstance(body, bytes) else body or ():
                    self._socket.sendall(block)
            self._answer = answer = Answer(self, method)
            return answer
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._reader.close()
        self._socket = self._reader = self._answer = None

    def _open(self) -> None:
        raw = socket.create_connection((self.host, self.port), timeout=self.timeout)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # a request's blocks go out as they come
        self._socket = self.tls.wrap_socket(raw, server_hostname=self.host) if self.tls else raw
        self._reader = self._socket.makefile("rb")

    def _line(self) -> bytes:
        line = self._reader.readline(MAX_LINE + 1)
        if len(line) > MAX_LINE:
            raise BadAnswer("an answer's line is longer than 64 KiB")
        return line


class Answer:
    """An answer's status, its headers (lower-case names; a repeated one joined with ", ") and its
    body, read as it arrives. Read to its end, it leaves the connection ready for the next
    request; closed before, it closes the connection."""

    def __init__(self, connection: Connection, method: str) -> None:
        self._connection = connection
        while True:
            status_line = connection._line()
            if not status_line:
                raise Disconnected("the server closed the connection before answering")
            version, _, rest = status_line.decode("latin-1").partition(" ")
            code, _, reason = rest.partition(" ")
            if not version.startswith("HTTP/1.") or not code.isdigit():
                raise BadAnswer(f"not an HTTP/1.x status line: {status_line[:80]!r}")
            self.status, self.reason = int(code), reason.strip()
            self.headers = self._headers()
            if not 100 <= self.status < 200:  # an interim answer (100 Continue) precedes the real one
                break
        connection_header = self.headers.get("connection", "").lower()
        self._keep = "close" not in connection_header and (
            version != "HTTP/1.0" or "keep-alive" in connection_header)
        self._chunked = "chunked" in self.headers.get("transfer-encoding", "").lower()
        self._left: int | None = None  # bytes left of the body (or of the current chunk), None: to the end
        self.done = False
        if method == "HEAD" or self.status in NO_BODY_STATUSES:
            self._left = 0
        elif self._chunked:
            self._left = self._next_chunk()
        elif "content-length" in self.headers:
            self._left = int(self.headers["content-length"])
        if self._left == 0:
            self._finish()

    def _headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        for _ in range(MAX_HEADERS):
            line = self._connection._line()
            if line in (b"\r\n", b"\n"):
                return headers
            if not line:
                raise Disconnected("the server closed the connection within an answer's headers")
            name, colon, value = line.decode("latin-1").partition(":")
            if not colon:
                raise BadAnswer(f"not a header line: {line[:80]!r}")
            name, value = name.strip().lower(), value.strip()
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        raise BadAnswer(f"an answer with more than {MAX_HEADERS} headers")

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes of the body (all the rest if negative); b"" at its end."""
        if self.done:
            return b""
        if size < 0:
            return b"".join(iter(lambda: self.read(1 << 20), b""))
        reader = self._connection._reader
        if self._left is None:  # framed by the end of the connection
            data = reader.read1(size) if size else b""
            if not data:
                self._finish()
            return data
        data = reader.read(min(size, self._left))
        if not data and size:
            self._connection.close()
            raise Disconnected(f"the server closed the connection with {self._left} bytes of the body unsent")
        self._left -= len(data)
        if self._left == 0:
            if self._chunked:
                self._connection._line()  # the CRLF that ends a chunk
                self._left = self._next_chunk()
            if self._left == 0:
                self._finish()
        return data

    def close(self) -> None:
        """Stop reading: an unfinished body closes the connection."""
        if not self.done:
            self.done = True
            self._connection.close()

    def _next_chunk(self) -> int:
        line = self._connection._line()
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise BadAnswer(f"not a chunk size: {line[:80]!r}") from None
        if size == 0:
            while self._connection._line() not in (b"\r\n", b"\n", b""):
                pass  # trailers, unused
        return size

    def _finish(self) -> None:
        self.done = True
        if not self._keep or self._left is None:
            self._connection.close()
