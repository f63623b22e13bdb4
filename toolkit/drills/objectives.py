"""A drill's verdict on the spec's objectives, measured as a migration measures them.

- RTO: the drill's window, from its marker to writes open on the drill target (the report's
  ``rto_seconds``), against ``objectives.rto``. A drill that never opened writes missed it.
- RPO: a planned migration loses nothing by construction (writes are frozen, then drained). The
  drill proves its path keeps that: the target, drained to the marker, verified equal to the
  source, and no write the source acknowledged before the marker missing on the drill target
  (the load generator's checker, when one wrote). Also reported: how long the target took to
  reach the marker (what a sudden loss of the source at that moment could have cost).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from toolkit.reports import RunReport
from toolkit.spec.model import Objectives, seconds


@dataclass(frozen=True)
class Verdict:
    objective: str
    target: str
    measured: Any
    met: bool
    why: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def rpo_measured(report: RunReport) -> dict[str, Any]:
    drain = next((s for s in report.steps if s.name == "cutover.drain" and s.ended_at), None)
    verified = report.measures.get("cutover.verify", {}).get("ok")
    return {"acknowledged_writes_lost": report.measures.get("loadgen", {}).get("acknowledged_writes_lost"),
            "verified_at_marker": verified,
            "seconds_to_reach_marker": None if drain is None or drain.ended_at is None
            else round(drain.ended_at - drain.started_at, 3)}


def judge(objectives: Objectives, report: RunReport) -> list[Verdict]:
    rto_limit = seconds(objectives.rto)
    rto = report.rto_seconds
    if rto is None:
        rto_verdict = Verdict("rto", objectives.rto, None, False,
                              "the drill never opened writes on its target")
    else:
        rto_verdict = Verdict("rto", objectives.rto, rto, rto <= rto_limit,
                              f"the window took {rto:.3f} s, the objective allows {rto_limit:g} s")
    rpo = rpo_measured(report)
    lost, verified = rpo["acknowledged_writes_lost"], rpo["verified_at_marker"]
    if not verified:
        rpo_verdict = Verdict("rpo", objectives.rpo, rpo, False,
                              "the drill target was not verified equal to the source at the marker")
    elif lost:
        rpo_verdict = Verdict("rpo", objectives.rpo, rpo, False,
                              f"{lost} write(s) acknowledged before the marker are missing on the drill "
                              "target")
    else:
        checked = "no acknowledged write missing" if lost == 0 else "no load generator's journal to check"
        rpo_verdict = Verdict("rpo", objectives.rpo, rpo, True, f"verified at the marker; {checked}")
    return [rto_verdict, rpo_verdict]
