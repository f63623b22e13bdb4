"""GET and PUT of one object, and the listing's pages, over keep-alive HTTP: the copy's hot path,
without boto3's machinery.

A profile of the object copy put most of a small object's time in botocore, not on the wire:
about 1.2 ms of CPU per request (its event hooks, endpoint rules, serialiser and parser) against
0.23 ms for the same signed request sent here, and a small object costs three requests (the
source's GET, the target's PUT, the read-back). So the three go through this module, one
connection per thread and endpoint (``http1.py``), signed by ``sigv4.py``. So do the listings:
botocore's parser took about 70 ms of CPU a page of 1,000 keys (its timestamps go through
dateutil), ElementTree here about 8 ms.
Everything else (multipart uploads, the checksum probe, deletes) stays with boto3
(``store.py``), where a request's overhead is paid once per 8 MiB part or per pass.

Retries follow botocore's standard mode: a dropped connection, a 5xx or a throttling answer is
tried again, up to ``ATTEMPTS`` times with jittered exponential backoff (a kept-alive connection
the server closed is retried at once). Any other answer raises ``S3Error`` with S3's code.
"""

from __future__ import annotations

import http.client
import random
import re
import ssl
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, unquote_plus, urlsplit
from xml.etree import ElementTree

from . import http1, pacing
from .manifest import Listed
from .sigv4 import EMPTY_SHA256, UNSIGNED_PAYLOAD, Signer, object_path

ATTEMPTS = 5
TIMEOUT_S = 60.0
BACKOFF_BASE_S = 0.2
BACKOFF_MAX_S = 20.0
RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})
METADATA_PREFIX = "x-amz-meta-"
# The headers that describe the content and travel with it, by boto3's names (the multipart
# upload, made through boto3, takes them by these names).
CONTENT_HEADERS = {"ContentType": "content-type", "CacheControl": "cache-control",
                   "ContentDisposition": "content-disposition", "ContentEncoding": "content-encoding",
                   "ContentLanguage": "content-language"}


class S3Error(Exception):
    """An answer that is not a success, with S3's error code (``NoSuchKey``, ``AccessDenied``...)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code or status}: {message}" if message else (code or str(status)))
        self.status, self.code = status, code


@dataclass(frozen=True)
class Got:
    """A GET's answer: its headers (lower-case names) and its body, to read then close."""

    headers: dict[str, str]
    body: http1.Answer

    @property
    def size(self) -> int:
        return int(self.headers.get("content-length", 0))

    @property
    def etag(self) -> str:
        return self.headers.get("etag", "")

    @property
    def last_modified(self) -> str:
        """ISO 8601, as a listing's ``LastModified`` reads in the manifest."""
        value = self.headers.get("last-modified")
        return parsedate_to_datetime(value).isoformat() if value else ""

    @property
    def version_id(self) -> str | None:
        return self.headers.get("x-amz-version-id")

    @property
    def content(self) -> dict[str, str]:
        """The content headers by boto3's names."""
        return {name: self.headers[header] for name, header in CONTENT_HEADERS.items()
                if self.headers.get(header)}

    @property
    def metadata(self) -> dict[str, str]:
        return {name[len(METADATA_PREFIX):]: value for name, value in self.headers.items()
                if name.startswith(METADATA_PREFIX)}


class ObjectHttp:
    """One S3 endpoint's objects, path-style (``https://s3.<region>.amazonaws.com`` without one)."""

    def __init__(self, endpoint: str | None, region: str, access_key: str, secret_key: str, *,
                 session_token: str | None = None, timeout: float = TIMEOUT_S,
                 pace: pacing.Pace | None = None) -> None:
        url = urlsplit(endpoint or f"https://s3.{region}.amazonaws.com")
        self.hostname = url.hostname or ""
        self.port = url.port or (443 if url.scheme == "https" else 80)
        self.host = url.netloc  # as the Host header and the signature name it
        self.timeout = timeout
        self.pace = pace  # every request waits for its slot, retries too: they load the store alike
        self.signer = Signer(access_key, secret_key, region, session_token=session_token)
        self._tls = ssl.create_default_context() if url.scheme == "https" else None
        self._local = threading.local()

    def get(self, bucket: str, key: str) -> Got:
        answer = self._send("GET", object_path(bucket, key), {}, None, EMPTY_SHA256)
        return Got(answer.headers, answer)

    def put(self, bucket: str, key: str, body: bytes | Iterable[bytes], headers: dict[str, str], *,
            size: int | None = None) -> dict[str, str]:
        """Store ``body`` with ``headers`` (lower-case names); the answer's headers (``etag``...).

        ``body`` is bytes, or blocks of ``size`` bytes in all, sent as they come: a stream is sent
        once (it cannot be sent again), so its failure is the caller's to retry."""
        length = len(body) if isinstance(body, bytes) else size
        if length is None:
            raise ValueError("a streamed body needs its size")
        answer = self._send("PUT", object_path(bucket, key), {**headers, "content-length": str(length)},
                            body, UNSIGNED_PAYLOAD, attempts=ATTEMPTS if isinstance(body, bytes) else 1)
        answer.read()
        return answer.headers

    def list_page(self, bucket: str, token: str | None = None) -> tuple[list[Listed], str | None]:
        """One page of the bucket's listing (ListObjectsV2, up to 1,000 keys) and the token of the
        next, None after the last. Keys come URL-encoded (``encoding-type=url``, as boto3 asks):
        XML 1.0 cannot carry every character a key may hold."""
        query = {"encoding-type": "url", "list-type": "2", **({"continuation-token": token} if token else {})}
        canonical = "&".join(f"{quote(name, safe='-_.~')}={quote(value, safe='-_.~')}"
                             for name, value in sorted(query.items()))
        path = object_path(bucket, "").rstrip("/")
        answer = self._send("GET", path, {}, None, EMPTY_SHA256, query=canonical)
        return parse_listing(bucket, answer.read())

    def _send(self, method: str, path: str, headers: dict[str, str], body: bytes | Iterable[bytes] | None,
              payload_hash: str, *, query: str = "", attempts: int = ATTEMPTS) -> http1.Answer:
        target = f"{path}?{query}" if query else path
        for attempt in range(1, attempts + 1):
            if self.pace is not None:
                self.pace.wait()
            connection = self._connection()
            fresh = connection.fresh
            signed = self.signer.sign(method, self.host, path, headers, query=query,
                                      payload_hash=payload_hash)
            try:
                answer = connection.request(method, target, signed, body)
            except BaseException as error:  # the connection is mid-request: never reused
                connection.close()
                if attempt == attempts or not retryable(error):
                    raise
                if fresh or not isinstance(error, (ConnectionResetError, BrokenPipeError)):
                    _backoff(attempt)
                continue  # a kept-alive connection the server had closed: at once, on a new one
            if answer.status < 300:
                return answer
            refusal = S3Error(answer.status, *_code_and_message(answer.read()))
            if answer.status not in RETRIED_STATUSES or attempt == attempts:
                raise refusal
            _backoff(attempt)
        raise AssertionError("unreachable")

    def _connection(self) -> http1.Connection:
        connection: http1.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = http1.Connection(self.hostname, self.port, timeout=self.timeout, tls=self._tls)
            self._local.connection = connection
        return connection


def parse_listing(bucket: str, xml: bytes) -> tuple[list[Listed], str | None]:
    """A ListObjectsV2 answer's objects (URL-encoded keys decoded) and its next continuation token."""
    root = ElementTree.fromstring(xml)
    namespace = root.tag[:root.tag.index("}") + 1] if root.tag.startswith("{") else ""

    def field(item: ElementTree.Element, name: str) -> str:
        return item.findtext(namespace + name) or ""

    objects = [Listed(bucket=bucket, key=unquote_plus(field(item, "Key")), size=int(field(item, "Size") or 0),
                      etag=field(item, "ETag"), last_modified=_iso8601(field(item, "LastModified")))
               for item in root.iterfind(namespace + "Contents")]
    if field(root, "IsTruncated").lower() != "true":
        return objects, None
    token = field(root, "NextContinuationToken")
    if not token:  # stopping here would leave the rest of the bucket uncopied, unsaid
        raise S3Error(200, "", f"a truncated listing of bucket {bucket} without a continuation token")
    return objects, token


def _iso8601(timestamp: str) -> str:
    """A listing's LastModified as boto3's ``isoformat()`` writes it (the manifests hold it so)."""
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).isoformat()


def retryable(error: BaseException) -> bool:
    """Whether ``error`` may pass if the request is sent again: a dropped connection, a 5xx, throttling."""
    if isinstance(error, S3Error):
        return error.status in RETRIED_STATUSES
    return isinstance(error, (OSError, http.client.HTTPException))  # the latter from boto3's own requests


def from_side(side: dict[str, Any]) -> ObjectHttp:
    """The client of a job's ``source`` or ``target``."""
    return ObjectHttp(side.get("endpoint") or None, side.get("region") or "us-east-1", side["access_key"],
                      side["secret_key"], session_token=side.get("session_token"), pace=pacing.for_side(side))


def _code_and_message(answer: bytes) -> tuple[str, str]:
    text = answer.decode("utf-8", "replace")
    code = re.search(r"<Code>(.*?)</Code>", text, re.S)
    message = re.search(r"<Message>(.*?)</Message>", text, re.S)
    return (code.group(1) if code else ""), (message.group(1) if message else text[:200])


def _backoff(attempt: int) -> None:
    time.sleep(min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** (attempt - 1)) * random.random())
