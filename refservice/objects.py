"""The S3 bucket holding note files (path-style, so moto and `rclone serve s3` work too)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.exceptions
from botocore.config import Config

from refservice.config import Settings

S3Errors = (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError)


def make_client(settings: Settings) -> Any:
    config = Config(
        s3={"addressing_style": "path"},
        connect_timeout=2,
        read_timeout=5,
        retries={"max_attempts": 2},
    )
    return boto3.session.Session().client(
        "s3",
        endpoint_url=settings.s3_endpoint,
        region_name=settings.s3_region,
        aws_access_key_id=settings.s3_access_key,
        aws_secret_access_key=settings.s3_secret_key,
        config=config,
    )


class ObjectStore:
    def __init__(self, settings: Settings, client: Any | None = None) -> None:
        self.bucket = settings.s3_bucket
        self._client = client if client is not None else make_client(settings)

    def check(self) -> None:
        self._client.head_bucket(Bucket=self.bucket)

    def put(self, key: str, data: bytes) -> None:
        self._client.put_object(Bucket=self.bucket, Key=key, Body=data)

    def get(self, key: str) -> bytes | None:
        """The object's bytes, or None if it does not exist."""
        try:
            response = self._client.get_object(Bucket=self.bucket, Key=key)
        except botocore.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise
        body: bytes = response["Body"].read()
        return body

    def delete(self, key: str) -> None:
        self._client.delete_object(Bucket=self.bucket, Key=key)

    def keys(self) -> Iterator[str]:
        """Every key in the bucket, in S3's (byte-wise ascending) order."""
        paginator = self._client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket):
            for item in page.get("Contents", []):
                yield item["Key"]

    def sha256(self, key: str) -> str | None:
        data = self.get(key)
        return None if data is None else hashlib.sha256(data).hexdigest()
