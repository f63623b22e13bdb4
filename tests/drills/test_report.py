"""A drill's verdicts and report from real journals: objectives judged as the spec states them,
the history kept across drills, and the HTML (objectives, teardown, trend) in a real browser."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.reports.test_report import _png_colours
from toolkit import interface
from toolkit.cli import main
from toolkit.drills import history
from toolkit.drills.drill import conclude
from toolkit.drills.objectives import judge
from toolkit.reports import build_report
from toolkit.runs import Run
from toolkit.spec import LoadedSpec, load_spec
from toolkit.spec.model import Objectives

DrillRun = Callable[..., str]


@pytest.fixture
def drill_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DrillRun:
    """Makes a drill-shaped run: a window of ``window`` seconds (None: writes never opened)."""
    monkeypatch.setenv("TOOLKIT_STATE_DIR", str(tmp_path / "state"))

    def make(window: float | None = 0.05, verified: bool = True, lost: int | None = None) -> str:
        with Run.start("drill", subject="refservice.drill") as run:
            marker = time.time()
            with run.step("cutover.marker"):
                run.measure("cutover", position="0/1", frozen_at=marker)
            with run.step("cutover.drain"):
                time.sleep(0.01)
            with run.step("cutover.verify"):
                run.measure("cutover.verify", ok=verified, compared={}, differences=[] if verified else ["x"])
            if window is not None:
                run.measure("cutover", opened_at=marker + window)
            if lost is not None:
                run.measure("loadgen", acknowledged_writes_lost=lost, client_outage_seconds=0.2)
            with run.step("teardown"):
                run.measure("teardown", removed=["replication slot toolkit_refservice_drill"], failures=[],
                            torn_down=True)
        return run.id

    return make


def verdicts(run_id: str, rto: str = "5m") -> dict[str, tuple[bool, str]]:
    found = judge(Objectives(rto=rto), build_report(run_id))
    return {v.objective: (v.met, v.why) for v in found}


def test_objectives_are_judged_as_the_spec_states_them(drill_run: DrillRun) -> None:
    assert verdicts(drill_run(lost=0)) == {
        "rto": (True, "the window took 0.050 s, the objective allows 300 s"),
        "rpo": (True, "verified at the marker; no acknowledged write missing")}
    assert verdicts(drill_run(), rto="0s")["rto"][0] is False
    assert verdicts(drill_run(window=None))["rto"] == (False, "the drill never opened writes on its target")
    assert verdicts(drill_run(verified=False))["rpo"][0] is False
    met, why = verdicts(drill_run(lost=2))["rpo"]
    assert not met and why.startswith("2 write(s) acknowledged before the marker")


@pytest.fixture
def production(spec_dir: Path) -> LoadedSpec:
    return load_spec(spec_dir / "service.yaml")


def test_the_report_draws_past_drills_and_renders_in_a_real_browser(
        drill_run: DrillRun, production: LoadedSpec, tmp_path: Path) -> None:
    for window in (0.4, 0.3):
        history.record("refservice", {"run_id": f"earlier-{window}", "started_at": time.time() - 86400,
                                      "rto_seconds": window, "duration_seconds": 120.0,
                                      "objectives_met": True})
    run_id = drill_run(window=0.25, lost=0)
    run = Run.resume(run_id)
    outcome = conclude(production, run, kept=False, cleaned_before=None)
    run.finish("succeeded")
    assert outcome.objectives_met and outcome.torn_down
    assert [entry["run_id"] for entry in history.past("refservice")] == ["earlier-0.4", "earlier-0.3", run_id]
    data = json.loads((run.dir / "report.json").read_text())["drill"]
    assert data["objectives_met"] is True and data["torn_down"] is True and data["rto_seconds"] == 0.25
    assert data["rpo"]["acknowledged_writes_lost"] == 0 and data["report"].endswith("report.html")

    browser = shutil.which("chromium")
    if browser is None:
        pytest.skip("Debian's chromium is not installed (scripts/setup installs it)")
    page = run.dir / "report.html"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             f"--user-data-dir={tmp_path}/profile"]
    dom = subprocess.run([browser, *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    for element in ('id="trend-rto"', 'id="trend-duration"', "<h2>Objectives</h2>", "<h2>Teardown</h2>",
                    "replication slot toolkit_refservice_drill"):
        assert element in dom, f"{element} missing from the rendered page"
    assert dom.count('class="drill"') == 2 * 3, "each past drill is a point on both charts"
    shot = tmp_path / "shot.png"
    subprocess.run([browser, *flags, f"--screenshot={shot}", "--window-size=1000,1600", page.as_uri()],
                   capture_output=True, timeout=120, check=True)
    assert _png_colours(shot) > 16, "the page rendered blank"


def test_a_missed_objective_exits_1_naming_it_after_the_report(
        drill_run: DrillRun, production: LoadedSpec, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """The CLI over a drill (its steps stood in for: the lab test runs them) that kept every
    promise but one: an RTO of 0 s. Its verdicts and report are concluded from a real journal."""
    impossible = dataclasses.replace(production, spec=production.spec.model_copy(
        update={"objectives": Objectives(rto="0s")}))
    run = Run.resume(drill_run(window=0.25, lost=0))
    outcome = conclude(impossible, run, kept=False, cleaned_before=None)
    run.finish("succeeded")
    monkeypatch.setattr(interface, "drill", lambda *args, **kwargs: outcome)
    with pytest.raises(SystemExit) as exit_:
        main(["drill", "--to", "baremetal", "--json", "--spec", str(production.path)])
    assert exit_.value.code == 1
    out, err = capsys.readouterr()
    assert err.strip().splitlines()[-1] == ("error: the drill missed an objective: "
                                            "the window took 0.250 s, the objective allows 0 s")
    result = json.loads(out)
    assert result["objectives_met"] is False and result["torn_down"] is True
    assert [v["objective"] for v in result["objectives"] if not v["met"]] == ["rto"]
