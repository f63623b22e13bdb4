"""A run's report, read from its journal alone (so it can be made again, and for a dead run).

What the journal's records mean to the report (the steps that write them follow these names):

- ``step-started`` / ``step-ended`` / ``step-failed``: the timeline; a step's kind is its prefix
  (``database.copy`` is of kind ``database``);
- ``progress`` with ``lag_bytes`` / ``lag_seconds``: replication lag over time;
- ``progress`` with ``unit: bytes`` and ``rate``: throughput over time, per kind;
- ``measure`` on ``cutover`` with ``frozen_at`` and ``opened_at``: the cutover window (RTO);
- ``measure`` on ``loadgen``: ``client_outage_seconds``, ``acknowledged_writes_lost``;
- ``measure`` with ``bytes`` and ``seconds``: bytes moved and throughput per kind;
- ``measure`` on a ``*.verify`` step (``ok``, ``compared``, ``differences``): a verification;
- ``measure`` on ``rollback`` (``reason``): the run was rolled back, and why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolkit.errors import BadInput
from toolkit.runs.journal import Journal
from toolkit.runs.run import run_state, runs_root


@dataclass
class StepSpan:
    name: str
    status: str  # succeeded, failed, running, interrupted (its run died; a resume may redo it)
    started_at: float
    ended_at: float | None
    error: str = ""

    @property
    def kind(self) -> str:
        return self.name.split(".", 1)[0]

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "started_at": self.started_at,
                "ended_at": self.ended_at, "error": self.error}


@dataclass
class Sample:
    at: float
    step: str
    values: dict[str, Any]


@dataclass
class RunReport:
    run_id: str
    kind: str
    status: str
    started_at: float | None
    ended_at: float | None
    steps: list[StepSpan] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    measures: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def cutover(self) -> tuple[float, float] | None:
        values = self.measures.get("cutover", {})
        if "frozen_at" in values and "opened_at" in values:
            return float(values["frozen_at"]), float(values["opened_at"])
        return None

    @property
    def rto_seconds(self) -> float | None:
        window = self.cutover
        return round(window[1] - window[0], 3) if window else None

    def data_moved(self) -> dict[str, dict[str, float]]:
        """Bytes and throughput per data kind, from the steps' measures."""
        kinds: dict[str, dict[str, float]] = {}
        for step, values in self.measures.items():
            if "bytes" in values and "seconds" in values:
                kind = kinds.setdefault(step.split(".", 1)[0], {"bytes": 0, "seconds": 0.0})
                kind["bytes"] += values["bytes"]
                kind["seconds"] += values["seconds"]
        for kind in kinds.values():
            kind["bytes_per_second"] = round(kind["bytes"] / kind["seconds"], 1) if kind["seconds"] else 0.0
        return kinds

    def verifications(self) -> list[dict[str, Any]]:
        """Every ``*.verify`` measure that gave a verdict (``ok``)."""
        return [{"step": step, **values} for step, values in self.measures.items()
                if (step.endswith(".verify") or step == "verify") and "ok" in values]

    def backups(self) -> dict[str, Any] | None:
        """The target's recoverability: its first backup, the archiver, the window at the end."""
        first, window = self.measures.get("backup.first"), self.measures.get("backup.window")
        if first is None and window is None:
            return None
        first, window = first or {}, window or {}
        return {"first_backup": first.get("label"), "first_backup_completed_at": first.get("completed_at"),
                "archiving": window.get("archiving"),
                "recovery_window": {"from": window.get("recovery_from"), "to": window.get("recovery_to")}}

    def to_json(self) -> dict[str, Any]:
        loadgen = self.measures.get("loadgen", {})
        lost = loadgen.get("acknowledged_writes_lost")
        return {
            "run_id": self.run_id,
            "kind": self.kind,
            "status": self.status,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "rto_seconds": self.rto_seconds,
            "client_outage_seconds": loadgen.get("client_outage_seconds"),
            "rpo": {"acknowledged_writes_lost": lost},
            "steps": [s.to_json() for s in self.steps],
            "data": self.data_moved(),
            "verifications": self.verifications(),
            "backups": self.backups(),
            "rollback": self.measures.get("rollback"),
            "notes": self.notes,
        }


def _status(state: str, measures: dict[str, dict[str, Any]]) -> str:
    if "rollback" in measures:
        return "rolled_back"
    return {"succeeded": "succeeded", "running": "running"}.get(state, "failed")


def build_report(run: str | Path) -> RunReport:
    """The report of run ``run`` (an id under the state's runs, or a run directory)."""
    run_dir = Path(run) if isinstance(run, Path) or "/" in str(run) else runs_root() / str(run)
    records = list(Journal(run_dir).records())
    if not records or records[0].get("event") != "run-started":
        raise BadInput(f"no run {run_dir.name!r} with a journal under {run_dir.parent} (see `toolkit runs`)")
    report = RunReport(run_id=run_dir.name, kind=records[0].get("values", {}).get("kind", "?"), status="",
                       started_at=records[0].get("at"), ended_at=None)
    open_steps: dict[str, StepSpan] = {}
    last_at = report.started_at
    for record in records:
        event, step, at = record.get("event"), record.get("step"), record.get("at", 0.0)
        values = record.get("values", {})
        if event == "run-resumed":
            # What was under way when the run died: interrupted, last heard of before the resume.
            for span in open_steps.values():
                span.status, span.ended_at = "interrupted", last_at
            open_steps.clear()
        elif event == "step-started" and step:
            span = StepSpan(step, "running", at, None)
            open_steps[step] = span
            report.steps.append(span)
        elif event in ("step-ended", "step-failed") and step in open_steps:
            span = open_steps.pop(step)
            span.ended_at = at
            span.status = "succeeded" if event == "step-ended" else "failed"
            span.error = record.get("message", "") if event == "step-failed" else ""
        elif event == "progress" and step:
            report.samples.append(Sample(at, step, values))
        elif event == "measure" and step:
            report.measures.setdefault(step, {}).update(values)
        elif event == "note":
            report.notes.append(record.get("message", ""))
        elif event == "run-ended":
            report.ended_at = at
        last_at = at
    for span in open_steps.values():
        span.status = "interrupted" if report.ended_at or run_state(run_dir) != "running" else "running"
    report.status = _status(run_state(run_dir), report.measures)
    return report
