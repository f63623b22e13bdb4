"""Write load through the app at a steady rate, journaling every answer (see README.md).

`python -m refservice.loadgen --url URL --rate N --duration S --journal FILE [--mix ...]`, or from
Python `run_load(...)`, which a test or the orchestrator can run in a thread and stop with an event.

Each worker thread owns the ids it created, so operations on one id are never concurrent and the
journal's order per id is the order the app applied them. An id whose request got no answer is
retired: that request may still be applied later, so touching the id again would make its final
state ambiguous.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import sys
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

from refservice.dialer import DnsResolver, NoAnswer, NotSent, Resolver, request
from refservice.journal import OPS, JournalWriter

DEFAULT_MIX = {"write": 0.6, "update": 0.3, "delete": 0.1}


@dataclass
class Summary:
    acked: int = 0
    unknown: int = 0
    refused: int = 0
    errors: int = 0
    attempted: int = 0
    elapsed_s: float = 0.0
    achieved_rate: float = 0.0
    by_op: dict[str, dict[str, int]] = field(default_factory=dict)
    last_error: str | None = None


def parse_mix(text: str) -> dict[str, float]:
    mix: dict[str, float] = {}
    for part in text.split(","):
        name, _, value = part.partition("=")
        name = name.strip()
        if name not in OPS:
            raise ValueError(f"unknown operation {name!r} in the mix; use write, update and delete")
        try:
            mix[name] = float(value)
        except ValueError:
            raise ValueError(f"the weight of {name} must be a number, not {value!r}") from None
    if sum(mix.values()) <= 0 or any(v < 0 for v in mix.values()):
        raise ValueError("the mix weights must be non-negative and not all zero")
    return mix


class _Load:
    def __init__(
        self,
        url: str,
        journal: JournalWriter,
        mix: Mapping[str, float],
        timeout: float,
        resolver: Resolver | None,
        seed: int | None,
    ) -> None:
        self.url = url.rstrip("/")
        self.journal = journal
        self.ops = list(mix)
        self.weights = [mix[o] for o in self.ops]
        self.timeout = timeout
        self.resolver = resolver
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.counts: Counter[tuple[str, str]] = Counter()
        self.last_error: str | None = None

    def _payload(self, rng: random.Random) -> dict[str, str]:
        content = rng.randbytes(rng.randint(16, 512))
        return {
            "title": f"note {rng.getrandbits(32):08x}",
            "body": "body " * rng.randint(1, 20),
            "file": base64.b64encode(content).decode(),
        }

    def one(self, rng: random.Random, live: list[int]) -> None:
        op = rng.choices(self.ops, self.weights)[0]
        if op != "write" and not live:
            op = "write"
        note_id = None if op == "write" else rng.choice(live)
        method, path, payload = {
            "write": ("POST", "/notes", self._payload(rng)),
            "update": ("PUT", f"/notes/{note_id}", self._payload(rng)),
            "delete": ("DELETE", f"/notes/{note_id}", None),
        }[op]
        try:
            resp = request(method, self.url + path, payload, self.timeout, self.resolver)
        except NotSent as exc:
            self._count(op, "error", str(exc))
            return
        except NoAnswer as exc:
            self._retire(live, note_id)
            self.journal.append(op, note_id, None, "unknown")
            self._count(op, "unknown", str(exc))
            return
        body = resp.json()
        error = body.get("error") if isinstance(body, dict) else None
        if resp.status in (200, 201) and isinstance(body, dict) and (op != "write" or "id" in body):
            if op == "write":
                note_id = body["id"]
                live.append(body["id"])
            elif op == "delete":
                self._retire(live, note_id)
            self.journal.append(op, note_id, body.get("checksum"), "acked")
            self._count(op, "acked")
        elif resp.status == 503 and error == "writes refused":
            self.journal.append(op, note_id, None, "refused")
            self._count(op, "refused")
        elif resp.status >= 500:
            # A server error (or a proxy's page) says nothing certain about whether it was applied.
            self._retire(live, note_id)
            self.journal.append(op, note_id, None, "unknown")
            self._count(op, "unknown", f"HTTP {resp.status}: {error or resp.body[:80]!r}")
        else:
            self._count(op, "error", f"HTTP {resp.status}: {error or resp.body[:80]!r}")

    @staticmethod
    def _retire(live: list[int], note_id: int | None) -> None:
        if note_id is not None and note_id in live:
            live.remove(note_id)

    def _count(self, op: str, outcome: str, error: str | None = None) -> None:
        with self.lock:
            self.counts[(op, outcome)] += 1
            if error:
                self.last_error = error


def run_load(
    url: str,
    rate: float,
    duration: float,
    journal_path: str | os.PathLike[str],
    mix: Mapping[str, float] | None = None,
    timeout: float = 2.0,
    resolve_with: str | None = None,
    stop: threading.Event | None = None,
    threads: int | None = None,
    seed: int | None = None,
) -> Summary:
    """Run until `duration` seconds pass or `stop` is set; return the summary."""
    if rate <= 0:
        raise ValueError("the rate must be positive")
    stop = stop or threading.Event()
    resolver = DnsResolver(resolve_with) if resolve_with else None
    journal = JournalWriter(journal_path)
    load = _Load(url, journal, mix or DEFAULT_MIX, timeout, resolver, seed)
    # Enough threads that requests as slow as the timeout still keep the pace.
    n_threads = threads or max(2, min(32, int(rate * timeout) + 1))
    start = time.monotonic()
    deadline = start + duration
    slot = 0
    slot_lock = threading.Lock()

    def worker(worker_seed: int) -> None:
        nonlocal slot
        rng = random.Random(worker_seed)
        live: list[int] = []
        while not stop.is_set():
            with slot_lock:
                due = start + slot / rate
                slot += 1
            if due >= deadline:
                return
            # Paced: each operation has its due time; a late thread just goes at once.
            if stop.wait(max(0.0, due - time.monotonic())):
                return
            load.one(rng, live)

    workers = [
        threading.Thread(target=worker, args=(load.rng.getrandbits(64),), name=f"loadgen-{i}", daemon=True)
        for i in range(n_threads)
    ]
    try:
        for t in workers:
            t.start()
        try:
            for t in workers:
                t.join()
        except KeyboardInterrupt:
            # Let in-flight requests finish and be journaled before leaving.
            stop.set()
            for t in workers:
                t.join()
            raise
    finally:
        journal.close()
    elapsed = time.monotonic() - start
    summary = Summary(elapsed_s=round(elapsed, 3), last_error=load.last_error)
    for (op, outcome), n in load.counts.items():
        summary.by_op.setdefault(op, {})[outcome] = n
        if outcome == "error":
            summary.errors += n
        else:
            setattr(summary, outcome, getattr(summary, outcome) + n)
        summary.attempted += n
    summary.achieved_rate = round(summary.attempted / elapsed, 2) if elapsed > 0 else 0.0
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m refservice.loadgen", description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="base URL of the app, e.g. http://app.example:8000")
    parser.add_argument("--rate", type=float, required=True, help="operations per second")
    parser.add_argument("--duration", type=float, required=True, help="seconds to run")
    parser.add_argument("--journal", required=True, help="journal file (appended to)")
    parser.add_argument("--mix", default="write=0.6,update=0.3,delete=0.1")
    parser.add_argument("--timeout", type=float, default=2.0, help="seconds before a request is 'unknown'")
    parser.add_argument("--resolve-with", metavar="DNS_SERVER_IP[:PORT]", help="resolve via this DNS server")
    parser.add_argument("--threads", type=int, help="worker threads (default from rate and timeout)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = parser.parse_args(argv)
    try:
        mix = parse_mix(args.mix)
        if args.rate <= 0 or args.duration < 0 or args.timeout <= 0:
            raise ValueError("rate and timeout must be positive and duration not negative")
        summary = run_load(
            args.url, args.rate, args.duration, args.journal, mix, args.timeout, args.resolve_with,
            threads=args.threads,
        )
    except (ValueError, OSError) as exc:
        print(f"loadgen: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    if args.json:
        print(json.dumps(asdict(summary), sort_keys=True))
    else:
        print(
            f"loadgen: {summary.attempted} ops in {summary.elapsed_s:.1f}s ({summary.achieved_rate}/s): "
            f"{summary.acked} acked, {summary.unknown} unknown, {summary.refused} refused, "
            f"{summary.errors} errors"
        )
        if summary.last_error:
            print(f"loadgen: last error: {summary.last_error}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
