"""What the steps of one migration share: the spec, the run, the options, and the parts they drive."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from toolkit.runs import Run
from toolkit.spec import LoadedSpec


@dataclass
class MigrationContext:
    loaded: LoadedSpec
    run: Run
    target: str = "baremetal"
    deadline: datetime | None = None
    # Parts built once per process and shared by the steps (connections, movers, providers).
    parts: dict[str, Any] = field(default_factory=dict)

    def measured(self, step: str) -> dict[str, Any]:
        """What ``step`` measured in this run (e.g. the freeze's saved roles), also after a crash."""
        return self.run.measured(step)
