"""Lab life cycle: two labs side by side, complete teardown, and cleanup after a killed ``up``."""

from __future__ import annotations

import ipaddress
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.lab import lab_leftovers, require_lab, session_lab_name
from toolkit import interface
from toolkit.lab import hosts
from toolkit.lab.record import RECORD, LabRecord, lab_dir

pytestmark = [pytest.mark.lab, pytest.mark.timeout(900)]


def nothing_left(leftovers: dict[str, list[str]]) -> bool:
    return not any(leftovers.values())


@pytest.fixture
def root_only() -> None:
    require_lab()


@pytest.fixture
def two_labs(root_only: None) -> Iterator[tuple[str, str]]:
    first, second = f"{session_lab_name()}-x", f"{session_lab_name()}-y"
    try:
        yield first, second
    finally:
        for name in (first, second):
            interface.lab_down(name)


def test_two_labs_side_by_side_and_a_clean_teardown(two_labs: tuple[str, str]) -> None:
    first, second = two_labs
    one = interface.lab_up(first, 1)
    two = interface.lab_up(second, 1)
    assert one["healthy"] and two["healthy"]
    assert not ipaddress.IPv4Network(one["subnet"]).overlaps(ipaddress.IPv4Network(two["subnet"]))

    removed = interface.lab_down(first)
    assert removed["removed"]["namespaces"]
    assert nothing_left(lab_leftovers(first, one["subnet"])), lab_leftovers(first, one["subnet"])
    assert interface.lab_status(second)["healthy"] is True

    again = interface.lab_down(first)  # safe to repeat
    assert again["removed"]["directory"] is None and not again["removed"]["namespaces"]


def test_a_killed_up_is_cleaned_by_down(root_only: None, tmp_path: Path) -> None:
    name = f"{session_lab_name()}-k"
    record_path = lab_dir(name) / RECORD
    log = tmp_path / "lab-up.log"
    with log.open("wb") as out:
        argv = [sys.executable, "-m", "toolkit", "lab", "up", "--name", name, "--hosts", "1"]
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    subnet = None
    try:
        deadline = time.monotonic() + 300
        while True:  # kill it once its first hosts are booting
            record = LabRecord.load(record_path)
            if record is not None:
                subnet = record.subnet
                booted = [m for m in record.members if m.kind == "container" and hosts.alive(m.pid)]
                if booted:
                    break
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "lab up never booted a host"
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        assert not nothing_left(lab_leftovers(name, subnet))  # it did leave things behind
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        interface.lab_down(name)
    assert nothing_left(lab_leftovers(name, subnet)), lab_leftovers(name, subnet)
