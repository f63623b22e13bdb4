"""The lock-in linter: which AWS resources and spec features have no bare-metal equivalent.

``EQUIVALENTS`` is the table of AWS services and resource types and what realizes them on bare
metal. ``lint()`` checks a list of AWS resources (from the Pulumi program run, later from
discovery of a live account) and the spec against it. A finding is a ``blocker`` (nothing on
bare metal can take it over), a ``caveat`` (a named alternative exists, with a cost) or a
``review`` (a type this table does not know).

Types are matched as Pulumi tokens (``aws:dynamodb/table:Table``) or CloudFormation names
(``AWS::DynamoDB::Table``), so discovery can use either.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from toolkit.spec.checks import SUPPORTED_POSTGRES
from toolkit.spec.model import Spec


class Status(StrEnum):
    EQUIVALENT = "equivalent"  # a bare-metal role realizes it
    SUPPORTING = "supporting"  # AWS plumbing whose job the bare-metal hosts do themselves
    ALTERNATIVE = "alternative"  # a named alternative exists, with caveats
    NONE = "none"  # no bare-metal equivalent


SEVERITY = {Status.ALTERNATIVE: "caveat", Status.NONE: "blocker"}


@dataclass(frozen=True)
class Equivalent:
    service: str  # module in Pulumi tokens (``rds``), lower-cased CloudFormation service
    resources: tuple[str, ...]  # Pulumi resource names (lower case); () = the whole service
    aws: str
    baremetal: str
    status: Status
    caveat: str = ""


E, S, A, N = Status.EQUIVALENT, Status.SUPPORTING, Status.ALTERNATIVE, Status.NONE

EQUIVALENTS: tuple[Equivalent, ...] = (
    Equivalent(
        "rds",
        ("cluster", "clusterinstance", "clusterparametergroup", "globalcluster", "dbcluster"),
        "Aurora",
        "PostgreSQL role (plain PostgreSQL)",
        A,
        "Aurora-only features (global databases, fast clones, aurora_* functions, Babelfish, "
        "storage auto-scaling) have no equivalent; the data moves by logical replication",
    ),
    Equivalent(
        "rds",
        ("instance", "dbinstance"),
        "RDS for PostgreSQL",
        "postgresql role (PostgreSQL from Debian); its automated backups: backups role (pgBackRest)",
        E,
    ),
    # The spec's database.backups: point-in-time recovery that pgBackRest realizes on bare metal
    # (WAL archive and scheduled backups in the object store). A snapshot's contents stay on AWS.
    Equivalent(
        "rds",
        ("snapshot", "clustersnapshot", "snapshotcopy", "instanceautomatedbackupsreplication"),
        "RDS snapshots and automated backups",
        "backups role (pgBackRest, point-in-time recovery)",
        E,
    ),
    Equivalent(
        "rds",
        ("parametergroup", "subnetgroup", "optiongroup", "dbparametergroup", "dbsubnetgroup"),
        "RDS plumbing",
        "postgresql role settings",
        S,
    ),
    Equivalent("rds", (), "RDS (other)", "-", A, "only PostgreSQL has a bare-metal role"),
    Equivalent(
        "s3",
        ("bucketnotification",),
        "S3 event notifications",
        "none",
        N,
        "events go to Lambda/SQS/SNS, which have no equivalent; poll or use webhooks instead",
    ),
    Equivalent(
        "s3",
        ("bucketreplicationconfig",),
        "S3 replication",
        "rclone sync on a timer",
        A,
        "scheduled copies, not continuous replication",
    ),
    Equivalent(
        "s3",
        ("bucketwebsiteconfiguration", "bucketwebsiteconfigurationv2"),
        "S3 website hosting",
        "nginx serving a directory",
        A,
        "a separate nginx site, not part of the object store",
    ),
    Equivalent("s3", (), "S3", "objectstore role (S3-compatible store)", E),
    Equivalent(
        "route53",
        ("healthcheck", "trafficpolicy", "trafficpolicyinstance"),
        "Route53 health checks and traffic policies",
        "PowerDNS (static answers)",
        A,
        "no health-based or latency-based routing",
    ),
    Equivalent("route53", (), "Route53", "dns role (PowerDNS)", E),
    Equivalent("ec2", ("instance", "launchtemplate"), "EC2", "app role (systemd units on Debian)", E),
    Equivalent(
        "autoscaling",
        (),
        "EC2 Auto Scaling",
        "app role on a fixed set of hosts",
        E,
        "capacity is planned, not scaled on demand",
    ),
    Equivalent(
        "ec2",
        (
            "vpc",
            "subnet",
            "routetable",
            "routetableassociation",
            "internetgateway",
            "natgateway",
            "eip",
            "securitygroup",
            "securitygroupingressrule",
            "securitygroupegressrule",
            "networkacl",
            "vpcendpoint",
        ),
        "VPC networking",
        "host networking and the firewall role (nftables)",
        S,
    ),
    Equivalent("vpc", (), "VPC security group rules", "firewall role (nftables)", S),
    Equivalent("lb", (), "Application Load Balancer", "proxy role (nginx)", E),
    Equivalent("alb", (), "Application Load Balancer", "proxy role (nginx)", E),
    Equivalent("elasticloadbalancingv2", (), "Application Load Balancer", "proxy role (nginx)", E),
    Equivalent("elb", (), "Classic Load Balancer", "proxy role (nginx)", E),
    Equivalent(
        "acm",
        ("certificatevalidation",),
        "ACM-issued certificate",
        "none",
        N,
        "the private key of an ACM-issued certificate cannot be exported; import your own",
    ),
    Equivalent("acm", (), "ACM certificate (imported)", "proxy role TLS files", E),
    Equivalent("iam", (), "IAM", "local users, sudo and file permissions", S),
    Equivalent("ssm", ("parameter",), "SSM parameters", "secret references ({file:} / {env:})", S),
    Equivalent(
        "secretsmanager",
        (),
        "Secrets Manager",
        "secret references ({file:} / {env:})",
        A,
        "automatic rotation has no equivalent",
    ),
    Equivalent(
        "kms",
        (),
        "KMS",
        "none",
        A,
        "KMS keys cannot be exported: data encrypted client-side with them must be decrypted before an exit",
    ),
    Equivalent(
        "cloudwatch",
        (),
        "CloudWatch",
        "journald and a metrics stack of your choice",
        A,
        "alarms and dashboards are not carried over",
    ),
    Equivalent(
        "dynamodb",
        (),
        "DynamoDB",
        "none",
        N,
        "no equivalent; rewrite on PostgreSQL (JSONB) or run ScyllaDB's Alternator API",
    ),
    Equivalent("sqs", (), "SQS", "none", N, "no equivalent; e.g. RabbitMQ or a PostgreSQL-backed queue"),
    Equivalent("sns", (), "SNS", "none", N, "no equivalent; e.g. webhooks or a message broker"),
    Equivalent("lambda", (), "Lambda", "none", N, "no equivalent; run the code as a service or a timer"),
    Equivalent(
        "cognito",
        (),
        "Cognito",
        "none",
        N,
        "no equivalent, and password hashes cannot be exported: e.g. Keycloak with a reset",
    ),
    Equivalent("kinesis", (), "Kinesis", "none", N, "no equivalent; e.g. Apache Kafka"),
    Equivalent("apigateway", (), "API Gateway", "none", N, "no equivalent; nginx routes, auth in the app"),
    Equivalent("apigatewayv2", (), "API Gateway", "none", N, "no equivalent; nginx routes, auth in the app"),
    Equivalent("sfn", (), "Step Functions", "none", N, "no equivalent"),
    Equivalent("elasticache", (), "ElastiCache", "Redis/Valkey from Debian", A, "no toolkit role yet"),
    Equivalent("efs", (), "EFS", "NFS server", A, "no toolkit role yet"),
    Equivalent("cloudfront", (), "CloudFront", "nginx caching or another CDN", A, "no global edge"),
)

PULUMI_TOKEN = re.compile(r"^aws:(?P<service>[a-z0-9]+)(?:/[A-Za-z0-9]+)?:(?P<resource>[A-Za-z0-9]+)$")
CFN_TYPE = re.compile(r"^AWS::(?P<service>[A-Za-z0-9]+)::(?P<resource>[A-Za-z0-9]+)$")
# CloudFormation service names that the table knows under their Pulumi module name.
CFN_SERVICES = {"certificatemanager": "acm", "stepfunctions": "sfn", "elasticloadbalancing": "elb"}
IGNORED = re.compile(r"^(pulumi:|toolkit:)")  # providers and our own components
# Extensions that exist only on RDS/Aurora, not in Debian's PostgreSQL packages.
RDS_ONLY_EXTENSIONS = {
    "aws_commons",
    "aws_s3",
    "aws_lambda",
    "aws_ml",
    "rds_tools",
    "pg_transport",
    "apg_plan_mgmt",
    "pg_tle",
    "plrust",
    "rds_activity_stream",
}


@dataclass(frozen=True)
class AwsResource:
    """A resource to lint: its type token and, where known, its name and properties."""

    type: str
    name: str = ""
    properties: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Finding:
    subject: str  # a resource type (and name) or a spec field
    severity: str  # "blocker", "caveat" or "review"
    aws: str
    baremetal: str
    message: str

    def to_json(self) -> dict[str, str]:
        return {
            "subject": self.subject,
            "severity": self.severity,
            "aws": self.aws,
            "baremetal": self.baremetal,
            "message": self.message,
        }


@dataclass
class LockinReport:
    findings: list[Finding] = field(default_factory=list)
    checked: int = 0

    @property
    def blockers(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "blocker"]

    @property
    def ok(self) -> bool:
        return not self.blockers

    def to_json(self) -> dict[str, object]:
        return {"ok": self.ok, "checked": self.checked, "findings": [f.to_json() for f in self.findings]}


def equivalent_of(resource: AwsResource) -> Equivalent | None:
    """The table's entry for a resource, or None if the type is unknown."""
    match = PULUMI_TOKEN.match(resource.type) or CFN_TYPE.match(resource.type)
    if match is None:
        return None
    service, name = match["service"].lower(), match["resource"].lower()
    service = CFN_SERVICES.get(service, service) if match.re is CFN_TYPE else service
    if service == "acm" and name == "certificate" and _acm_issued(resource):
        return next(e for e in EQUIVALENTS if e.service == "acm" and e.resources)
    if service == "rds" and name in ("instance", "dbinstance", "dbcluster"):
        engine = str(resource.properties.get("engine") or resource.properties.get("Engine") or "postgres")
        if engine.startswith("aurora"):
            return next(e for e in EQUIVALENTS if e.aws == "Aurora")
        if engine != "postgres":
            return next(e for e in EQUIVALENTS if e.service == "rds" and not e.resources)
        if name == "dbcluster":  # a Multi-AZ DB cluster of plain PostgreSQL
            return next(e for e in EQUIVALENTS if e.service == "rds" and "dbinstance" in e.resources)
    specific = [e for e in EQUIVALENTS if e.service == service and name in e.resources]
    general = [e for e in EQUIVALENTS if e.service == service and not e.resources]
    found = specific or general
    return found[0] if found else None


def _acm_issued(resource: AwsResource) -> bool:
    props = resource.properties
    imported = "certificateBody" in props or "CertificateBody" in props or "certificate_body" in props
    imported = imported or props.get("Type") == "IMPORTED"  # as ACM's own API describes it
    return not imported


def lint(resources: Iterable[AwsResource | str], spec: Spec | None = None) -> LockinReport:
    report = LockinReport()
    seen: set[tuple[str, str]] = set()
    for item in resources:
        resource = AwsResource(item) if isinstance(item, str) else item
        if IGNORED.match(resource.type):
            continue
        report.checked += 1
        entry = equivalent_of(resource)
        subject = resource.type + (f" {resource.name}" if resource.name else "")
        if entry is None:
            if ("review", resource.type) not in seen:
                seen.add(("review", resource.type))
                report.findings.append(
                    Finding(
                        resource.type,
                        "review",
                        resource.type,
                        "unknown",
                        "not in the table of equivalents: review by hand",
                    )
                )
            continue
        severity = SEVERITY.get(entry.status)
        if severity is not None:
            report.findings.append(
                Finding(
                    subject,
                    severity,
                    entry.aws,
                    entry.baremetal,
                    entry.caveat or f"{entry.aws} has no bare-metal equivalent",
                )
            )
    if spec is not None:
        report.findings.extend(lint_spec(spec))
    return report


def lint_spec(spec: Spec) -> list[Finding]:
    """Spec features that would tie the service to AWS."""
    findings = []
    if spec.targets.baremetal is None:
        findings.append(
            Finding(
                "targets.baremetal",
                "blocker",
                "-",
                "missing",
                "the spec has no bare-metal target: nothing to exit to",
            )
        )
    if spec.database.version not in SUPPORTED_POSTGRES["baremetal"]:
        findings.append(
            Finding(
                "database.version",
                "blocker",
                f"PostgreSQL {spec.database.version}",
                "PostgreSQL " + "/".join(map(str, sorted(SUPPORTED_POSTGRES["baremetal"]))),
                f"PostgreSQL {spec.database.version} is not available on the bare-metal target",
            )
        )
    for name in spec.database.extensions:
        if name in RDS_ONLY_EXTENSIONS:
            findings.append(
                Finding(
                    f"database.extensions: {name}",
                    "blocker",
                    f"RDS extension {name}",
                    "none",
                    f"the extension {name} exists only on RDS/Aurora",
                )
            )
    if spec.tls is None:
        findings.append(
            Finding(
                "tls",
                "caveat",
                "ACM-issued certificate",
                "none",
                "no certificate in the spec: HTTPS on AWS would need an ACM-issued "
                "certificate, whose private key cannot be exported",
            )
        )
    for key, value in spec.app.environment.items():
        if "amazonaws.com" in value:
            findings.append(
                Finding(
                    f"app.environment.{key}",
                    "caveat",
                    value,
                    "-",
                    "a hard-coded AWS endpoint: make it a spec-driven setting",
                )
            )
    return findings
