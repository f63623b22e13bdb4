"""The run summary is built from ansible-runner events, not from text output."""

from __future__ import annotations

from pathlib import Path

from toolkit.targets.baremetal.summary import BaremetalProvisionResult, RunSummary


def event(kind: str, host: str, task: str = "t", **res: object) -> dict[str, object]:
    return {"event": kind, "event_data": {"host": host, "task": task, "role": "r", "res": res}}


def test_counts_changes_and_failures_from_events() -> None:
    summary = RunSummary()
    summary.add_event(event("runner_on_ok", "a", "Write the site", changed=True))
    summary.add_event(event("runner_on_ok", "a", changed=False))
    summary.add_event(event("runner_on_skipped", "b"))
    summary.add_event(event("runner_on_failed", "b", "Start it", msg="boom\nmore"))
    summary.add_event(event("runner_on_unreachable", "c", msg="ssh: no route"))
    assert summary.hosts["a"].ok == 2 and summary.hosts["a"].changed == 1
    assert summary.hosts["b"].failed == 1 and summary.hosts["b"].skipped == 1
    assert summary.hosts["c"].unreachable
    assert [c.task for c in summary.changes] == ["Write the site"]
    assert summary.failures[0] == {"host": "b", "task": "Start it", "message": "boom"}
    assert summary.any_failed and summary.changed == 1


def test_ignored_failures_do_not_count() -> None:
    summary = RunSummary()
    data = event("runner_on_failed", "a")
    data["event_data"]["ignore_errors"] = True  # type: ignore[index]
    summary.add_event(data)
    assert not summary.any_failed


def test_play_recap_is_authoritative() -> None:
    summary = RunSummary()
    summary.add_event(event("runner_on_ok", "a", changed=True))
    summary.add_event({"event": "playbook_on_stats", "event_data": {
        "ok": {"a": 10, "b": 4}, "changed": {"a": 3}, "failures": {"b": 1}, "dark": {}, "skipped": {"a": 2}}})
    assert summary.hosts["a"].to_json() == {"ok": 10, "changed": 3, "failed": 0, "skipped": 2,
                                            "unreachable": False}
    assert summary.hosts["b"].failed == 1
    assert summary.changed == 3


def test_result_json_and_lines(tmp_path: Path) -> None:
    summary = RunSummary()
    summary.add_event({"event": "playbook_on_stats", "event_data": {"ok": {"bm1": 5}, "changed": {"bm1": 2}}})
    result = BaremetalProvisionResult(summary, check=True, standby=False, run_dir=tmp_path,
                                      status="successful", rc=0, elapsed_s=12.3)
    data = result.to_json()
    assert result.ok
    assert data["hosts"] == {"bm1": {"ok": 5, "changed": 2, "failed": 0, "skipped": 0, "unreachable": False}}
    assert data["changed"] == 2 and data["check"] is True and data["standby"] is False
    assert data["run_dir"] == str(tmp_path)
    assert any("would change 2 task(s)" in line for line in result.summary_lines())
    failed = BaremetalProvisionResult(summary, check=False, standby=False, run_dir=tmp_path,
                                      status="failed", rc=2, elapsed_s=1)
    assert not failed.ok


def test_changes_hidden_by_no_log_are_accounted_for(tmp_path: Path) -> None:
    summary = RunSummary()
    summary.add_event(event("runner_on_ok", "a", "Write the site", changed=True))
    # What ansible-runner sends for a no_log task: the result, `changed` included, is censored.
    summary.add_event(event("runner_on_ok", "a", "Write the API key", censored="hidden"))
    summary.add_event(event("runner_on_ok", "a", "Sync the records", censored="hidden"))
    summary.add_event(event("runner_on_ok", "b", "Write the API key", censored="hidden"))
    summary.add_event({"event": "playbook_on_stats", "event_data": {
        "ok": {"a": 3, "b": 1}, "changed": {"a": 2, "b": 0}}})
    assert [c.task for c in summary.changes] == ["Write the site"]
    assert summary.hidden_changes() == {"a": {"count": 1, "among": ["Sync the records", "Write the API key"]}}
    result = BaremetalProvisionResult(summary, check=False, standby=False, run_dir=tmp_path,
                                      status="successful", rc=0, elapsed_s=1)
    assert result.to_json()["changes_hidden"] == summary.hidden_changes()
    assert any("a: 1 change(s) among tasks whose output is hidden" in line for line in result.summary_lines())
