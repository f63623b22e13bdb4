"""``plan``, ``migrate`` and ``rollback``: the migration's steps driven as one locked, resumable run.

A migration is a run of kind ``migrate`` holding the lock ``<service>.migration``. Its report
(``report.json`` and ``report.html``) is written into the run's directory at the end, whether the
run succeeded, failed, or rolled back. With a load generator's journal, the report also says what
users felt (``client_outage_seconds``) and what was lost (``acknowledged_writes_lost``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from toolkit.errors import BadInput
from toolkit.migration.context import MigrationContext
from toolkit.migration.engine import execute, rollback
from toolkit.migration.planning import MigrationPlan, make_plan
from toolkit.migration.steps import migration_steps
from toolkit.reports import RunReport, build_report
from toolkit.runs import Listener, Run
from toolkit.spec import LoadedSpec

log = logging.getLogger(__name__)

KIND = "migrate"


@dataclass(frozen=True)
class LoadWatch:
    """The load generator that wrote during the migration: its journal, and how it reached the app."""

    journal: Path
    url: str
    resolve_with: str | None = None


def _check_target(target: str) -> None:
    if target != "baremetal":
        raise BadInput(f"--to {target}: a migration goes to baremetal (failback to aws is not built yet)")


def plan_migration(loaded: LoadedSpec, target: str = "baremetal", *, deadline: datetime | None = None,
                   listeners: Iterable[Listener] = ()) -> MigrationPlan:
    """The dry run: every step's plan and estimate; changes nothing anywhere."""
    _check_target(target)
    with Run.start("plan", listeners=listeners, meta={"target": target}) as run:
        ctx = MigrationContext(loaded, run, target=target, deadline=deadline, listeners=listeners)
        with run.step("plan"):
            planned = make_plan(ctx)
        document = json.dumps(planned.to_json(), indent=1, sort_keys=True, default=str)
        (run.dir / "plan.json").write_text(document)
        return planned


def _open(loaded: LoadedSpec, resume: str | None, listeners: Iterable[Listener], target: str) -> Run:
    if resume is None:
        return Run.start(KIND, subject=f"{loaded.spec.service.name}.migration", listeners=listeners,
                         meta={"target": target})
    run = Run.resume(resume, listeners=listeners)
    if run.kind != KIND:
        raise BadInput(f"run {resume} is a {run.kind} run, not a migration")
    return run


def write_report(run: Run, load: LoadWatch | None = None) -> RunReport:
    """Measure what users felt (if a load generator wrote), then write report.json and report.html."""
    from toolkit.reports.html import render_html

    cutover = run.measured("cutover")
    if load is not None and "opened_at" in cutover and not run.measured("loadgen"):
        from toolkit.migration.load import judge_load

        verdict = judge_load(load.journal, load.url, cutover["frozen_at"], cutover["opened_at"],
                             resolve_with=load.resolve_with)
        run.measure("loadgen", **verdict.to_json())
    report = build_report(run.dir)
    (run.dir / "report.json").write_text(json.dumps(report.to_json(), indent=1, sort_keys=True))
    (run.dir / "report.html").write_text(render_html(report), encoding="utf-8")
    return report


def migrate(loaded: LoadedSpec, target: str = "baremetal", *, resume: str | None = None,
            deadline: datetime | None = None, load: LoadWatch | None = None,
            listeners: Iterable[Listener] = ()) -> RunReport:
    """Move the service; ``resume`` continues run RESUME after a crash. Raises on a failed gate
    (after rolling back); the report is written either way (``report.json``/``.html`` in the run)."""
    _check_target(target)
    run = _open(loaded, resume, listeners, target)
    report: RunReport | None = None
    try:
        with run:
            ctx = MigrationContext(loaded, run, target=target, deadline=deadline, listeners=listeners)
            try:
                execute(migration_steps(), ctx)
            finally:
                if ctx.objects_follower is not None:  # the window was not reached: no final pass
                    ctx.objects_follower.abandon()
    finally:
        try:
            report = write_report(run, load)
        except Exception as exc:  # the migration's own outcome matters more than its report
            log.warning("migrate: the report of run %s could not be written: %s", run.id, exc)
    return report if report is not None else build_report(run.dir)


def rollback_migration(loaded: LoadedSpec, run_id: str, *, listeners: Iterable[Listener] = ()) -> RunReport:
    """Undo run ``run_id`` by hand: DNS back, the source unfrozen, the target's app stopped. Refused
    once writes opened on the target."""
    run = _open(loaded, run_id, listeners, "baremetal")
    with run:
        rollback(migration_steps(), MigrationContext(loaded, run, listeners=listeners), "by hand")
    return write_report(run)
