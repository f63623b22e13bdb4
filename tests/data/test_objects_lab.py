"""The object copy on the lab's real parts: moto's S3 as the source, SeaweedFS on the objects hosts.

Each test starts from the standby target (``lab_standby``: the store up, its buckets empty), seeds
the source bucket with exactly the objects it needs, and marks the lab changed afterwards.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.baremetal.labspec import derived_spec
from tests.data.objects_lab import (
    BUCKET,
    Seeded,
    assert_target_holds,
    fresh_source,
    small_objects,
    source_objects,
    target_client,
    tricky_objects,
    wait_for_s3,
)
from tests.fixtures.lab import lab_run
from tests.fixtures.lab_states import LabStates, hosts_in, secret
from toolkit import interface
from toolkit.data.objects import ObjectMover
from toolkit.data.replication import PreflightRefused
from toolkit.runs import Run
from toolkit.spec import load_spec

pytestmark = [pytest.mark.lab, pytest.mark.timeout(900)]
WORKDIR = ".toolkit-objects/refservice"


@pytest.fixture
def standby(lab_standby: dict[str, Any], lab_states: LabStates) -> Iterator[dict[str, Any]]:
    """The standby lab; the source bucket (the shared lab's app data) is put back afterwards, and
    what the tests' passes left on either side is removed."""
    saved = source_objects(lab_standby)
    yield lab_standby
    fresh_source(lab_standby, saved)
    interface.stop_replication("baremetal", lab_standby["spec"])
    lab_states.changed()


def mover(spec: Path | str) -> ObjectMover:
    return ObjectMover(load_spec(spec))


def objects_status(spec: Path | str) -> dict[str, Any]:
    return interface.replication_status("baremetal", spec)["objects"]


def objects_verification(spec: Path | str) -> Any:
    """The objects' part of ``verify`` (the database's is the other mover's)."""
    return next(r for r in interface.verify_data("baremetal", spec) if r.kind == "objects")


def differences(spec: Path | str) -> dict[str, str]:
    result = objects_verification(spec)
    return {d.subject: d.message for d in result.differences}


def test_tricky_objects_arrive_exactly_survive_a_restart_and_tampering_is_named(
        standby: dict[str, Any]) -> None:
    lab, spec = standby, standby["spec"]
    objects = tricky_objects(multipart=True)
    fresh_source(lab, objects)
    watched = WatchProcesses(lab, hosts_in(lab, "objects")[0],
                             [secret(lab, name) for name in ("aws_secret_access_key", "objects_secret_key")])
    with watched:
        result = interface.replicate("baremetal", spec)
    status = result.status["objects"]
    assert status["state"] == "copied" and status["objects"] == len(objects) == status["copied"]
    assert status["bytes"] == sum(len(s.body) for s in objects.values())
    [host] = status["hosts"].values()
    assert host["checksums"] == "sha256"  # SeaweedFS verifies x-amz-checksum-sha256: the probe found it
    assert watched.samples > 0 and watched.seen == [], "a secret showed in a process's command line"
    assert_target_holds(lab, objects)
    assert differences(spec) == {}
    # Nothing with a key is left on the host: the job file went as soon as the worker read it.
    left = lab_run(lab, hosts_in(lab, "objects")[0], f"ls -A {WORKDIR}").stdout.split()
    assert left and not [name for name in left if name.startswith("job")], left

    # The store keeps bytes, Content-Type and metadata across a restart.
    store = hosts_in(lab, "objects")[0]
    assert lab_run(lab, store, "sudo systemctl restart refservice-objects").status == 0
    wait_for_s3(target_client(lab), "big/object-0.bin")
    assert_target_holds(lab, objects)

    # An object changed behind the target's back, in place and with the same size, is named.
    key = "hash#fragment"
    target = target_client(lab)
    forged = bytes(reversed(objects[key].body))
    target.put_object(Bucket=BUCKET, Key=key, Body=forged, ContentType=objects[key].content_type,
                      Metadata=objects[key].metadata)
    found = differences(spec)
    assert list(found) == [f"s3://{BUCKET}/{key}"], found

    # --stop removes the work directory, never the copied objects; a second --stop finds nothing.
    removed = interface.stop_replication("baremetal", spec)["objects"]
    assert any(WORKDIR in line for line in removed)
    assert lab_run(lab, store, f"test -e {WORKDIR}").status != 0
    assert interface.stop_replication("baremetal", spec)["objects"] == []
    assert len(target.list_objects_v2(Bucket=BUCKET)["Contents"]) == len(objects)


def test_resync_copies_only_what_changed_and_deletes_only_when_asked(standby: dict[str, Any]) -> None:
    lab, spec = standby, standby["spec"]
    objects = small_objects(30)
    source = fresh_source(lab, objects)
    interface.replicate("baremetal", spec)
    changed, added, deleted = "small/00003.txt", "new/arrival.txt", "small/00007.txt"
    objects[changed] = Seeded(b"changed on the source", "text/markdown", {"rev": "2"})
    objects[added] = Seeded(b"a new one", "text/plain", {"rev": "1"})
    for key in (changed, added):
        seeded = objects[key]
        source.put_object(Bucket=BUCKET, Key=key, Body=seeded.body, ContentType=seeded.content_type,
                          Metadata=seeded.metadata)
    source.delete_object(Bucket=BUCKET, Key=deleted)
    gone = objects.pop(deleted)
    assert set(differences(spec)) == {f"s3://{BUCKET}/{k}" for k in (changed, added, deleted)}

    with Run.start("test-resync") as run:
        state = mover(spec).resync(run)
    assert (state["copied"], state["kept"], state["deleted"]) == (2, 28, 0)  # 30 less changed and deleted
    assert differences(spec) == {f"s3://{BUCKET}/{deleted}": "deleted on the source, still on the target"}
    assert_target_holds(lab, {**objects, deleted: gone})

    with Run.start("test-resync") as run:
        state = mover(spec).resync(run, delete=True)
    assert (state["copied"], state["deleted"]) == (0, 1)
    assert differences(spec) == {}
    assert_target_holds(lab, objects)

    # The target loses an object behind the manifest (a store rebuilt, a host restored): the next
    # pass sees it missing on the target and copies it again rather than trusting the manifest.
    lost = "small/00011.txt"
    target_client(lab).delete_object(Bucket=BUCKET, Key=lost)
    assert differences(spec) == {f"s3://{BUCKET}/{lost}": "missing on the target"}
    with Run.start("test-resync") as run:
        state = mover(spec).resync(run)
    assert (state["copied"], state["kept"]) == (1, len(objects) - 1)
    assert differences(spec) == {}
    assert_target_holds(lab, objects)


def test_two_object_hosts_share_the_work_into_one_manifest(standby: dict[str, Any], tmp_path: Path) -> None:
    lab = standby
    inventory = yaml.safe_load(Path(lab["inventory"]).read_text())
    groups = inventory["all"]["children"]
    second = next(host for host in groups["app"]["hosts"] if host not in groups["objects"]["hosts"])
    groups["objects"]["hosts"][second] = dict(groups["app"]["hosts"][second])
    spec = derived_spec(Path(lab["spec"]), tmp_path, inventory=inventory)
    objects = {**small_objects(200), **tricky_objects(big=1)}
    fresh_source(lab, objects)
    status = interface.replicate("baremetal", spec).status["objects"]
    hosts = status["hosts"]
    assert set(hosts) == {hosts_in(lab, "objects")[0], second}
    assert all(host["copied"] > 0 for host in hosts.values()), hosts  # both did work
    assert sum(host["copied"] for host in hosts.values()) == len(objects) == status["objects"]
    assert {host["shard"] for host in hosts.values()} == {0, 1}
    assert_target_holds(lab, objects)
    result = objects_verification(spec)
    assert result.ok and result.compared["manifest_entries"] == len(objects), result.differences
    assert result.compared["read_back"] == len(objects)


def test_an_interrupted_copy_resumes_without_copying_again(standby: dict[str, Any]) -> None:
    lab, spec = standby, standby["spec"]
    big = {key: seeded for key, seeded in tricky_objects(big=3).items() if key.startswith("big/")}
    objects = {**small_objects(1500), **big}
    fresh_source(lab, objects)
    store = hosts_in(lab, "objects")[0]
    first = subprocess.Popen([sys.executable, "-m", "toolkit", "replicate", "--to", "baremetal",
                              "--spec", spec], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    proven = 0
    deadline = time.monotonic() + 120
    while proven < 100 and first.poll() is None and time.monotonic() < deadline:
        counted = lab_run(lab, store, f"cat {WORKDIR}/shard-0.progress.jsonl 2>/dev/null | wc -l").stdout
        proven = int(counted.strip() or 0)
    assert first.poll() is None, "the copy ended before it could be interrupted"
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert 100 <= proven < len(objects)
    assert objects_status(spec)["state"] == "interrupted"

    result = interface.replicate("baremetal", spec)
    assert result.resumed
    status = result.status["objects"]
    assert status["kept"] >= proven and status["copied"] + status["kept"] == len(objects)
    assert status["copied"] < len(objects)
    assert differences(spec) == {}
    assert_target_holds(lab, objects)


def test_preflight_refuses_a_key_the_store_would_empty(standby: dict[str, Any]) -> None:
    lab, spec = standby, standby["spec"]
    fresh_source(lab, {"reports/": Seeded(b"not a folder marker", "text/plain"),
                       "ok.txt": Seeded(b"x", "text/plain")})
    with pytest.raises(PreflightRefused) as refused:
        interface.replicate("baremetal", spec)
    assert f"s3://{BUCKET}/reports/" in str(refused.value)
    assert lab_run(lab, hosts_in(lab, "objects")[0], f"test -e {WORKDIR}/shard-0.progress.jsonl").status != 0
    assert "Contents" not in target_client(lab).list_objects_v2(Bucket=BUCKET)


class WatchProcesses:
    """Samples every command line on ``host`` while the block runs, looking for ``secrets``."""

    def __init__(self, lab: dict[str, Any], host: str, secrets: list[str]) -> None:
        self.lab, self.host, self.secrets = lab, host, secrets
        self.samples = 0
        self.seen: list[str] = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> WatchProcesses:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self.thread.join()

    def _watch(self) -> None:
        from tests.fixtures.lab import lab_ssh
        from toolkit import ssh

        client = lab_ssh(self.lab, self.host)
        try:
            while not self.stopped.is_set():
                lines = ssh.run(client, "ps -eo args --no-headers").stdout
                self.samples += 1
                self.seen += [line for line in lines.splitlines() if any(s in line for s in self.secrets)]
        finally:
            client.close()
