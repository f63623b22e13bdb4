"""The copy's lean S3 path: SigV4 against AWS's published examples, objects through moto over
HTTP (tricky keys, metadata, a missing key), and the retries against a server that fails on purpose."""

from __future__ import annotations

import calendar
import hashlib
from collections.abc import Iterator
from typing import Any

import pytest

from tests.fixtures.http_server import Handler, serving
from tests.fixtures.moto import running_moto
from toolkit.data.objects.remote import parts, s3http, store, transfer, worker
from toolkit.data.objects.remote.sigv4 import EMPTY_SHA256, Signer, object_path

from .test_objects_pool import side
from .test_objects_pool import stores as stores  # a fixture, shared

# docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html, "Examples"
EXAMPLE_SIGNER = Signer("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "us-east-1")
EXAMPLE_TIME = calendar.timegm((2013, 5, 24, 0, 0, 0))
EXAMPLE_HOST = "examplebucket.s3.amazonaws.com"


def signature(headers: dict[str, str]) -> str:
    return headers["authorization"].rsplit("Signature=", 1)[1]


def test_a_get_is_signed_as_aws_documents_it() -> None:
    signed = EXAMPLE_SIGNER.sign("GET", EXAMPLE_HOST, "/test.txt", {"range": "bytes=0-9"},
                                 payload_hash=EMPTY_SHA256, now=EXAMPLE_TIME)
    assert "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date," in signed["authorization"]
    assert signature(signed) == "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"


def test_a_put_with_an_encoded_key_is_signed_as_aws_documents_it() -> None:
    payload = hashlib.sha256(b"Welcome to Amazon S3.").hexdigest()
    path = object_path("examplebucket", "test$file.text")
    assert path == "/examplebucket/test%24file.text"
    signed = EXAMPLE_SIGNER.sign("PUT", EXAMPLE_HOST, path.removeprefix("/examplebucket"),
                                 {"date": "Fri, 24 May 2013 00:00:00 GMT",
                                  "x-amz-storage-class": "REDUCED_REDUNDANCY"},
                                 payload_hash=payload, now=EXAMPLE_TIME)
    assert signature(signed) == "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"


def test_keys_are_encoded_once_byte_for_byte() -> None:
    assert object_path("b", "a b/ü+%#?'\"~") == "/b/a%20b/%C3%BC%2B%25%23%3F%27%22~"


BUCKET = "http-bucket"
KEYS = ["plain", "with space/and+plus", "ünïcødé/ファイル-🦀", "per%cent%2F", "hash#q?x=1&y",
        "quotes/'a' \"b\"", "trailing/", "//double//slashes"]


@pytest.fixture(scope="module")
def moto_side() -> Iterator[dict[str, Any]]:
    with running_moto() as url:
        yield side(url)


def test_objects_go_and_come_back_exactly_through_moto(moto_side: dict[str, Any]) -> None:
    s3 = store.client(moto_side, 2)
    s3.create_bucket(Bucket=BUCKET)
    objects = s3http.from_side(moto_side)
    for i, key in enumerate(KEYS):
        body = f"body {i} of {key}".encode() * (i + 1)
        answer = objects.put(BUCKET, key, body, {"content-type": "text/x-test", "cache-control": "no-cache",
                                                  "x-amz-meta-origin": "tricky", "x-amz-meta-index": str(i)})
        assert answer["etag"].strip('"') == hashlib.md5(body).hexdigest(), key
        seen = s3.get_object(Bucket=BUCKET, Key=key)  # boto3 reads what the lean path wrote
        assert seen["Body"].read() == body, key
        assert seen["Metadata"] == {"origin": "tricky", "index": str(i)}, key
        got = objects.get(BUCKET, key)
        assert (got.body.read(), got.size, got.etag) == (body, len(body), answer["etag"]), key
        assert got.content == {"ContentType": "text/x-test", "CacheControl": "no-cache"}, key
        assert got.metadata == {"origin": "tricky", "index": str(i)}, key
        assert got.last_modified == seen["LastModified"].isoformat(), key


def test_a_missing_key_is_a_vanished_object_and_the_connection_stays_usable(
        moto_side: dict[str, Any]) -> None:
    store.client(moto_side, 2).create_bucket(Bucket=f"{BUCKET}-2")
    objects = s3http.from_side(moto_side)
    with pytest.raises(s3http.S3Error) as raised:
        objects.get(f"{BUCKET}-2", "no/such key")
    assert (raised.value.status, raised.value.code) == (404, "NoSuchKey")
    assert transfer.vanished(raised.value)
    objects.put(f"{BUCKET}-2", "after", b"x", {})
    got = objects.get(f"{BUCKET}-2", "after")
    assert got.body.read() == b"x"
    half = objects.get(f"{BUCKET}-2", "after")  # closed unread: its connection closes with it
    half.body.close()
    assert objects.get(f"{BUCKET}-2", "after").body.read() == b"x"


class Flaky(Handler):
    """Answers 503 SlowDown to the first GET, drops the connection after the second answer (as an
    idle keep-alive timeout does), then serves; a PUT is always refused with AccessDenied."""

    seen: list[str] = []

    def do_GET(self) -> None:
        Flaky.seen.append(self.path)
        if len(Flaky.seen) == 1:
            self.answer(503, b"<Error><Code>SlowDown</Code><Message>Reduce your rate</Message></Error>")
            return
        self.answer(200, b"hello", {"x-amz-meta-a": "1", "content-type": "text/plain"})
        if len(Flaky.seen) == 2:
            self.close_connection = True

    def do_PUT(self) -> None:
        self.rfile.read(int(self.headers["content-length"]))
        self.answer(403, b"<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>")


@pytest.fixture
def flaky() -> Iterator[s3http.ObjectHttp]:
    Flaky.seen = []
    with serving(Flaky) as port:
        yield s3http.ObjectHttp(f"http://127.0.0.1:{port}", "us-east-1", "AK", "SK")


def test_throttling_and_a_dropped_connection_are_retried_a_refusal_is_not(flaky: s3http.ObjectHttp) -> None:
    assert flaky.get("bucket", "k").body.read() == b"hello"  # 503, then served
    got = flaky.get("bucket", "k")  # on a new connection: the server closed the last one
    assert (got.body.read(), got.metadata) == (b"hello", {"a": "1"})
    assert got.content == {"ContentType": "text/plain"}
    assert Flaky.seen == ["/bucket/k"] * 3
    with pytest.raises(s3http.S3Error, match="AccessDenied: Access Denied"):
        flaky.put("bucket", "k", b"body", {})


def test_an_object_above_the_memory_limit_is_streamed_in_one_put_and_proven(
        stores: tuple[dict[str, Any], dict[str, Any]]) -> None:
    source_side, target_side = stores
    for one in stores:
        store.client(one, 2).create_bucket(Bucket=BUCKET)
    body = bytes(range(256)) * (parts.MEMORY_PART_LIMIT // 256 + 4096)  # 17 MiB: above the limit
    store.client(source_side, 2).put_object(Bucket=BUCKET, Key="big", Body=body, ContentType="x/big",
                                            Metadata={"size": "big"})
    [listed] = worker.listing(s3http.from_side(source_side), BUCKET)
    entry = transfer.copy_object(store.Store(source_side, 2), store.Store(target_side, 2), listed,
                                 transfer.Settings(checksums=True))
    assert (entry.size, entry.sha256) == (len(body), hashlib.sha256(body).hexdigest())
    assert "-" not in entry.target_etag  # one PUT, not parts
    got = store.client(target_side, 2).get_object(Bucket=BUCKET, Key="big")
    assert (got["Body"].read(), got["ContentType"], got["Metadata"]) == (body, "x/big", {"size": "big"})
