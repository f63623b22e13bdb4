"""The CI gate's verdicts (``toolkit plan``): each part judged alone, a broken part does not hide
the others, and the objectives compare the estimated window with the spec's RTO."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.stacks.specdir import REPO, make_spec
from toolkit.migration import gate
from toolkit.migration.context import MigrationContext
from toolkit.migration.planning import MigrationPlan
from toolkit.runs import Run
from toolkit.spec import load_spec


def plan_of(window: float, *, check: dict[str, Any] | None = None,
            deadline: str | None = None) -> MigrationPlan:
    steps = [{"name": "standby", "estimate_seconds": 30.0, "in_window": False,
              "plan": {"ansible_check": check} if check is not None else {}},
             {"name": "cutover.freeze", "estimate_seconds": window, "in_window": True, "plan": {}}]
    return MigrationPlan(steps=steps, data_sizes={}, bytes_per_second=1.0, deadline=deadline)


@pytest.fixture
def context(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> MigrationContext:
    loaded = load_spec(make_spec(tmp_path / "spec", monkeypatch, objectives={"rto": "2s", "rpo": "0s"}))
    return MigrationContext(loaded=loaded, run=Run.start("plan"))


def test_the_objectives_compare_the_window_with_the_rto_and_the_deadline(context: MigrationContext) -> None:
    assert gate._objectives(context, plan_of(1.5)).ok
    late = gate._objectives(context, plan_of(2.5, deadline="2000-01-01T00:00:00+00:00"))
    assert not late.ok
    assert "window 2.5 s exceeds the RTO 2s" in late.reason and "do not fit the deadline" in late.reason


def test_ansible_check_fails_on_unreachable_hosts_and_failed_tasks_not_on_changes() -> None:
    fine = {"ok": True, "hosts": {"db1": {"unreachable": 0}}, "failures": [], "changed": 12}
    assert gate._ansible(plan_of(1, check=fine)).reason == "1 hosts reached, 12 task(s) would change"
    broken = {"ok": False, "hosts": {"db1": {"unreachable": 1}, "app1": {"unreachable": 0}},
              "failures": [{"host": "app1", "task": "nginx", "message": "no such package"}]}
    verdict = gate._ansible(plan_of(1, check=broken))
    assert not verdict.ok and verdict.reason == "db1 unreachable; app1: nginx: no such package"
    assert not gate._ansible(plan_of(1)).ok


def test_every_part_is_judged_even_when_one_breaks(context: MigrationContext,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(ctx: MigrationContext) -> gate.Verdict:
        raise RuntimeError("the preview exploded")

    monkeypatch.setattr(gate, "_pulumi", broken)
    fine = {"ok": True, "hosts": {"db1": {"unreachable": 0}}, "failures": [], "changed": 0}
    verdicts = gate.to_json(gate.judge(context, plan_of(1.0, check=fine)))
    parts = verdicts["parts"]
    assert list(parts) == ["spec", "ansible_check", "pulumi_preview", "parity", "objectives"]
    assert parts["pulumi_preview"] == {"ok": False, "reason": "RuntimeError: the preview exploded",
                                       "details": {}}
    assert parts["parity"]["ok"], parts["parity"]  # the sample spec's realizations agree (offline, real)
    assert parts["spec"]["ok"] and parts["objectives"]["ok"] and parts["ansible_check"]["ok"]
    assert verdicts["passed"] is False
    assert context.run.measured("gate.parity")["ok"] is True


def test_the_offline_pulumi_preview_of_the_sample_spec_passes(context: MigrationContext) -> None:
    verdict = gate._pulumi(context)
    assert verdict.ok and verdict.details["mode"] in ("offline-preview", "preview"), verdict


def test_a_spec_change_that_breaks_parity_fails_the_gate_with_the_reason(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    database = yaml.safe_load((REPO / "service.yaml").read_text())["database"]
    database["extensions"] = ["pgcrypto", "aws_s3"]  # exists on RDS only: no bare-metal equivalent
    loaded = load_spec(make_spec(tmp_path / "spec", monkeypatch, database=database))
    verdict = gate._parity(MigrationContext(loaded=loaded, run=Run.start("plan")))
    assert not verdict.ok
    assert verdict.reason.startswith("lock-in: database.extensions: aws_s3"), verdict.reason
