"""Copy one object from the source S3 to the target, streamed, and prove it by reading it back.

The source body is hashed (SHA-256) as it passes. An object up to ``parts.MEMORY_PART_LIMIT`` is
held and sent in one PUT with its checksum; a larger one streams from the source's GET into one
PUT in blocks; past the multipart threshold it goes in parts (``parts.py``). The GETs and PUTs
go over ``s3http.py``, the multipart upload through boto3. Then the target's bytes are read back
and hashed again: the copy counts only when both digests agree, along with size, Content-Type and
user metadata. A multipart ETag is not an MD5 and a multipart checksum is composite, so neither is
trusted here.

Why the read-back stays, though it is a second request per object: a store that checks
``x-amz-checksum-sha256`` on upload proves only the bytes that reached its front end, hashed
before they are written; it says nothing of what its volume servers keep (SeaweedFS hashes the
request stream in the S3 gateway, then writes chunks elsewhere), and it returns the checksum it
was given, not one computed from the stored chunks. Only bytes read back from the store prove
what a client will read. The cost is kept low instead: the copy, read-back included, runs over
one process per core (``pool.py``).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from . import parts, s3http
from .manifest import Entry, Listed
from .store import Store

BLOCK = 1024 * 1024
PROBE_PREFIX = ".toolkit-checksum-probe-"
# Parts a process holds at once: a thread past them waits with its source stream open, so a
# process's part buffers stay PART_BUFFERS x the part size however many large objects it copies
# (the source, not the number of parts in flight, bounds a large object's speed).
PART_BUFFERS = 4
_part_buffers = threading.BoundedSemaphore(PART_BUFFERS)


class CopyFailed(Exception):
    """The object could not be copied, or the bytes read back differ from the source's."""


@dataclass(frozen=True)
class Settings:
    threshold: int = parts.MULTIPART_THRESHOLD
    min_part: int = parts.MIN_PART_SIZE
    checksums: bool = False  # the target verifies x-amz-checksum-sha256 (probed, not assumed)
    spool_dir: str | None = None


def _lower(metadata: dict[str, str] | None) -> dict[str, str]:
    return {key.lower(): value for key, value in (metadata or {}).items()}


def probe_checksums(target: Any, bucket: str, wait_s: float = 60.0) -> bool:
    """Whether the target accepts, keeps and returns a SHA-256 checksum (a probe object, then removed).

    A refusal (4xx) means no; a store still starting (5xx, no answer) is waited for, up to ``wait_s``.
    """
    body = uuid.uuid4().bytes
    key = f"{PROBE_PREFIX}{uuid.uuid4().hex}"
    expected = base64.b64encode(hashlib.sha256(body).digest()).decode()
    deadline = time.monotonic() + wait_s
    while True:
        try:
            put = target.put_object(Bucket=bucket, Key=key, Body=body, ChecksumSHA256=expected)
            break
        except ClientError as error:
            status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 500)
            if status < 500:
                return False  # rejected: the copy sends no checksums
            if time.monotonic() > deadline:
                raise
        except BotoCoreError:
            if time.monotonic() > deadline:
                raise
        time.sleep(1)
    try:
        head = target.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
        return head.get("ChecksumSHA256") == expected
    except Exception:
        return False
    finally:
        version = put.get("VersionId")
        target.delete_object(Bucket=bucket, Key=key, **({"VersionId": version} if version else {}))


def _blocks(stream: Any, size: int, digest: Any, *, start: int = 0,
            total: int | None = None) -> Iterator[bytes]:
    """``size`` bytes of ``stream`` in blocks, hashed as they pass; ``CopyFailed`` if it ends short
    (a part's bytes are counted from ``start`` of the object's ``total``)."""
    done = 0
    while done < size:
        block = stream.read(min(BLOCK, size - done))
        if not block:
            raise CopyFailed(f"the source stream ended after {start + done} of {total or size} bytes")
        digest.update(block)
        done += len(block)
        yield block


def vanished(error: BaseException) -> bool:
    """Whether ``error`` says the source object no longer exists (deleted after the listing)."""
    if isinstance(error, s3http.S3Error):
        return error.code == "NoSuchKey" or error.status == 404
    response = getattr(error, "response", None) or {}
    return response.get("Error", {}).get("Code") in ("NoSuchKey", "404")


def copy_object(source: Store, target: Store, listed: Listed, settings: Settings) -> Entry:
    """Copy ``listed`` and return its manifest entry; raises ``CopyFailed`` naming what differs."""
    got = source.http.get(listed.bucket, listed.key)
    size = got.size
    headers = got.content
    metadata = got.metadata
    digest = hashlib.sha256()
    try:
        if parts.is_multipart(size, settings.threshold):
            target_etag = _multipart(target.s3, listed, got.body, size, headers, metadata, digest, settings)
        else:
            sent = {s3http.CONTENT_HEADERS[name]: value for name, value in headers.items()}
            sent |= {f"{s3http.METADATA_PREFIX}{name}": value for name, value in metadata.items()}
            if size <= parts.MEMORY_PART_LIMIT:  # held: its checksum goes with it, a retry resends it
                body = b"".join(_blocks(got.body, size, digest))
                if settings.checksums:
                    sent["x-amz-checksum-sha256"] = base64.b64encode(digest.digest()).decode()
                answer = target.http.put(listed.bucket, listed.key, body, sent)
            else:  # streamed through, in constant memory; its SHA-256 is known only at the end
                answer = target.http.put(listed.bucket, listed.key, _blocks(got.body, size, digest), sent,
                                         size=size)
            target_etag = answer.get("etag", "")
    finally:
        got.body.close()
    entry = Entry(bucket=listed.bucket, key=listed.key, size=size, sha256=digest.hexdigest(),
                  content_type=headers.get("ContentType", ""), metadata=_lower(metadata),
                  source_etag=got.etag or listed.etag,
                  source_last_modified=listed.last_modified if got.etag == listed.etag else got.last_modified,
                  source_version=got.version_id, target_etag=target_etag)
    problem = read_back(target, entry)
    if problem:
        raise CopyFailed(problem)
    return entry


def _multipart(target: Any, listed: Listed, stream: Any, size: int, headers: dict[str, str],
               metadata: dict[str, str], digest: Any, settings: Settings) -> str:
    part = parts.part_size(size, settings.min_part)
    upload = target.create_multipart_upload(Bucket=listed.bucket, Key=listed.key, Metadata=metadata,
                                            **headers)
    upload_id = upload["UploadId"]
    done_parts = []
    try:
        for number in range(1, parts.part_count(size, part) + 1):
            want = min(part, size - (number - 1) * part)
            with _part_buffers, tempfile.SpooledTemporaryFile(max_size=parts.MEMORY_PART_LIMIT,
                                                              dir=settings.spool_dir) as spool:
                for block in _blocks(stream, want, digest, start=(number - 1) * part, total=size):
                    spool.write(block)
                spool.seek(0)
                answer = target.upload_part(Bucket=listed.bucket, Key=listed.key, UploadId=upload_id,
                                            PartNumber=number, Body=spool, ContentLength=want)
            done_parts.append({"PartNumber": number, "ETag": answer["ETag"]})
        completed = target.complete_multipart_upload(Bucket=listed.bucket, Key=listed.key, UploadId=upload_id,
                                                     MultipartUpload={"Parts": done_parts})
        return str(completed.get("ETag", ""))
    except BaseException:
        with contextlib.suppress(Exception):
            target.abort_multipart_upload(Bucket=listed.bucket, Key=listed.key, UploadId=upload_id)
        raise


def read_back(target: Store, entry: Entry) -> str | None:
    """Read the target's object and compare it with ``entry``: what differs, or None."""
    try:
        got = target.http.get(entry.bucket, entry.key)
    except Exception as error:
        return f"cannot be read from the target: {error}"
    digest = hashlib.sha256()
    size = 0
    try:
        for block in iter(lambda: got.body.read(BLOCK), b""):
            digest.update(block)
            size += len(block)
    finally:
        got.body.close()
    problems = []
    if size != entry.size:
        problems.append(f"{size} bytes on the target, {entry.size} on the source")
    elif digest.hexdigest() != entry.sha256:
        problems.append(f"SHA-256 {digest.hexdigest()[:16]}... on the target, "
                        f"{entry.sha256[:16]}... on the source")
    content_type = got.content.get("ContentType", "")
    if content_type != entry.content_type and entry.content_type:
        problems.append(f"Content-Type {content_type!r} on the target, {entry.content_type!r} on the source")
    if _lower(got.metadata) != entry.metadata:
        problems.append(f"user metadata {_lower(got.metadata)} on the target, {entry.metadata} on the source")
    return "; ".join(problems) or None
