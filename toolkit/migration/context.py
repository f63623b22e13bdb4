"""What the steps of one migration share: the spec, the run, the options, and the parts they drive.

The parts (data movers, the DNS world, the source's endpoint) are built on first use and kept
for the process: a resumed run builds them again from the spec.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from toolkit.runs import Listener, Run
from toolkit.spec import LoadedSpec

if TYPE_CHECKING:
    from toolkit.data.mover import DataMover
    from toolkit.data.objects import ObjectMover
    from toolkit.data.objects.follower import Follower
    from toolkit.data.postgres import PostgresMover
    from toolkit.data.postgres.source import SourceEndpoint
    from toolkit.dns.world import DnsWorld


@dataclass
class MigrationContext:
    loaded: LoadedSpec
    run: Run
    target: str = "baremetal"
    deadline: datetime | None = None
    load_journal: Path | None = None  # the load generator's journal, if one writes during the run
    listeners: Iterable[Listener] = ()
    extra: dict[str, Any] = field(default_factory=dict)
    # The objects kept current from the gate before the window to its final pass (this process only).
    objects_follower: Follower | None = None
    # A drill's context: the production spec it rehearses (``loaded`` is the drill's, see
    # ``toolkit.drills.environment``). The source then gets nothing but the replication slot and
    # publication, and Route53 is only read.
    rehearses: LoadedSpec | None = None

    @property
    def drill(self) -> bool:
        return self.rehearses is not None

    def measured(self, step: str) -> dict[str, Any]:
        """What ``step`` measured in this run (e.g. the freeze's saved roles), also after a crash."""
        return self.run.measured(step)

    @cached_property
    def movers(self) -> list[DataMover]:
        """The data movers this migration drives: the family's registry decides which apply."""
        from toolkit.data import movers

        return movers(self.loaded)

    @property
    def database(self) -> PostgresMover:
        return cast("PostgresMover", self._mover("database"))

    @property
    def objects(self) -> ObjectMover | None:
        """None when the spec has no buckets."""
        return cast("ObjectMover | None", self._mover("objects"))

    def _mover(self, kind: str) -> DataMover | None:
        return next((mover for mover in self.movers if mover.kind == kind), None)

    @property
    def source(self) -> SourceEndpoint:
        return self.database.endpoint

    @cached_property
    def dns(self) -> DnsWorld | None:
        if self.loaded.spec.dns is None or self.loaded.spec.targets.baremetal is None \
                or self.loaded.spec.targets.baremetal.dns is None:
            return None
        if self.rehearses is not None:
            from toolkit.drills.dns import drill_world

            return drill_world(self.rehearses, self.loaded)
        from toolkit.dns.world import load_world

        return load_world(self.loaded)
