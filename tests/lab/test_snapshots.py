"""Lab snapshots: the bare-metal hosts' disks saved and restored, host keys and all (root)."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from tests.fixtures.lab import baremetal_hosts, lab_run
from tests.fixtures.lab_states import LabStates
from toolkit import interface
from toolkit.errors import BadInput, CheckFailed
from toolkit.lab import hosts

pytestmark = [pytest.mark.lab, pytest.mark.timeout(900)]


def exists(lab: dict[str, Any], path: str) -> bool:
    return lab_run(lab, "bm1", f"test -e {path}").status == 0


def test_reset_returns_the_hosts_to_a_snapshot(lab: dict[str, Any], lab_states: LabStates) -> None:
    lab_states.changed()
    assert lab_run(lab, "bm1", "sudo touch /etc/marker-a").status == 0
    saved = interface.lab_snapshot(lab["name"], "test-marked")
    lab_states.refresh()
    assert {"booted", "test-marked"} <= set(saved["snapshots"])
    assert lab_run(lab, "bm1", "sudo rm /etc/marker-a && sudo touch /etc/marker-b").status == 0
    # A restore kills the hosts rather than halting them: their systemd must not outlive nspawn.
    old_inits = [hosts.container_init(host["pid"]) for host in baremetal_hosts(lab)]
    assert all(old_inits)

    restored = interface.lab_restore(lab["name"], "test-marked")
    lab_states.refresh()
    assert restored["healthy"] is True
    assert not [pid for pid in old_inits if hosts.alive(pid)]
    # SSH through the one known_hosts file still works: the host keys are part of the disk.
    assert exists(lab, "/etc/marker-a") and not exists(lab, "/etc/marker-b")

    interface.lab_restore(lab["name"])  # booted: blank hosts
    lab_states.refresh()
    assert not exists(lab, "/etc/marker-a") and not exists(lab, "/etc/marker-b")


def test_unknown_or_bad_snapshot_names(lab: dict[str, Any]) -> None:
    with pytest.raises(CheckFailed, match="no snapshot 'never-taken'"):
        interface.lab_restore(lab["name"], "never-taken")
    with pytest.raises(BadInput, match="not valid"):
        interface.lab_snapshot(lab["name"], "../escape")
    cli = subprocess.run([sys.executable, "-m", "toolkit", "lab", "reset", "--name", lab["name"],
                          "--to", "Bad Name"], capture_output=True, text=True, timeout=120)
    assert cli.returncode == 2, cli.stderr
    assert "Traceback" not in cli.stderr and "not valid" in cli.stderr
