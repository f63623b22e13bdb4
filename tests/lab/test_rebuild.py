"""``toolkit lab up`` rebuilds a lab that is unhealthy (a host died) or asked for with another size.

A lab of the module's own (``module_lab``, one host to begin with), so that killing a host cannot
poison the session's lab. ``up`` runs as users run it, on the command line.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.lab import baremetal_hosts, lab_run
from toolkit import interface
from toolkit.lab import hosts
from toolkit.lab.record import RECORD, LabRecord, lab_dir

pytestmark = [pytest.mark.lab, pytest.mark.timeout(1200)]

LAB_HOSTS = 1


def lab_up_cli(name: str, hosts_count: int) -> dict[str, Any]:
    argv = [sys.executable, "-m", "toolkit", "lab", "up", "--name", name, "--hosts", str(hosts_count),
            "--json"]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    status: dict[str, Any] = json.loads(result.stdout)
    return status


def record(name: str) -> LabRecord:
    loaded = LabRecord.load(lab_dir(name) / RECORD)
    assert loaded is not None, name
    return loaded


def host_pids(name: str) -> dict[str, int | None]:
    """Every member's process (nspawn for hosts, moto's server), as the lab's record has it."""
    return {member.name: member.pid for member in record(name).members}


def assert_healthy_with(status: dict[str, Any], count: int) -> None:
    assert status["healthy"] is True, [(h["name"], h["services"]) for h in status["hosts"]]
    assert "already_up" not in status  # rebuilt, not returned as it was
    bare = [host["name"] for host in baremetal_hosts(status)]
    assert bare == [f"bm{i}" for i in range(1, count + 1)]
    for host in bare:  # the new hosts answer SSH with the (new) recorded host keys, as deploy with sudo
        assert lab_run(status, host, "hostname && sudo -n true").stdout.strip() == host


def test_up_rebuilds_a_lab_whose_host_died(module_lab: dict[str, Any]) -> None:
    name = module_lab["name"]
    count = record(name).hosts
    victim = baremetal_hosts(interface.lab_status(name))[0]
    old = host_pids(name)
    os.kill(victim["pid"], signal.SIGKILL)
    deadline = time.monotonic() + 60
    while hosts.alive(victim["pid"]):
        assert time.monotonic() < deadline, f"{victim['name']}'s nspawn process outlived SIGKILL"
        time.sleep(0.2)
    assert interface.lab_status(name)["healthy"] is False  # the premise: up has something to rebuild

    status = lab_up_cli(name, count)
    assert_healthy_with(status, count)
    new = host_pids(name)
    assert new[victim["name"]] != victim["pid"] and hosts.alive(new[victim["name"]])
    assert all(new[member] != pid for member, pid in old.items()), (old, new)  # the whole lab was rebuilt
    assert interface.lab_status(name)["healthy"] is True


def test_up_with_another_host_count_rebuilds_the_lab_at_that_size(module_lab: dict[str, Any]) -> None:
    name = module_lab["name"]
    count = record(name).hosts + 1
    old = host_pids(name)
    assert all(hosts.alive(pid) for pid in old.values())  # a healthy lab, only differently sized

    status = lab_up_cli(name, count)
    assert_healthy_with(status, count)
    assert record(name).hosts == count
    new = host_pids(name)
    assert all(new[member] != pid for member, pid in old.items()), (old, new)
    known = {line.split()[0] for line in Path(status["known_hosts"]).read_text().splitlines()}
    assert known == {host["address"] for host in baremetal_hosts(status)}
    inventory = Path(status["inventory"]).read_text()
    assert all(f"bm{i}:" in inventory for i in range(1, count + 1)), inventory

    # The same size again, and healthy: nothing is rebuilt.
    again = lab_up_cli(name, count)
    assert again.get("already_up") is True
    assert host_pids(name) == new
