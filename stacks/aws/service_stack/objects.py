"""Object storage: the spec's S3 buckets, each versioned, encrypted and closed to the public.

Encryption is SSE-S3 (AES256), not a customer KMS key: objects stay readable by any S3 client
with the bucket's credentials, which is what an exit copies them with.
"""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from toolkit.spec.model import Bucket


class HardenedBucket(pulumi.ComponentResource):
    """One bucket: versioning, default encryption, public access blocked, TLS-only access."""

    bucket: aws.s3.Bucket

    def __init__(
        self,
        name: str,
        *,
        bucket_name: str | None,
        versioning: bool,
        role: str,
        tags: dict[str, str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("toolkit:aws:HardenedBucket", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.bucket = aws.s3.Bucket(
            name, bucket=bucket_name, force_destroy=False, tags={**tags, "toolkit:role": role}, opts=child
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=self.bucket.id,
            rule={"object_ownership": "BucketOwnerEnforced"},
            opts=child,
        )
        public_access = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access",
            bucket=self.bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=self.bucket.id,
            versioning_configuration={"status": "Enabled" if versioning else "Suspended"},
            opts=child,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=self.bucket.id,
            rules=[
                {
                    "apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"},
                    "bucket_key_enabled": True,
                }
            ],
            opts=child,
        )
        aws.s3.BucketPolicy(
            f"{name}-tls-only",
            bucket=self.bucket.id,
            policy=self.bucket.arn.apply(_deny_insecure_transport),
            # S3 refuses overlapping changes to one bucket's access settings: one after the other.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[public_access]),
        )
        self.register_outputs({"bucket": self.bucket.bucket})


def _deny_insecure_transport(arn: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [arn, f"{arn}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ],
        }
    )


class Objects(pulumi.ComponentResource):
    """The spec's buckets, named exactly as in the spec (an exit copies them by name)."""

    buckets: dict[str, HardenedBucket]

    def __init__(
        self,
        name: str,
        *,
        buckets: list[Bucket],
        tags: dict[str, str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("toolkit:aws:Objects", name, None, opts)
        self.buckets = {
            spec.name: HardenedBucket(
                f"{name}-{spec.name}",
                bucket_name=spec.name,
                versioning=spec.versioning,
                role="data",
                tags=tags,
                opts=pulumi.ResourceOptions(parent=self),
            )
            for spec in buckets
        }
        self.register_outputs({"buckets": list(self.buckets)})

    def arns(self) -> list[pulumi.Output[str]]:
        return [bucket.bucket.arn for bucket in self.buckets.values()]
