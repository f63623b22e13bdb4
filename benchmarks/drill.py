"""A drill's total time on the lab, and the plan's time with and without Ansible's check mode.

    sudo .venv/bin/python benchmarks/drill.py [--lab NAME] [--hosts 5] [--drills 2]

The lab has ``--hosts`` production hosts provisioned as a standby (what the gate plans against)
and one drill host. Printed:

- the plan (``toolkit plan --to baremetal``, the CI gate) timed as the CLI runs it, and again
  with the standby's Ansible check mode left out (the same process, its plan stubbed): the
  peer is the check mode alone, timed on its own. Goal: well under a minute with check mode.
- each drill's total time (``toolkit drill``: a drill host from blank, replication, the window,
  teardown) with its parts, against the peer every drill pays: provisioning the drill host as a
  standby (``provision --standby`` of the drill's spec, timed on its own on the host as a
  teardown leaves it, as every drill after the first finds it).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[0] = str(REPO)  # not benchmarks/: its dns.py would shadow dnspython's package

from toolkit import interface  # noqa: E402
from toolkit.drills.environment import drill_spec  # noqa: E402
from toolkit.drills.teardown import PLAYBOOK  # noqa: E402
from toolkit.lab.api import lab_dir  # noqa: E402
from toolkit.lab.record import RECORD, LabRecord  # noqa: E402
from toolkit.spec import load_spec  # noqa: E402
from toolkit.targets.baremetal.provision import provision_baremetal  # noqa: E402

TOOLKIT = [sys.executable, "-m", "toolkit"]


def ensure_lab(name: str, hosts: int) -> dict[str, Any]:
    record = LabRecord.load(lab_dir(name) / RECORD)
    if record is None or record.phase != "up" or record.drill_hosts != 1 or record.hosts != hosts:
        status = interface.lab_up(name, hosts, drill_hosts=1)
        result = provision_baremetal(load_spec(status["spec"]), standby=True)
        if not result.ok:
            sys.exit(f"provisioning the lab's standby failed: {result.summary_lines()}")
    return interface.lab_status(name)


def timed(what: str, call: Any) -> float:
    started = time.monotonic()
    call()
    seconds = time.monotonic() - started
    print(f"  {what:<44} {seconds:7.1f} s", flush=True)
    return seconds


def plan_times(spec: str) -> dict[str, float]:
    from toolkit.migration.steps.before import Standby

    def cli_plan() -> None:
        subprocess.run([*TOOLKIT, "plan", "--to", "baremetal", "--json", "--spec", spec], capture_output=True,
                       timeout=1800)  # exit 1 is a failed gate part: still a plan, timed

    def without_check() -> None:
        real = Standby.plan
        Standby.plan = lambda self, ctx: {"ansible_check": "left out"}  # type: ignore[method-assign]
        try:
            interface.plan_migration("baremetal", spec)
        finally:
            Standby.plan = real  # type: ignore[method-assign]

    print("plan (the CI gate)")
    return {
        "with_check_mode": round(timed("toolkit plan", cli_plan), 1),
        "without_check_mode": round(timed("the plan without the standby's check mode", without_check), 1),
        "check_mode_alone": round(timed("Ansible's check mode alone (the peer)", lambda: provision_baremetal(
            load_spec(spec), standby=True, check=True)), 1),
    }


def one_drill(spec: str) -> dict[str, Any]:
    done = subprocess.run([*TOOLKIT, "drill", "--to", "baremetal", "--json", "--spec", spec],
                          capture_output=True, text=True, timeout=3600)
    if not done.stdout.strip():
        sys.exit(f"the drill printed nothing ({done.returncode}): {done.stderr[-3000:]}")
    result = json.loads(done.stdout)
    spans = {s["name"]: round(s["ended_at"] - s["started_at"], 1) for s in result["steps"] if s["ended_at"]}
    parts = {name: spans.get(name)
             for name in ("standby", "replicate", "standby.serve", "verify", "teardown")}
    return {"exit": done.returncode, "duration_seconds": result["duration_seconds"],
            "rto_seconds": result["rto_seconds"], "objectives_met": result["objectives_met"],
            "torn_down": result["torn_down"], "parts": parts, "run": result["run_id"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lab", default="bench-drill")
    parser.add_argument("--hosts", type=int, default=5, help="production hosts (the plan's Ansible check)")
    parser.add_argument("--drills", type=int, default=2)
    args = parser.parse_args()
    status = ensure_lab(args.lab, args.hosts)
    spec = status["spec"]
    results: dict[str, Any] = {"plan": plan_times(spec), "drills": []}
    drill = drill_spec(load_spec(spec))
    floor = timed("peer: provisioning the drill host as a standby",
                  lambda: provision_baremetal(drill, standby=True))
    provision_baremetal(drill, playbook=PLAYBOOK)  # back to what a torn-down drill leaves
    results["drill_host_standby_seconds"] = round(floor, 1)
    print("drills")
    for index in range(args.drills):
        drilled = one_drill(spec)
        results["drills"].append(drilled)
        print(f"  drill {index + 1}: {drilled['duration_seconds']} s, RTO {drilled['rto_seconds']} s, "
              f"parts {drilled['parts']}, torn down {drilled['torn_down']}", flush=True)
    for drilled in results["drills"]:
        drilled["to_standby_floor"] = round(drilled["duration_seconds"] / floor, 2) if floor else None
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
