"""The object copy's pure parts: sharding, multipart sizing and the manifest's plan and comparison."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from toolkit.data.objects.remote import manifest, parts
from toolkit.data.objects.remote.manifest import Entry, Listed
from toolkit.data.objects.remote.sharding import shard_of

MIB = parts.MIB


@given(st.text(min_size=1), st.text(), st.integers(min_value=1, max_value=64))
def test_a_key_has_one_shard_in_range(bucket: str, key: str, shards: int) -> None:
    shard = shard_of(bucket, key, shards)
    assert 0 <= shard < shards
    assert shard == shard_of(bucket, key, shards)


def test_shards_are_stable_across_hosts_and_spread_the_keys() -> None:
    # Every host computes the same shard: the function is SHA-256 of bucket NUL key, modulo hosts.
    digest = hashlib.sha256("refservice-files\0ünï/+%#?".encode()).digest()
    assert shard_of("refservice-files", "ünï/+%#?", 7) == int.from_bytes(digest[:8], "big") % 7
    counts = [0, 0, 0]
    for i in range(3000):
        counts[shard_of("bucket", f"key-{i}", 3)] += 1
    assert all(800 < count < 1200 for count in counts), counts
    with pytest.raises(ValueError):
        shard_of("b", "k", 0)


@pytest.mark.parametrize(("size", "expected"), [
    (0, 8 * MIB), (17 * MIB, 8 * MIB), (80_000 * MIB, 8 * MIB),  # 10,000 parts of 8 MiB
    (80_000 * MIB + 1, 9 * MIB), (1024 * 1024 * MIB, 105 * MIB), (parts.MAX_OBJECT_SIZE, 525 * MIB),
])
def test_part_size_fits_every_object_in_ten_thousand_parts(size: int, expected: int) -> None:
    part = parts.part_size(size)
    assert part == expected
    assert parts.part_count(size, part) <= parts.MAX_PARTS
    assert part % MIB == 0


def test_multipart_only_above_the_threshold_and_sizes_are_checked() -> None:
    assert not parts.is_multipart(parts.MULTIPART_THRESHOLD)
    assert parts.is_multipart(parts.MULTIPART_THRESHOLD + 1)
    assert parts.part_count(17 * MIB, 8 * MIB) == 3 and parts.part_count(0, 8 * MIB) == 1
    for bad in (-1, parts.MAX_OBJECT_SIZE + 1):
        with pytest.raises(ValueError):
            parts.part_size(bad)


JAN = "2026-01-01T00:00:00+00:00"


def listed(key: str, etag: str = '"e1"', size: int = 3, modified: str = JAN) -> Listed:
    return Listed("b", key, size, etag, modified)


def entry(key: str, etag: str = '"e1"', size: int = 3, modified: str = JAN) -> Entry:
    return Entry("b", key, size, "ab" * 32, "text/plain", {"m": "1"}, etag, modified, None, '"t1"')


def on_target(*keys: str, etag: str = '"t1"') -> list[Listed]:
    return [Listed("b", key, 3, etag, "x") for key in keys]


def test_plan_copies_only_what_the_manifest_does_not_prove() -> None:
    known = manifest.merge([entry("same"), entry("etag"), entry("size"), entry("touched"), entry("gone")])
    plan = manifest.plan([listed("same"), listed("etag", etag='"e2"'), listed("size", size=4),
                          listed("touched", modified="2026-02-01T00:00:00+00:00"), listed("new")], known,
                         on_target("same", "etag", "size", "touched", "gone"))
    assert [item.key for item in plan.copy] == ["etag", "size", "touched", "new"]
    assert [item.key for item in plan.keep] == ["same"]
    assert [item.key for item in plan.gone] == ["gone"]


def test_plan_copies_again_what_the_target_lost_or_changed_behind_the_manifest() -> None:
    # The target store was emptied or rebuilt since the manifest was written: the manifest alone
    # would prove objects that are not there (a migration once served 571 of 1,258 objects so).
    known = manifest.merge([entry("kept"), entry("lost"), entry("tampered")])
    source = [listed("kept"), listed("lost"), listed("tampered")]
    plan = manifest.plan(source, known, [*on_target("kept"), *on_target("tampered", etag='"t2"')])
    assert [item.key for item in plan.copy] == ["lost", "tampered"]
    assert [item.key for item in plan.keep] == ["kept"]
    assert [item.key for item in manifest.plan(source, known, []).copy] == ["kept", "lost", "tampered"]


def test_compare_names_every_kind_of_difference() -> None:
    known = manifest.merge([entry(k) for k in ("ok", "changed-source", "missing", "tampered", "deleted")])
    source = [listed("ok"), listed("changed-source", etag='"e9"'), listed("missing"), listed("tampered"),
              listed("never-copied")]
    target = [Listed("b", "ok", 3, '"t1"', "x"), Listed("b", "changed-source", 3, '"t1"', "x"),
              Listed("b", "tampered", 3, '"t2"', "x"), Listed("b", "deleted", 3, '"t1"', "x"),
              Listed("b", "stranger", 1, '"t3"', "x")]
    found = {m.key: m.message for m in manifest.compare(source, target, known)}
    assert set(found) == {"changed-source", "missing", "tampered", "deleted", "never-copied", "stranger"}
    assert "behind the copy's back" in found["tampered"]
    assert found["missing"] == "missing on the target"
    assert found["deleted"] == "deleted on the source, still on the target"
    assert found["stranger"] == "on the target only"
    assert found["never-copied"] == "on the source, never copied"


def test_manifest_round_trip_skips_a_torn_line_and_later_entries_win(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    manifest.write(path, [entry("b"), entry("a")])
    assert [e.key for e in manifest.read(path)] == ["a", "b"]  # sorted: one manifest, one order
    with path.open("a") as handle:
        handle.write(json.dumps({"bucket": "b", "key": "a", "size": 9})[:-5])  # a killed writer's last line
    assert [e.key for e in manifest.read(path)] == ["a", "b"]
    merged = manifest.merge(manifest.read(path), [entry("a", etag='"new"')])
    assert merged[("b", "a")].source_etag == '"new"' and len(merged) == 2
    assert list(manifest.read(tmp_path / "absent.jsonl")) == []
