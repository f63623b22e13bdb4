"""The lock-in report: every AWS service in use, its bare-metal equivalent or none, the data to move.

Services are grouped by their entry in the lock-in table (``toolkit.lockin.EQUIVALENTS``), so the
report and ``toolkit parity`` agree on what has an equivalent. The exit time is the data volume
over the bandwidth the user gives: a floor, since nothing else is counted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from toolkit.discovery.inventory import Gap, Inventory, Resource
from toolkit.errors import BadInput
from toolkit.lockin import AwsResource, Status, equivalent_of

NEEDS_A_PLAN = "none: needs a plan"
BANDWIDTH = re.compile(
    r"^\s*(?P<number>\d+(?:\.\d+)?)\s*(?P<prefix>[kKmMgGtT]?)(?P<unit>bit/s|bps|b/s|B/s|Bps)\s*$"
)
PREFIX = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}
DEFAULT_BANDWIDTH = "1Gbit/s"


def bandwidth_bytes(text: str) -> float:
    """``"1Gbit/s"``, ``"200Mbps"``, ``"50MB/s"`` -> bytes per second."""
    match = BANDWIDTH.match(text)
    if match is None or float(match["number"]) <= 0:
        raise BadInput(f"--bandwidth {text!r} is not a bandwidth like 1Gbit/s, 200Mbps or 50MB/s")
    per_second = float(match["number"]) * PREFIX[match["prefix"].lower()]
    return per_second if match["unit"] in ("B/s", "Bps") else per_second / 8


def duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    hours, minutes = divmod(round(seconds / 60), 60)
    return f"{hours} h {minutes:02d} min" if hours < 48 else f"{seconds / 86400:.1f} days"


@dataclass
class ServiceRow:
    service: str  # the AWS service, as the lock-in table names it
    status: str  # equivalent, supporting, alternative, none, review
    baremetal: str
    note: str = ""
    resources: list[Resource] = field(default_factory=list)

    @property
    def bytes(self) -> int | None:
        sizes = [r.bytes for r in self.resources if r.bytes is not None]
        return sum(sizes) if sizes else None

    @property
    def items(self) -> int | None:
        counts = [r.items for r in self.resources if r.items is not None]
        return sum(counts) if counts else None

    def to_json(self, bytes_per_second: float) -> dict[str, Any]:
        return {
            "service": self.service,
            "status": self.status,
            "baremetal": self.baremetal,
            "note": self.note,
            "count": len(self.resources),
            "names": [r.name for r in self.resources],
            "types": sorted({r.type for r in self.resources}),
            "bytes": self.bytes,
            "items": self.items,
            "exit_seconds": round(self.bytes / bytes_per_second, 1) if self.bytes else None,
        }


@dataclass
class LockinReport:
    rows: list[ServiceRow]
    bandwidth: str
    bytes_per_second: float
    kms_encrypted: list[str]
    gaps: list[Gap]

    @property
    def total_bytes(self) -> int:
        return sum(row.bytes or 0 for row in self.rows)

    @property
    def exit_seconds(self) -> float:
        return self.total_bytes / self.bytes_per_second

    @property
    def unsupported(self) -> list[ServiceRow]:
        return [row for row in self.rows if row.status == Status.NONE]

    def to_json(self) -> dict[str, Any]:
        return {
            "services": [row.to_json(self.bytes_per_second) for row in self.rows],
            "unsupported": [row.service for row in self.unsupported],
            "kms_encrypted": self.kms_encrypted,
            "data": {
                "bytes": self.total_bytes,
                "bandwidth": self.bandwidth,
                "bytes_per_second": self.bytes_per_second,
                "exit_seconds": round(self.exit_seconds, 1),
                "exit_time": duration(self.exit_seconds),
            },
            "complete": not self.gaps,
            "not_read": [str(g) for g in self.gaps],
        }


def build(inventory: Inventory, bandwidth: str = DEFAULT_BANDWIDTH) -> LockinReport:
    per_second = bandwidth_bytes(bandwidth)
    rows: dict[str, ServiceRow] = {}
    for resource in inventory.resources:
        entry = equivalent_of(AwsResource(resource.type, resource.name, resource.properties))
        if entry is None:
            key = resource.type
            row = rows.setdefault(
                key,
                ServiceRow(
                    resource.type, "review", "unknown", "not in the table of equivalents: review by hand"
                ),
            )
        else:
            key = entry.aws
            # No role takes it over (KMS, RDS for MySQL too): the user needs a plan of their own.
            nothing = entry.status == Status.NONE or entry.baremetal in ("none", "-")
            baremetal = NEEDS_A_PLAN if nothing else entry.baremetal
            row = rows.setdefault(key, ServiceRow(entry.aws, str(entry.status), baremetal, entry.caveat))
        row.resources.append(resource)
    order = {"none": 0, "review": 1, "alternative": 2, "equivalent": 3, "supporting": 4}
    ranked = sorted(rows.values(), key=lambda r: (order.get(r.status, 9), r.service))
    return LockinReport(ranked, bandwidth, per_second, _kms_encrypted(inventory), list(inventory.gaps))


def _kms_encrypted(inventory: Inventory) -> list[str]:
    """Data at rest under a KMS key: readable only while the key (and the account) is."""
    found = []
    for resource in inventory.resources:
        props = resource.properties
        encryption = props.get("encryption") or {}
        if resource.type == "AWS::S3::Bucket" and str(encryption.get("algorithm", "")).startswith("aws:kms"):
            found.append(f"S3 bucket {resource.name} (SSE-KMS)")
        elif (
            resource.type.startswith("AWS::RDS::") and props.get("storage_encrypted") and props.get("kms_key")
        ):
            found.append(f"RDS {resource.name} (storage)")
        elif resource.type in (
            "AWS::DynamoDB::Table",
            "AWS::SQS::Queue",
            "AWS::EFS::FileSystem",
        ) and props.get("kms_key"):
            found.append(f"{resource.type.split('::')[1]} {resource.name}")
    return found
