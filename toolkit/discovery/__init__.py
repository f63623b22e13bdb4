"""``toolkit discover --from aws``: read a live account, draft a spec, report the lock-in.

One reader per AWS service family (``ec2``, ``autoscaling``, ``loadbalancing``, ``rds``, ``s3``,
``route53``, ``managed``), each a ``base.Reader`` filling an ``Inventory`` through the one door to
boto3 (``session``). Calls are read-only; what cannot be read becomes a named gap, never a crash.
From the inventory come the draft spec (``draft``) and the lock-in report (``report``); ``iam``
holds the least-privilege policies that ``discover`` and ``migrate`` need.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from toolkit.discovery import draft as drafting
from toolkit.discovery import report as reporting
from toolkit.discovery.autoscaling import AutoScalingReader
from toolkit.discovery.base import Reader
from toolkit.discovery.ec2 import Ec2Reader
from toolkit.discovery.inventory import Inventory
from toolkit.discovery.loadbalancing import LoadBalancerReader
from toolkit.discovery.managed import CloudFrontReader, ManagedServicesReader
from toolkit.discovery.rds import RdsReader
from toolkit.discovery.route53 import Route53Reader
from toolkit.discovery.s3 import S3Reader
from toolkit.discovery.session import DiscoverySession

log = logging.getLogger(__name__)

READERS: tuple[type[Reader], ...] = (Ec2Reader, AutoScalingReader, LoadBalancerReader, RdsReader, S3Reader,
                                     Route53Reader, ManagedServicesReader, CloudFrontReader)


@dataclass
class Discovery:
    inventory: Inventory
    report: reporting.LockinReport
    draft: drafting.Draft
    calls: dict[str, int]  # "service:Operation" -> times called

    @property
    def complete(self) -> bool:
        return not self.inventory.gaps

    def to_json(self) -> dict[str, Any]:
        return {"complete": self.complete, "account": self.inventory.account, "regions": self.inventory.regions,
                "report": self.report.to_json(), "draft": self.draft.to_json(),
                "inventory": self.inventory.to_json(), "calls": self.calls}


def read_account(session: DiscoverySession, regions: list[str], *, storage_metrics: bool = False) -> Inventory:
    inventory = Inventory(regions=regions, account=session.account(regions[0]))
    for reader in READERS:
        reader(session, inventory, storage_metrics=storage_metrics).read()
    log.info("read_account: %d resources, %d gaps, %d calls", len(inventory.resources), len(inventory.gaps),
             sum(session.calls.values()))
    return inventory


def discover(session: DiscoverySession, regions: list[str], wiring: drafting.Wiring, *,
             bandwidth: str = reporting.DEFAULT_BANDWIDTH, storage_metrics: bool = False) -> Discovery:
    """Read the account, then build the report and the draft (not written: see ``draft.write``)."""
    reporting.bandwidth_bytes(bandwidth)  # bad input fails before any call
    inventory = read_account(session, regions, storage_metrics=storage_metrics)
    return Discovery(inventory, reporting.build(inventory, bandwidth), drafting.build(inventory, wiring),
                     {f"{service}:{operation}": n for (service, operation), n in sorted(session.calls.items())})
