"""What the AWS program realizes, read back from the resources it declared (not from the spec).

``aws_realization(run)`` returns, per component, the same shape of facts the bare-metal roles
set (``realization_<component>``, see ``playbooks/realization.yml``), so that parity compares
like with like. Values come from resource inputs: RDS ``engineVersion`` and ``port``, the
parameter group's ``rds.logical_replication``, RDS's automated backups (``backupRetentionPeriod``,
``backupWindow``), bucket names, listener ports, target
groups and the Auto Scaling group, security-group rules, Route53 records.
"""

from __future__ import annotations

from typing import Any

from toolkit.targets.aws.offline import OfflineRun, RecordedResource, name_from_id

ANYWHERE = "0.0.0.0/0"
# Security groups by the role tag the network component gives them -> the firewall group names
# the bare-metal firewall role uses.
GROUP_NAMES = {"alb": "web", "app": "app", "db": "db"}


def aws_realization(run: OfflineRun) -> dict[str, dict[str, Any]]:
    """Component name -> realized facts; a component the program does not realize is absent."""
    found: dict[str, dict[str, Any]] = {}
    for name, read in (
        ("database", _database),
        ("backups", _backups),
        ("objects", _objects),
        ("app", _app),
        ("proxy", _proxy),
        ("dns", _dns),
        ("firewall", _firewall),
    ):
        facts = read(run)
        if facts is not None:
            found[name] = facts
    return found


def _database(run: OfflineRun) -> dict[str, Any] | None:
    instances = run.of_type("aws:rds/instance:Instance")
    if not instances:
        return None
    db = instances[0].inputs
    groups = {g.inputs.get("name") or g.name: g for g in run.of_type("aws:rds/parameterGroup:ParameterGroup")}
    group = groups.get(db.get("parameterGroupName", ""))
    parameters = {p.get("name"): p for p in (group.inputs.get("parameters", []) if group else [])}
    logical = parameters.get("rds.logical_replication", {})
    version = str(db.get("engineVersion", ""))
    return {
        "engine": "postgresql" if db.get("engine") == "postgres" else db.get("engine"),
        "version": int(version.split(".")[0]) if version.split(".")[0].isdigit() else version,
        "port": int(db.get("port", 5432)),
        "name": db.get("dbName"),
        "logical_replication": str(logical.get("value")) == "1",
        "logical_replication_apply": logical.get("applyMethod", "immediate") if logical else None,
        "encrypted": bool(db.get("storageEncrypted")),
        "parameter_group_family": group.inputs.get("family") if group else None,
    }


def _backups(run: OfflineRun) -> dict[str, Any] | None:
    instances = run.of_type("aws:rds/instance:Instance")
    if not instances:
        return None
    db = instances[0].inputs
    retention = int(db.get("backupRetentionPeriod") or 0)
    return {
        "service": "RDS automated backups",
        "retention_days": retention,
        # Automated backups (retention >= 1 day) restore to any moment within the retention.
        "point_in_time": retention >= 1,
        # The snapshots of an encrypted instance are encrypted with its key.
        "encrypted": bool(db.get("storageEncrypted")),
        "window": db.get("backupWindow"),
    }


def _objects(run: OfflineRun) -> dict[str, Any] | None:
    buckets = [
        b
        for b in run.of_type("aws:s3/bucket:Bucket")
        if (b.inputs.get("tags") or {}).get("toolkit:role") == "data"
    ]
    if not buckets:
        return None
    names = sorted(str(b.inputs.get("bucket") or b.name) for b in buckets)

    def configured(type_: str) -> set[str]:
        return {str(r.inputs.get("bucket")) for r in run.of_type(type_)}

    ids = {f"{b.name}-id": str(b.inputs.get("bucket") or b.name) for b in buckets}
    blocked = {ids.get(i) for i in configured("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")}
    encrypted = {
        ids.get(i)
        for i in configured(
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
        )
    }
    versioned = {
        ids.get(str(r.inputs.get("bucket")))
        for r in run.of_type("aws:s3/bucketVersioning:BucketVersioning")
        if (r.inputs.get("versioningConfiguration") or {}).get("status") == "Enabled"
    }
    return {
        "buckets": names,
        "port": 443,
        "service": "S3",
        "encrypted": sorted(n for n in names if n in encrypted),
        "public_access_blocked": sorted(n for n in names if n in blocked),
        "versioned": sorted(n for n in names if n in versioned),
    }


def _app(run: OfflineRun) -> dict[str, Any] | None:
    groups = run.of_type("aws:lb/targetGroup:TargetGroup")
    scaling = run.of_type("aws:autoscaling/group:Group")
    if not groups or not scaling:
        return None
    # Every app port is a target group the Auto Scaling group registers its instances in.
    registered = {str(arn) for group in scaling for arn in group.inputs.get("targetGroupArns") or []}
    ports = sorted(
        int(g.inputs["port"])
        for g in groups
        if "port" in g.inputs and any(arn.endswith(f":{g.name}") for arn in registered)
    )
    if not ports:
        return None
    return {
        "port": ports[0],
        "processes": len(ports),
        "ports": ports,
        "instances": int(scaling[0].inputs.get("desiredCapacity", 0)),
        "health_path": (groups[0].inputs.get("healthCheck") or {}).get("path"),
    }


def _proxy(run: OfflineRun) -> dict[str, Any] | None:
    listeners = run.of_type("aws:lb/listener:Listener")
    if not listeners:
        return None
    https = [li for li in listeners if li.inputs.get("protocol") == "HTTPS"]
    http = [li for li in listeners if li.inputs.get("protocol") == "HTTP"]
    redirect = any(
        action.get("type") == "redirect" and (action.get("redirect") or {}).get("protocol") == "HTTPS"
        for li in http
        for action in li.inputs.get("defaultActions", [])
    )
    certificates = run.of_type("aws:acm/certificate:Certificate")
    imported = any("certificateBody" in c.inputs for c in certificates)
    return {
        "https_port": int(https[0].inputs["port"]) if https else None,
        "http_port": int(http[0].inputs["port"]) if http else None,
        "http_redirect": redirect,
        "tls": bool(https) and bool(certificates),
        "certificate": "imported" if imported else ("acm-issued" if certificates else None),
    }


def _dns(run: OfflineRun) -> dict[str, Any] | None:
    zones = run.of_type("aws:route53/zone:Zone")
    if not zones:
        return None
    zone = str(zones[0].inputs.get("name", "")).rstrip(".")
    records = []
    for record in run.of_type("aws:route53/record:Record"):
        name = str(record.inputs.get("name", "")).rstrip(".")
        relative = "@" if name == zone else name.removesuffix("." + zone)
        records.append(f"{relative} {record.inputs.get('type')}")
    return {"zone": zone + ".", "records": sorted(records)}


def _firewall(run: OfflineRun) -> dict[str, Any] | None:
    groups = run.of_type("aws:ec2/securityGroup:SecurityGroup")
    if not groups:
        return None
    role_of = {g.name: (g.inputs.get("tags") or {}).get("toolkit:group", g.name) for g in groups}
    rules: list[dict[str, Any]] = []
    migration: list[dict[str, Any]] = []
    for rule in run.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"):
        for entry in _rule_entries(rule, role_of):
            (migration if entry.pop("migration") else rules).append(entry)
    return {"rules": sorted(rules, key=_rule_key), "migration_ingress": sorted(migration, key=_rule_key)}


def _rule_entries(rule: RecordedResource, role_of: dict[str, str]) -> list[dict[str, Any]]:
    inputs = rule.inputs
    on = role_of.get(name_from_id(inputs.get("securityGroupId")) or "", "?")
    group = GROUP_NAMES.get(on, on)
    source_group = name_from_id(inputs.get("referencedSecurityGroupId"))
    cidr = inputs.get("cidrIpv4")
    if source_group is not None:
        role = role_of.get(source_group, source_group)
        source = GROUP_NAMES.get(role, role)
    else:
        source = "any" if cidr == ANYWHERE else str(cidr)
    # The migration ingress is the exit path's own opening (the subscriber's CIDR on the DB port).
    migration = group == "db" and source_group is None and cidr != ANYWHERE
    first, last = int(inputs.get("fromPort", 0)), int(inputs.get("toPort", 0))
    return [
        {
            "group": group,
            "port": port,
            "protocol": str(inputs.get("ipProtocol", "tcp")),
            "source": source,
            "migration": migration,
        }
        for port in range(first, last + 1)
    ]


def _rule_key(rule: dict[str, Any]) -> tuple[str, int, str, str]:
    return (rule["group"], rule["port"], rule["protocol"], rule["source"])
