"""``ObjectMover``: every object of every bucket of the spec, from S3 to the bare-metal store.

The copy runs on the target's objects hosts, sharded by key hash over the group (``hosts.py``,
``remote/``); this side only steers, gathers the shards' manifests into one, and keeps it with
the pass's state under ``<state>/data/<service>/objects/``. That manifest is the proof a later
pass, ``verify`` and the cutover's final delta (``resync``) start from.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from toolkit.data.mover import DataMover, Difference, Finding, MoverOptions, Verification
from toolkit.data.objects.hosts import Fleet, ObjectHost
from toolkit.data.objects.jobs import HostJobs, HostOutcome
from toolkit.data.objects.remote import manifest
from toolkit.data.objects.remote.sharding import shard_of
from toolkit.errors import BadInput, CheckFailed
from toolkit.runs import Run
from toolkit.runs.run import run_state, runs_root
from toolkit.spec import LoadedSpec
from toolkit.state import state_root

if TYPE_CHECKING:
    from toolkit.data.objects.follower import Follower

log = logging.getLogger(__name__)

MANIFEST = "manifest.jsonl"
STATE = "state.json"
PROVES = ("every source object (listed now) is on the target with the size, SHA-256, Content-Type and "
          "user metadata the copy recorded after reading its bytes back, and no target object changed "
          "or appeared since; it does not prove that objects written to the source after the listing "
          "are there (a re-sync copies them)")


class CopyIncomplete(CheckFailed):
    """Objects could not be copied or proven; the message names them."""


class ObjectMover(DataMover):
    kind = "objects"

    def __init__(self, loaded: LoadedSpec, options: MoverOptions | None = None) -> None:
        super().__init__(loaded, options)
        self.buckets = [bucket.name for bucket in loaded.spec.buckets]
        self.dir = state_root() / "data" / loaded.spec.service.name / "objects"

    # -- the hooks -------------------------------------------------------------------------------
    def preflight(self) -> list[Finding]:
        fleet = Fleet.of(self.loaded)
        findings: list[Finding] = []
        for host in fleet.hosts:
            try:
                with fleet.connect(host) as client:
                    from toolkit import ssh

                    probe = ssh.run(client, "python3 -c 'import boto3'")
                    if probe.status != 0:
                        findings.append(Finding("error", host.name, "python3 with boto3 is missing "
                                                "(the copy runs there): apt-get install python3-boto3"))
            except CheckFailed as error:
                findings.append(Finding("error", host.name, str(error)))
        if any(f.severity == "error" for f in findings):
            return findings
        outcomes = self._on_hosts(fleet, {"mode": "preflight"}, fleet.hosts[:1])
        for outcome in outcomes.values():
            if outcome.error is not None:
                findings.append(Finding("error", "objects", str(outcome.error)))
            for record in outcome.records:
                if record.get("type") == "finding":
                    findings.append(Finding(record["severity"], record["subject"], record["message"]))
        return findings

    def start(self, run: Run) -> None:
        """The initial pass; after a crash the next one copies only what no manifest proves yet."""
        with run.step("objects.copy", resumable=True):
            self._pass(run, "objects.copy", delete=False)

    def resync(self, run: Run, *, delete: bool = False) -> dict[str, Any]:
        """The incremental pass (the cutover's final delta): only what is new or changed since the
        manifest; with ``delete`` also what the source no longer has. Returns the pass's state."""
        with run.step("objects.resync", resumable=True):
            return self._pass(run, "objects.resync", delete=delete)

    def status(self) -> dict[str, Any]:
        state = self._read_state()
        if not state:
            return {"state": "not started"}
        if state["state"] == "copying" and run_state(runs_root() / state["run"]) != "running":
            state["state"] = "interrupted"  # its run died: the next replicate continues the pass
        return state

    def verify(self) -> Verification:
        fleet = Fleet.of(self.loaded)
        known = self._manifest_path()
        outcomes = self._on_hosts(fleet, {"mode": "verify"}, fleet.hosts, known=known)
        result = Verification(kind=self.kind, proves=PROVES)
        totals = {"source_objects": 0, "target_objects": 0, "read_back": 0}
        for name, outcome in outcomes.items():
            if outcome.error is not None:
                result.differences.append(Difference(name, f"could not verify its shard: {outcome.error}"))
            for record in outcome.records:
                if record.get("type") == "mismatch":
                    name = f"s3://{record['bucket']}/{record['key']}"
                    result.differences.append(Difference(name, record["message"]))
            done = outcome.last("done")
            for key in totals:
                totals[key] += int(done.get(key, 0))
        result.compared = {**totals, "buckets": self.buckets, "hosts": len(fleet.hosts),
                           "manifest_entries": sum(1 for _ in manifest.read(known))}
        return result

    def stop(self) -> list[str]:
        """Removes the source's change feed (``feed.py``), ends a worker still running, aborts the
        copy's unfinished uploads, removes the work directory (worker, job and manifest files) from
        every objects host. Copied objects stay."""
        from toolkit.data.objects.feed import ChangeFeed

        fleet = Fleet.of(self.loaded)
        removed = ChangeFeed(self.loaded).close()
        for host in fleet.hosts:
            with fleet.connect(host) as client:
                if not fleet.has_workdir(client):
                    continue
                if fleet.stop_worker(client):
                    removed.append(f"{host.name}: a running object worker")
                fleet.ship(client)
                for record in fleet.run_job(client, host, self._job({"mode": "cleanup"})):
                    if record.get("type") == "done":
                        removed += [f"{host.name}: {what}" for what in record.get("aborted", [])]
                fleet.remove_workdir(client)
                removed.append(f"{host.name}: ~/{fleet.workdir} (worker, manifests)")
        if removed and self._read_state():
            self._write_state({**self._read_state(), "state": "stopped"})
        return removed

    # -- one pass --------------------------------------------------------------------------------
    def _pass(self, run: Run, step: str, *, delete: bool, spare_target: bool = False) -> dict[str, Any]:
        fleet = Fleet.of(self.loaded)
        state = self._begin(run, step.split(".")[1], fleet)
        started = time.monotonic()
        totals: dict[str, dict[str, int]] = {}

        def progress(host: ObjectHost, record: dict[str, Any]) -> None:
            if record.get("type") != "progress":
                return
            totals[host.name] = record
            done = sum(r["bytes"] for r in totals.values())
            total = sum(r["total_bytes"] for r in totals.values())
            seconds = max(time.monotonic() - started, 1e-3)
            rate = done / seconds
            listing = any(r.get("listing") for r in totals.values())  # the total still grows: no ETA
            run.progress(step, done=done, total=total, unit="bytes", rate=round(rate),
                         eta=round((total - done) / rate, 1) if rate > 0 and not listing else None,
                         objects=sum(r["objects"] for r in totals.values()),
                         total_objects=sum(r["total_objects"] for r in totals.values()))

        job = {"mode": "copy", "delete": delete, "spare_target": spare_target}
        jobs = self._launch(fleet, job, fleet.hosts, known=self._manifest_path(), fetch_manifest=True)
        return self.conclude(run, step, fleet, jobs.wait(progress), state, started)

    def follow(self, run: Run, *, events: bool = True) -> Follower:
        """Start the ``follow`` mode on every objects host (``remote/follow.py``): passes one after
        another, with deletions, until ``Follower.finish``; the follower's passes are the state's.
        Without ``events`` (or when the source's change feed cannot be opened) each pass lists
        the buckets."""
        from toolkit.data.objects.feed import ChangeFeed
        from toolkit.data.objects.follower import Follower

        fleet = Fleet.of(self.loaded)
        feed = ChangeFeed(self.loaded)
        if events:
            try:
                feed.open()  # before the workers' first listing: every change after it is an event
            except (BotoCoreError, ClientError) as error:
                run.note(f"objects: no change events from the source ({error}); the passes list the buckets",
                         step="objects.follow")
                events = False
        state = self._begin(run, "follow", fleet)
        jobs = self._launch(fleet, {"mode": "follow", "delete": True, "events": events},
                            fleet.hosts, known=self._manifest_path(), fetch_manifest=True)
        return Follower(self, fleet, jobs, state, feed if events else None)

    def reconcile(self, run: Run) -> dict[str, Any]:
        """A listing pass once writes are open on the target: copies what the source has and the
        target never had, deletes what the source deleted and the target still holds as copied
        (what change events missed: S3 sends them at least once, not always at once, and a feed
        closed after a crash missed what happened meanwhile); never undoes a write of the target's."""
        with run.step("objects.reconcile", resumable=True):
            return self._pass(run, "objects.reconcile", delete=True, spare_target=True)

    def _begin(self, run: Run, kind: str, fleet: Fleet) -> dict[str, Any]:
        state: dict[str, Any] = {"state": "copying", "run": run.id, "pass": kind, "started_at": time.time(),
                                 "hosts": {}}
        aws = self.loaded.spec.targets.aws
        cap = aws.s3_requests_per_second if aws is not None else None
        if cap:  # said, so that an operator who sees a slow pass knows why
            state["source_requests_per_second"] = cap
            run.note(f"objects: requests to the source S3 paced at {cap:g} a second "
                     f"(targets.aws.s3_requests_per_second), {cap / len(fleet.hosts):g} per objects host",
                     step=f"objects.{kind}")
        self._write_state(state)
        return state

    def conclude(self, run: Run, step: str, fleet: Fleet, outcomes: dict[str, HostOutcome],
                 state: dict[str, Any], started: float) -> dict[str, Any]:
        """A pass's end: the shards' manifests made one (kept only if every shard is complete),
        the state and the run's measures written; ``CopyIncomplete`` naming what failed."""
        shards = [self._shard_path(host) for host in fleet.hosts]
        merged = manifest.merge(*(manifest.read(path) for path in shards if path.is_file()))
        failures: list[str] = []
        for host in fleet.hosts:
            outcome = outcomes[host.name]
            done = outcome.last("done")
            state["hosts"][host.name] = {
                "shard": host.shard, "copied": done.get("copied", 0),
                "copied_bytes": done.get("copied_bytes", 0), "kept": done.get("kept", 0),
                "deleted": done.get("deleted", 0),
                "max_rss_kb": done.get("max_rss_kb"), "checksums": done.get("checksums"),
                "seconds": outcome.last("exit").get("seconds")}
            if outcome.error is not None:
                failures.append(f"{host.name}: {outcome.error}")
            failures += [f"s3://{f['bucket']}/{f['key']}: {f['message']}" for f in done.get("failed", [])]
        complete = not failures
        if complete:
            manifest.write(self._manifest_path(), merged.values())
            self._forget_progress(fleet)  # the manifest proves it all now
        for path in shards:
            path.unlink(missing_ok=True)
        hosts = state["hosts"]
        state.update({
            "state": "copied" if complete else "failed", "ended_at": time.time(),
            "seconds": round(time.monotonic() - started, 3),
            "objects": len(merged), "bytes": sum(e.size for e in merged.values()),
            "copied": sum(h["copied"] for h in hosts.values()),
            "copied_bytes": sum(h["copied_bytes"] for h in hosts.values()),
            "kept": sum(h["kept"] for h in hosts.values()),
            "deleted": sum(h["deleted"] for h in hosts.values()),
            "failures": failures[:50]})
        self._write_state(state)
        run.measure(step, **{k: state[k] for k in ("objects", "bytes", "copied", "copied_bytes", "kept",
                                                    "deleted", "seconds")},
                    max_rss_kb=max((h["max_rss_kb"] or 0) for h in hosts.values()))
        if not complete:
            raise CopyIncomplete(f"{len(failures)} object(s) or host(s) failed: " + "; ".join(failures[:5]))
        return state

    def _on_hosts(self, fleet: Fleet, job: dict[str, Any], hosts: list[ObjectHost], *,
                  known: Path | None = None) -> dict[str, HostOutcome]:
        return self._launch(fleet, job, hosts, known=known).wait()

    def _launch(self, fleet: Fleet, job: dict[str, Any], hosts: list[ObjectHost], *,
                known: Path | None = None, fetch_manifest: bool = False) -> HostJobs:
        """Start ``job`` on ``hosts`` side by side, each with its shard of the manifest ``known``;
        with ``fetch_manifest`` each shard's resulting manifest is brought back once it ends."""
        full = self._job(job)

        def work(host: ObjectHost, jobs: HostJobs) -> None:
            from toolkit import ssh

            with fleet.connect(host) as client:
                fleet.stop_worker(client)
                fleet.ship(client)
                host_job = {**full, "source": paced(full["source"], host)}
                if known is not None and known.is_file():
                    mine = [e for e in manifest.read(known)
                            if shard_of(e.bucket, e.key, host.shards) == host.shard]
                    ssh.write_private(client, f"{fleet.workdir}/known.jsonl",
                                      "".join(e.to_line() + "\n" for e in mine).encode())
                    host_job["known"] = "known.jsonl"
                for record in fleet.run_job(client, host, host_job, started=lambda s: jobs.attach(host, s)):
                    jobs.put(host, record)
                if fetch_manifest:
                    data = ssh.read_remote(client, f"{fleet.workdir}/shard-{host.shard}.manifest.jsonl")
                    self._shard_path(host).write_bytes(data)

        return HostJobs(hosts, work)

    def _job(self, job: dict[str, Any]) -> dict[str, Any]:
        """The job with both stores' endpoints and credentials (revealed here, for the 0600 job file)."""
        spec = self.loaded.spec
        aws, bare = spec.targets.aws, spec.targets.baremetal
        if aws is None or bare is None:
            raise BadInput(f"{self.loaded.path}: objects are copied from targets.aws to targets.baremetal; "
                           "both must be set")
        base = self.loaded.base_dir
        source: dict[str, Any] = {"endpoint": aws.endpoint, "region": aws.region,
                                  "requests_per_second": aws.s3_requests_per_second}
        if aws.credentials is not None:
            source["access_key"] = aws.credentials.access_key_id.resolve(base).reveal().strip()
            source["secret_key"] = aws.credentials.secret_access_key.resolve(base).reveal().strip()
        store = bare.object_store
        endpoint = store.endpoint or self._default_endpoint(store.port)
        target = {"endpoint": endpoint, "region": aws.region,
                  "access_key": store.access_key.resolve(base).reveal().strip(),
                  "secret_key": store.secret_key.resolve(base).reveal().strip()}
        return {**job, "buckets": self.buckets, "source": source, "target": target}

    def _default_endpoint(self, port: int) -> str:
        first = Fleet.of(self.loaded).hosts[0].inventory
        return f"http://{first.service_address or first.address}:{port}"

    def _forget_progress(self, fleet: Fleet) -> None:
        from toolkit import ssh

        for host in fleet.hosts:
            with fleet.connect(host) as client:
                ssh.run(client, f"rm -f {fleet.workdir}/shard-{host.shard}.progress.jsonl "
                                f"{fleet.workdir}/shard-{host.shard}.manifest.jsonl")

    # -- files on this side ----------------------------------------------------------------------
    def _manifest_path(self) -> Path:
        return self.dir / MANIFEST

    def _shard_path(self, host: ObjectHost) -> Path:
        self.dir.mkdir(parents=True, exist_ok=True)
        return self.dir / f"shard-{host.shard}.jsonl"

    def _read_state(self) -> dict[str, Any]:
        path = self.dir / STATE
        return json.loads(path.read_text()) if path.is_file() else {}

    def _write_state(self, state: dict[str, Any]) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.dir / f".{STATE}.tmp"
        tmp.write_text(json.dumps(state, indent=1))
        tmp.replace(self.dir / STATE)


def paced(source: dict[str, Any], host: ObjectHost) -> dict[str, Any]:
    """The job's source with ``host``'s share of the spec's cap on requests to it: the shards copy
    side by side, so each takes an equal part."""
    rate = source.get("requests_per_second")
    return {**source, "requests_per_second": rate / host.shards} if rate else source
