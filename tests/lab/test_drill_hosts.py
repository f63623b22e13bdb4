"""Drill hosts in the lab's record, its status and ``lab up``'s decisions (no root needed)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.lab import baremetal_hosts, drill_hosts
from toolkit.cli import main
from toolkit.lab import api
from toolkit.lab.layout import plan_members
from toolkit.lab.names import MAX_BAREMETAL, LabNames, choose_subnet
from toolkit.lab.record import RECORD, LabRecord, lab_dir
from toolkit.lab.status import lab_status

LAB = "unit-drill"


def planned(directory: Path, count: int, drill: int) -> LabRecord:
    directory.mkdir(parents=True, exist_ok=True)
    subnet = choose_subnet(LAB, [])
    return LabRecord(name=LAB, tag=LabNames(LAB).tag, subnet=str(subnet), dir=str(directory), hosts=count,
                     drill_hosts=drill, phase="up", members=plan_members(LabNames(LAB), subnet, count, drill))


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TOOLKIT_STATE_DIR", str(tmp_path / "state"))
    return lab_dir(LAB)


def test_the_record_keeps_the_drill_hosts(state: Path) -> None:
    record = planned(state, 2, 1)
    record.save()
    loaded = LabRecord.load(state / RECORD)
    assert loaded == record and loaded.drill_hosts == 1
    assert [m.name for m in loaded.members if m.drill] == ["bm3"]


def test_an_older_record_has_no_drill_hosts(state: Path) -> None:
    record = planned(state, 2, 0)
    data = asdict(record)
    data.pop("drill_hosts")
    for member in data["members"]:
        member.pop("drill")
    (state / RECORD).write_text(json.dumps(data))
    loaded = LabRecord.load(state / RECORD)
    assert loaded is not None and loaded.drill_hosts == 0 and not any(m.drill for m in loaded.members)
    assert loaded.members == record.members


def test_status_marks_the_drill_hosts(state: Path) -> None:
    status = lab_status(planned(state, 2, 1), probe=False)
    bm3 = next(host for host in status["hosts"] if host["name"] == "bm3")
    assert bm3["drill"] is True and bm3["side"] == "baremetal" and bm3["groups"] == [
        "db", "app", "web", "objects", "dns"]
    assert all(host["drill"] is False for host in status["hosts"] if host["name"] != "bm3")
    assert status["drill_hosts"] == 1 and status["drill_inventory"] == str(state / "inventory/drill.yml")
    assert [host["name"] for host in baremetal_hosts(status)] == ["bm1", "bm2"]
    assert [host["name"] for host in drill_hosts(status)] == ["bm3"]
    # The production PowerDNS servers only: the drill's serve the drill's zone.
    production_dns = [host["address"] for host in baremetal_hosts(status) if "dns" in host["groups"]]
    assert status["dns"]["powerdns"] == production_dns
    plain = lab_status(planned(state, 2, 0), probe=False)
    assert plain["drill_hosts"] == 0 and plain["drill_inventory"] is None and drill_hosts(plain) == []


class Rebuilt(Exception):
    """``up`` went on to remove the lab, to rebuild it."""


@pytest.fixture
def lab_up_as_recorded(state: Path, monkeypatch: pytest.MonkeyPatch) -> LabRecord:
    """A healthy lab that is up with 2 hosts and 1 drill host; ``up`` stops where it would rebuild."""
    record = planned(state, 2, 1)
    record.save()
    monkeypatch.setattr(api, "_preflight", lambda name: None)
    monkeypatch.setattr(api, "lab_status", lambda record: {"name": record.name, "healthy": True})

    def remove(name: str) -> Any:
        raise Rebuilt(name)

    monkeypatch.setattr(api.teardown, "remove", remove)
    return record


def test_up_with_the_same_drill_hosts_changes_nothing(lab_up_as_recorded: LabRecord) -> None:
    assert api.up(LAB, 2, drill_hosts=1)["already_up"] is True


@pytest.mark.parametrize(("count", "drill"), [(2, 0), (2, 2), (3, 1)])
def test_up_with_other_drill_hosts_rebuilds(lab_up_as_recorded: LabRecord, count: int, drill: int) -> None:
    with pytest.raises(Rebuilt):
        api.up(LAB, count, drill_hosts=drill)


def test_too_many_drill_hosts_is_bad_input(state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["lab", "up", "--name", LAB, "--hosts", str(MAX_BAREMETAL), "--drill-hosts", "1"])
    assert exit_info.value.code == 2
    assert f"--hosts plus --drill-hosts must be at most {MAX_BAREMETAL}" in capsys.readouterr().err
    assert not state.exists()  # nothing was made
