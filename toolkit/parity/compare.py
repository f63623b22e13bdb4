"""Compare what each target realizes, component by component, value by value.

Each component lists the keys both realizations must agree on. Values one side has by nature
and the other not are shown, not compared (RDS encryption; the bare-metal object store's port).
The database's backups are a component of their own (RDS automated backups / pgBackRest): their
retention, point-in-time recovery and encryption are compared; their window is shown in a note
(RDS takes its backup somewhere within it, the bare-metal timer starts at its start).
Firewall rules are compared for the service's own groups (web, app, db); bare-metal-only rules
realize services AWS manages itself and are listed with that mapping, not as differences.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from toolkit.spec.model import Spec

COMPARED: dict[str, tuple[str, ...]] = {
    "database": ("engine", "version", "port", "name", "logical_replication"),
    "backups": ("retention_days", "point_in_time", "encrypted"),
    "objects": ("buckets", "versioned"),
    "app": ("port", "processes", "health_path"),
    "proxy": ("https_port", "http_port", "http_redirect", "tls"),
    "dns": ("zone", "records"),
    "firewall": ("rules",),
}
SERVICE_GROUPS = ("web", "app", "db")
# Bare-metal firewall openings that realize what AWS runs as a managed service.
MANAGED_ON_AWS = {
    "objects": "the object store's port: S3 is reached over HTTPS at AWS's endpoint",
    "dns": "the name server (53) and its API: Route53 answers on AWS",
    "operator": "operator access: on AWS the toolkit uses the AWS APIs and the migration ingress",
}


@dataclass
class ComponentParity:
    name: str
    aws: list[str] = field(default_factory=list)
    baremetal: list[str] = field(default_factory=list)
    differences: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "aws": self.aws,
            "baremetal": self.baremetal,
            "ok": self.ok,
            "differences": self.differences,
            "notes": self.notes,
        }


def expected_components(spec: Spec) -> set[str]:
    expected = {"database", "backups", "app", "proxy", "firewall"}  # every spec has database.backups
    if spec.buckets:
        expected.add("objects")
    if spec.dns is not None:
        expected.add("dns")
    return expected


def compare(
    spec: Spec,
    aws: dict[str, dict[str, Any]],
    baremetal: dict[str, dict[str, Any]],
    missing_baremetal: dict[str, str] | None = None,
) -> list[ComponentParity]:
    missing_baremetal = missing_baremetal or {}
    expected = expected_components(spec)
    results = []
    for name in COMPARED:
        parity = ComponentParity(name)
        a, b = aws.get(name), baremetal.get(name)
        if a is not None:
            parity.aws = describe(name, a, "aws")
        if b is not None:
            parity.baremetal = describe(name, b, "baremetal")
        if a is None or b is None:
            if a is None and b is None and name not in expected:
                parity.notes.append("not in the spec; realized by neither target")
            elif name in expected or (a is None) != (b is None):
                for side, value in (("aws", a), ("baremetal", b)):
                    if value is None:
                        why = missing_baremetal.get(name, "") if side == "baremetal" else ""
                        parity.differences.append(
                            f"{name}: no realization on {side}" + (f" ({why})" if why else "")
                        )
            results.append(parity)
            continue
        if name == "firewall":
            _compare_firewall(parity, a, b)
        else:
            for key in COMPARED[name]:
                left, right = _norm(a.get(key)), _norm(b.get(key))
                if left != right:
                    parity.differences.append(_difference(name, key, left, right))
        if name == "backups":
            parity.notes.append(
                f"window: aws {a.get('window')} (RDS starts its backup within it) / baremetal "
                f"{b.get('window')} (the timer starts at the window's start): not compared"
            )
        if name == "objects":
            parity.notes.append(
                f"port: aws {a.get('port')} (S3 endpoint, HTTPS) / baremetal "
                f"{b.get('port')} (object store): the same service, not compared"
            )
        results.append(parity)
    return results


def _norm(value: Any) -> Any:
    if isinstance(value, list):
        return sorted(_norm(v) for v in value) if all(isinstance(v, str | int) for v in value) else value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return value


def _difference(component: str, key: str, aws: Any, baremetal: Any) -> str:
    if isinstance(aws, list) and isinstance(baremetal, list):
        only_aws = [v for v in aws if v not in baremetal]
        only_bm = [v for v in baremetal if v not in aws]
        parts = ([f"only on aws: {', '.join(map(str, only_aws))}"] if only_aws else []) + (
            [f"only on baremetal: {', '.join(map(str, only_bm))}"] if only_bm else []
        )
        return f"{component}: {key} differ ({'; '.join(parts) or 'order'})"
    return f"{component}: {key} differs: aws {aws!r}, baremetal {baremetal!r}"


def _rule_text(rule: dict[str, Any]) -> str:
    return f"{rule['group']} {int(rule['port'])}/{rule['protocol']} from {rule['source']}"


def _compare_firewall(parity: ComponentParity, aws: dict[str, Any], baremetal: dict[str, Any]) -> None:
    def service_rules(rules: list[dict[str, Any]]) -> set[str]:
        return {_rule_text(r) for r in rules if r["group"] in SERVICE_GROUPS and r["source"] != "operator"}

    left, right = service_rules(aws.get("rules", [])), service_rules(baremetal.get("rules", []))
    for rule in sorted(left - right):
        parity.differences.append(f"firewall: {rule} is open on aws only")
    for rule in sorted(right - left):
        parity.differences.append(f"firewall: {rule} is open on baremetal only")
    for rule in baremetal.get("rules", []):
        if rule["source"] == "operator":
            reason = MANAGED_ON_AWS["operator"]
        elif rule["group"] in SERVICE_GROUPS:
            continue
        elif rule["group"] in MANAGED_ON_AWS:
            reason = MANAGED_ON_AWS[rule["group"]]
        else:
            parity.differences.append(
                f"firewall: {_rule_text(rule)} is open on baremetal only "
                f"(group {rule['group']!r} has no AWS counterpart)"
            )
            continue
        parity.notes.append(f"baremetal only, by design: {_rule_text(rule)} - {reason}")
    for rule in aws.get("migration_ingress", []):
        parity.notes.append(f"aws only, by design: {_rule_text(rule)} - the migration ingress (exit path)")


def describe(component: str, facts: dict[str, Any], side: str) -> list[str]:
    """How a target realizes a component, in a few human lines."""
    f = facts
    if component == "database":
        what = (
            f"RDS for PostgreSQL {f.get('version')}"
            if side == "aws"
            else f"PostgreSQL {f.get('version')} (Debian)"
        )
        lines = [
            what,
            f"port {f.get('port')}, database {f.get('name')}",
            f"logical replication {'on' if f.get('logical_replication') else 'OFF'}"
            + (f" ({f['logical_replication_apply']})" if f.get("logical_replication_apply") else ""),
        ]
        if side == "aws":
            lines.append(f"encrypted {f.get('encrypted')}")
        return lines
    if component == "backups":
        what = str(f.get("service") or ("RDS automated backups" if side == "aws" else "pgBackRest"))
        return [
            what + (f", {f['repository']}" if f.get("repository") else ""),
            f"retention {f.get('retention_days')} days, point-in-time recovery "
            + ("on" if f.get("point_in_time") else "OFF"),
            f"encrypted {'yes' if f.get('encrypted') else 'NO'}",
            f"window {f.get('window')} UTC",
        ]
    if component == "objects":
        what = "S3" if side == "aws" else f"{f.get('service', 'S3-compatible store')} on port {f.get('port')}"
        return [what, "buckets " + ", ".join(map(str, f.get("buckets", []))),
                "versioned " + (", ".join(map(str, f.get("versioned", []))) or "none")]
    if component == "app":
        ports = f"{f.get('port')}..{int(f.get('port', 0)) + int(f.get('processes', 1)) - 1}"
        host = "EC2 instances" if side == "aws" else "systemd units"
        return [f"{host}, {f.get('processes')} processes on ports {ports}", f"health {f.get('health_path')}"]
    if component == "proxy":
        what = "ALB" if side == "aws" else "nginx"
        tls = f"TLS {'on' if f.get('tls') else 'off'}" + (
            f" ({f['certificate']} certificate)" if f.get("certificate") else ""
        )
        return [
            what,
            f"HTTPS {f.get('https_port')}, HTTP {f.get('http_port')}"
            + (" -> HTTPS" if f.get("http_redirect") else ""),
            tls,
        ]
    if component == "dns":
        what = "Route53 hosted zone" if side == "aws" else "PowerDNS"
        return [f"{what} {f.get('zone')}", ", ".join(map(str, f.get("records", [])))]
    rules = [r for r in f.get("rules", []) if r["group"] in SERVICE_GROUPS]
    what = "security groups" if side == "aws" else "nftables"
    return [what, *sorted(_rule_text(r) for r in rules)]
