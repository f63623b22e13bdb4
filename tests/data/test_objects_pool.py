"""The copy spread over processes: every object arrives once, proven, from two moto servers."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest

from tests.fixtures.moto import MOTO_CREDENTIALS, running_moto
from toolkit.data.objects.remote import store, transfer, worker
from toolkit.data.objects.remote.pool import CopyPool

BUCKET = "pool-bucket"


def side(url: str) -> dict[str, Any]:
    return {"endpoint": url, "region": "us-east-1", "access_key": MOTO_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            "secret_key": MOTO_CREDENTIALS["AWS_SECRET_ACCESS_KEY"]}


@pytest.fixture(scope="module")
def stores() -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    with running_moto() as source, running_moto() as target:
        yield side(source), side(target)


def test_processes_copy_every_object_once_and_name_the_one_that_vanished(
        stores: tuple[dict[str, Any], dict[str, Any]]) -> None:
    source_side, target_side = stores
    source, target = store.client(source_side, 4), store.client(target_side, 4)
    source.create_bucket(Bucket=BUCKET)
    target.create_bucket(Bucket=BUCKET)
    bodies = {f"k/{i:03d}": hashlib.sha256(str(i).encode()).digest() * (1 + i % 50) for i in range(60)}
    bodies["k/large"] = bytes(range(256)) * 4096 * 12  # 12 MiB: in parts below
    for key, body in bodies.items():
        source.put_object(Bucket=BUCKET, Key=key, Body=body, Metadata={"n": key})
    items = worker.listing(source, BUCKET)
    source.delete_object(Bucket=BUCKET, Key="k/007")  # after the listing, as a serving source does
    pool = CopyPool(lambda: (store.Store(source_side, 4), store.Store(target_side, 4)),
                    transfer.Settings(threshold=8 * 1024 * 1024, min_part=5 * 1024 * 1024),
                    processes=2, threads=5)
    with pool:
        outcomes = list(pool.copy(items[:30]))
        outcomes += pool.copy(items[30:])  # the same processes, warm, take the next batch
    assert sorted(o.listed.key for o in outcomes) == sorted(bodies)
    vanished = [o.listed.key for o in outcomes if o.vanished]
    assert vanished == ["k/007"]
    assert [o.error for o in outcomes if o.entry is None and not o.vanished] == []
    for outcome in outcomes:
        if outcome.entry is not None:
            assert outcome.entry.sha256 == hashlib.sha256(bodies[outcome.listed.key]).hexdigest()
            got = target.get_object(Bucket=BUCKET, Key=outcome.listed.key)
            assert got["Body"].read() == bodies[outcome.listed.key]
    assert pool.processes == 2 and pool.children_max_rss_kb > 0
