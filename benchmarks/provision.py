"""Provisioning time of the lab's bare-metal hosts: check mode on blank hosts, cold, and a no-op re-run.

    sudo .venv/bin/python benchmarks/provision.py [--lab NAME] [--hosts 5] [--keep] [--json]

Brings up a fresh lab (the named one is torn down first), measures, and tears it down unless
--keep.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from toolkit import interface
from toolkit.spec import load_spec
from toolkit.targets.baremetal.provision import provision_baremetal


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lab", default="bench-pb")
    parser.add_argument("--hosts", type=int, default=5)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    interface.lab_down(args.lab)
    started = time.monotonic()
    lab: dict[str, Any] = interface.lab_up(args.lab, args.hosts)
    lab_up_s = time.monotonic() - started
    try:
        spec = Path(lab["spec"])
        figures: dict[str, Any] = {"hosts": args.hosts, "lab_up_s": round(lab_up_s, 1)}
        for label, kwargs in (("check_blank_s", {"check": True}), ("cold_s", {}), ("noop_rerun_s", {}),
                              ("check_provisioned_s", {"check": True})):
            began = time.monotonic()
            result = provision_baremetal(load_spec(spec), **kwargs)
            figures[label] = round(time.monotonic() - began, 1)
            figures[label.replace("_s", "_changed")] = result.summary.changed
            if not result.ok:
                figures["failed"] = label
                break
    finally:
        if not args.keep:
            interface.lab_down(args.lab)
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        for key, value in figures.items():
            print(f"{key:>26}: {value}")
    return 0 if "failed" not in figures else 1


if __name__ == "__main__":
    sys.exit(main())
