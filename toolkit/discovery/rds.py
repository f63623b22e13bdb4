"""RDS: database instances and clusters, with engine, version, storage and the data they hold."""

from __future__ import annotations

from typing import Any

from toolkit.discovery.base import Reader
from toolkit.discovery.inventory import Resource

GIB = 1024**3


class RdsReader(Reader):
    SUBJECT = "RDS databases"

    def populate(self, region: str) -> None:
        with self.tolerate("RDS instances", region):
            for page in self.pages("rds", "describe_db_instances", region):
                for db in page.get("DBInstances", []):
                    self._instance(db, region)
        with self.tolerate("RDS clusters", region):
            for page in self.pages("rds", "describe_db_clusters", region):
                for cluster in page.get("DBClusters", []):
                    self._cluster(cluster, region)

    def _instance(self, db: dict[str, Any], region: str) -> None:
        identifier = db["DBInstanceIdentifier"]
        allocated = int(db.get("AllocatedStorage") or 0) * GIB
        resource = self.inventory.add(
            Resource(
                "AWS::RDS::DBInstance",
                identifier,
                region,
                {
                    **_common(db),
                    "instance_class": db.get("DBInstanceClass"),
                    "storage_type": db.get("StorageType"),
                    "allocated_gib": db.get("AllocatedStorage"),
                    "address": (db.get("Endpoint") or {}).get("Address"),
                    "port": (db.get("Endpoint") or {}).get("Port") or db.get("DbInstancePort"),
                    "cluster": db.get("DBClusterIdentifier"),
                },
            )
        )
        if resource.properties["cluster"]:
            return  # a cluster member: the cluster holds the data
        free = self.latest_metric(region, "AWS/RDS", "FreeStorageSpace", {"DBInstanceIdentifier": identifier})
        if free is not None and allocated:
            resource.bytes, resource.size_source = (
                max(0, allocated - int(free)),
                "allocated - FreeStorageSpace",
            )
        else:
            resource.bytes, resource.size_source = allocated, "allocated storage (upper bound)"

    def _cluster(self, cluster: dict[str, Any], region: str) -> None:
        identifier = cluster["DBClusterIdentifier"]
        resource = self.inventory.add(
            Resource(
                "AWS::RDS::DBCluster",
                identifier,
                region,
                {
                    **_common(cluster),
                    "members": [m["DBInstanceIdentifier"] for m in cluster.get("DBClusterMembers", [])],
                    "address": cluster.get("Endpoint"),
                    "port": cluster.get("Port"),
                },
            )
        )
        used = self.latest_metric(region, "AWS/RDS", "VolumeBytesUsed", {"DBClusterIdentifier": identifier})
        if used is not None:
            resource.bytes, resource.size_source = int(used), "VolumeBytesUsed"
        elif cluster.get("AllocatedStorage"):
            resource.bytes = int(cluster["AllocatedStorage"]) * GIB
            resource.size_source = "allocated storage (upper bound)"


def _common(db: dict[str, Any]) -> dict[str, Any]:
    return {
        "engine": db.get("Engine"),
        "engine_version": db.get("EngineVersion"),
        "db_name": db.get("DBName") or db.get("DatabaseName"),
        "master_username": db.get("MasterUsername"),
        "storage_encrypted": bool(db.get("StorageEncrypted")),
        "kms_key": db.get("KmsKeyId"),
        # Automated backups: 0 days means off; the window is UTC, hh:mm-hh:mm.
        "backup_retention_days": db.get("BackupRetentionPeriod"),
        "backup_window": db.get("PreferredBackupWindow"),
    }
