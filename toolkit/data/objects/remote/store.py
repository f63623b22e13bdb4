"""One side of the copy (a job's ``source`` or ``target``): its objects over lean HTTP, the rest
through boto3.

``http`` carries what each object costs (GET, PUT, the read-back: ``s3http.py``); ``s3``, a boto3
client made when first used, carries what is paid once per page, part or pass (listings,
multipart uploads, the checksum probe, deletes). A copy process that only moves small objects
never loads boto3's S3 model.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import boto3
from botocore.config import Config

from . import s3http

_session_lock = threading.Lock()
_sessions: dict[int, Any] = {}


def session() -> Any:
    """This process's boto3 session: every session loads its own copy of the S3 model (about
    12 MB), so the clients of one process share one (a forked copy process makes its own)."""
    with _session_lock:
        if os.getpid() not in _sessions:
            _sessions[os.getpid()] = boto3.session.Session()
        return _sessions[os.getpid()]


def client(side: dict[str, Any], threads: int) -> Any:
    """A boto3 client of ``side``."""
    # Requests are built here from listings, so botocore's per-call validation is CPU for nothing.
    # Payloads are not hashed for the signature: every copied object is read back and its SHA-256
    # compared (transfer.py), which proves more than a signed upload, for one hash less per byte.
    options: dict[str, Any] = {"s3": {"addressing_style": "path", "payload_signing_enabled": False},
                               "max_pool_connections": threads + 4,
                               "retries": {"max_attempts": s3http.ATTEMPTS, "mode": "standard"},
                               "parameter_validation": False}
    try:  # botocore >= 1.36 sends checksums by default; they are sent only when the probe says so
        config = Config(request_checksum_calculation="when_required",
                        response_checksum_validation="when_required", **options)
    except TypeError:  # an older botocore (Debian's) has neither setting nor the default
        config = Config(**options)
    return session().client(
        "s3", endpoint_url=side.get("endpoint") or None, region_name=side.get("region") or "us-east-1",
        aws_access_key_id=side["access_key"], aws_secret_access_key=side["secret_key"],
        aws_session_token=side.get("session_token"), config=config)


class Store:
    def __init__(self, side: dict[str, Any], threads: int) -> None:
        self.side, self.threads = side, threads
        self.http = s3http.from_side(side)
        self._s3: Any = None
        self._lock = threading.Lock()

    @property
    def s3(self) -> Any:
        with self._lock:
            if self._s3 is None:
                self._s3 = client(self.side, self.threads)
            return self._s3

    @property
    def name(self) -> str:
        return str(self.side.get("endpoint") or f"s3.{self.side.get('region') or 'us-east-1'}.amazonaws.com")
