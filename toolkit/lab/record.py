"""The lab's record (``<labdir>/lab.json``): what a lab is made of, written before it is made.

``lab up`` writes the plan (every member, its namespace, link and address) before creating
anything and adds each process ID as it starts, so ``lab down`` knows what to remove even after
``lab up`` was killed. ``lab down`` also searches by name pattern, so a lost record loses nothing.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from toolkit.state import state_root

RECORD = "lab.json"


def labs_root() -> Path:
    return state_root() / "labs"


def lab_dir(name: str) -> Path:
    return labs_root() / name


@dataclass
class Member:
    """One lab member: a host (container) or the moto process, each in its own namespace."""

    name: str
    side: str  # "aws" | "baremetal"
    kind: str  # "container" | "process"
    octet: int
    address: str
    netns: str
    veth: str
    groups: list[str] = field(default_factory=list)
    pid: int | None = None
    cgroups: list[str] = field(default_factory=list)
    drill: bool = False  # a drill host (``toolkit drill``'s own), not a production one


@dataclass
class LabRecord:
    name: str
    tag: str
    subnet: str
    dir: str
    hosts: int
    drill_hosts: int = 0  # after the production hosts: bm(hosts+1)..bm(hosts+drill_hosts)
    phase: str = "planned"  # planned -> starting -> up
    image: str | None = None
    members: list[Member] = field(default_factory=list)
    aws: dict[str, Any] = field(default_factory=dict)
    created_at: float = 0.0

    @property
    def path(self) -> Path:
        return Path(self.dir) / RECORD

    def member(self, name: str) -> Member:
        for member in self.members:
            if member.name == name:
                return member
        raise KeyError(name)

    def save(self) -> None:
        tmp = self.path.with_name(f".{RECORD}.{os.getpid()}")
        tmp.write_text(json.dumps(asdict(self), indent=2, sort_keys=True))
        tmp.replace(self.path)

    @classmethod
    def load(cls, path: Path) -> LabRecord | None:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        members = [Member(**item) for item in data.pop("members", [])]
        return cls(members=members, **data)


def other_records(name: str) -> list[LabRecord]:
    """Records of every other lab under this state root."""
    root = labs_root()
    if not root.is_dir():
        return []
    found = []
    for entry in sorted(root.iterdir()):
        if entry.name != name and entry.is_dir():
            record = LabRecord.load(entry / RECORD)
            if record is not None:
                found.append(record)
    return found
