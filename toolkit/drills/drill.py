"""``toolkit drill --to baremetal``: the exit rehearsed into an environment of its own, measured
against the spec's objectives, and torn down.

A drill is a run of kind ``drill`` holding the lock ``<service>.drill``. It runs the migration's
steps (``toolkit.drills.steps``) on the drill's spec (``toolkit.drills.environment``): its own
hosts, names, slot and publication; the source keeps serving and Route53 is only read. Whatever
happens (success, a failed step, a missed objective, Ctrl-C, SIGTERM) the drill tears down
before it ends, unless ``keep``. The drill's environment is *pending* from the moment the run
starts until its teardown succeeds (a file in the state directory names the run): the next
drill, or ``toolkit drill --cleanup``, tears down a pending environment whose drill is not
running any more (killed with ``kill -9``, kept, or a teardown that failed).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import signal
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolkit.drills import history
from toolkit.drills.environment import drill_spec
from toolkit.drills.objectives import Verdict, judge, rpo_measured
from toolkit.drills.steps import drill_steps
from toolkit.drills.teardown import tear_down
from toolkit.errors import BadInput, CheckFailed
from toolkit.migration.context import MigrationContext
from toolkit.migration.migrate import LoadWatch
from toolkit.reports import RunReport, build_report
from toolkit.runs import Listener, Run, lock
from toolkit.runs.journal import Journal
from toolkit.runs.run import runs_root
from toolkit.spec import LoadedSpec
from toolkit.state import state_root

log = logging.getLogger(__name__)

KIND = "drill"


@dataclass
class DrillOutcome:
    run_id: str
    report: RunReport
    verdicts: list[Verdict]
    kept: bool
    report_path: Path
    cleaned_before: str | None = None  # a dead drill's run, torn down first
    error: str = ""

    @property
    def objectives_met(self) -> bool:
        return all(v.met for v in self.verdicts)

    @property
    def torn_down(self) -> bool:
        return bool(self.report.measures.get("teardown", {}).get("torn_down"))

    @property
    def duration_seconds(self) -> float | None:
        if self.report.started_at is None or self.report.ended_at is None:
            return None
        return round(self.report.ended_at - self.report.started_at, 1)

    def to_json(self) -> dict[str, Any]:
        data = self.report.to_json()
        return {"run_id": self.run_id, "status": self.report.status, "error": self.error,
                "objectives_met": self.objectives_met, "objectives": [v.to_json() for v in self.verdicts],
                "rto_seconds": data["rto_seconds"], "rpo": rpo_measured(self.report),
                "client_outage_seconds": data["client_outage_seconds"],
                "duration_seconds": self.duration_seconds, "torn_down": self.torn_down, "kept": self.kept,
                "removed": self.report.measures.get("teardown", {}).get("removed", []),
                "cleaned_before": self.cleaned_before, "report": str(self.report_path),
                "steps": data["steps"], "verifications": data["verifications"]}

    def history_entry(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "started_at": self.report.started_at, "status": self.report.status,
                "rto_seconds": self.report.rto_seconds, "duration_seconds": self.duration_seconds,
                "objectives_met": self.objectives_met, "torn_down": self.torn_down}


@dataclass
class _Pending:
    """The file naming the drill whose environment exists (module doc)."""

    service: str
    path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.path = state_root() / "drills" / f"{self.service}.pending"

    def run_id(self) -> str | None:
        if not self.path.exists():
            return None
        return self.path.read_text().strip() or None

    def set(self, run_id: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(run_id + "\n")

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


def subject(production: LoadedSpec) -> str:
    return f"{production.spec.service.name}.drill"


def cleanup(production: LoadedSpec, *, listeners: Iterable[Listener] = ()) -> str | None:
    """Tear down what a drill that is not running left (killed, kept, or torn down only in part);
    the run it belonged to, or None when nothing was left. Refused while a drill runs."""
    pending = _Pending(production.spec.service.name)
    run_id = pending.run_id()
    if run_id is None:
        return None
    holder = lock.read_holder(subject(production))
    if holder is not None and holder.alive():
        raise CheckFailed(f"drill run {holder.run_id} is running (pid {holder.pid}); it tears down when it "
                          "ends (stop it with SIGTERM)")
    drill = drill_spec(production)
    died = not _ended(run_id)  # killed: its report and history entry were never written
    try:
        run = Run.resume(run_id, listeners=listeners)
    except BadInput:  # its run directory is gone: the teardown gets a run of its own
        run = Run.start(KIND, subject=subject(production), listeners=listeners, meta={"cleanup_of": run_id})
        died = False
    with run:
        with run.step("teardown", resumable=False):
            tear_down(drill, run, listeners)
        if died:
            run.finish("failed", error="the drill died before its end; torn down afterwards")
    pending.clear()
    if died:
        conclude(production, run, kept=False, cleaned_before=None)
    return run_id


def _ended(run_id: str) -> bool:
    return any(r.get("event") == "run-ended" for r in Journal(runs_root() / run_id).records())


def drill(production: LoadedSpec, target: str = "baremetal", *, keep: bool = False,
          load: LoadWatch | None = None, listeners: Iterable[Listener] = ()) -> DrillOutcome:
    """Rehearse the migration into the drill's environment, measure it, tear it down (module doc).
    A failed step ends the drill (torn down, its objectives missed); Ctrl-C and SIGTERM tear down
    and then go on up as ``KeyboardInterrupt``."""
    if target != "baremetal":
        raise BadInput(f"--to {target}: a drill rehearses the exit to baremetal")
    loaded = drill_spec(production)
    cleaned = cleanup(production, listeners=listeners)
    run = Run.start(KIND, subject=subject(production), listeners=listeners,
                    meta={"target": target, "keep": keep, "rehearses": production.spec.service.name})
    pending = _Pending(production.spec.service.name)
    pending.set(run.id)  # before anything is made
    ctx = MigrationContext(loaded, run, target=target, listeners=listeners, rehearses=production)
    error: Exception | None = None
    try:
        with run:
            try:
                with _sigterm_interrupts():
                    for step in drill_steps():
                        with run.step(step.name, resumable=False):
                            step.run(ctx)
            except Exception as exc:  # the drill failed: still measured, reported, torn down
                error = exc
                log.warning("drill: %s", exc)
            finally:
                with _signals_held():
                    _finish(ctx, pending, load, keep)
            if error is not None:
                run.finish("failed", error=str(error))
    finally:
        outcome = conclude(production, run, kept=keep, cleaned_before=cleaned)
    outcome.error = str(error or "")
    return outcome


def _finish(ctx: MigrationContext, pending: _Pending, load: LoadWatch | None, keep: bool) -> None:
    """What every drill does at its end: its followers stopped, the load judged on the drill's
    target while it still stands, and the teardown (unless ``keep``)."""
    run = ctx.run
    if ctx.objects_follower is not None:
        ctx.objects_follower.abandon()
        ctx.objects_follower = None
    window = ctx.measured("cutover")
    if load is not None and "opened_at" in window:
        try:
            verdict = judge_load_at_marker(run, load, window["frozen_at"], window["opened_at"])
            run.measure("loadgen", **verdict)
        except Exception as exc:  # the verdict is missing from the report, which says why
            run.note(f"the load generator's writes could not be checked on the drill target: {exc}",
                     step="loadgen")
    if keep:
        run.note("kept (--keep): the drill's environment stays until `toolkit drill --cleanup`",
                 step="teardown")
        return
    try:
        with run.step("teardown", resumable=False):
            tear_down(ctx.loaded, run, ctx.listeners)
        pending.clear()
    except Exception as exc:  # journaled (teardown measure, step failed); the next drill finishes it
        log.warning("drill: teardown: %s", exc)


def judge_load_at_marker(run: Run, load: LoadWatch, marker_at: float, opened_at: float) -> dict[str, Any]:
    """The load generator wrote to the source throughout; what it was acknowledged before the
    marker must be on the drill target, what came after may or may not be, in any version: its
    acknowledgements become ``unknown`` without a checksum in a copy of the journal the checker
    replays (the row and the object of a note written after the marker may each be caught before
    or after it). The copy is taken after the target was detached (``drill.detach``): nothing
    written later can reach it. The client outage is the source's own: it kept serving."""
    from toolkit.migration.load import client_outage, judge_load, read_load_journal

    records = read_load_journal(load.journal)
    at_marker = run.dir / "load-at-marker.jsonl"
    with at_marker.open("w", encoding="utf-8") as out:
        for record in records:
            line = dataclasses.asdict(record)
            if record.t > marker_at and record.status == "acked":
                line.update(status="unknown", checksum=None)
            out.write(json.dumps(line) + "\n")
    verdict = judge_load(at_marker, load.url, marker_at, opened_at, resolve_with=load.resolve_with)
    verdict.client_outage_seconds = client_outage(records, marker_at, opened_at)
    verdict.operations = len(records)
    verdict.acknowledged = sum(r.status == "acked" for r in records)
    return verdict.to_json()


def conclude(production: LoadedSpec, run: Run, *, kept: bool, cleaned_before: str | None) -> DrillOutcome:
    """The report (JSON and HTML, objectives judged, the trend drawn) and the history's entry."""
    from toolkit.drills.report import objectives_section, teardown_section, trend_section
    from toolkit.reports.html import render_html

    report = build_report(run.dir)
    verdicts = judge(production.spec.objectives, report)
    outcome = DrillOutcome(run.id, report, verdicts, kept, run.dir / "report.html", cleaned_before)
    service = production.spec.service.name
    past = [entry for entry in history.past(service) if entry.get("run_id") != run.id]
    history.record(service, outcome.history_entry())
    (run.dir / "report.json").write_text(json.dumps({**report.to_json(), "drill": outcome.to_json()},
                                                    indent=1, sort_keys=True))
    sections = [*objectives_section(verdicts), *teardown_section(report.measures.get("teardown", {}), kept),
                *trend_section([*past, outcome.history_entry()])]
    (run.dir / "report.html").write_text(render_html(report, sections), encoding="utf-8")
    return outcome


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM ends the drill's steps as Ctrl-C does, so that the teardown runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """The teardown is not cut short by a second Ctrl-C or SIGTERM (a playbook it runs can still
    be cancelled: the next drill, or ``--cleanup``, then finishes it)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
