"""DNS: a Route53 hosted zone with the spec's records.

A record with ``target: app`` points at the load balancer: an alias record for A and AAAA (at
the apex too), a CNAME to the load balancer's name for CNAME. Records with ``values:`` are
created as given.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from toolkit.dns.normalize import fqdn, rdata
from toolkit.spec.model import Dns as DnsSpec
from toolkit.spec.model import DnsRecord


def record_name(record: DnsRecord, zone: str) -> str:
    """The record's absolute name without the trailing dot (Route53's spelling)."""
    return fqdn(record.name, zone).rstrip(".")


def record_values(record: DnsRecord) -> list[str]:
    """The record's data as Route53 takes it (the toolkit's one normalization: TXT quoted and split)."""
    return [rdata(record.type, value) for value in record.values or []]


def resource_name(record: DnsRecord) -> str:
    label = "apex" if record.name == "@" else record.name.rstrip(".").replace("*", "wildcard")
    return f"{label}-{record.type.lower()}"


class Dns(pulumi.ComponentResource):
    zone: aws.route53.Zone

    def __init__(
        self,
        name: str,
        *,
        spec: DnsSpec,
        alb_dns_name: pulumi.Output[str],
        alb_zone_id: pulumi.Output[str],
        tags: dict[str, str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("toolkit:aws:Dns", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.zone = aws.route53.Zone(
            f"{name}-zone",
            name=spec.zone.rstrip("."),
            force_destroy=False,
            comment="managed by toolkit from the service spec",
            tags=tags,
            opts=child,
        )
        for record in spec.records:
            args = aws.route53.RecordArgs(
                zone_id=self.zone.zone_id, name=record_name(record, spec.zone), type=record.type
            )
            if record.target == "app" and record.type in ("A", "AAAA"):
                args.aliases = [
                    aws.route53.RecordAliasArgs(
                        name=alb_dns_name, zone_id=alb_zone_id, evaluate_target_health=True
                    )
                ]
            elif record.target == "app":
                args.records, args.ttl = [alb_dns_name], record.ttl
            elif record.target is not None:
                # ``target: dns`` names the bare-metal name servers; Route53 is the DNS here.
                pulumi.log.warn(
                    f"dns: {record.name} {record.type} points at {record.target!r}, "
                    "which has no AWS realization; skipped",
                    resource=self,
                )
                continue
            else:
                args.records, args.ttl = record_values(record), record.ttl
                # Route53 creates the apex NS set itself; a spec that lists it takes it over.
                args.allow_overwrite = record.name == "@" and record.type == "NS"
            aws.route53.Record(f"{name}-{resource_name(record)}", args, opts=child)
        self.register_outputs({"zone_id": self.zone.zone_id})
