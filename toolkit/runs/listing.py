"""``toolkit runs``: past and current runs with their state, newest first."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from toolkit.runs.journal import Journal
from toolkit.runs.run import run_state, runs_root


@dataclass(frozen=True)
class RunInfo:
    id: str
    kind: str
    subject: str | None
    state: str
    started: float | None
    ended: float | None
    failed_step: str | None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def list_runs() -> list[RunInfo]:
    root = runs_root()
    if not root.is_dir():
        return []
    found = []
    for run_dir in sorted(root.iterdir(), reverse=True):
        records = list(Journal(run_dir).records())
        if not records or records[0].get("event") != "run-started":
            # Runs made before the journal existed (provisioning's own directories) still list.
            parts = run_dir.name.split("-")  # <date>-<time>-<kind>-<hex>
            kind = "-".join(parts[2:-1]) or "?"
            found.append(RunInfo(run_dir.name, kind, None, "unknown", None, None, None))
            continue
        values = records[0].get("values", {})
        ends = [r for r in records if r.get("event") == "run-ended"]
        failed = [r.get("step") for r in records if r.get("event") == "step-failed"]
        found.append(RunInfo(id=run_dir.name, kind=values.get("kind", "?"), subject=values.get("subject"),
                             state=run_state(run_dir), started=records[0].get("at"),
                             ended=ends[-1].get("at") if ends else None,
                             failed_step=failed[-1] if failed else None))
    return found
