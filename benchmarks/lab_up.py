"""How long `toolkit lab up` takes, cold (image build) and warm (image cached), and its peak memory.

    sudo .venv/bin/python benchmarks/lab_up.py [--hosts 5] [--keep-cache]

Cold runs in a throwaway state directory (``TOOLKIT_STATE_DIR``), so the image is built from
nothing (debootstrap from deb.debian.org); warm runs again in the same directory. Memory is the
peak, over the run, of the summed PSS (proportional set size: shared pages split fairly) of
every process in ``lab up``'s process tree, which includes the booted hosts and moto, sampled
every 0.25 s; also the largest single child's maximum RSS from getrusage.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path


def _parents() -> dict[int, int]:
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    return parents


def _pss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_pss_kib(root: int) -> int:
    parents = _parents()
    tree, frontier = {root}, [root]
    while frontier:
        current = frontier.pop()
        for pid, parent in parents.items():
            if parent == current and pid not in tree:
                tree.add(pid)
                frontier.append(pid)
    return sum(_pss_kib(pid) for pid in tree)


def timed_up(name: str, hosts: int, env: dict[str, str]) -> tuple[float, int, dict[str, object]]:
    """Run `lab up`; return (seconds, peak PSS of its tree in KiB, status)."""
    start = time.monotonic()
    argv = [sys.executable, "-m", "toolkit", "lab", "up", "--name", name, "--hosts", str(hosts), "--json"]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_pss_kib(proc.pid))
            time.sleep(0.25)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, _ = proc.communicate()
    elapsed = time.monotonic() - start
    done.set()
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"lab up failed with exit {proc.returncode}")
    return elapsed, peak, json.loads(out)


def down(name: str, env: dict[str, str]) -> float:
    start = time.monotonic()
    subprocess.run([sys.executable, "-m", "toolkit", "lab", "down", "--name", name], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    return time.monotonic() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=5)
    parser.add_argument("--name", default="bench")
    parser.add_argument("--keep-cache", action="store_true", help="keep the throwaway state dir")
    args = parser.parse_args()
    state = Path(tempfile.mkdtemp(prefix="toolkit-bench-"))
    env = {**os.environ, "TOOLKIT_STATE_DIR": str(state)}
    try:
        cold, cold_pss, status = timed_up(args.name, args.hosts, env)
        assert status["healthy"], status
        cold_down = down(args.name, env)
        warm, warm_pss, status = timed_up(args.name, args.hosts, env)
        assert status["healthy"], status
        warm_down = down(args.name, env)
    finally:
        subprocess.run([sys.executable, "-m", "toolkit", "lab", "down", "--name", args.name], env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not args.keep_cache:
            shutil.rmtree(state, ignore_errors=True)
    max_child_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    runs = (("cold (image build)", cold, cold_pss), ("warm (image cached)", warm, warm_pss))
    for label, seconds, pss in runs:
        print(f"lab up --hosts {args.hosts}, {label:<20} {seconds:7.1f} s   peak PSS {pss / 1024:6.0f} MiB")
    print(f"lab down: {cold_down:.1f} s and {warm_down:.1f} s")
    print(f"largest single child, max RSS: {max_child_rss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
