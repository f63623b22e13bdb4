"""Mode ``follow``: the copy kept running on its host until the cutover's final pass.

A ``copy`` pass pays a fixed price before any byte moves: an SSH session, a Python start, boto3's
clients, a listing of both stores and the checksum probe. Inside the cutover window that price
would be most of the objects' final delta. So before the window the controller starts this mode
once per host. It keeps its clients, its copy processes and the shard's manifest in memory, lists the
target once (afterwards the target holds what this process put there), and passes over the
source again and again, each pass copying, reading back and deleting what the one before left.
With ``events`` in the job, the passes after the first list nothing: they copy the keys the
controller sends from the source's event feed (``keys`` lines; ``feed.py`` on the controller).
Every pass ends with a ``synced`` line.

``final`` on stdin starts one more pass, whose listing begins after the word arrived (after the
source's freeze), then the shard's manifest is written and ``done`` said. If stdin closes (the
controller is gone) the worker stops after the pass in progress; what it proved is in the
progress file, where the next ``copy`` pass picks it up.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

from . import manifest, transfer
from .manifest import Entry, Listed
from .pool import CopyPool
from .store import Store
from .worker import default_processes, delete_gone, known_entries, proven, say, sharded, usage

PAUSE_S = 0.2  # between passes: the source's listing is the cost, not the wait


class Commands:
    """What the controller says on stdin: ``keys [[bucket, key], ...]`` (changed on the source,
    from its event feed), ``final``, or nothing more (EOF: it is gone)."""

    def __init__(self) -> None:
        self.final = threading.Event()
        self.gone = threading.Event()
        self.wake = threading.Event()
        self._keys: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in sys.stdin:
            word, _, rest = line.strip().partition(" ")
            if word == "keys":
                self.put_back({(bucket, key) for bucket, key in json.loads(rest)})
            elif word == "final":  # after the keys said before it: lines are read in order
                self.final.set()
            self.wake.set()
        self.gone.set()
        self.wake.set()

    def take(self) -> set[tuple[str, str]]:
        with self._lock:
            keys, self._keys = self._keys, set()
        return keys

    def put_back(self, keys: set[tuple[str, str]]) -> None:
        with self._lock:
            self._keys |= keys


def follow(job: dict[str, Any], workdir: Path) -> int:
    threads = int(job.get("threads", 16))
    source, target = Store(job["source"], threads), Store(job["target"], threads)
    known = known_entries(job, workdir)
    on_target = {listed.id: listed for listed in sharded(target, job)}
    checksums = transfer.probe_checksums(target.s3, job["buckets"][0])
    settings = transfer.Settings(checksums=checksums, spool_dir=str(workdir))
    pool = CopyPool(lambda: (Store(job["source"], threads), Store(job["target"], threads)), settings,
                    processes=int(job.get("processes") or default_processes()), threads=threads)
    totals = {"copied": 0, "copied_bytes": 0, "deleted": 0, "passes": 0}
    progress_path = workdir / f"shard-{job['shard']}.progress.jsonl"
    with pool, progress_path.open("a", encoding="utf-8") as progress:
        commands = Commands()  # its thread after the pool's fork
        while True:
            final = commands.final.is_set()
            started = time.monotonic()
            listing = totals["passes"] == 0 or not job.get("events")
            if listing:
                todo = manifest.plan(sharded(source, job), known, on_target.values())
                to_copy, gone = todo.copy, todo.gone
            else:  # only what the source's events named; the object is read as it is now
                keys = commands.take()
                to_copy, gone = [Listed(bucket, key, 0, "", "") for bucket, key in sorted(keys)], []
            listed_s = time.monotonic() - started
            failed: list[dict[str, str]] = []
            copied: list[Entry] = []
            for outcome in pool.copy([to_copy]):
                if outcome.vanished and outcome.listed.id in known:
                    gone.append(known[outcome.listed.id])  # deleted on the source: on the target too
                entry = proven(outcome, failed)
                if entry is None:
                    continue
                copied.append(entry)
                known[entry.id] = entry
                on_target[entry.id] = Listed(entry.bucket, entry.key, entry.size, entry.target_etag, "")
                progress.write(entry.to_line() + "\n")
                progress.flush()  # a killed follower's work is not lost
            deleted = delete_gone(target.s3, gone, failed) if job.get("delete") else []
            for entry in deleted:
                known.pop(entry.id, None)
                on_target.pop(entry.id, None)
            if job.get("events"):
                commands.put_back({(f["bucket"], f["key"]) for f in failed})  # tried again next pass
            totals["copied"] += len(copied)
            totals["copied_bytes"] += sum(entry.size for entry in copied)
            totals["deleted"] += len(deleted)
            totals["passes"] += 1
            this_pass = {"copied": len(copied), "deleted": len(deleted), "failed": len(failed),
                         "objects": len(known), "listed": listing, "listing_seconds": round(listed_s, 3),
                         "seconds": round(time.monotonic() - started, 3)}
            if final:
                say("done", **totals, kept=len(known) - len(copied), failed=failed, final=this_pass,
                    checksums="sha256" if checksums else "none", **usage())
                # After ``done``: the window waits for that word, not for this file (the controller
                # fetches it once the worker has exited).
                manifest.write(workdir / f"shard-{job['shard']}.manifest.jsonl", known.values())
                return 1 if failed else 0
            say("synced", **this_pass)
            if commands.gone.is_set():
                return 0
            commands.wake.wait(PAUSE_S)
            commands.wake.clear()
