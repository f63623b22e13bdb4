"""A snapshot of the source database through the RDS API: the migration's way back that needs no toolkit."""

from __future__ import annotations

import logging
import time

from toolkit.errors import BadInput, CheckFailed
from toolkit.spec import LoadedSpec
from toolkit.targets.aws.clients import AwsAccess

log = logging.getLogger(__name__)

WAIT_S = 1800.0


def snapshot_source(loaded: LoadedSpec, identifier: str) -> str:
    """Create DB snapshot ``identifier`` of the spec's RDS instance (or find it made) and wait until
    it is available; returns its identifier."""
    aws = loaded.spec.targets.aws
    instance = aws.resources.db_instance if aws else None
    if not instance:
        raise BadInput(f"{loaded.path}: targets.aws.resources.db_instance is not set; "
                       "no snapshot can be taken")
    rds = AwsAccess.from_spec(loaded).client("rds")
    try:
        rds.describe_db_snapshots(DBSnapshotIdentifier=identifier)
    except rds.exceptions.DBSnapshotNotFoundFault:
        rds.create_db_snapshot(DBSnapshotIdentifier=identifier, DBInstanceIdentifier=instance,
                               Tags=[{"Key": "made-by", "Value": "toolkit migrate"}])
    deadline = time.monotonic() + WAIT_S
    while True:
        status = rds.describe_db_snapshots(DBSnapshotIdentifier=identifier)["DBSnapshots"][0]["Status"]
        if status == "available":
            log.info("snapshot_source: %s of %s is available", identifier, instance)
            return identifier
        if status in ("failed", "deleted") or time.monotonic() > deadline:
            raise CheckFailed(f"the RDS snapshot {identifier} of {instance} is {status}")
        time.sleep(5)
