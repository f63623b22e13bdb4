"""The network: a VPC over two availability zones and least-privilege security groups.

Three tiers of subnets per zone: ``public`` (the load balancer, the NAT gateways), ``private``
(the app servers; out through their zone's NAT gateway, to S3 through a gateway endpoint) and
``database`` (RDS). Database subnets route to the
internet gateway so that switching on the migration ingress (stack config
``toolkit:migrationIngressCidr``) makes RDS reachable by the bare-metal subscriber without
moving the instance; while it is off, RDS has no public address and only the app may connect.

Security groups (ingress):

| group | port(s)                 | from                                   |
|-------|-------------------------|----------------------------------------|
| alb   | 443, 80                 | anywhere (80 only redirects to 443)    |
| app   | app.port..+processes-1  | the alb group                          |
| db    | database.port           | the app group; the migration CIDR if on |
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

ANYWHERE = "0.0.0.0/0"
VPC_CIDR = "10.40.0.0/16"
ZONES = 2
TIERS = {"public": 0, "private": 10, "database": 20}  # third octet of each tier's first subnet


@dataclass(frozen=True)
class Port:
    """One ingress or egress opening: a port range and a protocol."""

    first: int
    last: int
    protocol: str = "tcp"


class Network(pulumi.ComponentResource):
    vpc: aws.ec2.Vpc
    subnets: dict[str, list[aws.ec2.Subnet]]
    alb_group: aws.ec2.SecurityGroup
    app_group: aws.ec2.SecurityGroup
    db_group: aws.ec2.SecurityGroup

    def __init__(
        self,
        name: str,
        *,
        app_ports: range,
        db_port: int,
        migration_ingress_cidr: str | None,
        nat_gateways: str,
        region: str,
        tags: dict[str, str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("toolkit:aws:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self._name = name
        self._tags = tags

        zones = aws.get_availability_zones_output(state="available", opts=pulumi.InvokeOptions(parent=self))
        self.vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=VPC_CIDR,
            enable_dns_support=True,
            enable_dns_hostnames=True,
            tags=self._tag(f"{name}-vpc"),
            opts=child,
        )
        gateway = aws.ec2.InternetGateway(
            f"{name}-igw", vpc_id=self.vpc.id, tags=self._tag(f"{name}-igw"), opts=child
        )
        self.subnets = {
            tier: [
                aws.ec2.Subnet(
                    f"{name}-{tier}-{index}",
                    vpc_id=self.vpc.id,
                    cidr_block=f"10.40.{offset + index}.0/24",
                    availability_zone=zones.names.apply(_zone_picker(index)),
                    map_public_ip_on_launch=False,
                    tags=self._tag(f"{name}-{tier}-{index}", tier=tier),
                    opts=child,
                )
                for index in range(ZONES)
            ]
            for tier, offset in TIERS.items()
        }

        to_internet = aws.ec2.RouteTable(
            f"{name}-public-rt",
            vpc_id=self.vpc.id,
            routes=[{"cidr_block": ANYWHERE, "gateway_id": gateway.id}],
            tags=self._tag(f"{name}-public-rt"),
            opts=child,
        )
        # One NAT gateway per zone, each zone's private subnet routed through its own, so losing
        # a zone (or its NAT) spares the other; or one for all (the spec's ``nat_gateways``).
        nat_zones = ZONES if nat_gateways == "per-zone" else 1
        nats = []
        for index in range(nat_zones):
            address = aws.ec2.Eip(
                f"{name}-nat-ip-{index}", domain="vpc", tags=self._tag(f"{name}-nat-ip-{index}"), opts=child
            )
            nats.append(
                aws.ec2.NatGateway(
                    f"{name}-nat-{index}",
                    allocation_id=address.id,
                    subnet_id=self.subnets["public"][index].id,
                    tags=self._tag(f"{name}-nat-{index}"),
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[gateway]),
                )
            )
        private_tables = [
            aws.ec2.RouteTable(
                f"{name}-private-rt-{index}",
                vpc_id=self.vpc.id,
                routes=[{"cidr_block": ANYWHERE, "nat_gateway_id": nats[index % nat_zones].id}],
                tags=self._tag(f"{name}-private-rt-{index}"),
                opts=child,
            )
            for index in range(ZONES)
        ]
        # S3 (the app's objects, the release archive) through a gateway endpoint, not the NATs.
        aws.ec2.VpcEndpoint(
            f"{name}-s3",
            vpc_id=self.vpc.id,
            service_name=f"com.amazonaws.{region}.s3",
            vpc_endpoint_type="Gateway",
            route_table_ids=[table.id for table in private_tables],
            tags=self._tag(f"{name}-s3"),
            opts=child,
        )
        for tier, subnets in self.subnets.items():
            for index, subnet in enumerate(subnets):
                aws.ec2.RouteTableAssociation(
                    f"{name}-{tier}-{index}-rta",
                    subnet_id=subnet.id,
                    route_table_id=(private_tables[index] if tier == "private" else to_internet).id,
                    opts=child,
                )

        self.alb_group = self._group("alb", "load balancer: HTTPS and HTTP from anywhere")
        self.app_group = self._group("app", "app servers: app ports from the load balancer only")
        self.db_group = self._group("db", "database: PostgreSQL from the app servers only")
        app = Port(app_ports.start, app_ports.stop - 1)
        db = Port(db_port, db_port)
        self._ingress("alb-https", self.alb_group, Port(443, 443), cidr=ANYWHERE)
        self._ingress("alb-http", self.alb_group, Port(80, 80), cidr=ANYWHERE)
        self._ingress("app-from-alb", self.app_group, app, source=self.alb_group)
        self._ingress("db-from-app", self.db_group, db, source=self.app_group)
        if migration_ingress_cidr:
            # The exit path: the bare-metal subscriber pulls logical replication from here.
            self._ingress("db-from-migration", self.db_group, db, cidr=migration_ingress_cidr)
        self._egress("alb-to-app", self.alb_group, app, target=self.app_group)
        self._egress("app-to-db", self.app_group, db, target=self.db_group)
        # Package mirrors (HTTP), SSM, S3 and the AWS APIs (HTTPS); nothing listens on these.
        # (The S3 endpoint's prefix list is inside 0.0.0.0/0 on 443.)
        self._egress("app-https-out", self.app_group, Port(443, 443), cidr=ANYWHERE)
        self._egress("app-http-out", self.app_group, Port(80, 80), cidr=ANYWHERE)

        self.register_outputs({"vpc_id": self.vpc.id})

    def subnet_ids(self, tier: str) -> list[pulumi.Output[str]]:
        return [subnet.id for subnet in self.subnets[tier]]

    def _tag(self, name: str, **extra: str) -> dict[str, str]:
        return {**self._tags, "Name": name, **extra}

    def _group(self, role: str, description: str) -> aws.ec2.SecurityGroup:
        # No inline rules: each opening is its own rule resource, and the provider removes
        # the default allow-all egress, so what is listed here is all there is.
        return aws.ec2.SecurityGroup(
            f"{self._name}-{role}-sg",
            vpc_id=self.vpc.id,
            description=description,
            tags=self._tag(f"{self._name}-{role}", **{"toolkit:group": role}),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _ingress(self, name: str, on: aws.ec2.SecurityGroup, port: Port, *, cidr: str | None = None,
                 source: aws.ec2.SecurityGroup | None = None) -> None:
        self._rule(aws.vpc.SecurityGroupIngressRule, name, on, port, cidr, source)

    def _egress(self, name: str, on: aws.ec2.SecurityGroup, port: Port, *, cidr: str | None = None,
                target: aws.ec2.SecurityGroup | None = None) -> None:
        self._rule(aws.vpc.SecurityGroupEgressRule, name, on, port, cidr, target)

    def _rule(self, kind: type[aws.vpc.SecurityGroupIngressRule] | type[aws.vpc.SecurityGroupEgressRule],
              name: str, on: aws.ec2.SecurityGroup, port: Port, cidr: str | None,
              peer: aws.ec2.SecurityGroup | None) -> None:
        """One rule per resource (not inline), so that each opening is visible and separately owned."""
        kind(
            f"{self._name}-{name}",
            security_group_id=on.id,
            ip_protocol=port.protocol,
            from_port=port.first,
            to_port=port.last,
            cidr_ipv4=cidr,
            referenced_security_group_id=peer.id if peer is not None else None,
            description=name,
            tags=self._tag(f"{self._name}-{name}"),
            opts=pulumi.ResourceOptions(parent=self),
        )


def _zone_picker(index: int) -> Callable[[list[str]], str]:
    """Subnet ``index`` goes to zone ``index`` (wrapping if the region has fewer)."""
    return lambda names: names[index % len(names)]
