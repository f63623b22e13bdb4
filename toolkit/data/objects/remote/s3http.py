"""GET and PUT of one object over keep-alive HTTP: the copy's hot path, without boto3's machinery.

A profile of the object copy put most of a small object's time in botocore, not on the wire:
about 1.2 ms of CPU per request (its event hooks, endpoint rules, serialiser and parser) against
0.23 ms for the same signed request sent here, and a small object costs three requests (the
source's GET, the target's PUT, the read-back). So the three go through this module, one
connection per thread and endpoint, signed by ``sigv4.py``; everything else (listings, multipart
uploads, the checksum probe, deletes) stays with boto3 (``store.py``), where a request's overhead
is paid once per listing page or per 8 MiB part.

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
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

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


class Body:
    """A response body read as it arrives. Closed before its end, it closes the connection too,
    since the unread rest would otherwise be taken for the next answer."""

    def __init__(self, response: http.client.HTTPResponse, connection: http.client.HTTPConnection) -> None:
        self._response, self._connection = response, connection

    def read(self, size: int = -1) -> bytes:
        return self._response.read(None if size < 0 else size)

    def close(self) -> None:
        if not self._response.isclosed():
            self._response.close()
            self._connection.close()


@dataclass(frozen=True)
class Got:
    """A GET's answer: its headers (lower-case names) and its body, to read then close."""

    headers: dict[str, str]
    body: Body

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
                 session_token: str | None = None, timeout: float = TIMEOUT_S) -> None:
        url = urlsplit(endpoint or f"https://s3.{region}.amazonaws.com")
        self.secure = url.scheme == "https"
        self.hostname = url.hostname or ""
        self.port = url.port or (443 if self.secure else 80)
        self.host = url.netloc  # as the Host header and the signature name it
        self.timeout = timeout
        self.signer = Signer(access_key, secret_key, region, session_token=session_token)
        self._tls = ssl.create_default_context() if self.secure else None
        self._local = threading.local()

    def get(self, bucket: str, key: str) -> Got:
        response, connection = self._send("GET", bucket, key, {}, None, EMPTY_SHA256)
        return Got({name.lower(): value for name, value in response.getheaders()}, Body(response, connection))

    def put(self, bucket: str, key: str, body: bytes | Iterable[bytes], headers: dict[str, str], *,
            size: int | None = None) -> dict[str, str]:
        """Store ``body`` with ``headers`` (lower-case names); the answer's headers (``etag``...).

        ``body`` is bytes, or blocks of ``size`` bytes in all, sent as they come: a stream is sent
        once (it cannot be sent again), so its failure is the caller's to retry."""
        length = len(body) if isinstance(body, bytes) else size
        if length is None:
            raise ValueError("a streamed body needs its size")
        response, _ = self._send("PUT", bucket, key, {**headers, "content-length": str(length)},
                                 body, UNSIGNED_PAYLOAD, attempts=ATTEMPTS if isinstance(body, bytes) else 1)
        response.read()
        return {name.lower(): value for name, value in response.getheaders()}

    def _send(self, method: str, bucket: str, key: str, headers: dict[str, str],
              body: bytes | Iterable[bytes] | None, payload_hash: str, attempts: int = ATTEMPTS,
              ) -> tuple[http.client.HTTPResponse, http.client.HTTPConnection]:
        path = object_path(bucket, key)
        for attempt in range(1, attempts + 1):
            connection = self._connection()
            fresh = connection.sock is None
            signed = self.signer.sign(method, self.host, path, headers, payload_hash=payload_hash)
            try:
                connection.request(method, path, body=body, headers=signed)
                response = connection.getresponse()
            except BaseException as error:  # the connection is mid-request: never reused
                connection.close()
                if attempt == attempts or not retryable(error):
                    raise
                if fresh or not isinstance(error, (http.client.RemoteDisconnected, ConnectionResetError,
                                                   BrokenPipeError)):
                    _backoff(attempt)
                continue  # a kept-alive connection the server had closed: at once, on a new one
            if response.status < 300:
                return response, connection
            refusal = S3Error(response.status, *_code_and_message(response.read()))
            if response.status not in RETRIED_STATUSES or attempt == attempts:
                raise refusal
            _backoff(attempt)
        raise AssertionError("unreachable")

    def _connection(self) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if connection is None:
            if self._tls is not None:
                connection = http.client.HTTPSConnection(self.hostname, self.port, timeout=self.timeout,
                                                          context=self._tls)
            else:
                connection = http.client.HTTPConnection(self.hostname, self.port, timeout=self.timeout)
            self._local.connection = connection
        return connection


def retryable(error: BaseException) -> bool:
    """Whether ``error`` may pass if the request is sent again: a dropped connection, a 5xx, throttling."""
    if isinstance(error, S3Error):
        return error.status in RETRIED_STATUSES
    return isinstance(error, (OSError, http.client.HTTPException))


def from_side(side: dict[str, Any]) -> ObjectHttp:
    """The client of a job's ``source`` or ``target``."""
    return ObjectHttp(side.get("endpoint") or None, side.get("region") or "us-east-1", side["access_key"],
                      side["secret_key"], session_token=side.get("session_token"))


def _code_and_message(answer: bytes) -> tuple[str, str]:
    text = answer.decode("utf-8", "replace")
    code = re.search(r"<Code>(.*?)</Code>", text, re.S)
    message = re.search(r"<Message>(.*?)</Message>", text, re.S)
    return (code.group(1) if code else ""), (message.group(1) if message else text[:200])


def _backoff(attempt: int) -> None:
    time.sleep(min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** (attempt - 1)) * random.random())
