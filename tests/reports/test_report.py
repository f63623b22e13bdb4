"""Reports from a real journal: the JSON's fields, and the HTML rendered by a real headless browser."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import time
import zlib
from pathlib import Path

import pytest

from toolkit.cli import main
from toolkit.reports import build_report
from toolkit.reports.html import render_html
from toolkit.runs import Run


@pytest.fixture
def migration_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A migration-shaped run: copy with throughput and lag samples, a cutover window, checks."""
    monkeypatch.setenv("TOOLKIT_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setattr("toolkit.runs.run.PROGRESS_JOURNAL_INTERVAL", 0.0)
    with Run.start("migrate", subject="svc") as run:
        with run.step("database.copy"):
            for done in range(1, 4):
                run.progress("database.copy", done=done * 1024**2, total=3 * 1024**2, unit="bytes",
                             rate=float(done * 1024**2))
                time.sleep(0.01)
            run.measure("database.copy", bytes=3 * 1024**2, seconds=0.03)
        with run.step("database.stream"):
            for lag in (0.5, 0.2, 0.1):
                run.progress("database.stream", lag_bytes=int(lag * 1000), lag_seconds=lag)
        frozen = time.time()
        with run.step("cutover.freeze"):
            time.sleep(0.02)
        with run.step("database.verify"):
            run.measure("database.verify", ok=True, compared={"tables": 3}, differences=[])
        run.measure("cutover", frozen_at=frozen, opened_at=time.time())
        run.measure("loadgen", client_outage_seconds=1.5, acknowledged_writes_lost=0)
        run.note("a <note> with markup")
    return run.id


def test_the_json_has_what_an_operator_asks_first(migration_run: str) -> None:
    data = build_report(migration_run).to_json()
    assert data["status"] == "succeeded" and data["run_id"] == migration_run
    assert 0.02 <= data["rto_seconds"] < 5
    assert data["client_outage_seconds"] == 1.5 and data["rpo"] == {"acknowledged_writes_lost": 0}
    assert [s["name"] for s in data["steps"]] == ["database.copy", "database.stream", "cutover.freeze",
                                                  "database.verify"]
    assert all(s["status"] == "succeeded" and s["ended_at"] >= s["started_at"] for s in data["steps"])
    assert data["data"]["database"]["bytes"] == 3 * 1024**2
    assert data["verifications"] == [{"step": "database.verify", "ok": True, "compared": {"tables": 3},
                                      "differences": []}]


def test_a_failed_step_makes_a_failed_report_that_names_it(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOOLKIT_STATE_DIR", str(tmp_path))
    with pytest.raises(RuntimeError), Run.start("replicate") as run, run.step("objects.copy"):
        raise RuntimeError("bucket gone")
    report = build_report(run.id)
    assert report.status == "failed"
    assert report.steps[0].error == "bucket gone"
    assert "objects.copy failed: bucket gone" in render_html(report)


def test_a_step_the_crash_cut_short_is_interrupted_and_its_redo_succeeds(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOOLKIT_STATE_DIR", str(tmp_path))
    dead = Run.start("migrate", subject="svc")
    with dead.step("replicate"):
        pass
    dead.journal.append({"event": "step-started", "step": "database.copy", "at": time.time()})  # then kill -9
    Path(tmp_path / "locks" / "svc.lock").unlink()  # the dead process's lock, as resume finds it
    with Run.resume(dead.id) as run, run.step("database.copy"):
        pass
    steps = [(s["name"], s["status"]) for s in build_report(dead.id).to_json()["steps"]]
    assert steps == [("replicate", "succeeded"), ("database.copy", "interrupted"),
                     ("database.copy", "succeeded")]
    assert build_report(dead.id).status == "succeeded"


def _png_colours(path: Path) -> int:
    """Distinct byte values in the PNG's pixel data (a blank page has two or three)."""
    data, raw = path.read_bytes(), b""
    position = 8
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        if kind == b"IDAT":
            raw += data[position + 8:position + 8 + length]
        position += 12 + length
    return len(set(zlib.decompress(raw)))


def test_the_html_renders_in_a_real_browser(migration_run: str, tmp_path: Path) -> None:
    browser = shutil.which("chromium")
    if browser is None:
        pytest.skip("Debian's chromium is not installed (scripts/setup installs it)")
    page = tmp_path / "report.html"
    with pytest.raises(SystemExit) as exited:
        main(["report", migration_run, "--html", str(page)])
    assert exited.value.code == 0
    html = page.read_text()
    assert "<script" not in html and "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "a &lt;note&gt; with markup" in html
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             f"--user-data-dir={tmp_path}/profile"]
    dom = subprocess.run([browser, *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    for element in ('id="timeline"', 'id="cutover"', 'id="lag"', 'id="throughput"'):
        assert element in dom, f"{element} missing from the rendered page"
    assert dom.count('class="step-bar"') >= 4 + 1  # every step on the timeline, the freeze magnified
    shot = tmp_path / "shot.png"
    subprocess.run([browser, *flags, f"--screenshot={shot}", "--window-size=1000,1400", page.as_uri()],
                   capture_output=True, timeout=120, check=True)
    assert _png_colours(shot) > 16, "the page rendered blank"


def test_report_json_from_the_cli(migration_run: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["report", migration_run, "--json"])
    assert exited.value.code == 0
    assert json.loads(capsys.readouterr().out)["run_id"] == migration_run


def test_an_unknown_run_is_bad_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TOOLKIT_STATE_DIR", str(tmp_path))
    with pytest.raises(SystemExit) as exited:
        main(["report", "20990101-000000-migrate-abcdef"])
    assert exited.value.code == 2
    assert "no run '20990101-000000-migrate-abcdef'" in capsys.readouterr().err
