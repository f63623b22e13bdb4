"""HTTPS to a resolved address: the URL's name goes into SNI and the certificate check."""

from __future__ import annotations

import http.server
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from refservice.dialer import NotSent, request
from toolkit.lab.keys import lab_ca, server_certificate


class Fixed:
    """A resolver that answers every name with one address."""

    def resolve(self, host: str, timeout: float) -> str:
        return "127.0.0.1"


class Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'{"host": "%s"}' % self.headers["Host"].encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def tls_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    ca, ca_key, ca_cert = lab_ca("dialer")
    served = server_certificate(ca_key, ca_cert, ["app.test"], [])
    (tmp_path / "ca.pem").write_bytes(ca.certificate)
    (tmp_path / "cert.pem").write_bytes(served.certificate)
    (tmp_path / "key.pem").write_bytes(served.key)
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hello)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()


def test_https_dials_the_address_and_checks_the_name(tls_server: int) -> None:
    answer = request("GET", f"https://app.test:{tls_server}/", resolver=Fixed(), timeout=5)
    assert answer.status == 200 and answer.json() == {"host": f"app.test:{tls_server}"}


def test_a_certificate_for_another_name_is_refused_before_anything_is_sent(tls_server: int) -> None:
    with pytest.raises(NotSent, match="certificate"):
        request("GET", f"https://other.test:{tls_server}/", resolver=Fixed(), timeout=5)
