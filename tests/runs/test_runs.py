"""Runs: journal durability, locks (live, stale, resumed), steps carrying their failure, listing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from toolkit.errors import BadInput
from toolkit.runs import Event, Run, RunLocked, list_runs
from toolkit.runs.journal import Journal
from toolkit.spec.secrets import Secret


@pytest.fixture(autouse=True)
def state_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TOOLKIT_STATE_DIR", str(tmp_path))
    return tmp_path


def test_a_run_journals_its_steps_and_measures_and_tells_its_listeners() -> None:
    seen: list[Event] = []
    with Run.start("replicate", subject="svc.data", listeners=[seen.append]) as run:
        with run.step("schema"):
            pass
        run.progress("copy", done=10, total=100, unit="bytes")
        run.measure("copy", bytes=100)
    events = [r["event"] for r in run.journal.records()]
    assert events == ["run-started", "step-started", "step-ended", "progress", "measure", "run-ended"]
    assert [e.kind for e in seen] == events
    assert run.ended("schema") and not run.ended("copy")
    assert run.measured("copy") == {"bytes": 100}
    assert run.state() == "succeeded"
    assert (run.dir / "journal.jsonl").stat().st_mode & 0o777 == 0o600
    assert (run.dir.stat().st_mode & 0o777) == 0o700


def test_a_failed_step_names_itself_and_whether_the_run_resumes() -> None:
    with pytest.raises(RuntimeError) as caught, Run.start("replicate") as run, run.step("copy"):
        raise RuntimeError("disk full")
    assert caught.value.step == "copy" and caught.value.resumable  # type: ignore[attr-defined]
    assert f"resume with --resume {run.id}" in caught.value.__notes__[0]
    failed = [r for r in run.journal.records() if r["event"] == "step-failed"]
    assert failed[0]["message"] == "disk full" and run.state() == "failed"


def test_the_journal_refuses_secrets() -> None:
    with Run.start("dns") as run, pytest.raises(TypeError, match="plain data"):
        run.measure("switch", key=Secret("hunter2"))
    assert "hunter2" not in (run.dir / "journal.jsonl").read_text()


def test_a_torn_last_line_is_skipped(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.append({"event": "note"})
    with journal.path.open("a") as handle:
        handle.write('{"event": "step-sta')
    assert [r["event"] for r in journal.records()] == ["note"]
    # The resumed run's first record starts on a line of its own, not glued to the torn one.
    journal.append({"event": "run-resumed"})
    assert [r["event"] for r in journal.records()] == ["note", "run-resumed"]
    assert [r["event"] for r in Journal(tmp_path).records()] == ["note", "run-resumed"]


def test_a_journal_reads_what_others_appended_since_it_last_read(tmp_path: Path) -> None:
    reader, writer = Journal(tmp_path), Journal(tmp_path)
    writer.append({"event": "run-started"})
    assert [r["event"] for r in reader.records()] == ["run-started"]
    writer.append({"event": "measure", "step": "copy", "values": {"rows": 1}})
    writer.append({"event": "measure", "step": "copy", "values": {"rows": 2}})
    assert [r.get("values") for r in reader.records()] == [None, {"rows": 1}, {"rows": 2}]


def test_a_live_lock_refuses_a_second_run() -> None:
    with Run.start("migrate", subject="svc") as first, pytest.raises(
            RunLocked, match=f"locked by run {first.id}.*running"):
        Run.start("migrate", subject="svc")
    with Run.start("migrate", subject="svc"):
        pass  # released at the end


KILLED_RUN = textwrap.dedent("""
    import os, sys, time
    from toolkit.runs import Run
    run = Run.start("migrate", subject="svc")
    with run.step("copy"):
        print(run.id, flush=True)
        time.sleep(60)
""")


def test_a_killed_run_leaves_a_stale_lock_that_only_its_resume_takes(state_root: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", KILLED_RUN], stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "TOOLKIT_STATE_DIR": str(state_root)})
    assert child.stdout is not None
    run_id = child.stdout.readline().strip()
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    [info] = list_runs()
    assert (info.id, info.state) == (run_id, "interrupted")
    with pytest.raises(RunLocked, match=f"process {child.pid} is gone: resume it with --resume {run_id}"):
        Run.start("migrate", subject="svc")
    with Run.resume(run_id) as run:
        assert not run.ended("copy")
        assert run.state() == "running"
    assert run.state() == "succeeded"
    with Run.start("migrate", subject="svc"):
        pass


def test_resuming_an_unknown_run_is_bad_input() -> None:
    with pytest.raises(BadInput, match="no run 'nope'"):
        Run.resume("nope")


def test_progress_is_sampled_into_the_journal_but_every_event_reaches_listeners() -> None:
    seen: list[Event] = []
    with Run.start("replicate", listeners=[seen.append]) as run:
        for done in range(50):
            run.progress("copy", done=done, total=50, unit="tables")
    journaled = [r for r in run.journal.records() if r["event"] == "progress"]
    assert len([e for e in seen if e.kind == "progress"]) == 50
    assert 1 <= len(journaled) < 50


def test_runs_lists_newest_first_with_state_and_failed_step() -> None:
    with Run.start("provision"):
        pass
    with pytest.raises(ValueError), Run.start("replicate") as failing, failing.step("verify"):
        raise ValueError("mismatch in table notes")
    listed = list_runs()
    assert [(r.kind, r.state, r.failed_step) for r in listed] == [
        ("replicate", "failed", "verify"), ("provision", "succeeded", None)]
    assert json.dumps([r.to_json() for r in listed])


def test_a_step_sequence_turns_messages_into_steps_and_marks_the_last_failed() -> None:
    from toolkit.runs.sequence import StepSequence

    with pytest.raises(OSError), Run.start("lab-up") as run, StepSequence(run) as step:
        step("image")
        step("network")
        raise OSError("no bridge")
    spans = [(r["event"], r["step"]) for r in run.journal.records() if r["event"].startswith("step-")]
    assert spans == [("step-started", "image"), ("step-ended", "image"), ("step-started", "network"),
                     ("step-failed", "network")]
