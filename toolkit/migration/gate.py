"""The CI gate: ``toolkit plan`` judges whether the exit path still works, part by part.

Each part is a verdict in the plan's JSON (``gate.parts``), and ``gate.passed`` is the gate: the
plan exits 1 when a part fails (2 for a spec that does not load, before any part runs):

- ``spec``: the spec loaded and validated (its warnings are listed);
- ``ansible_check``: Ansible's check mode of the standby provisioning reached every host and
  failed no task (what it would change is fine: that is the plan);
- ``pulumi_preview``: the AWS program's preview (offline, under Pulumi's mocks, where the CLI is
  absent) ran without error;
- ``parity``: both realizations of the spec agree (``toolkit parity``);
- ``objectives``: the estimated cutover window fits the spec's RTO, and the whole run the
  ``--deadline`` when one was given.

Nothing here changes anything: every part reads, previews or evaluates.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from toolkit.migration.context import MigrationContext
    from toolkit.migration.planning import MigrationPlan

log = logging.getLogger(__name__)


@dataclass
class Verdict:
    ok: bool
    reason: str
    details: dict[str, Any] = field(default_factory=dict)


def judge(ctx: MigrationContext, plan: MigrationPlan) -> dict[str, Verdict]:
    """Every part's verdict, in order; a part that raises fails with the error as its reason."""
    parts: dict[str, Callable[[], Verdict]] = {
        "spec": lambda: _spec(ctx),
        "ansible_check": lambda: _ansible(plan),
        "pulumi_preview": lambda: _pulumi(ctx),
        "parity": lambda: _parity(ctx),
        "objectives": lambda: _objectives(ctx, plan),
    }
    verdicts = {}
    for name, part in parts.items():
        with ctx.run.step(f"gate.{name}"):
            try:
                verdicts[name] = part()
            except Exception as exc:  # one broken part must not hide the others' verdicts
                log.warning("gate %s: %s", name, exc, exc_info=True)
                verdicts[name] = Verdict(False, f"{type(exc).__name__}: {exc}")
        ctx.run.measure(f"gate.{name}", ok=verdicts[name].ok, reason=verdicts[name].reason)
    return verdicts


def to_json(verdicts: dict[str, Verdict]) -> dict[str, Any]:
    return {"passed": all(v.ok for v in verdicts.values()),
            "parts": {name: asdict(verdict) for name, verdict in verdicts.items()}}


def _spec(ctx: MigrationContext) -> Verdict:
    warnings = [str(w) for w in ctx.loaded.warnings]
    return Verdict(True, f"{ctx.loaded.path} is valid" + (f" ({len(warnings)} warnings)" if warnings else ""),
                   {"warnings": warnings})


def _ansible(plan: MigrationPlan) -> Verdict:
    check = next((s.get("plan", {}).get("ansible_check") for s in plan.steps if s["name"] == "standby"), None)
    if check is None:
        return Verdict(False, "the standby step ran no Ansible check mode")
    hosts = check.get("hosts", {})
    unreachable = sorted(name for name, stats in hosts.items() if stats.get("unreachable"))
    problems = [f"{name} unreachable" for name in unreachable]
    problems += [f"{f['host']}: {f['task']}: {f['message']}" for f in check.get("failures", [])]
    if not check.get("ok") and not problems:
        problems.append(f"ansible-runner ended {check.get('status')} (rc {check.get('rc')})")
    if problems:
        return Verdict(False, "; ".join(problems[:5]), {"hosts": len(hosts)})
    return Verdict(True, f"{len(hosts)} hosts reached, {check.get('changed', 0)} task(s) would change",
                   {"hosts": len(hosts), "would_change": check.get("changed", 0)})


def _pulumi(ctx: MigrationContext) -> Verdict:
    from toolkit.targets.aws.provision import provision_aws

    result = provision_aws(ctx.loaded, check=True)
    what = (f"{len(result.resources)} resources" if result.offline
            else ", ".join(f"{k} {v}" for k, v in sorted(result.changes.items())) or "no changes")
    return Verdict(result.ok, f"{result.mode} of stack {result.stack}: {what}",
                   {"mode": result.mode, "warnings": result.warnings})


def _parity(ctx: MigrationContext) -> Verdict:
    from toolkit.parity import run_parity

    report = run_parity(ctx.loaded)
    if report.ok:
        return Verdict(True, f"{len(report.components)} components realized alike")
    return Verdict(False, "; ".join(report.differences[:5]), {"differences": report.differences})


def _objectives(ctx: MigrationContext, plan: MigrationPlan) -> Verdict:
    objectives = ctx.loaded.spec.objectives
    window, rto = plan.window_seconds, objectives.rto_seconds
    problems = []
    if window > rto:
        problems.append(f"the estimated cutover window {window:.1f} s exceeds the RTO {objectives.rto}")
    if plan.fits_deadline is False:
        problems.append(f"the estimated {plan.estimated_total_seconds:.0f} s do not fit the deadline "
                        f"{plan.deadline}")
    details = {"rto_seconds": rto, "estimated_window_seconds": window,
               "estimated_total_seconds": plan.estimated_total_seconds, "fits_deadline": plan.fits_deadline}
    if problems:
        return Verdict(False, "; ".join(problems), details)
    return Verdict(True, f"window ~{window:.1f} s within the RTO {objectives.rto}", details)
