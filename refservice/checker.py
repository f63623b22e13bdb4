"""Prove that no acknowledged operation was lost: replay a load generator journal against the app.

For each id, the journal's operations are replayed in order into the set of states the id may be
in: an acked write or update leaves exactly "present with this checksum", an acked delete
"absent", an unknown operation adds its possible effect to the states before it (an unknown update
adds "present with any checksum"), a refused one changes nothing. The app's answer for the id
(`GET /notes/<id>`, whose checksum covers the row and the object) must be one of those states.

Findings: `missing` (row absent, an acked write/update expected it), `changed` (checksum differs)
and `lost_delete` (row present after an acked delete). Exit 0 clean, 1 on any finding, 2 on bad
input or an unreachable app.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from refservice.dialer import DnsResolver, NoAnswer, NotSent, Resolver, request
from refservice.journal import JournalError, Record, read_journal

ANY = "*"  # checksum wildcard: present, content unknown
SETTLE_S = 3.0  # longer than the load generator's 2 s request timeout
ABSENT = None


class CheckError(Exception):
    """The check could not be carried out (the app did not answer usably)."""


@dataclass(frozen=True)
class Finding:
    id: int
    kind: str
    seq: int
    op: str
    expected: str | None
    actual: str | None

    def sentence(self) -> str:
        what = {
            "missing": "is missing",
            "changed": f"has checksum {self.actual}, not {self.expected}",
            "lost_delete": "still exists",
        }[self.kind]
        return f"note {self.id}: acknowledged {self.op} (seq {self.seq}) lost: the note {what}."


@dataclass
class Report:
    journal_records: int = 0
    ids_checked: int = 0
    acked: int = 0
    unknown: int = 0
    refused: int = 0
    torn_tail_ignored: bool = False
    findings: list[Finding] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.findings


@dataclass
class _Expectation:
    states: set[str | None]
    last_acked: Record | None = None


def expected_states(records: list[Record], seen_from: float | None = None,
                    seen_until: float | None = None) -> dict[int, _Expectation]:
    """The states each id may be in; only ids with at least one acked operation are kept.

    ``seen_from``/``seen_until``: the app was asked at ``seen_from`` while the load generator still
    wrote. An operation acknowledged before then had committed, so it counts; one acknowledged
    after ``seen_until`` committed after the question (a request times out in less than the
    settle time), so it does not; one in between may or may not be seen, as an unknown one.
    """
    out: dict[int, _Expectation] = {}
    for rec in records:
        if rec.id is None:
            continue  # a write without answer: its id was never learned, nothing to check
        if seen_until is not None and rec.t > seen_until:
            continue
        exp = out.setdefault(rec.id, _Expectation(states={ABSENT}))
        effect: str | None = ABSENT if rec.op == "delete" else (rec.checksum or ANY)
        maybe = seen_from is not None and rec.t > seen_from
        if rec.status == "acked" and not maybe:
            exp.states = {effect}
            exp.last_acked = rec
        elif rec.status == "unknown" or rec.status == "acked":
            exp.states = exp.states | {effect}
            exp.last_acked = rec if rec.status == "acked" else exp.last_acked
    return {i: e for i, e in out.items() if e.last_acked is not None}


def _observe(url: str, note_id: int, timeout: float, resolver: Resolver | None) -> str | None:
    try:
        resp = request("GET", f"{url.rstrip('/')}/notes/{note_id}", timeout=timeout, resolver=resolver)
    except (NotSent, NoAnswer) as exc:
        raise CheckError(f"The app at {url} did not answer: {exc}.") from exc
    if resp.status == 404:
        return ABSENT
    body = resp.json()
    if resp.status != 200 or not isinstance(body, dict) or not isinstance(body.get("checksum"), str):
        raise CheckError(f"The app at {url} answered GET /notes/{note_id} with HTTP {resp.status}.")
    checksum: str = body["checksum"]
    return checksum


def _judge(note_id: int, exp: _Expectation, actual: str | None) -> Finding | None:
    if actual in exp.states or (actual is not ABSENT and ANY in exp.states):
        return None
    last = exp.last_acked
    assert last is not None
    if actual is ABSENT:
        kind = "missing"
    elif ABSENT in exp.states and len(exp.states) == 1:
        kind = "lost_delete"
    else:
        kind = "changed"
    expected = next((s for s in exp.states if s not in (ABSENT, ANY)), None)
    return Finding(note_id, kind, last.seq, last.op, expected, actual)


def check(
    journal: str, url: str, timeout: float = 5.0, resolve_with: str | None = None, settle: float = SETTLE_S
) -> Report:
    """Replay ``journal`` against the app at ``url``; the load generator may still be writing.

    Every note the journal knows when the check starts is asked for once, and the time of each
    question is kept. If the load generator wrote meanwhile, the journal is read again ``settle``
    seconds after the last answer (longer than its request timeout, so every operation the app
    had done by then has its line), and each note is judged against the operations acknowledged
    before its question; those acknowledged around it may or may not show (``expected_states``).
    A note changed later is judged as it was when asked. The load generator and the checker must
    share a clock (they run on one machine).
    """
    records, torn = read_journal(journal)
    resolver = DnsResolver(resolve_with) if resolve_with else None
    report = Report(journal_records=len(records), torn_tail_ignored=torn)
    for rec in records:
        setattr(report, rec.status, getattr(report, rec.status) + 1)
    asked: dict[int, tuple[str | None, float, float]] = {}
    for note_id in sorted(expected_states(records)):
        sent = time.time()
        asked[note_id] = (_observe(url, note_id, timeout, resolver), sent, time.time())
        report.ids_checked += 1
    if not asked:
        return report
    started = min(sent for _, sent, _ in asked.values())
    if records and records[-1].t > started - settle:  # still writing while we asked
        time.sleep(max(0.0, max(done for _, _, done in asked.values()) + settle - time.time()))
        records = read_journal(journal)[0]
    by_id: dict[int, list[Record]] = {}
    for rec in records:
        if rec.id in asked:
            by_id.setdefault(rec.id, []).append(rec)
    for note_id, (actual, sent, done) in asked.items():
        exp = expected_states(by_id[note_id], sent, done + settle)[note_id]
        if finding := _judge(note_id, exp, actual):
            report.findings.append(finding)
    return report


def _as_json(report: Report) -> dict[str, Any]:
    data = asdict(report)
    data["clean"] = report.clean
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m refservice.checker", description=__doc__.splitlines()[0])
    parser.add_argument("--journal", required=True, help="journal written by refservice.loadgen")
    parser.add_argument("--url", required=True, help="base URL of the deployment to check")
    parser.add_argument("--timeout", type=float, default=5.0)
    parser.add_argument("--settle", type=float, default=SETTLE_S,
                        help="seconds to wait for a writing load generator's last lines (above its timeout)")
    parser.add_argument("--resolve-with", metavar="DNS_SERVER_IP[:PORT]", help="resolve via this DNS server")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    try:
        report = check(args.journal, args.url, args.timeout, args.resolve_with, args.settle)
    except (JournalError, CheckError, ValueError) as exc:
        if args.json:
            print(json.dumps({"error": str(exc)}))
        else:
            print(f"checker: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(_as_json(report), sort_keys=True))
    else:
        for finding in report.findings:
            print(f"checker: {finding.sentence()}")
        verdict = "clean" if report.clean else f"{len(report.findings)} acknowledged operations lost"
        print(
            f"checker: {report.ids_checked} notes checked from {report.journal_records} journal records "
            f"({report.acked} acked, {report.unknown} unknown, {report.refused} refused): {verdict}."
        )
    return 0 if report.clean else 1


if __name__ == "__main__":
    sys.exit(main())
