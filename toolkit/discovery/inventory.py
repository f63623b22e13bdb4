"""What discovery found: resources by CloudFormation type, and what it could not read.

A ``Resource``'s ``type`` is a CloudFormation type name (``AWS::DynamoDB::Table``), the form the
lock-in table (``toolkit.lockin``) matches. ``properties`` holds what the draft spec and the
report need, in plain JSON values; ``bytes``/``items`` are data volumes where the API tells them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Resource:
    type: str
    name: str
    region: str
    properties: dict[str, Any] = field(default_factory=dict)
    bytes: int | None = None  # data held, where known
    items: int | None = None  # objects, rows, records or messages, where known
    size_source: str = ""  # where ``bytes`` comes from (a listing, a metric, allocated storage)

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "name": self.name,
            "region": self.region,
            "properties": self.properties,
            "bytes": self.bytes,
            "items": self.items,
            "size_source": self.size_source,
        }


@dataclass(frozen=True)
class Gap:
    """Something that could not be read, and why: the partial result names it."""

    service: str  # boto3 service name, e.g. "route53"
    operation: str  # API operation, e.g. "ListResourceRecordSets"
    action: str  # the IAM action it needs, e.g. "route53:ListResourceRecordSets"
    subject: str  # what was being read: "hosted zones", "objects of bucket logs"
    region: str
    kind: str  # "denied", "throttled", "unreachable", "failed"
    message: str

    def __str__(self) -> str:
        return f"{self.subject} ({self.region}): {self.kind}: {self.message} [needs {self.action}]"

    def to_json(self) -> dict[str, str]:
        return {
            "service": self.service,
            "operation": self.operation,
            "action": self.action,
            "subject": self.subject,
            "region": self.region,
            "kind": self.kind,
            "message": self.message,
        }


@dataclass
class Inventory:
    regions: list[str]
    account: str | None = None
    resources: list[Resource] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)

    def add(self, resource: Resource) -> Resource:
        self.resources.append(resource)
        return resource

    def of_type(self, *types: str) -> list[Resource]:
        return [r for r in self.resources if r.type in types]

    def to_json(self) -> dict[str, Any]:
        return {
            "regions": self.regions,
            "account": self.account,
            "resources": [r.to_json() for r in self.resources],
            "gaps": [g.to_json() for g in self.gaps],
        }
