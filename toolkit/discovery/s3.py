"""S3: buckets with versioning, encryption, and their objects counted.

By default each bucket is listed page by page: exact, and slow only for very large buckets. With
``storage_metrics`` CloudWatch's daily storage metrics answer in a few calls per bucket, a day
old; a bucket without them (a new one) is still listed.
"""

from __future__ import annotations

from typing import Any

from toolkit.discovery.base import Reader
from toolkit.discovery.inventory import Resource


class S3Reader(Reader):
    SUBJECT = "S3 buckets"
    GLOBAL = True  # one listing for the account; each bucket is then read in its own region

    def populate(self, region: str) -> None:
        reply = self.call("s3", "list_buckets", region) or {}
        for bucket in reply.get("Buckets", []):
            name = bucket["Name"]
            with self.tolerate(f"bucket {name}", region):
                self._bucket(name, region)

    def _bucket(self, name: str, default_region: str) -> None:
        location = self.call("s3", "get_bucket_location", default_region, Bucket=name) or {}
        region = location.get("LocationConstraint") or "us-east-1"
        resource = self.inventory.add(Resource("AWS::S3::Bucket", name, region))
        with self.tolerate(f"versioning of bucket {name}", region):
            versioning = self.call("s3", "get_bucket_versioning", region, Bucket=name) or {}
            resource.properties["versioning"] = versioning.get("Status") == "Enabled"
        with self.tolerate(f"encryption of bucket {name}", region):
            encryption = self.call(
                "s3",
                "get_bucket_encryption",
                region,
                Bucket=name,
                absent=("ServerSideEncryptionConfigurationNotFoundError",),
            )
            resource.properties["encryption"] = _encryption(encryption)
        with self.tolerate(f"objects of bucket {name}", region):
            self._size(resource, region)

    def _size(self, resource: Resource, region: str) -> None:
        name = resource.name
        by_metrics = self._size_from_metrics(name, region) if self.storage_metrics else None
        if by_metrics is not None:
            resource.bytes, resource.items = by_metrics
            resource.size_source = "CloudWatch storage metrics"
            return
        count = size = 0
        resource.size_source = "listing (incomplete)"  # until the last page is in
        for page in self.pages("s3", "list_objects_v2", region, Bucket=name):
            for item in page.get("Contents", []):
                count += 1
                size += int(item.get("Size", 0))
            resource.items, resource.bytes = count, size
        resource.items, resource.bytes, resource.size_source = count, size, "listing"

    def _size_from_metrics(self, name: str, region: str) -> tuple[int, int] | None:
        with self.tolerate(f"CloudWatch metrics of bucket {name}", region):
            listed = (
                self.call(
                    "cloudwatch",
                    "list_metrics",
                    region,
                    Namespace="AWS/S3",
                    MetricName="BucketSizeBytes",
                    Dimensions=[{"Name": "BucketName", "Value": name}],
                )
                or {}
            )
            storage_types = [
                d["Value"]
                for m in listed.get("Metrics", [])
                for d in m.get("Dimensions", [])
                if d["Name"] == "StorageType"
            ]
            if not storage_types:
                return None
            size = 0.0
            for storage_type in storage_types:
                size += (
                    self.latest_metric(
                        region, "AWS/S3", "BucketSizeBytes", {"BucketName": name, "StorageType": storage_type}
                    )
                    or 0
                )
            count = self.latest_metric(
                region, "AWS/S3", "NumberOfObjects", {"BucketName": name, "StorageType": "AllStorageTypes"}
            )
            return (int(size), int(count or 0)) if count is not None else None
        return None


def _encryption(reply: dict[str, Any] | None) -> dict[str, str] | None:
    rules = (reply or {}).get("ServerSideEncryptionConfiguration", {}).get("Rules", [])
    for rule in rules:
        default = rule.get("ApplyServerSideEncryptionByDefault", {})
        if default:
            return {
                "algorithm": default.get("SSEAlgorithm", ""),
                "kms_key": default.get("KMSMasterKeyID", ""),
            }
    return None
