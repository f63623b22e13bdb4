#!/usr/bin/python3
"""Make the object store's buckets and their versioning what the spec says; print what changed.

Run on the objects host as root by the objectstore role. The keys are read from the store's own
0600 configuration, so they never appear on a command line or in Ansible's output. Usage:
buckets.py ENDPOINT S3_CONFIG BUCKETS_JSON [--check]   (BUCKETS_JSON: {"name": versioning, ...})
"""

import json
import sys
import time

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

READY_TIMEOUT_S = 120  # after a restart on an existing data dir S3 answers after about 14 s


def client(endpoint, config_path):
    with open(config_path, encoding="utf-8") as handle:
        credentials = json.load(handle)["identities"][0]["credentials"][0]
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id=credentials["accessKey"],
                        aws_secret_access_key=credentials["secretKey"],
                        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}))


def existing(s3):
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        try:
            return {bucket["Name"] for bucket in s3.list_buckets().get("Buckets", [])}
        except (BotoCoreError, ClientError) as error:
            if time.monotonic() > deadline:
                message = f"the object store at {s3.meta.endpoint_url} did not answer: {error}"
                raise SystemExit(message) from None
            time.sleep(1)


def main():
    endpoint, config_path, wanted = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    check = "--check" in sys.argv[4:]
    s3 = client(endpoint, config_path)
    have = existing(s3)
    changes = []
    for name, versioning in sorted(wanted.items()):
        status = None
        if name in have:
            status = s3.get_bucket_versioning(Bucket=name).get("Status")
        else:
            changes.append(f"created bucket {name}")
            if not check:
                s3.create_bucket(Bucket=name)
        # A bucket never versioned has no status; "Suspended" keeps the versions it already has.
        if versioning and status != "Enabled":
            changes.append(f"enabled versioning of {name}")
            if not check:
                s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        elif not versioning and status == "Enabled":
            changes.append(f"suspended versioning of {name}")
            if not check:
                s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Suspended"})
    print(json.dumps({"changed": bool(changes), "changes": changes}))


if __name__ == "__main__":
    main()
