"""The base of every reader: the workflow (regions, gaps) around one hook, ``populate``."""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

from toolkit.discovery.inventory import Inventory
from toolkit.discovery.session import DiscoverySession, Unreadable

log = logging.getLogger(__name__)


class Reader:
    """Reads one AWS service family into the inventory.

    Subclasses set ``SUBJECT`` (what they read, for messages) and ``GLOBAL`` (read once, not per
    region), and implement ``populate``. A call that fails inside ``tolerate`` becomes a gap and
    the reader carries on with the next thing; a failure outside any ``tolerate`` ends this
    region's reading of the family, also as a gap. Nothing a reader reads can crash the run.
    """

    SUBJECT: ClassVar[str]
    GLOBAL: ClassVar[bool] = False

    def __init__(
        self, session: DiscoverySession, inventory: Inventory, *, storage_metrics: bool = False
    ) -> None:
        self.session = session
        self.inventory = inventory
        self.storage_metrics = storage_metrics  # sizes from CloudWatch where a listing would be long

    def populate(self, region: str) -> None:
        """Read this family in ``region`` and add what exists to ``self.inventory``. Must only read."""
        raise NotImplementedError

    def read(self) -> None:
        regions = self.inventory.regions[:1] if self.GLOBAL else self.inventory.regions
        for region in regions:
            log.info("read: %s in %s", self.SUBJECT, region)
            with self.tolerate(self.SUBJECT, region):
                self.populate(region)

    @contextmanager
    def tolerate(self, subject: str, region: str) -> Iterator[None]:
        try:
            yield
        except Unreadable as exc:
            gap = exc.gap(subject, region)
            log.warning("read: could not read %s", gap)
            self.inventory.gaps.append(gap)

    # Calls go through the session, the one module that talks to boto3.
    def call(
        self, service: str, operation: str, region: str, *, absent: tuple[str, ...] = (), **params: Any
    ) -> dict[str, Any] | None:
        return self.session.call(service, operation, region, absent=absent, **params)

    def pages(self, service: str, operation: str, region: str, **params: Any) -> Iterator[dict[str, Any]]:
        return self.session.pages(service, operation, region, **params)

    def latest_metric(
        self,
        region: str,
        namespace: str,
        metric: str,
        dimensions: dict[str, str],
        statistic: str = "Average",
        days: int = 3,
    ) -> float | None:
        """The newest datapoint of a CloudWatch metric, or None (no data, or not readable)."""
        now = datetime.datetime.now(datetime.UTC)
        with self.tolerate(f"CloudWatch {namespace} {metric}", region):
            reply = self.call(
                "cloudwatch",
                "get_metric_statistics",
                region,
                Namespace=namespace,
                MetricName=metric,
                Dimensions=[{"Name": k, "Value": v} for k, v in dimensions.items()],
                StartTime=now - datetime.timedelta(days=days),
                EndTime=now,
                Period=86400,
                Statistics=[statistic],
            )
            points = sorted((reply or {}).get("Datapoints", []), key=lambda p: p["Timestamp"])
            return float(points[-1][statistic]) if points else None
        return None


def tags(items: list[dict[str, Any]] | None) -> dict[str, str]:
    return {str(t["Key"]): str(t["Value"]) for t in items or []}
