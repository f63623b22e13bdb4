"""The worker's entry point on an objects host: ``python3 -m <package>.worker JOB_FILE``.

The job file (JSON, mode 0600, written by the controller for this run) holds the credentials of
both stores; the worker reads it and removes it at once, so no key shows in ``ps``, in the
environment or in any file that outlives the start. It prints JSON lines on stdout (progress,
findings, mismatches, and a last ``done`` line with counts and the worker's peak memory) and keeps
its shard's manifest in the work directory: ``shard-<i>.progress.jsonl`` grows as objects are
proven (a killed pass resumes from it) and ``shard-<i>.manifest.jsonl`` is the pass's result.

Modes: ``preflight`` (looks only), ``copy`` (copies what the manifest does not prove; with
``delete`` also removes from the target what the source no longer has), ``follow`` (copy passes
one after another until told ``final`` on stdin: ``follow.py``), ``verify`` (changes nothing;
reads every target object back), ``cleanup`` (aborts the copy's unfinished multipart uploads).
"""

from __future__ import annotations

import itertools
import json
import os
import resource
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from . import manifest, transfer
from .manifest import Entry, Listed
from .pool import CopyPool, Outcome
from .s3http import ObjectHttp
from .sharding import shard_of
from .store import Store

PROGRESS_INTERVAL_S = 0.5
DELETE_BATCH = 1000
STORE_START_WAIT_S = 60.0
MAX_PROCESSES = 2
_print_lock = threading.Lock()


def say(kind: str, **values: Any) -> None:
    with _print_lock:
        sys.stdout.write(json.dumps({"type": kind, **values}, ensure_ascii=False) + "\n")
        sys.stdout.flush()


def pages(objects: ObjectHttp, bucket: str) -> Iterator[list[Listed]]:
    """The bucket's objects, a listing page at a time (up to 1,000)."""
    token: str | None = None
    while True:
        page, token = objects.list_page(bucket, token)
        yield [listed for listed in page if not listed.key.startswith(transfer.PROBE_PREFIX)]
        if token is None:
            return


def listing(objects: ObjectHttp, bucket: str) -> list[Listed]:
    return [listed for page in pages(objects, bucket) for listed in page]


def sharded_pages(store: Store, job: dict[str, Any]) -> Iterator[list[Listed]]:
    """This shard's objects of every bucket of the job, a listing page at a time."""
    for bucket in job["buckets"]:
        for page in pages(store.http, bucket):
            yield [listed for listed in page
                   if shard_of(listed.bucket, listed.key, job["shards"]) == job["shard"]]


def sharded(store: Store, job: dict[str, Any]) -> list[Listed]:
    return [listed for page in sharded_pages(store, job) for listed in page]


def known_entries(job: dict[str, Any], workdir: Path) -> dict[manifest.ObjectId, Entry]:
    """The previous manifest and what an interrupted pass of this shard already proved."""
    previous = manifest.read(Path(job["known"])) if job.get("known") else iter(())
    merged = manifest.merge(previous, manifest.read(workdir / f"shard-{job['shard']}.progress.jsonl"))
    return {oid: entry for oid, entry in merged.items() if oid[0] in job["buckets"]
            and shard_of(oid[0], oid[1], job["shards"]) == job["shard"]}


class Counter:
    """What the pass has copied, against what the listing has planned so far (it grows until the
    listing ends: ``listing`` in the progress lines)."""

    def __init__(self) -> None:
        self.children: list[int] = []  # the copy processes, whose memory is sampled with this one's
        self.total_objects = self.total_bytes = 0
        self.objects = self.bytes = 0
        self.listing = True
        self.lock = threading.Lock()
        self.stopped = threading.Event()

    def plan(self, page: list[Listed]) -> None:
        with self.lock:
            self.total_objects += len(page)
            self.total_bytes += sum(listed.size for listed in page)

    def add(self, size: int) -> None:
        with self.lock:
            self.objects += 1
            self.bytes += size

    def report(self) -> None:
        while not self.stopped.wait(PROGRESS_INTERVAL_S):
            self.say()
            memory.sample(self.children)

    def say(self) -> None:
        say("progress", objects=self.objects, bytes=self.bytes, total_objects=self.total_objects,
            total_bytes=self.total_bytes, listing=self.listing)


def copy(job: dict[str, Any], workdir: Path) -> int:
    threads = int(job.get("threads", 16))
    source, target = Store(job["source"], threads), Store(job["target"], threads)
    # The target first (its own store, near): each source page is planned against it as it comes.
    planner = manifest.Planner(known_entries(job, workdir), sharded(target, job),
                               spare_target=bool(job.get("spare_target")))
    counter = Counter()
    to_copy = planned(sharded_pages(source, job), planner, counter)
    first = next((page for page in to_copy if page), [])  # no probe object when nothing is to copy
    checksums = bool(first) and transfer.probe_checksums(target.s3, job["buckets"][0])
    say("probe", checksums="sha256" if checksums else "none")
    settings = transfer.Settings(threshold=int(job.get("threshold", transfer.parts.MULTIPART_THRESHOLD)),
                                 min_part=int(job.get("min_part", transfer.parts.MIN_PART_SIZE)),
                                 checksums=checksums, spool_dir=str(workdir))
    progress_path = workdir / f"shard-{job['shard']}.progress.jsonl"
    copied: list[Entry] = []
    failed: list[dict[str, str]] = []
    pool = CopyPool(lambda: (Store(job["source"], threads), Store(job["target"], threads)), settings,
                    processes=int(job.get("processes") or default_processes()), threads=threads)
    with pool, progress_path.open("a", encoding="utf-8") as progress:
        counter.children = pool.pids
        reporter = threading.Thread(target=counter.report, daemon=True)  # after the fork: see CopyPool
        reporter.start()
        for outcome in pool.copy(itertools.chain([first], to_copy)):
            entry = proven(outcome, failed)
            if entry is None:
                continue
            copied.append(entry)
            progress.write(entry.to_line() + "\n")
            progress.flush()  # a killed pass resumes from what reached this file
            counter.add(entry.size)
    counter.stopped.set()
    reporter.join()
    counter.say()
    gone = planner.gone()
    deleted = delete_gone(target.s3, gone, failed) if job.get("delete") else []
    kept_gone = [] if job.get("delete") else gone
    manifest.write(workdir / f"shard-{job['shard']}.manifest.jsonl", [*planner.keep, *copied, *kept_gone])
    say("done", copied=len(copied), copied_bytes=sum(e.size for e in copied), kept=len(planner.keep),
        deleted=len(deleted), failed=failed, checksums="sha256" if checksums else "none",
        processes=pool.processes, **usage())
    return 1 if failed else 0


def planned(pages: Iterator[list[Listed]], planner: manifest.Planner, counter: Counter,
            ) -> Iterator[list[Listed]]:
    """Each source page's objects to copy, counted as planned; a ``plan`` line once listed."""
    started = time.monotonic()
    for page in pages:
        to_copy = planner.page(page)
        counter.plan(to_copy)
        yield to_copy
    counter.listing = False
    say("plan", copy=counter.total_objects, copy_bytes=counter.total_bytes, keep=len(planner.keep),
        listing_seconds=round(time.monotonic() - started, 3))


def proven(outcome: Outcome, failed: list[dict[str, str]]) -> Entry | None:
    """The copied object's entry, or None: a failure is said and added to ``failed``; an object
    deleted on the source since it was listed (the service keeps serving) is no failure, the next
    pass no longer lists it."""
    listed = outcome.listed
    if outcome.entry is not None:
        return outcome.entry
    if outcome.vanished:
        say("vanished", bucket=listed.bucket, key=listed.key)
    else:
        failed.append({"bucket": listed.bucket, "key": listed.key, "message": outcome.error})
        say("failed", bucket=listed.bucket, key=listed.key, message=outcome.error)
    return None


def delete_gone(target: Any, gone: list[Entry], failed: list[dict[str, str]]) -> list[Entry]:
    """Delete from the target what the source no longer has, 1,000 keys a request (S3's limit);
    a key the store refuses to delete joins ``failed``."""
    deleted: list[Entry] = []
    by_bucket: dict[str, list[Entry]] = {}
    for entry in gone:
        by_bucket.setdefault(entry.bucket, []).append(entry)
    for bucket, entries in by_bucket.items():
        for start in range(0, len(entries), DELETE_BATCH):
            batch = entries[start:start + DELETE_BATCH]
            answer = target.delete_objects(Bucket=bucket, Delete={
                "Objects": [{"Key": entry.key} for entry in batch], "Quiet": True})
            refused = {error["Key"]: f"delete refused: {error.get('Message') or error.get('Code')}"
                       for error in answer.get("Errors", [])}
            for key, message in refused.items():
                failed.append({"bucket": bucket, "key": key, "message": message})
                say("failed", bucket=bucket, key=key, message=message)
            deleted += [entry for entry in batch if entry.key not in refused]
    return deleted


def verify(job: dict[str, Any], workdir: Path) -> int:
    threads = int(job.get("threads", 16))
    source, target = Store(job["source"], threads), Store(job["target"], threads)
    known = known_entries(job, workdir)
    source_listing, target_listing = sharded(source, job), sharded(target, job)
    found = manifest.compare(source_listing, target_listing, known)
    named = {(m.bucket, m.key) for m in found}
    checked = 0
    on_target = {listed.id for listed in target_listing}
    entries = [entry for oid, entry in known.items() if oid in on_target and oid not in named]
    with ThreadPoolExecutor(threads) as pool:
        problems = pool.map(lambda e: transfer.read_back(target, e), entries)
        for entry, problem in zip(entries, problems, strict=True):
            checked += 1
            if problem:
                found.append(manifest.Mismatch(entry.bucket, entry.key, problem))
    for mismatch in found:
        say("mismatch", bucket=mismatch.bucket, key=mismatch.key, message=mismatch.message)
    say("done", source_objects=len(source_listing), target_objects=len(target_listing),
        read_back=checked, mismatches=len(found), **usage())
    return 0


def preflight(job: dict[str, Any]) -> int:
    source, target = Store(job["source"], 4), Store(job["target"], 4)
    objects = size = 0
    try:
        on_target = store_buckets(target.s3)
    except Exception as error:
        say("finding", severity="error", subject=job["target"].get("endpoint") or "target",
            message=f"the bare-metal object store does not answer: {error}")
        on_target = None
    for bucket in job["buckets"]:
        try:
            listed = listing(source.http, bucket)
        except Exception as error:
            say("finding", severity="error", subject=f"s3://{bucket}",
                message=f"cannot list the source bucket: {error}")
            continue
        objects += len(listed)
        size += sum(item.size for item in listed)
        for item in listed:
            # SeaweedFS keeps a key ending in "/" as a directory: its bytes and metadata are lost.
            if item.key.endswith("/") and item.size > 0:
                say("finding", severity="error", subject=f"s3://{bucket}/{item.key}",
                    message=f"a key ending in '/' holds {item.size} bytes; the bare-metal store keeps such "
                            "a key as a folder marker and would lose them: rename the object on the source")
        if on_target is not None and bucket not in on_target:
            say("finding", severity="error", subject=f"s3://{bucket}",
                message="the bucket does not exist on the bare-metal store: provision the target first")
    say("finding", severity="info", subject="objects",
        message=f"{objects} objects, {size} bytes in {len(job['buckets'])} bucket(s)")
    say("done", **usage())
    return 0


def store_buckets(target: Any) -> set[str]:
    """The store's buckets, waiting a while for a store that is starting (SeaweedFS: about 3 s)."""
    deadline = time.monotonic() + STORE_START_WAIT_S
    while True:
        try:
            return {bucket["Name"] for bucket in target.list_buckets().get("Buckets", [])}
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def cleanup(job: dict[str, Any]) -> int:
    target = Store(job["target"], 4).s3
    aborted = []
    for bucket in job["buckets"]:
        for page in target.get_paginator("list_multipart_uploads").paginate(Bucket=bucket):
            for upload in page.get("Uploads", []):
                if shard_of(bucket, upload["Key"], job["shards"]) != job["shard"]:
                    continue
                target.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
                aborted.append(f"s3://{bucket}/{upload['Key']} (unfinished upload)")
    say("done", aborted=aborted, **usage())
    return 0


class Memory:
    """The peak of the memory this worker and its copy processes hold together: their proportional
    set sizes (a page two processes share counts half in each) added, sampled as the copy runs."""

    def __init__(self) -> None:
        self.peak_kb = 0

    def sample(self, children: list[int]) -> None:
        self.peak_kb = max(self.peak_kb, sum(_pss_kb(pid) for pid in [os.getpid(), *children]))


def _pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as rollup:
            return next((int(line.split()[1]) for line in rollup if line.startswith("Pss:")), 0)
    except OSError:
        return 0


memory = Memory()


def usage() -> dict[str, int]:
    """Peak memory: the copy processes' summed peak as sampled, or this process's own peak if higher."""
    return {"max_rss_kb": max(memory.peak_kb, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)}


def default_processes() -> int:
    """One copy process per core, at most ``MAX_PROCESSES``: each may hold its own boto3 (~50 MB)."""
    return max(1, min(os.cpu_count() or 1, MAX_PROCESSES))


def main(argv: list[str]) -> int:
    job_path = Path(argv[1])
    job = json.loads(job_path.read_text(encoding="utf-8"))
    job_path.unlink()  # the credentials now live in this process only
    workdir = Path(job["workdir"])
    started = time.monotonic()
    try:
        mode = job["mode"]
        if mode == "copy":
            return copy(job, workdir)
        if mode == "verify":
            return verify(job, workdir)
        if mode == "preflight":
            return preflight(job)
        if mode == "cleanup":
            return cleanup(job)
        if mode == "follow":
            from .follow import follow  # it builds on this module

            return follow(job, workdir)
        say("error", message=f"unknown mode {mode!r}")
        return 2
    except Exception as error:  # reported as a line: the controller names the host and shard
        say("error", message=f"{type(error).__name__}: {error}")
        return 1
    finally:
        say("exit", seconds=round(time.monotonic() - started, 3))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
