"""The lean HTTP/1.1 connection against a server that frames its answers every way S3 may (length,
chunks, the end of the connection), and the listing's pages parsed and followed."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.fixtures.http_server import serving
from toolkit.data.objects.remote import http1, s3http

NS = "http://s3.amazonaws.com/doc/2006-03-01/"
PAGES = {
    "": (f'<ListBucketResult xmlns="{NS}"><IsTruncated>true</IsTruncated>'
         "<NextContinuationToken>next/page +=</NextContinuationToken>"
         "<Contents><Key>a+b%2Bc/%C3%BC%20x</Key><Size>3</Size><ETag>&quot;e1&quot;</ETag>"
         "<LastModified>2026-12-06T20:35:01.250Z</LastModified></Contents>"
         "<Contents><Key>trailing/</Key><Size>0</Size><ETag>&quot;e2&quot;</ETag>"
         "<LastModified>2026-12-06T20:35:02.000Z</LastModified></Contents></ListBucketResult>"),
    "next/page +=": (f'<ListBucketResult xmlns="{NS}"><IsTruncated>false</IsTruncated>'
                     "<Contents><Key>z</Key><Size>12</Size><ETag>&quot;e3-2&quot;</ETag>"
                     "<LastModified>2026-12-06T20:35:03.000Z</LastModified></Contents></ListBucketResult>"),
}


class Framing(http.server.BaseHTTPRequestHandler):
    """``/chunked``: a chunked body with a trailer; ``/eof``: a body that ends with the connection;
    ``/length``: a Content-Length body; ``/bucket?list-type=2``: the listing's pages. Each request
    is recorded with the client's port: the same port is the same connection."""

    protocol_version = "HTTP/1.1"
    seen: list[tuple[str, int]] = []

    def do_GET(self) -> None:
        Framing.seen.append((self.path, self.client_address[1]))
        url = urlsplit(self.path)
        if url.path == "/chunked":
            self.send_response(200)
            self.send_header("transfer-encoding", "chunked")
            self.send_header("x-amz-meta-a", "1")
            self.send_header("x-amz-meta-a", "2")  # repeated: joined
            self.end_headers()
            self.wfile.write(b"6\r\nhello \r\n5;ext=1\r\nworld\r\n0\r\nx-trailer: t\r\n\r\n")
        elif url.path == "/eof":
            self.send_response(200)
            self.send_header("connection", "close")
            self.end_headers()
            self.wfile.write(b"until the end")
            self.close_connection = True
        elif url.path == "/length":
            self.send_response(200)
            self.send_header("content-length", "6")
            self.end_headers()
            self.wfile.write(b"length")
        else:
            query = parse_qs(url.query)
            assert query["list-type"] == ["2"] and query["encoding-type"] == ["url"]
            body = PAGES[query.get("continuation-token", [""])[0]].encode()
            self.send_response(200)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[int]:
    Framing.seen = []
    with serving(Framing) as port:
        yield port


def test_every_framing_is_read_whole_and_a_connection_is_kept_only_when_it_may_be(server: int) -> None:
    connection = http1.Connection("127.0.0.1", server, timeout=10)
    chunked = connection.request("GET", "/chunked", {"host": "x"})
    assert (chunked.status, chunked.headers["x-amz-meta-a"]) == (200, "1, 2")
    assert b"".join(iter(lambda: chunked.read(4), b"")) == b"hello world"
    assert connection.request("GET", "/length", {"host": "x"}).read() == b"length"
    eof = connection.request("GET", "/eof", {"host": "x"})
    assert eof.read() == b"until the end"
    assert connection.fresh  # the server said close: the next request opens a new connection
    assert connection.request("GET", "/length", {"host": "x"}).read() == b"length"
    ports = [port for _, port in Framing.seen]
    assert ports[0] == ports[1] == ports[2] != ports[3]
    with pytest.raises(ValueError, match="line break"):  # nothing sent: no forged header
        connection.request("GET", "/length", {"host": "x", "x-amz-meta-a": "1\r\nx-amz-acl: public-read"})
    assert len(Framing.seen) == 4


def test_an_answer_left_unread_closes_its_connection_not_the_next_one(server: int) -> None:
    connection = http1.Connection("127.0.0.1", server, timeout=10)
    first = connection.request("GET", "/chunked", {"host": "x"})
    assert first.read(3) == b"hel"
    second = connection.request("GET", "/length", {"host": "x"})  # on a new connection
    first.close()  # too late to matter: it must not close the second's connection
    assert second.read() == b"length"
    assert Framing.seen[0][1] != Framing.seen[1][1]


def test_a_server_that_closed_the_connection_is_a_retryable_disconnection() -> None:
    httpd = http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    port = httpd.server_port

    def read_then_close() -> None:  # as a server whose keep-alive timeout just ended
        accepted = httpd.get_request()[0]
        accepted.recv(65536)
        accepted.close()

    threading.Thread(target=read_then_close, daemon=True).start()
    try:
        with pytest.raises(http1.Disconnected) as raised:
            http1.Connection("127.0.0.1", port, timeout=10).request("GET", "/", {"host": "x"})
        assert s3http.retryable(raised.value)
    finally:
        httpd.server_close()


def test_the_listing_follows_its_pages_and_decodes_keys_as_boto3_does(server: int) -> None:
    objects = s3http.ObjectHttp(f"http://127.0.0.1:{server}", "us-east-1", "AK", "SK")
    first, token = objects.list_page("bucket")
    assert token == "next/page +="
    last, end = objects.list_page("bucket", token)
    assert end is None
    assert [(o.bucket, o.key, o.size, o.etag) for o in first + last] == [
        ("bucket", "a b+c/ü x", 3, '"e1"'), ("bucket", "trailing/", 0, '"e2"'), ("bucket", "z", 12, '"e3-2"')]
    # As botocore's parser and ``isoformat()`` give it, which the manifests hold.
    assert first[0].last_modified == "2026-12-06T20:35:01.250000+00:00"
    assert last[0].last_modified == "2026-12-06T20:35:03+00:00"
    query = "continuation-token=next%2Fpage%20%2B%3D&encoding-type=url&list-type=2"  # sorted, as signed
    assert Framing.seen[1][0] == f"/bucket?{query}"
