"""Ansible's event stream as run progress: the current play and task, tasks done, per-host counts."""

from __future__ import annotations

from typing import Any

from toolkit.runs import Run
from toolkit.targets.baremetal.summary import RunSummary

STEP = "playbook"


class TaskProgress:
    """Feed it every ansible-runner event; it keeps the summary and tells the run how far it is."""

    def __init__(self, run: Run, summary: RunSummary) -> None:
        self.run = run
        self.summary = summary
        self.play = ""
        self.tasks = 0

    def event(self, event: dict[str, Any]) -> None:
        self.summary.add_event(event)
        data = event.get("event_data") or {}
        kind = event.get("event")
        if kind == "playbook_on_play_start":
            self.play = data.get("play", "")
            self.run.note(f"play: {self.play}", step=STEP)
        elif kind == "playbook_on_task_start":
            self.tasks += 1
            failed = sum(s.failed + s.unreachable for s in self.summary.hosts.values())
            self.run.progress(STEP, f"{self.play}: {data.get('task', '')}", done=self.tasks, unit="tasks",
                              changed=self.summary.changed, failed=failed)
