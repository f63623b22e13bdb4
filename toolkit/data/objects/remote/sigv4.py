"""AWS Signature Version 4 for the S3 requests the copy's hot path sends (``s3http.py``).

Header-based signing as AWS documents it for S3: the canonical request (method, the URI as sent,
the query, the signed headers, the payload's hash), the string to sign, and a signing key derived
from the secret for the day, cached since it changes once a day. S3's canonical URI is the path as
sent, encoded once (S3 does not normalise paths), which ``object_path`` builds.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import quote

ALGORITHM = "AWS4-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
# Sent but not signed: the length is the body's, and a proxy may change the other two.
UNSIGNED_HEADERS = frozenset({"content-length", "user-agent", "expect", "accept-encoding"})


def object_path(bucket: str, key: str) -> str:
    """The path-style URI of an object: every byte but unreserved characters and ``/`` encoded."""
    return quote(f"/{bucket}/{key}", safe="/~")


class Signer:
    def __init__(self, access_key: str, secret_key: str, region: str, *, session_token: str | None = None,
                 service: str = "s3") -> None:
        self.access_key, self.region, self.service = access_key, region, service
        self.session_token = session_token
        self._secret = secret_key
        self._keys: dict[str, bytes] = {}

    def sign(self, method: str, host: str, path: str, headers: dict[str, str], *, query: str = "",
             payload_hash: str = UNSIGNED_PAYLOAD, now: float | None = None) -> dict[str, str]:
        """``headers`` (lower-case names) with ``host``, ``x-amz-date``, ``x-amz-content-sha256``, the
        session token if any, and ``authorization`` added. ``query`` is already canonical (sorted,
        encoded), as it is sent."""
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
        signed = {**headers, "host": host, "x-amz-date": stamp, "x-amz-content-sha256": payload_hash}
        if self.session_token:
            signed["x-amz-security-token"] = self.session_token
        names = sorted(name for name in signed if name not in UNSIGNED_HEADERS)
        canonical_headers = "".join(f"{name}:{' '.join(str(signed[name]).split())}\n" for name in names)
        signed_names = ";".join(names)
        request = "\n".join((method, path, query, canonical_headers, signed_names, payload_hash))
        scope = f"{stamp[:8]}/{self.region}/{self.service}/aws4_request"
        to_sign = "\n".join((ALGORITHM, stamp, scope, hashlib.sha256(request.encode()).hexdigest()))
        signature = hmac.digest(self._key(stamp[:8]), to_sign.encode(), "sha256").hex()  # OpenSSL's one-shot
        signed["authorization"] = (f"{ALGORITHM} Credential={self.access_key}/{scope}, "
                                   f"SignedHeaders={signed_names}, Signature={signature}")
        return signed

    def _key(self, day: str) -> bytes:
        key = self._keys.get(day)
        if key is None:
            key = f"AWS4{self._secret}".encode()
            for part in (day, self.region, self.service, "aws4_request"):
                key = hmac.new(key, part.encode(), hashlib.sha256).digest()
            self._keys = {day: key}  # one day at a time
        return key
