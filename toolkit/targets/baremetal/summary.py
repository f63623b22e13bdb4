"""What a provisioning run did, built from ansible-runner's event stream (never from its text output)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Task-level results; per-item events (runner_item_on_*) are folded into their task's result.
_RESULTS = {
    "runner_on_ok": "ok",
    "runner_on_failed": "failed",
    "runner_on_unreachable": "unreachable",
    "runner_on_skipped": "skipped",
}


@dataclass
class HostStats:
    ok: int = 0
    changed: int = 0
    failed: int = 0
    skipped: int = 0
    unreachable: bool = False

    def to_json(self) -> dict[str, object]:
        return {"ok": self.ok, "changed": self.changed, "failed": self.failed, "skipped": self.skipped,
                "unreachable": self.unreachable}


@dataclass
class Change:
    host: str
    task: str
    role: str

    def to_json(self) -> dict[str, str]:
        return {"host": self.host, "task": self.task, "role": self.role}


@dataclass
class RunSummary:
    """Per-host counts, the changed tasks, and the failures with their messages."""

    hosts: dict[str, HostStats] = field(default_factory=dict)
    changes: list[Change] = field(default_factory=list)
    failures: list[dict[str, str]] = field(default_factory=list)
    final_stats: bool = False
    # ansible-runner censors a no_log task's whole result, ``changed`` included: such a task may
    # have changed something without appearing in ``changes``; the recap still counts it.
    hidden: dict[str, list[str]] = field(default_factory=dict)  # host -> censored tasks that ran

    def host(self, name: str) -> HostStats:
        return self.hosts.setdefault(name, HostStats())

    def add_event(self, event: dict[str, Any]) -> None:
        kind = event.get("event", "")
        data = event.get("event_data") or {}
        if kind == "playbook_on_stats":
            self._take_stats(data)
            return
        result = _RESULTS.get(kind)
        host = data.get("host")
        if result is None or not host:
            return
        stats = self.host(host)
        res = data.get("res") or {}
        ignored = bool(data.get("ignore_errors"))
        if result == "ok":
            stats.ok += 1
            if "censored" in res:
                self.hidden.setdefault(host, []).append(data.get("task", ""))
            elif res.get("changed"):
                stats.changed += 1
                self.changes.append(Change(host, data.get("task", ""), data.get("role", "")))
        elif result == "failed" and not ignored:
            stats.failed += 1
            self.failures.append({"host": host, "task": data.get("task", ""), "message": _message(res)})
        elif result == "unreachable":
            stats.unreachable = True
            self.failures.append({"host": host, "task": data.get("task", ""), "message": _message(res)})
        elif result == "skipped":
            stats.skipped += 1

    def _take_stats(self, data: dict[str, Any]) -> None:
        """The play recap is authoritative for the counts (ok includes changed, as in Ansible's recap)."""
        self.final_stats = True
        names: set[str] = set()
        for key in ("ok", "changed", "failures", "dark", "skipped", "processed"):
            names.update((data.get(key) or {}).keys())
        for name in names:
            stats = self.host(name)
            stats.ok = int((data.get("ok") or {}).get(name, 0))
            stats.changed = int((data.get("changed") or {}).get(name, 0))
            stats.failed = int((data.get("failures") or {}).get(name, 0))
            stats.skipped = int((data.get("skipped") or {}).get(name, 0))
            stats.unreachable = bool((data.get("dark") or {}).get(name, 0))

    @property
    def changed(self) -> int:
        return sum(stats.changed for stats in self.hosts.values())

    def hidden_changes(self) -> dict[str, dict[str, object]]:
        """Per host, changes the recap counts that no listed change explains (no_log tasks)."""
        listed: dict[str, int] = {}
        for change in self.changes:
            listed[change.host] = listed.get(change.host, 0) + 1
        found: dict[str, dict[str, object]] = {}
        for host, stats in sorted(self.hosts.items()):
            missing = stats.changed - listed.get(host, 0)
            if missing > 0:
                found[host] = {"count": missing, "among": sorted(set(self.hidden.get(host, [])))}
        return found

    @property
    def any_failed(self) -> bool:
        return any(stats.failed or stats.unreachable for stats in self.hosts.values())


def _message(res: dict[str, Any]) -> str:
    if res.get("censored"):
        return str(res["censored"])
    text = res.get("msg") or res.get("stderr") or res.get("reason") or ""
    return str(text).strip().splitlines()[0][:300] if text else "failed"


@dataclass
class BaremetalProvisionResult:
    """The result of ``toolkit provision --target baremetal`` (satisfies ``ProvisionResult``)."""

    summary: RunSummary
    check: bool
    standby: bool
    run_dir: Path
    status: str
    rc: int
    elapsed_s: float

    @property
    def ok(self) -> bool:
        return self.status == "successful" and self.rc == 0 and not self.summary.any_failed

    def to_json(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "target": "baremetal",
            "hosts": {name: stats.to_json() for name, stats in sorted(self.summary.hosts.items())},
            "changed": self.summary.changed,
            "changes": [change.to_json() for change in self.summary.changes],
            "changes_hidden": self.summary.hidden_changes(),
            "failures": self.summary.failures,
            "check": self.check,
            "standby": self.standby,
            "status": self.status,
            "rc": self.rc,
            "elapsed_s": round(self.elapsed_s, 1),
            "run_dir": str(self.run_dir),
        }

    def summary_lines(self) -> list[str]:
        mode = "check mode (nothing changed)" if self.check else "applied"
        role = "standby" if self.standby else "live"
        lines = [f"bare metal, {role}, {mode}: {self.status} in {self.elapsed_s:.0f}s"]
        for name, stats in sorted(self.summary.hosts.items()):
            state = "UNREACHABLE" if stats.unreachable else ("FAILED" if stats.failed else "ok")
            lines.append(f"  {name:<12} ok={stats.ok:<4} changed={stats.changed:<4} "
                         f"failed={stats.failed:<3} {state}")
        for host, hidden in self.summary.hidden_changes().items():
            lines.append(f"  {host}: {hidden['count']} change(s) among tasks whose output is hidden (no_log)")
        for failure in self.summary.failures:
            lines.append(f"  failed: {failure['host']}: {failure['task']}: {failure['message']}")
        verb = "would change" if self.check else "changed"
        lines.append(f"{verb} {self.summary.changed} task(s); artifacts in {self.run_dir}")
        return lines
