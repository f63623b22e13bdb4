"""The dry run: every step's plan and estimate, data sizes, a bandwidth probe, and the deadline.

``toolkit plan --to baremetal`` and ``toolkit migrate --dry-run`` print this and change nothing
anywhere: the steps' ``plan`` hooks only read (Ansible runs in check mode; DNS and the data
movers compute their diffs). Estimates come from the measured sizes over the probed bandwidth
between the servers (the path the data takes), plus each step's own figure.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from toolkit.migration.context import MigrationContext


def data_sizes(ctx: MigrationContext) -> dict[str, int]:
    """Bytes per data kind at the source, measured once per process."""
    if "data_sizes" not in ctx.extra:
        sizes = {"database": ctx.database.size_bytes()}
        if ctx.objects is not None:
            sizes["objects"] = object_bytes(ctx)
        ctx.extra["data_sizes"] = sizes
    return dict(ctx.extra["data_sizes"])


def object_bytes(ctx: MigrationContext) -> int:
    """The buckets' bytes, from a listing (metadata only: no object passes through here)."""
    from toolkit.targets.aws.clients import AwsAccess

    s3 = AwsAccess.from_spec(ctx.loaded).client("s3")
    total = 0
    for bucket in ctx.loaded.spec.buckets:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket.name):
            total += sum(int(o["Size"]) for o in page.get("Contents", []))
    return total


def probe_bandwidth(ctx: MigrationContext) -> float:
    """Bytes per second from the source to the target's database host, probed once per process."""
    if "bandwidth" not in ctx.extra:
        ctx.extra["bandwidth"] = ctx.database.probe_bytes_per_second()
    return float(ctx.extra["bandwidth"])


def estimate_total(ctx: MigrationContext) -> float:
    from toolkit.migration.steps import migration_steps

    return sum(step.estimate(ctx) for step in migration_steps())


@dataclass
class MigrationPlan:
    steps: list[dict[str, Any]]
    data_sizes: dict[str, int]
    bytes_per_second: float
    deadline: str | None
    planned_at: float = field(default_factory=time.time)
    gate: dict[str, Any] = field(default_factory=dict)  # the CI gate's verdicts (``gate.py``)

    @property
    def estimated_total_seconds(self) -> float:
        return round(sum(s["estimate_seconds"] for s in self.steps), 1)

    @property
    def window_seconds(self) -> float:
        return round(sum(s["estimate_seconds"] for s in self.steps if s["in_window"]), 1)

    @property
    def fits_deadline(self) -> bool | None:
        if self.deadline is None:
            return None
        from datetime import datetime

        deadline = datetime.fromisoformat(self.deadline).timestamp()
        return self.planned_at + self.estimated_total_seconds <= deadline

    def to_json(self) -> dict[str, Any]:
        by_name = {s["name"]: s.get("plan", {}) for s in self.steps}
        return {
            "steps": [{key: s[key] for key in ("name", "estimate_seconds", "in_window")} for s in self.steps],
            "estimated_total_seconds": self.estimated_total_seconds,
            "estimated_window_seconds": self.window_seconds,
            "data_sizes": self.data_sizes,
            "bytes_per_second": round(self.bytes_per_second),
            "dns_changes": by_name.get("dns.lower-ttls", {}).get("dns"),
            "ansible_check": by_name.get("standby", {}).get("ansible_check"),
            "deadline": self.deadline,
            "fits_deadline": self.fits_deadline,
            "gate": self.gate,
            "details": {name: plan for name, plan in by_name.items()
                        if plan and name not in ("dns.lower-ttls", "standby")},
        }


def make_plan(ctx: MigrationContext) -> MigrationPlan:
    from toolkit.migration import gate
    from toolkit.migration.engine import plan
    from toolkit.migration.steps import migration_steps

    steps = migration_steps()
    planned = plan(steps, ctx)
    rows = [{**p.to_json(), "in_window": step.in_window} for p, step in zip(planned, steps, strict=True)]
    made = MigrationPlan(steps=rows, data_sizes=data_sizes(ctx), bytes_per_second=probe_bandwidth(ctx),
                            deadline=ctx.deadline.isoformat() if ctx.deadline else None)
    made.gate = gate.to_json(gate.judge(ctx, made))
    return made
