"""Shared fixtures and the suite's own rules.

- Tests own their state: the session runs in a throwaway state root (``$TOOLKIT_STATE_DIR``), so a
  developer's own labs and runs are never touched, while the lab image, expensive to build, comes
  from the developer's cache (``$TOOLKIT_CACHE_DIR``, kept if already set).
- Markers follow the fixtures: a test that uses a lab fixture is ``lab``, one that uses the
  PostgreSQL server is ``postgres``, every other one is a unit test; the summary counts each.
- Under ``CI=true`` a skipped ``lab`` or ``postgres`` test fails, with its reason: CI is never
  green with its end-to-end tests skipped.
- A failing lab test leaves its diagnostics (the lab's logs, the run directories) in
  ``$TOOLKIT_TEST_ARTIFACTS`` (default ``test-artifacts/``), which ``.ci/run`` prints.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from toolkit import state

pytest_plugins = [
    "tests.fixtures.postgres",
    "tests.fixtures.moto",
    "tests.fixtures.spec",
    "tests.fixtures.lab",
    "tests.fixtures.lab_states",
]

REPO = Path(__file__).resolve().parents[1]
LAB_FIXTURES = ("lab", "module_lab", "lab_states", "lab_blank", "lab_provisioned", "lab_standby")
POSTGRES_FIXTURES = ("postgres_server",)
END_TO_END = ("lab", "postgres")
# Lab modules run grouped by the state their tests need, so the shared lab changes state rarely;
# modules with labs of their own run last. (Order is for speed only: each fixture sets its state.)
MODULE_ORDER = ("lab", "lab_blank", "lab_provisioned", "lab_standby", "module_lab")
_STATE_ROOT: Path | None = None


def pytest_configure(config: pytest.Config) -> None:
    global _STATE_ROOT
    os.environ.setdefault("TOOLKIT_CACHE_DIR", str(state.cache_dir()))
    _STATE_ROOT = Path(tempfile.mkdtemp(prefix="toolkit-tests-"))
    os.environ["TOOLKIT_STATE_DIR"] = str(_STATE_ROOT)


def pytest_unconfigure(config: pytest.Config) -> None:
    # Never walk into a host's overlay that a crashed teardown left mounted.
    if _STATE_ROOT is not None and str(_STATE_ROOT) not in Path("/proc/mounts").read_text():
        shutil.rmtree(_STATE_ROOT, ignore_errors=True)


def _kind(item: pytest.Item) -> str:
    if item.get_closest_marker("lab"):
        return "lab"
    if item.get_closest_marker("postgres"):
        return "postgres"
    return "unit"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if names & set(LAB_FIXTURES):
            item.add_marker(pytest.mark.lab)
        elif names & set(POSTGRES_FIXTURES):
            item.add_marker(pytest.mark.postgres)
    rank: dict[str, int] = {}
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        wanted = [MODULE_ORDER.index(name) + 1 for name in MODULE_ORDER if name in names]
        if not wanted and item.get_closest_marker("lab"):
            wanted = [len(MODULE_ORDER)]  # a lab of its own, like module_lab
        module = item.nodeid.split("::", 1)[0]
        rank[module] = max(rank.get(module, 0), min(wanted, default=0))
    items.sort(key=lambda item: rank[item.nodeid.split("::", 1)[0]])  # stable: file order within


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Generator[None, Any, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    report.user_properties.append(("kind", _kind(item)))
    if report.skipped and os.environ.get("CI") == "true" and _kind(item) in END_TO_END \
            and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"CI must run every {_kind(item)} test, and this one skipped: {reason}"
    if report.failed and _kind(item) == "lab":
        keep_diagnostics(item)


def keep_diagnostics(item: pytest.Item) -> None:
    """Copy the state root's lab logs and run directories for a failed test, for CI to print."""
    if _STATE_ROOT is None:
        return
    base = Path(os.environ.get("TOOLKIT_TEST_ARTIFACTS", REPO / "test-artifacts"))
    target = base / re.sub(r"[^A-Za-z0-9_.-]+", "_", item.nodeid)[:150]
    if target.exists():
        return  # the call's failure is kept; a teardown error adds nothing new
    runs = _STATE_ROOT / "runs"
    if runs.is_dir():
        shutil.copytree(runs, target / "runs", symlinks=True, ignore_dangling_symlinks=True,
                        dirs_exist_ok=True)
    labs = _STATE_ROOT / "labs"
    for logs in labs.glob("*/logs") if labs.is_dir() else []:
        shutil.copytree(logs, target / "labs" / logs.parent.name, dirs_exist_ok=True)
    (target / "when").parent.mkdir(parents=True, exist_ok=True)
    (target / "when").write_text(time.strftime("%Y-%m-%d %H:%M:%S\n"))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    counts: Counter[tuple[str, str]] = Counter()
    for outcome in ("passed", "failed", "skipped", "error"):
        for report in terminalreporter.stats.get(outcome, []):
            kind = dict(getattr(report, "user_properties", ())).get("kind")
            if kind and (report.when == "call" or outcome in ("skipped", "error")):
                counts[(kind, outcome)] += 1
    outcomes = ("passed", "failed", "skipped", "error")
    parts = []
    for kind in ("unit", "postgres", "lab"):
        seen = [f"{counts[(kind, outcome)]} {outcome}" for outcome in outcomes if counts[(kind, outcome)]]
        if seen:
            parts.append(f"{kind}: {', '.join(seen)}")
    terminalreporter.write_line(f"per marker: {'; '.join(parts) or 'no test ran'}")
