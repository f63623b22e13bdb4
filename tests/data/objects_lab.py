"""Helpers of the object tests: the lab's source bucket (moto) and store (SeaweedFS), seeded and read."""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config

from tests.fixtures.lab import lab_host
from tests.fixtures.lab_states import hosts_in, secret
from toolkit.data.objects.remote import parts
from toolkit.state import state_root

BUCKET = "refservice-files"
MIB = 1024 * 1024

# Keys that break naive copies: URL-special characters, unicode, deep prefixes, a folder marker.
TRICKY_KEYS = [
    "with space/and more spaces.txt", "ünïcødé/ファイル/emoji-🦀.txt", "plus+sign+key",
    "per%cent%20encoded%2F",
    "quotes/'single' and \"double\"", "hash#fragment", "question?mark=1&x=2",
    "/".join(f"level{i:02d}" for i in range(30)) + "/deep.txt", "leading-dash/-x",
]


@dataclass(frozen=True)
class Seeded:
    body: bytes
    content_type: str
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.body).hexdigest()


def source_client(lab: dict[str, Any]) -> Any:
    return boto3.client("s3", endpoint_url=lab["aws_endpoint"], region_name="us-east-1",
                        aws_access_key_id=secret(lab, "aws_access_key_id"),
                        aws_secret_access_key=secret(lab, "aws_secret_access_key"),
                        config=Config(s3={"addressing_style": "path"}))


def target_client(lab: dict[str, Any], host: str | None = None) -> Any:
    host = host or hosts_in(lab, "objects")[0]
    return boto3.client("s3", endpoint_url=f"http://{lab_host(lab, host)['address']}:9000",
                        region_name="us-east-1", aws_access_key_id=secret(lab, "objects_access_key"),
                        aws_secret_access_key=secret(lab, "objects_secret_key"),
                        config=Config(s3={"addressing_style": "path"}))


def empty_bucket(s3: Any) -> None:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=BUCKET, Delete={"Objects": keys})


def source_objects(lab: dict[str, Any]) -> dict[str, Seeded]:
    """Every object of the source bucket as it is now (the shared lab's app data), to put back later."""
    s3 = source_client(lab)
    found: dict[str, Seeded] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for item in page.get("Contents", []):
            got = s3.get_object(Bucket=BUCKET, Key=item["Key"])
            found[item["Key"]] = Seeded(got["Body"].read(), got.get("ContentType", ""),
                                        got.get("Metadata") or {})
    return found


def fresh_source(lab: dict[str, Any], objects: dict[str, Seeded]) -> Any:
    """The source bucket holding exactly ``objects``; the controller forgets earlier passes."""
    shutil.rmtree(state_root() / "data", ignore_errors=True)
    s3 = source_client(lab)
    empty_bucket(s3)
    for key, seeded in objects.items():
        s3.put_object(Bucket=BUCKET, Key=key, Body=seeded.body, ContentType=seeded.content_type,
                      Metadata=seeded.metadata)
    return s3


def tricky_objects(big: int = 2, multipart: bool = False) -> dict[str, Seeded]:
    """Tricky keys and contents; ``big`` objects above the in-memory limit (streamed in one PUT);
    with ``multipart`` one above the multipart threshold, with a short last part."""
    objects = {key: Seeded(f"body of {key}".encode(), "text/plain; charset=utf-8",
                           {"origin": "tricky", "key-index": str(i)}) for i, key in enumerate(TRICKY_KEYS)}
    objects["empty/zero-byte.bin"] = Seeded(b"", "application/x-empty", {"empty": "yes"})
    objects["folder/"] = Seeded(b"", "application/x-directory")  # the S3 console's folder marker
    objects["meta/many.json"] = Seeded(b'{"a": 1}', "application/json",
                                       {"author": "ada lovelace", "with-dash": "x", "number": "42"})
    for i in range(big):
        body = os.urandom(parts.MEMORY_PART_LIMIT + MIB + 12345 * (i + 1))
        objects[f"big/object-{i}.bin"] = Seeded(body, "application/octet-stream", {"part-test": str(i)})
    if multipart:
        body = os.urandom(parts.MULTIPART_THRESHOLD + 12345)
        objects["big/multipart.bin"] = Seeded(body, "application/x-parts", {"parts": "yes"})
    return objects


def small_objects(count: int, prefix: str = "small") -> dict[str, Seeded]:
    return {f"{prefix}/{i:05d}.txt": Seeded(f"object {i}\n".encode() * 3, "text/plain", {"n": str(i)})
            for i in range(count)}


def assert_target_holds(lab: dict[str, Any], objects: dict[str, Seeded]) -> None:
    """Every object on the target with its bytes, Content-Type and user metadata; nothing else."""
    s3 = target_client(lab)
    listed = {item["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
              for item in page.get("Contents", [])}
    assert listed == set(objects)
    for key, seeded in objects.items():
        got = s3.get_object(Bucket=BUCKET, Key=key)
        body = got["Body"].read()
        assert hashlib.sha256(body).hexdigest() == seeded.sha256, key
        assert got["ContentType"] == seeded.content_type, key
        assert got["Metadata"] == {k.lower(): v for k, v in seeded.metadata.items()}, key


def wait_for_s3(s3: Any, key: str, timeout: float = 120.0) -> None:
    """Until ``key`` can be read: after a restart the store lists buckets before its volumes serve."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)
