"""``Follower``: the objects kept current on every objects host up to the cutover's final pass.

The migration starts it before the window (``ObjectMover.follow``), waits until its passes are
small (``converge``), and tells it ``finish`` right after the source's freeze; ``final_pass``
waits for that pass once the database's own window steps are done. Each host lists
the buckets once; then this side reads the source's change events (``feed.py``) and hands each
host the keys of its shard, which it copies, reads back or deletes with clients and processes
already warm (``remote/follow.py``). ``finish`` drains the feed (the source is frozen: nothing
more can come) and asks for the final pass: no listing, only the last keys. ``result``
collects that pass like any other: the shards' manifests merged into the one ``verify`` and
the next pass start from. If the controller dies, its SSH sessions close and the workers stop;
a later ``resync`` finds what they proved in their progress files.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

from toolkit.data.objects.feed import Change, ChangeFeed
from toolkit.data.objects.hosts import Fleet
from toolkit.data.objects.jobs import HostJobs
from toolkit.data.objects.mover import CopyIncomplete, ObjectMover
from toolkit.data.objects.remote.sharding import shard_of
from toolkit.errors import CheckFailed
from toolkit.runs import Run

log = logging.getLogger(__name__)

PASS_TIMEOUT_S = 600.0  # a pass that long means a host is stuck, not busy
PUMP_IDLE_S = 0.1  # between two empty reads of the feed


class Follower:
    def __init__(self, mover: ObjectMover, fleet: Fleet, jobs: HostJobs, state: dict[str, Any],
                 feed: ChangeFeed | None) -> None:
        self.mover, self.fleet, self.jobs, self.state, self.feed = mover, fleet, jobs, state, feed
        self.started = time.monotonic()
        self.finished_at: float | None = None  # when ``finish`` was said (epoch seconds)
        self._pumping = threading.Event()
        self._pump: threading.Thread | None = None
        self._finishing: threading.Thread | None = None
        self._finish_error: Exception | None = None
        if feed is not None:
            self._pumping.set()
            self._pump = threading.Thread(target=self._pass_on_changes, daemon=True)
            self._pump.start()

    def _pass_on_changes(self) -> None:
        """The feed's changes to the hosts whose shards hold them, as they come."""
        assert self.feed is not None
        while self._pumping.is_set():
            try:
                changes = self.feed.receive()
            except Exception as error:  # the hosts' passes go on; the final drain will say it again
                log.warning("follower: the change feed failed: %s", error)
                changes = []
            self._dispatch(changes)
            if not changes:
                time.sleep(PUMP_IDLE_S)

    def _dispatch(self, changes: list[Change]) -> None:
        by_host: dict[int, list[list[str]]] = {}
        for change in changes:
            by_host.setdefault(shard_of(change.bucket, change.key, len(self.fleet.hosts)), []).append(
                [change.bucket, change.key])
        for host in self.fleet.hosts:
            if host.shard in by_host:
                self.jobs.send_to(host, "keys " + json.dumps(by_host[host.shard]) + "\n")

    def converge(self, run: Run, step: str, *, changes: int, passes: int) -> dict[str, Any]:
        """Until every host's last pass changed at most ``changes`` objects, as a live migration
        pre-copies memory: each pass copies what was written during the one before. Also stops
        when passes stop shrinking (by a quarter: the service writes about as fast as we copy) or
        after ``passes`` passes; the final pass will then be about as large as the last one.
        Returns the last passes' figures, summed over hosts, with ``stalled``."""
        last: dict[str, dict[str, Any]] = {}
        before: dict[str, int] = {}
        stalled = False
        counts = {host.name: 0 for host in self.fleet.hosts}
        deadline = time.monotonic() + PASS_TIMEOUT_S
        while True:
            taken = self.jobs.take(timeout=1.0)
            if taken is not None:
                host, record = taken
                if record is None:
                    outcome = self.jobs.outcomes[host.name]
                    why = outcome.error or outcome.last("error").get("message") or "it ended"
                    raise CheckFailed(f"the object follower on {host.name} stopped: {why}")
                if record.get("type") == "synced":
                    if host.name in last:
                        before[host.name] = last[host.name]["copied"] + last[host.name]["deleted"]
                    last[host.name] = record
                    counts[host.name] += 1
                    now = record["copied"] + record["deleted"]
                    shrank = host.name not in before or now <= 0.75 * before[host.name]
                    stalled = stalled or (now > changes and not shrank)
                    deadline = time.monotonic() + PASS_TIMEOUT_S
                    summed = _summed(last.values())
                    run.progress(step, f"objects: pass {min(counts.values())}, {summed['copied']} copied, "
                                       f"{summed['deleted']} deleted", **summed)
            if len(last) == len(counts) and (
                    all(r["copied"] + r["deleted"] <= changes for r in last.values())
                    or stalled or min(counts.values()) >= passes):
                return {**_summed(last.values()), "passes": min(counts.values()), "stalled": stalled}
            if time.monotonic() > deadline:
                raise CheckFailed(f"the object followers finished no pass in {PASS_TIMEOUT_S:.0f} s")

    def finish(self) -> None:
        """Start the final pass and return at once (the database drains meanwhile): every change
        the feed still holds goes to the hosts (the source is frozen: they are the last), then
        ``final``. ``final_pass`` waits for it."""
        self.finished_at = time.time()
        self._finishing = threading.Thread(target=self._ask_final, daemon=True)
        self._finishing.start()

    def _ask_final(self) -> None:
        try:
            self._stop_pump()
            if self.feed is not None:
                self._dispatch(self.feed.drain())
        except Exception as error:  # ``final_pass`` raises it; the hosts are not told ``final``
            self._finish_error = error
            return
        self.jobs.send("final\n")

    def _stop_pump(self) -> None:
        self._pumping.clear()
        if self._pump is not None:
            self._pump.join()

    def final_pass(self) -> dict[str, Any]:
        """Until every host said ``done``: the final pass's figures, summed. Raises if a host
        failed an object or stopped. Each host proved its objects before saying it; bringing the
        shards' manifests here (``result``) can wait until writes are open."""
        if self._finishing is None:
            raise RuntimeError("final_pass before finish")
        self._finishing.join()
        if self._finish_error is not None:
            raise CheckFailed(f"the source's change feed could not be drained: {self._finish_error}")
        done: dict[str, dict[str, Any]] = {}
        deadline = time.monotonic() + PASS_TIMEOUT_S
        while len(done) < len(self.fleet.hosts):
            taken = self.jobs.take(timeout=1.0)
            if taken is None:
                if time.monotonic() > deadline:
                    raise CheckFailed(f"the objects' final pass did not end in {PASS_TIMEOUT_S:.0f} s")
                continue
            host, record = taken
            if record is None and host.name not in done:
                outcome = self.jobs.outcomes[host.name]
                why = outcome.error or outcome.last("error").get("message") or "it ended"
                raise CheckFailed(f"the object follower on {host.name} stopped before its final pass: {why}")
            if record is not None and record.get("type") == "done":
                done[host.name] = record
        failed = [f"s3://{f['bucket']}/{f['key']}: {f['message']}"
                  for record in done.values() for f in record["failed"]]
        if failed:
            raise CopyIncomplete(f"{len(failed)} object(s) failed in the final pass: "
                                 + "; ".join(failed[:5]))
        return _summed(record["final"] for record in done.values())

    def result(self, run: Run, step: str) -> dict[str, Any]:
        """The follower's passes as one, as ``ObjectMover.resync`` returns a pass: the shards'
        manifests merged into the one ``verify`` and later passes start from, the state written."""
        outcomes = self.jobs.wait()
        return self.mover.conclude(run, step, self.fleet, outcomes, self.state, self.started)

    def abandon(self) -> None:
        """Stop every host's follower without a final pass (a failed or rolled-back migration).
        The feed stays on the source until the clean-up or ``replicate --stop`` removes it."""
        if self._finishing is not None:
            self._finishing.join()
        self._stop_pump()
        self.jobs.close()
        self.jobs.wait()


def _summed(passes: Any) -> dict[str, Any]:
    """Hosts' pass figures together: counts added; seconds, the slowest host's."""
    rows = list(passes)
    return {"copied": sum(r.get("copied", 0) for r in rows),
            "deleted": sum(r.get("deleted", 0) for r in rows),
            "failed": sum(r.get("failed", 0) for r in rows),
            "objects": sum(r.get("objects", 0) for r in rows),
            "listing_seconds": max((r.get("listing_seconds", 0.0) for r in rows), default=0.0),
            "seconds": max((r.get("seconds", 0.0) for r in rows), default=0.0)}
