"""``replicate`` / ``--status`` / ``--stop`` / ``verify``: the movers driven together as one run.

``replicate`` is a run with the lock ``<service>.replication``. Run again after a crash (the
lock's owner is dead), it resumes that run, saying so, rather than starting over: the movers
read the journal to redo the least that is correct.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from toolkit.data import movers
from toolkit.data.mover import DataMover, Finding, MoverOptions, Verification
from toolkit.data.side_by_side import side_by_side
from toolkit.errors import BadInput, CheckFailed
from toolkit.runs import Listener, Run, RunLocked
from toolkit.spec import LoadedSpec

log = logging.getLogger(__name__)


def subject(loaded: LoadedSpec) -> str:
    return f"{loaded.spec.service.name}.replication"


def _movers(loaded: LoadedSpec, target: str, options: MoverOptions | None = None) -> list[DataMover]:
    if target != "baremetal":
        raise BadInput(f"--to {target}: data can be replicated to baremetal only")
    if loaded.spec.targets.baremetal is None:
        raise BadInput(f"{loaded.path}: targets.baremetal is not set; there is nowhere to replicate to")
    found = movers(loaded, options)
    if not found:
        raise BadInput(f"{loaded.path}: the spec has no data to replicate")
    return found


class PreflightRefused(CheckFailed):
    """Preflight found errors; nothing was created on either side."""

    def __init__(self, findings: list[Finding]) -> None:
        errors = [f for f in findings if f.severity == "error"]
        super().__init__("preflight refused: " + "; ".join(f"{f.subject}: {f.message}" for f in errors))
        self.findings = findings


@dataclass
class ReplicationResult:
    run_id: str
    resumed: bool
    findings: list[Finding] = field(default_factory=list)
    status: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"run": self.run_id, "resumed": self.resumed, "status": self.status,
                "findings": [f.to_json() for f in self.findings]}


def _open_run(loaded: LoadedSpec, listeners: Iterable[Listener]) -> tuple[Run, bool]:
    try:
        return Run.start("replicate", subject=subject(loaded), listeners=listeners), False
    except RunLocked as locked:
        if not locked.stale:
            raise
        run = Run.resume(locked.holder.run_id, listeners=listeners)
        run.note(f"continuing run {run.id}, left by process {locked.holder.pid} that is gone")
        return run, True


def replicate(loaded: LoadedSpec, target: str = "baremetal", *,
              listeners: Iterable[Listener] = (), options: MoverOptions | None = None) -> ReplicationResult:
    """Preflight every mover, then start them side by side; return once all are caught up."""
    found = _movers(loaded, target, options)
    run, resumed = _open_run(loaded, listeners)
    with run:
        with run.step("preflight", resumable=True):
            findings = [f for each in side_by_side(found, lambda mover: mover.preflight()) for f in each]
            for finding in findings:
                if finding.severity != "info":
                    run.note(f"{finding.severity}: {finding.subject}: {finding.message}", step="preflight")
            if any(f.severity == "error" for f in findings):
                raise PreflightRefused(findings)
        side_by_side(found, lambda mover: mover.start(run))
        status = {mover.kind: mover.status() for mover in found}
        for kind, values in status.items():
            run.measure(f"{kind}.status", **values)
        return ReplicationResult(run_id=run.id, resumed=resumed, findings=findings, status=status)


def replication_status(loaded: LoadedSpec, target: str = "baremetal") -> dict[str, Any]:
    return {mover.kind: mover.status() for mover in _movers(loaded, target)}


def stop_replication(loaded: LoadedSpec, target: str = "baremetal") -> dict[str, list[str]]:
    """Every mover's cleanup, each attempted even if another fails (the first error is raised after)."""
    removed: dict[str, list[str]] = {}
    failure: Exception | None = None
    for mover in _movers(loaded, target):
        try:
            removed[mover.kind] = mover.stop()
        except Exception as exc:  # the others must still clean up
            log.warning("stop: %s cleanup failed: %s", mover.kind, exc)
            failure = failure or exc
    if failure is not None:
        raise failure
    return removed


def verify(loaded: LoadedSpec, target: str = "baremetal") -> list[Verification]:
    return [mover.verify() for mover in _movers(loaded, target)]
