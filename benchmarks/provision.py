"""Provisioning time of the lab's bare-metal hosts: check mode when blank, cold, no-op re-runs, check mode.

    sudo .venv/bin/python benchmarks/provision.py [--lab NAME] [--hosts 5] [--repeat N] [--keep] [--json]

Brings up a fresh lab (the named one is torn down first), measures, and tears it down unless
--keep. The no-op re-run and check mode on the provisioned hosts are run --repeat times (the
median is the figure, the spread is shown); the ratios to the cold run are printed beside them.

Beside wall time, each run's CPU time is reported: the controller's (ansible-playbook, its
workers and SSH clients) and the lab hosts' (their cgroups). On a shared machine wall time moves
with the neighbours' load; CPU time much less, so it shows whether work was saved.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from toolkit import interface
from toolkit.lab.record import RECORD, LabRecord, lab_dir
from toolkit.spec import load_spec
from toolkit.targets.baremetal.provision import provision_baremetal

RUNS = (("check_blank", {"check": True}, False), ("cold", {}, False), ("noop_rerun", {}, True),
        ("check_provisioned", {"check": True}, True))
LABELS = {"check_blank": "check mode, blank hosts", "cold": "cold run", "noop_rerun": "no-op re-run",
          "check_provisioned": "check mode, provisioned"}


def host_cpu_reader(lab: str) -> Callable[[], float] | None:
    """Seconds of CPU used so far by the lab's bare-metal hosts (cgroup v1 cpuacct or v2 cpu.stat)."""
    record = LabRecord.load(lab_dir(lab) / RECORD)
    if record is None:
        return None
    files: list[Path] = []
    for member in record.members:
        if member.side != "baremetal":
            continue
        candidates = [Path(c) / "cpuacct.usage" for c in member.cgroups if "cpuacct" in Path(c).parts]
        candidates += [Path(c) / "cpu.stat" for c in member.cgroups]  # cgroup v2: usage_usec
        found = next((path for path in candidates if path.is_file() and
                      (path.name == "cpuacct.usage" or "usage_usec" in path.read_text())), None)
        if found is not None:
            files.append(found)
    if not files:
        return None

    def read() -> float:
        total = 0.0
        for path in files:
            text = path.read_text()
            if path.name == "cpuacct.usage":
                total += int(text) / 1e9
            else:
                usage = dict(line.split() for line in text.splitlines())
                total += int(usage["usage_usec"]) / 1e6
        return total

    return read


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(spec: Path, hosts_cpu: Callable[[], float] | None, **kwargs: Any) -> dict[str, Any]:
    cpu0, host0, began = children_cpu(), hosts_cpu() if hosts_cpu else 0.0, time.monotonic()
    result = provision_baremetal(load_spec(spec), **kwargs)
    return {"s": time.monotonic() - began, "changed": result.summary.changed, "ok": result.ok,
            "controller_cpu_s": children_cpu() - cpu0,
            "hosts_cpu_s": hosts_cpu() - host0 if hosts_cpu else None}


def summarize(label: str, runs: list[dict[str, Any]], figures: dict[str, Any]) -> None:
    times = [run["s"] for run in runs]
    figures[f"{label}_s"] = round(statistics.median(times), 1)
    if len(runs) > 1:
        figures[f"{label}_runs_s"] = [round(t, 1) for t in times]
    figures[f"{label}_changed"] = max(run["changed"] for run in runs)
    for key in ("controller_cpu_s", "hosts_cpu_s"):
        values = [run[key] for run in runs if run[key] is not None]
        if values:
            figures[f"{label}_{key}"] = round(statistics.median(values), 1)


def report(figures: dict[str, Any]) -> list[str]:
    lines = [f"{figures['hosts']} hosts, lab up in {figures['lab_up_s']} s"]
    lines.append(f"{'run':<26}{'time':>9}  {'spread':<14}{'changed':>8}{'of cold':>9}{'cpu ctl+hosts':>16}")
    for label, _, _ in RUNS:
        if f"{label}_s" not in figures:
            continue
        runs = figures.get(f"{label}_runs_s")
        spread = f"{min(runs)}-{max(runs)} ({len(runs)}x)" if runs else ""
        ratio = figures.get(f"{label}_to_cold")
        ctl, hosts = figures.get(f"{label}_controller_cpu_s"), figures.get(f"{label}_hosts_cpu_s")
        cpu = f"{ctl}+{hosts} s" if ctl is not None and hosts is not None else ""
        changed = figures[f"{label}_changed"]
        lines.append(f"{LABELS[label]:<26}{figures[f'{label}_s']:>7} s  {spread:<14}{changed:>8}"
                     f"{'' if ratio is None else f'{ratio:.2f}':>9}{cpu:>16}")
    if "failed" in figures:
        lines.append(f"failed: {figures['failed']}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lab", default="bench-pb")
    parser.add_argument("--hosts", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of the no-op and of check mode on the provisioned hosts")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    interface.lab_down(args.lab)
    started = time.monotonic()
    lab: dict[str, Any] = interface.lab_up(args.lab, args.hosts)
    lab_up_s = time.monotonic() - started
    figures: dict[str, Any] = {"hosts": args.hosts, "lab_up_s": round(lab_up_s, 1)}
    try:
        spec = Path(lab["spec"])
        hosts_cpu = host_cpu_reader(args.lab)
        for label, kwargs, repeated in RUNS:
            runs = []
            for _ in range(max(1, args.repeat) if repeated else 1):
                runs.append(measure(spec, hosts_cpu, **kwargs))
                if not runs[-1]["ok"]:
                    break
            summarize(label, runs, figures)
            if not runs[-1]["ok"]:
                figures["failed"] = label
                break
        for label in ("noop_rerun", "check_provisioned"):
            if f"{label}_s" in figures and figures.get("cold_s"):
                figures[f"{label}_to_cold"] = round(figures[f"{label}_s"] / figures["cold_s"], 2)
    finally:
        if not args.keep:
            interface.lab_down(args.lab)
    print(json.dumps(figures, indent=2) if args.json else "\n".join(report(figures)))
    return 0 if "failed" not in figures else 1


if __name__ == "__main__":
    sys.exit(main())
