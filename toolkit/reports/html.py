"""The report as one self-contained HTML page: inline SVG and CSS, no script, no font, no link out.

Drawn: a timeline of the steps, the cutover window magnified, replication lag over time, and
throughput per data kind; then bytes moved, verifications and notes. Every text is escaped.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from html import escape

from toolkit.reports.model import RunReport, StepSpan
from toolkit.runs.events import human_bytes

WIDTH = 900
LABEL = 220  # left margin for step names
ROW = 22
COLORS = {"succeeded": "#2e7d32", "failed": "#c62828", "running": "#f9a825", "interrupted": "#ef6c00"}
SERIES = ("#1565c0", "#6a1b9a", "#00838f", "#ad1457", "#558b2f")

STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; max-width: 960px; }
h1 { font-size: 1.4em; } h2 { font-size: 1.1em; margin-top: 2em; }
.badge { padding: 2px 8px; border-radius: 4px; color: #fff; }
table { border-collapse: collapse; }
td, th { padding: 2px 10px; text-align: left; border-bottom: 1px solid #ddd; }
svg text { font: 11px system-ui, sans-serif; } .empty { color: #777; font-style: italic; }
"""


def _fmt(value: float | None, unit: str = " s") -> str:
    return "-" if value is None else f"{value:.3f}{unit}" if unit == " s" else f"{value}{unit}"


def _gantt(spans: Sequence[StepSpan], start: float, end: float, element_id: str,
           window: tuple[float, float] | None = None) -> str:
    """Bars per step between ``start`` and ``end`` (seconds since the epoch), optionally a shaded window."""
    span = max(end - start, 1e-3)
    scale = (WIDTH - LABEL - 40) / span
    height = ROW * len(spans) + 30
    parts = [f'<svg id="{element_id}" width="{WIDTH}" height="{height}" role="img" '
             f'xmlns="http://www.w3.org/2000/svg">']
    if window is not None:
        x0, x1 = LABEL + (window[0] - start) * scale, LABEL + (window[1] - start) * scale
        parts.append(f'<rect class="window" x="{x0:.1f}" y="0" width="{max(x1 - x0, 1):.1f}" '
                     f'height="{height - 20}" fill="#fff3e0" stroke="#ef6c00"/>')
    for row, step in enumerate(spans):
        y = row * ROW + 4
        left = max(step.started_at, start)
        right = min(step.ended_at or end, end)
        x, w = LABEL + (left - start) * scale, max((right - left) * scale, 2)
        took = (step.ended_at or end) - step.started_at
        parts.append(f'<text x="0" y="{y + 13}">{escape(step.name)}</text>')
        parts.append(f'<rect class="step-bar" x="{x:.1f}" y="{y}" width="{w:.1f}" height="{ROW - 6}" '
                     f'fill="{COLORS.get(step.status, "#777")}"><title>{escape(step.name)}: {step.status}, '
                     f'{took:.3f} s</title></rect>')
    for tick in range(6):
        x = LABEL + tick * (WIDTH - LABEL - 40) / 5
        parts.append(f'<text x="{x:.1f}" y="{height - 4}" text-anchor="middle">'
                     f'{tick * span / 5:.2f} s</text>')
    parts.append("</svg>")
    return "".join(parts)


def _lines(element_id: str, series: dict[str, list[tuple[float, float]]], start: float, end: float,
           label: str) -> str:
    """One polyline per series of (time, value) points; y from 0 to the largest value."""
    points = [p for values in series.values() for p in values]
    if not points:
        return f'<p class="empty" id="{element_id}">no samples recorded</p>'
    top = max(v for _, v in points) or 1.0
    span, height, plot = max(end - start, 1e-3), 200, 170
    scale_x = (WIDTH - 80) / span
    parts = [f'<svg id="{element_id}" width="{WIDTH}" height="{height}" role="img" '
             f'xmlns="http://www.w3.org/2000/svg">',
             f'<text x="0" y="12">{escape(label)}: max {escape(_axis(top, label))}</text>',
             f'<line x1="60" y1="{plot + 10}" x2="{WIDTH - 20}" y2="{plot + 10}" stroke="#999"/>']
    for index, (name, values) in enumerate(sorted(series.items())):
        color = SERIES[index % len(SERIES)]
        coords = " ".join(f"{60 + (t - start) * scale_x:.1f},{plot + 10 - v / top * (plot - 10):.1f}"
                          for t, v in sorted(values))
        parts.append(f'<polyline class="series" fill="none" stroke="{color}" stroke-width="2" '
                     f'points="{coords}"/>')
        parts.append(f'<text x="{WIDTH - 200}" y="{24 + 14 * index}" fill="{color}">{escape(name)}</text>')
    parts.append(f'<text x="60" y="{height - 4}">0 s</text><text x="{WIDTH - 60}" y="{height - 4}">'
                 f'{span:.1f} s</text></svg>')
    return "".join(parts)


def _axis(value: float, label: str) -> str:
    if "throughput" in label:
        return human_bytes(value) + "/s"
    return human_bytes(value) if "bytes" in label else f"{value:.2f} s"


def table(headers: Iterable[str], rows: Iterable[Iterable[object]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _summary(report: RunReport, duration: float) -> str:
    data = report.to_json()
    lost = data["rpo"]["acknowledged_writes_lost"]
    return table(("measure", "value"), [
        ("status", report.status), ("RTO (writes frozen to writes open)", _fmt(report.rto_seconds)),
        ("client-visible outage", _fmt(data["client_outage_seconds"])),
        ("acknowledged writes lost", "-" if lost is None else lost), ("duration", _fmt(duration))])


def _cutover(report: RunReport, end: float) -> list[str]:
    if report.cutover is None:
        return []
    frozen, opened = report.cutover
    margin = max((opened - frozen) * 0.25, 0.05)
    inside = [s for s in report.steps
              if s.started_at <= opened + margin and (s.ended_at or end) >= frozen - margin]
    return ["<h2>Cutover window, magnified</h2>",
            _gantt(inside, frozen - margin, opened + margin, "cutover", report.cutover)]


Series = dict[str, list[tuple[float, float]]]


def _series(report: RunReport, key: str, by_kind: bool = False) -> Series:
    """Points of ``key`` over time, one series per step (or per data kind)."""
    series: Series = {}
    for sample in report.samples:
        value = sample.values.get(key)
        if value is None or (key == "rate" and sample.values.get("unit") != "bytes"):
            continue
        name = sample.step.split(".", 1)[0] if by_kind else sample.step
        series.setdefault(name, []).append((sample.at, float(value)))
    return series


def _data(report: RunReport, start: float, end: float) -> list[str]:
    lag = _series(report, "lag_seconds")
    lag_chart = (_lines("lag", lag, start, end, "lag in seconds") if lag
                 else _lines("lag", _series(report, "lag_bytes"), start, end, "lag in bytes"))
    moved = [(kind, human_bytes(v["bytes"]), f"{v['seconds']:.1f}", human_bytes(v["bytes_per_second"]) + "/s")
             for kind, v in sorted(report.data_moved().items())]
    return ["<h2>Replication lag</h2>", lag_chart, "<h2>Throughput per data kind</h2>",
            _lines("throughput", _series(report, "rate", by_kind=True), start, end, "throughput"),
            table(("kind", "bytes", "seconds", "throughput"), moved)]


def _verifications(report: RunReport) -> list[str]:
    found = report.verifications()
    if not found:
        return ["<h2>Verifications</h2>", '<p class="empty">no verification recorded</p>']
    rows = [(v["step"], "identical" if v.get("ok") else "DIFFERENT",
             "; ".join(str(d) for d in v.get("differences", [])) or "-") for v in found]
    return ["<h2>Verifications</h2>", table(("step", "verdict", "differences"), rows)]


def _backups(report: RunReport) -> list[str]:
    found = report.backups()
    if found is None:
        return []
    completed = found["first_backup_completed_at"]
    window = found["recovery_window"]
    archiving = {True: "running", False: "FAILING", None: "-"}[found["archiving"]]
    return ["<h2>Backups of the target</h2>", table(("measure", "value"), [
        ("first full backup", found["first_backup"] or "-"),
        ("completed", time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(completed)) if completed else "-"),
        ("WAL archiving", archiving),
        ("recovery window at the end", f"{window['from'] or '-'} .. {window['to'] or '-'}")])]


def _notes(report: RunReport) -> list[str]:
    items = [f"{s.name} failed: {s.error}" for s in report.steps if s.status == "failed"] + report.notes
    if not items:
        return []
    return ["<h2>Notes</h2>", "<ul>" + "".join(f"<li>{escape(i)}</li>" for i in items) + "</ul>"]


def render_html(report: RunReport, extra: Sequence[str] = ()) -> str:
    """The page; ``extra`` sections (HTML, escaped by their maker) follow the summary (a drill's
    objectives and trend, ``toolkit.drills.report``)."""
    start = report.started_at or (report.steps[0].started_at if report.steps else time.time())
    end = report.ended_at or max([s.ended_at or s.started_at for s in report.steps] + [start + 1])
    color = {"succeeded": "#2e7d32", "rolled_back": "#ef6c00"}.get(report.status, "#c62828")
    title = f"{escape(report.kind)} run {escape(report.run_id)}"
    badge = f'<span class="badge" style="background:{color}">{escape(report.status)}</span>'
    sections = [f"<h1>{title} {badge}</h1>",
                _summary(report, end - start), *extra, "<h2>Timeline</h2>",
                _gantt(report.steps, start, end, "timeline", report.cutover),
                *_cutover(report, end), *_data(report, start, end), *_verifications(report),
                *_backups(report), *_notes(report)]
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
            f"<style>{STYLE}</style></head><body>\n" + "\n".join(sections) + "\n</body></html>\n")
