"""The database: RDS for PostgreSQL at the spec's major version, encrypted, backed up, and ready
to publish logical replication to the bare-metal target.

**The reboot step.** ``rds.logical_replication`` is a static parameter: RDS accepts it only with
``apply_method="pending-reboot"``, and it takes effect at the instance's next reboot. Reboot
the instance once after the first ``pulumi up`` (``aws rds reboot-db-instance
--db-instance-identifier <dbInstanceIdentifier>``) during a maintenance window, well before
any exit is needed: an exit must never start with an unplanned database restart. The stack
output ``dbRebootRequiredFor`` names the parameter as a reminder; ``wal_level`` reads
``logical`` once it took effect.

RDS creates the database and its master user (``database.admin``, which is not a superuser);
the owner role, its grants and the extensions are made by the bootstrap instance
(``app_servers``, ``toolkit.targets.aws.boot``), which also makes the admin a member of the owner
so that it can publish the owner's tables. ``multi_az`` (the spec's
``targets.aws.database_multi_az``) keeps a synchronous standby in a second zone. Automated backups
keep ``database.backups.retention_days`` of point-in-time recovery, taken in its ``window``.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from toolkit.spec.model import Database as DatabaseSpec
from toolkit.targets.aws.boot import DEFAULT_ADMIN

LOGICAL_REPLICATION = "rds.logical_replication"


class Database(pulumi.ComponentResource):
    instance: aws.rds.Instance
    parameters: aws.rds.ParameterGroup

    def __init__(
        self,
        name: str,
        *,
        spec: DatabaseSpec,
        identifier: str,
        admin_password: str | None,
        subnet_ids: list[pulumi.Output[str]],
        security_group_id: pulumi.Output[str],
        publicly_accessible: bool,
        multi_az: bool,
        instance_class: str,
        allocated_storage: int,
        tags: dict[str, str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("toolkit:aws:Database", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        subnets = aws.rds.SubnetGroup(
            f"{name}-subnets",
            subnet_ids=subnet_ids,
            description=f"{identifier}: database subnets in two zones",
            tags=tags,
            opts=child,
        )
        self.parameters = aws.rds.ParameterGroup(
            f"{name}-params",
            family=f"postgres{spec.version}",
            description=f"{identifier}: logical replication for the exit path",
            parameters=[{"name": LOGICAL_REPLICATION, "value": "1", "apply_method": "pending-reboot"}],
            tags=tags,
            opts=child,
        )
        admin = spec.admin.name if spec.admin is not None else DEFAULT_ADMIN
        password = pulumi.Output.secret(admin_password) if admin_password is not None else None
        self.instance = aws.rds.Instance(
            f"{name}-instance",
            identifier=identifier,
            engine="postgres",
            engine_version=str(spec.version),
            instance_class=instance_class,
            allocated_storage=allocated_storage,
            max_allocated_storage=allocated_storage * 5,
            storage_type="gp3",
            storage_encrypted=True,
            db_name=spec.name,
            port=spec.port,
            username=admin,
            password=password,
            # Without an admin password in the spec, RDS keeps one in Secrets Manager.
            manage_master_user_password=True if password is None else None,
            parameter_group_name=self.parameters.name,
            db_subnet_group_name=subnets.name,
            vpc_security_group_ids=[security_group_id],
            publicly_accessible=publicly_accessible,
            multi_az=multi_az,
            # Point-in-time recovery as the spec asks (pgBackRest realizes the same on bare metal).
            backup_retention_period=spec.backups.retention_days,
            backup_window=spec.backups.window,  # RDS's preferred backup window
            copy_tags_to_snapshot=True,
            auto_minor_version_upgrade=True,
            allow_major_version_upgrade=False,
            deletion_protection=True,
            skip_final_snapshot=False,
            final_snapshot_identifier=f"{identifier}-final",
            tags=tags,
            opts=child,
        )
        self.register_outputs({"address": self.instance.address, "port": self.instance.port})
