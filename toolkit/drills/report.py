"""A drill's report: the migration's report (``report.json``, ``report.html``) with the objectives
judged, the teardown, and the trend of past drills (RTO and duration) drawn."""

from __future__ import annotations

import time
from html import escape
from typing import Any

from toolkit.drills.objectives import Verdict
from toolkit.reports.html import WIDTH, table

TREND_SHOWN = 26  # the last half year of weekly drills


def objectives_section(verdicts: list[Verdict]) -> list[str]:
    rows = [(v.objective.upper(), v.target, _shown(v.measured), "met" if v.met else "MISSED", v.why)
            for v in verdicts]
    return ["<h2>Objectives</h2>", table(("objective", "spec", "measured", "verdict", "why"), rows)]


def teardown_section(teardown: dict[str, Any], kept: bool) -> list[str]:
    if kept:
        return ["<h2>Teardown</h2>",
                "<p>kept (--keep): remove it with <code>toolkit drill --cleanup</code></p>"]
    items = [escape(str(i)) for i in teardown.get("removed", [])]
    items += [f"<b>not removed</b>: {escape(str(f))}" for f in teardown.get("failures", [])]
    return ["<h2>Teardown</h2>", "<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>"]


def trend_section(history: list[dict[str, Any]]) -> list[str]:
    shown = history[-TREND_SHOWN:]
    return ["<h2>Past drills</h2>",
            _chart("trend-rto", "RTO (s)", [(d, d.get("rto_seconds")) for d in shown]),
            _chart("trend-duration", "drill duration (s)", [(d, d.get("duration_seconds")) for d in shown]),
            table(("drill", "started", "RTO", "duration", "objectives"),
                  [(d["run_id"], _when(d.get("started_at")), _shown(d.get("rto_seconds")),
                    _shown(d.get("duration_seconds")), "met" if d.get("objectives_met") else "MISSED")
                   for d in reversed(shown)])]


def _chart(element_id: str, label: str, points: list[tuple[dict[str, Any], float | None]]) -> str:
    """One point per drill, oldest left; a drill without the value (it failed early) is a gap."""
    values = [v for _, v in points if v is not None]
    if not values:
        return f'<p class="empty" id="{element_id}">{escape(label)}: no drill measured it yet</p>'
    top, height, plot = max(values) or 1.0, 170, 130
    step = (WIDTH - 100) / max(len(points) - 1, 1)
    parts = [f'<svg id="{element_id}" width="{WIDTH}" height="{height}" role="img" '
             f'xmlns="http://www.w3.org/2000/svg">',
             f'<text x="0" y="12">{escape(label)}: max {top:.2f}</text>',
             f'<line x1="60" y1="{plot + 20}" x2="{WIDTH - 20}" y2="{plot + 20}" stroke="#999"/>']
    segment: list[str] = []
    for index, (drill, value) in enumerate(points):
        x = 60 + index * step
        if value is None:
            parts.append(_polyline(segment))
            segment = []
            continue
        y = plot + 20 - value / top * (plot - 10)
        segment.append(f"{x:.1f},{y:.1f}")
        color = "#2e7d32" if drill.get("objectives_met") else "#c62828"
        parts.append(f'<circle class="drill" cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{color}"><title>'
                     f'{escape(str(drill.get("run_id")))}: {value:.3f}</title></circle>')
    parts.append(_polyline(segment))
    parts.append(f'<text x="60" y="{height - 4}">oldest</text>'
                 f'<text x="{WIDTH - 60}" y="{height - 4}">latest</text></svg>')
    return "".join(parts)


def _polyline(points: list[str]) -> str:
    if len(points) < 2:
        return ""
    return (f'<polyline class="series" fill="none" stroke="#1565c0" stroke-width="2" '
            f'points="{" ".join(points)}"/>')


def _shown(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_shown(v)}" for k, v in value.items())
    return "-" if value is None else str(value)


def _when(at: float | None) -> str:
    return "-" if at is None else time.strftime("%Y-%m-%d %H:%M", time.gmtime(at)) + " UTC"
