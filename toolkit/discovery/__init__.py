"""``toolkit discover --from aws``: read a live account, draft a spec, report the lock-in.

One reader per AWS service family (``ec2``, ``autoscaling``, ``loadbalancing``, ``rds``, ``s3``,
``route53``, ``managed``, and ``tagged`` for every other service), each a ``base.Reader`` filling
an ``Inventory`` through the one door to boto3 (``session``). Calls are read-only; what cannot
be read becomes a named gap, never a crash. From the inventory come the draft spec (``draft``)
and the lock-in report (``report``); ``iam`` holds the policies ``discover`` and ``migrate`` need.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit.discovery import draft as drafting
from toolkit.discovery import report as reporting
from toolkit.discovery.autoscaling import AutoScalingReader
from toolkit.discovery.base import Reader
from toolkit.discovery.connect import connect
from toolkit.discovery.ec2 import Ec2Reader
from toolkit.discovery.inventory import Inventory
from toolkit.discovery.loadbalancing import LoadBalancerReader
from toolkit.discovery.managed import CloudFrontReader, ManagedServicesReader
from toolkit.discovery.rds import RdsReader
from toolkit.discovery.route53 import Route53Reader
from toolkit.discovery.s3 import S3Reader
from toolkit.discovery.session import DiscoverySession
from toolkit.discovery.tagged import TaggedResourcesReader
from toolkit.errors import BadInput
from toolkit.spec import LoadedSpec

if TYPE_CHECKING:
    from toolkit.runs import Listener, Run

log = logging.getLogger(__name__)
REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")  # as the spec's targets.aws.region

READERS: tuple[type[Reader], ...] = (
    Ec2Reader,
    AutoScalingReader,
    LoadBalancerReader,
    RdsReader,
    S3Reader,
    Route53Reader,
    ManagedServicesReader,
    CloudFrontReader,
    TaggedResourcesReader,
)


@dataclass
class Discovery:
    inventory: Inventory
    report: reporting.LockinReport
    draft: drafting.Draft
    calls: dict[str, int]  # "service:Operation" -> times called
    run_id: str | None = None

    @property
    def complete(self) -> bool:
        return not self.inventory.gaps

    def to_json(self) -> dict[str, Any]:
        return {
            "complete": self.complete,
            "account": self.inventory.account,
            "regions": self.inventory.regions,
            "report": self.report.to_json(),
            "draft": self.draft.to_json(),
            "inventory": self.inventory.to_json(),
            "calls": self.calls,
            "run_id": self.run_id,
        }


def read_account(
    session: DiscoverySession, regions: list[str], *, storage_metrics: bool = False, run: Run | None = None
) -> Inventory:
    """Every reader in turn; each is a step of ``run`` (if given), its gaps the run's notes."""
    inventory = Inventory(regions=regions, account=session.account(regions[0]))
    for reader in READERS:
        step = f"read {reader.SUBJECT}"
        gaps = len(inventory.gaps)
        with run.step(step) if run is not None else contextlib.nullcontext():
            reader(session, inventory, storage_metrics=storage_metrics).read()
            if run is not None:
                run.measure(step, resources=len(inventory.resources), calls=sum(session.calls.values()))
                for gap in inventory.gaps[gaps:]:
                    run.note(f"not read: {gap}", step)
    log.info(
        "read_account: %d resources, %d gaps, %d calls",
        len(inventory.resources),
        len(inventory.gaps),
        sum(session.calls.values()),
    )
    return inventory


def discover(
    session: DiscoverySession,
    regions: list[str],
    wiring: drafting.Wiring,
    *,
    bandwidth: str = reporting.DEFAULT_BANDWIDTH,
    storage_metrics: bool = False,
    run: Run | None = None,
) -> Discovery:
    """Read the account, then build the report and the draft (not written: see ``draft.write``)."""
    reporting.bandwidth_bytes(bandwidth)  # bad input fails before any call
    inventory = read_account(session, regions, storage_metrics=storage_metrics, run=run)
    calls = {f"{service}:{operation}": n for (service, operation), n in sorted(session.calls.items())}
    return Discovery(
        inventory,
        reporting.build(inventory, bandwidth),
        drafting.build(inventory, wiring),
        calls,
        run_id=run.id if run is not None else None,
    )


def run_discovery(
    loaded: LoadedSpec | None,
    *,
    regions: list[str] | None,
    endpoint: str | None,
    output: Path,
    bandwidth: str,
    page_size: int | None,
    storage_metrics: bool,
    listeners: list[Listener],
) -> Discovery:
    """``toolkit discover`` as a run: read, report, write the draft beside ``output``, keep the JSON."""
    from toolkit.runs import Run

    if page_size is not None and page_size < 1:
        raise BadInput("--page-size must be at least 1")
    for region in regions or []:
        if not REGION.match(region):
            raise BadInput(f"--region {region!r} is not an AWS region like eu-west-1")
    reporting.bandwidth_bytes(bandwidth)  # bad input fails before the run begins
    access, wiring = connect(loaded, region=regions[0] if regions else None, endpoint=endpoint)
    session = DiscoverySession(access, page_size=page_size)
    regions = regions or [access.region]
    with Run.start(
        "discover", listeners=listeners, meta={"regions": regions, "endpoint": access.endpoint}
    ) as run:
        result = discover(
            session, regions, wiring, bandwidth=bandwidth, storage_metrics=storage_metrics, run=run
        )
        with run.step("write the draft spec"):
            path = drafting.write(result.draft, output)
            run.measure("write the draft spec", path=str(path), guesses=len(result.draft.guesses))
        (run.dir / "discovery.json").write_text(json.dumps(result.to_json(), indent=2, default=str))
    return result
