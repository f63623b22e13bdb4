"""The service spec realized on AWS, as Pulumi component resources named after what they are.

``ServiceStack`` wires the parts together; each part is its own component:

| component    | module        | AWS resources                                                  |
|--------------|---------------|----------------------------------------------------------------|
| Network      | network       | VPC over two zones, NAT per zone, S3 endpoint, security groups |
| Database     | database      | RDS for PostgreSQL (Multi-AZ), logical replication parameters  |
| Objects      | objects       | S3 buckets: versioned, encrypted, public access blocked        |
| AppServers   | app_servers   | Auto Scaling group, bootstrap instance, roles, SSM, archive    |
| LoadBalancer | load_balancer | ALB, a target group per app port, imported ACM certificate     |
| Dns          | dns           | Route53 zone and records (alias records to the ALB)            |
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from service_stack.app_servers import AppServers
from service_stack.database import LOGICAL_REPLICATION, Database
from service_stack.dns import Dns
from service_stack.load_balancer import LoadBalancer
from service_stack.network import Network
from service_stack.objects import Objects
from service_stack.settings import DEBIAN_AMI_PARAMETER, StackConfigError, StackSettings, load_stack_spec
from toolkit.spec import LoadedSpec
from toolkit.spec.secrets import SecretRef
from toolkit.targets.aws.boot import BootPlan, boot_plan, secret_keys

__all__ = ["ServiceStack", "StackConfigError", "StackSettings", "load_stack_spec"]


class ServiceStack(pulumi.ComponentResource):
    """Everything the spec describes, on AWS. ``outputs`` are what the orchestrator reads."""

    outputs: dict[str, pulumi.Input[object]]

    def __init__(
        self, loaded: LoadedSpec, settings: StackSettings, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        spec = loaded.spec
        if spec.targets.aws is None:
            raise StackConfigError(f"{loaded.path}: the spec has no targets.aws section")
        name = spec.service.name
        super().__init__("toolkit:aws:Service", name, None, opts)
        stack = pulumi.get_stack()
        region = spec.targets.aws.region
        tags = {"toolkit:service": name, "toolkit:stack": stack}
        provider = aws.Provider(
            f"{name}-aws",
            region=region,
            default_tags={"tags": tags},
            opts=pulumi.ResourceOptions(parent=self),
        )
        child = pulumi.ResourceOptions(parent=self, providers=[provider])

        def secret(ref: SecretRef) -> str:
            return ref.resolve(loaded.base_dir).reveal()

        network = Network(
            f"{name}-network",
            app_ports=spec.app.ports,
            db_port=spec.database.port,
            migration_ingress_cidr=settings.migration_ingress_cidr,
            nat_gateways=spec.targets.aws.nat_gateways,
            region=region,
            tags=tags,
            opts=child,
        )
        identifier = spec.targets.aws.resources.db_instance or f"{name}-db"
        database = Database(
            f"{name}-database",
            spec=spec.database,
            identifier=identifier,
            admin_password=secret(spec.database.admin.password) if spec.database.admin else None,
            subnet_ids=network.subnet_ids("database"),
            security_group_id=network.db_group.id,
            publicly_accessible=bool(settings.migration_ingress_cidr),
            multi_az=spec.targets.aws.database_multi_az,
            instance_class=settings.db_instance_class,
            allocated_storage=settings.db_allocated_storage,
            tags=tags,
            opts=child,
        )
        objects = Objects(f"{name}-objects", buckets=list(spec.buckets), tags=tags, opts=child)
        balancer = LoadBalancer(
            f"{name}-lb",
            vpc_id=network.vpc.id,
            subnet_ids=network.subnet_ids("public"),
            security_group_id=network.alb_group.id,
            ports=spec.app.ports,
            health_path=spec.app.health_path,
            tls=(secret(spec.tls.certificate), secret(spec.tls.key)) if spec.tls is not None else None,
            tags=tags,
            opts=child,
        )
        # Without an admin in the spec, RDS keeps its master user's password in Secrets Manager.
        admin_secret_arn = (
            None
            if spec.database.admin is not None
            else database.instance.master_user_secrets.apply(
                lambda found: found[0].secret_arn if found else None
            )
        )
        source = loaded.resolve_path(spec.app.source)

        def plan(address: str, port: int, bucket: str, admin_secret: str | None) -> BootPlan:
            # The lab builds its AWS-side host's plan with the same function.
            return boot_plan(
                spec, stack=stack, source=source, artifact_bucket=bucket, database_address=address,
                database_port=port, admin_secret_arn=admin_secret,
            )

        app = AppServers(
            f"{name}-app",
            service=name,
            stack=stack,
            app_source=source,
            secrets={key: secret(ref) for key, ref in secret_keys(spec).items()},
            boot_plan=plan,
            database_address=database.instance.address,
            database_port=database.instance.port,
            admin_secret_arn=admin_secret_arn,
            data_bucket_arns=objects.arns(),
            target_group_arns=[group.arn for group in balancer.target_groups],
            subnet_ids=network.subnet_ids("private"),
            security_group_id=network.app_group.id,
            instance_type=settings.instance_type,
            instance_count=settings.instance_count,
            ami_id=settings.ami_id,
            ami_parameter=DEBIAN_AMI_PARAMETER,
            tags=tags,
            opts=child,
        )
        self.outputs = {
            "region": region,
            "vpcId": network.vpc.id,
            "albDnsName": balancer.alb.dns_name,
            "albZoneId": balancer.alb.zone_id,
            "appAutoScalingGroup": app.group.name,
            "appRelease": app.release,
            "bootstrapInstanceId": app.bootstrap.id,
            "dbInstanceIdentifier": database.instance.identifier,
            "dbAddress": database.instance.address,
            "dbPort": database.instance.port,
            "dbName": spec.database.name,
            "dbParameterGroup": database.parameters.name,
            "dbRebootRequiredFor": [LOGICAL_REPLICATION],
            "bucketNames": [bucket.bucket.bucket for bucket in objects.buckets.values()],
            "artifactBucket": app.artifacts.bucket.bucket,
            "migrationIngressCidr": settings.migration_ingress_cidr or "",
        }
        if spec.dns is not None:
            dns = Dns(
                f"{name}-dns",
                spec=spec.dns,
                alb_dns_name=balancer.alb.dns_name,
                alb_zone_id=balancer.alb.zone_id,
                tags=tags,
                opts=child,
            )
            self.outputs["hostedZoneId"] = dns.zone.zone_id
            self.outputs["nameServers"] = dns.zone.name_servers
        self.register_outputs(dict(self.outputs))
