"""The worker's ``follow`` mode against two moto servers: passes until ``final``, then the last
one catches every change made before the word; a closed stdin stops it without a manifest."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.moto import running_moto
from toolkit.data.objects.remote import manifest, s3http, store, worker
from toolkit.data.objects.remote.manifest import Listed

from .test_objects_pool import side

BUCKET = "follow-bucket"


@pytest.fixture
def stores() -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    with running_moto() as source, running_moto() as target:
        yield side(source), side(target)


def start(stores: tuple[dict[str, Any], dict[str, Any]], workdir: Path,
          events: bool = False) -> subprocess.Popen[str]:
    job = {"mode": "follow", "delete": True, "buckets": [BUCKET], "source": stores[0], "target": stores[1],
           "shard": 0, "shards": 1, "workdir": str(workdir), "threads": 4, "processes": 2, "events": events}
    (workdir / "job.json").write_text(json.dumps(job))
    command = [sys.executable, "-m", "toolkit.data.objects.remote.worker", str(workdir / "job.json")]
    return subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def records_until(worker_process: subprocess.Popen[str], kind: str) -> list[dict[str, Any]]:
    assert worker_process.stdout is not None
    seen = []
    for line in worker_process.stdout:
        seen.append(json.loads(line))
        if seen[-1]["type"] == kind:
            return seen
    raise AssertionError(f"the worker ended without {kind}: {seen[-3:]}")


def contents(one: dict[str, Any]) -> dict[str, bytes]:
    s3 = store.client(one, 2)
    return {item.key: s3.get_object(Bucket=BUCKET, Key=item.key)["Body"].read()
            for item in worker.listing(s3http.from_side(one), BUCKET)}


@pytest.mark.parametrize("events", [False, True], ids=["listing", "events"])
def test_the_final_pass_catches_every_change_made_before_it_was_asked(
        stores: tuple[dict[str, Any], dict[str, Any]], tmp_path: Path, events: bool) -> None:
    source, target = store.client(stores[0], 4), store.client(stores[1], 4)
    source.create_bucket(Bucket=BUCKET)
    target.create_bucket(Bucket=BUCKET)
    for i in range(20):
        source.put_object(Bucket=BUCKET, Key=f"k/{i:02d}", Body=f"first {i}".encode())
    running = start(stores, tmp_path, events)
    first = records_until(running, "synced")[-1]
    assert (first["copied"], first["deleted"], first["objects"]) == (20, 0, 20)
    # Changes while it follows, then at once the word: the last pass must see them all.
    for i in range(20, 25):
        source.put_object(Bucket=BUCKET, Key=f"k/{i:02d}", Body=f"new {i}".encode())
    source.put_object(Bucket=BUCKET, Key="k/03", Body=b"changed")
    source.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": "k/05"}, {"Key": "k/06"}]})
    assert running.stdin is not None
    if events:  # the controller hands on what the source's events named: no listing
        changed = [[BUCKET, f"k/{i:02d}"] for i in (20, 21, 22, 23, 24, 3, 5, 6)]
        running.stdin.write("keys " + json.dumps(changed) + "\n")
    running.stdin.write("final\n")
    running.stdin.flush()
    done = records_until(running, "done")[-1]
    assert running.wait(timeout=60) == 0
    assert done["final"]["listed"] is not events
    assert (done["copied"], done["deleted"], done["failed"]) == (26, 2, [])
    assert contents(stores[1]) == contents(stores[0])
    assert len(contents(stores[0])) == 23
    proven = manifest.merge(manifest.read(tmp_path / "shard-0.manifest.jsonl"))
    assert sorted(key for _, key in proven) == sorted(contents(stores[0]))
    listed = {item.key: item for item in worker.listing(s3http.from_side(stores[0]), BUCKET)}
    assert all(entry.proves(listed[entry.key]) for entry in proven.values())
    assert not (tmp_path / "job.json").exists()  # the credentials' file is gone once read


def test_a_closed_stdin_stops_the_follower_without_a_manifest(
        stores: tuple[dict[str, Any], dict[str, Any]], tmp_path: Path) -> None:
    source, target = store.client(stores[0], 4), store.client(stores[1], 4)
    source.create_bucket(Bucket=BUCKET)
    target.create_bucket(Bucket=BUCKET)
    source.put_object(Bucket=BUCKET, Key="only", Body=b"x")
    running = start(stores, tmp_path)
    records_until(running, "synced")
    assert running.stdin is not None
    running.stdin.close()  # the controller is gone
    assert running.wait(timeout=60) == 0
    assert not (tmp_path / "shard-0.manifest.jsonl").exists()
    # What it proved is kept where the next pass resumes from.
    progress = list(manifest.read(tmp_path / "shard-0.progress.jsonl"))
    assert [entry.key for entry in progress] == ["only"]
    assert progress[0].proves(Listed(BUCKET, "only", 1, progress[0].source_etag,
                                     progress[0].source_last_modified))
