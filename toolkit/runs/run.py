"""A run: a private directory with a journal, an optional lock, and events for whoever watches.

Provisioning, replication, DNS work, migrations and drills are all runs::

    with Run.start("replicate", subject=f"{service}.data", listeners=[view]) as run:
        with run.step("schema"):
            ...
        with run.step("copy", resumable=True):
            run.progress("copy", done=n, total=size, unit="bytes")

A step that raises is journaled as failed and the error leaves with the step's name and whether
the run can be resumed (``exc.step``, ``exc.resumable`` and a note for the CLI). ``Run.resume``
reopens a run after a crash; ``run.ended(step)`` tells a resumed run what it need not redo.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from toolkit.errors import BadInput
from toolkit.runlog import run_log
from toolkit.runs import lock
from toolkit.runs.events import Event, EventKind, Listener
from toolkit.runs.journal import Journal
from toolkit.state import new_run_dir, state_root

log = logging.getLogger(__name__)

# Progress is frequent; the journal keeps one sample per step per interval (enough to draw
# throughput and lag over time in a report) while listeners see every one.
PROGRESS_JOURNAL_INTERVAL = 1.0


def runs_root() -> Path:
    return state_root() / "runs"


@dataclass
class Run:
    id: str
    dir: Path
    kind: str
    subject: str | None
    listeners: list[Listener]

    def __post_init__(self) -> None:
        self.journal = Journal(self.dir)
        self._last_sample: dict[str | None, float] = {}
        self._log_context: contextlib.ExitStack | None = None
        self._finished = False

    # -- opening and closing -------------------------------------------------------------------
    @classmethod
    def start(cls, kind: str, *, subject: str | None = None, listeners: Iterable[Listener] = (),
              meta: dict[str, Any] | None = None) -> Run:
        """A new run of ``kind``; with ``subject`` it holds that subject's lock until it finishes."""
        run_dir = new_run_dir(kind)
        run = cls(id=run_dir.name, dir=run_dir, kind=kind, subject=subject, listeners=list(listeners))
        if subject is not None:
            try:
                lock.acquire(subject, run.id)
            except lock.RunLocked:
                shutil.rmtree(run_dir)  # refused before it began: nothing to remember
                raise
        run._emit("run-started", values={"kind": kind, "subject": subject, "pid": os.getpid(),
                                         **(meta or {})})
        return run

    @classmethod
    def resume(cls, run_id: str, *, listeners: Iterable[Listener] = ()) -> Run:
        """Reopen run ``run_id`` (after a crash or an interruption) to continue where it stood."""
        run_dir = runs_root() / run_id
        journal = Journal(run_dir)
        first = next(journal.records(), None) if run_dir.is_dir() else None
        if first is None or first.get("event") != "run-started":
            raise BadInput(f"no run {run_id!r} under {runs_root()} (see `toolkit runs`)")
        values = first.get("values", {})
        run = cls(id=run_id, dir=run_dir, kind=values.get("kind", "?"), subject=values.get("subject"),
                  listeners=list(listeners))
        if run.subject is not None:
            lock.acquire(run.subject, run.id)
        run._emit("run-resumed", values={"pid": os.getpid()})
        return run

    def __enter__(self) -> Run:
        self._log_context = contextlib.ExitStack()
        self._log_context.enter_context(run_log(self.dir))
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc is None:
            state = "succeeded"
        elif isinstance(exc, KeyboardInterrupt | SystemExit):
            state = "interrupted"
        else:
            state = "failed"
        self.finish(state, error=str(exc) if exc is not None else "")

    def finish(self, state: str, *, error: str = "") -> None:
        """Journal the run's end and release its lock (idempotent)."""
        if self._finished:
            return
        self._finished = True
        self._emit("run-ended", message=error, values={"state": state})
        if self.subject is not None:
            lock.release(self.subject, self.id)
        if self._log_context is not None:
            self._log_context.close()
            self._log_context = None

    # -- steps -----------------------------------------------------------------------------------
    @contextlib.contextmanager
    def step(self, name: str, *, resumable: bool = True) -> Iterator[None]:
        """Journal ``name`` as started, then ended with its duration, or failed with the error."""
        started = time.monotonic()
        self._emit("step-started", step=name)
        try:
            yield
        except BaseException as exc:
            seconds = round(time.monotonic() - started, 3)
            self._emit("step-failed", step=name, message=str(exc) or type(exc).__name__,
                       values={"seconds": seconds, "resumable": resumable})
            if getattr(exc, "step", None) is None:
                try:
                    exc.step = name  # type: ignore[attr-defined]
                    exc.resumable = resumable  # type: ignore[attr-defined]
                except AttributeError:
                    pass
                if resumable:
                    exc.add_note(f"step {name} of run {self.id} failed; resume with --resume {self.id}")
            raise
        self._emit("step-ended", step=name, values={"seconds": round(time.monotonic() - started, 3)})

    def ended(self, step: str) -> bool:
        """Whether ``step`` ended successfully in this run (a resumed run skips it)."""
        return any(r.get("event") == "step-ended" and r.get("step") == step for r in self.journal.records())

    def measured(self, step: str) -> dict[str, Any]:
        """The values ``measure`` recorded for ``step``, later ones winning."""
        values: dict[str, Any] = {}
        for record in self.journal.records():
            if record.get("event") == "measure" and record.get("step") == step:
                values.update(record.get("values", {}))
        return values

    # -- telling ---------------------------------------------------------------------------------
    def progress(self, step: str, message: str = "", **values: Any) -> None:
        """Progress of ``step`` (see ``toolkit.runs.events`` for the keys); sampled into the journal."""
        now = time.monotonic()
        journal = now - self._last_sample.get(step, 0.0) >= PROGRESS_JOURNAL_INTERVAL
        if journal:
            self._last_sample[step] = now
        self._emit("progress", step=step, message=message, values=values, journal=journal)

    def measure(self, step: str, **values: Any) -> None:
        """A measured value to keep (bytes copied, lag, a checksum's verdict): always journaled."""
        self._emit("measure", step=step, values=values)

    def note(self, message: str, step: str | None = None) -> None:
        self._emit("note", step=step, message=message)

    def state(self) -> str:
        return run_state(self.dir)

    def _emit(self, kind: EventKind, *, step: str | None = None, message: str = "",
              values: dict[str, Any] | None = None, journal: bool = True) -> None:
        event = Event(run_id=self.id, kind=kind, step=step, message=message, values=dict(values or {}),
                      at=round(time.time(), 3))
        if journal:
            record = event.to_json()
            record.pop("at")
            self.journal.append(record)
        log.debug("%s %s %s %s", kind, step or "", message, values or "")
        for listener in self.listeners:
            listener(event)


def run_state(run_dir: Path) -> str:
    """``succeeded``/``failed``/``interrupted`` from the journal, or ``running``
    while the lock's owner lives, else ``interrupted`` (killed: resumable)."""
    first: dict[str, Any] | None = None
    last_end: dict[str, Any] | None = None
    for record in Journal(run_dir).records():
        first = first or record
        if record.get("event") == "run-ended":
            last_end = record
        elif record.get("event") == "run-resumed":
            last_end = None
    if last_end is not None:
        return str(last_end.get("values", {}).get("state") or last_end.get("state") or "ended")
    subject = (first or {}).get("values", {}).get("subject")
    if subject is not None:
        holder = lock.read_holder(subject)
        if holder is not None and holder.run_id == run_dir.name and holder.alive():
            return "running"
    return "interrupted"
