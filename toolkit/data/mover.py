"""The data-mover family: one small base class, one subclass per kind of data (database, objects).

A mover copies one kind of data from the source (AWS) to the bare-metal target while the source
keeps serving, keeps the target current, proves the copy, and cleans up after itself. The
replication commands and, later, the migration drive movers only through these hooks, so a
mover is a set of steps, not a command:

- ``preflight()`` looks and changes nothing; an ``error`` finding stops before anything is made;
- ``start(run)`` makes the target current and returns once it is caught up (streaming goes on
  server-side); it continues where ``run``'s journal stands after a crash;
- ``status()`` reports lag and state; ``verify()`` compares both sides and names differences;
- ``stop()`` removes every trace it made on either side, and is safe to repeat.

Bulk data never passes through the operator's machine: movers make the servers copy.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Literal

from toolkit.runs import Run
from toolkit.spec import LoadedSpec


@dataclass(frozen=True)
class MoverOptions:
    """What the user chose on the command line that changes how movers work."""

    replica_identity_full: bool = False  # set REPLICA IDENTITY FULL on source tables without a key


@dataclass(frozen=True)
class Finding:
    """Something preflight saw: an ``error`` stops the run, a ``warning`` is shown, ``info`` is told."""

    severity: Literal["error", "warning", "info"]
    subject: str  # what it is about: a table, a bucket, a host, a setting
    message: str  # one sentence, with the fix when there is one

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Difference:
    """One thing that differs between source and target, named (a table, an object key)."""

    subject: str
    message: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Verification:
    """What ``verify`` compared and what it found; ``proves`` says what a pass means."""

    kind: str
    compared: dict[str, Any] = field(default_factory=dict)
    differences: list[Difference] = field(default_factory=list)
    proves: str = ""

    @property
    def ok(self) -> bool:
        return not self.differences

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "ok": self.ok, "compared": self.compared, "proves": self.proves,
                "differences": [d.to_json() for d in self.differences]}


class DataMover(ABC):
    """Base of the family; subclasses fill in the hooks below (their docstrings are contracts)."""

    kind: ClassVar[str]  # "database", "objects": names the mover in output and journals

    def __init__(self, loaded: LoadedSpec, options: MoverOptions | None = None) -> None:
        self.loaded = loaded
        self.options = options or MoverOptions()

    @abstractmethod
    def preflight(self) -> list[Finding]:
        """Check source, target and spec. Must change nothing on either side."""

    @abstractmethod
    def start(self, run: Run) -> None:
        """Copy what is missing and start streaming; return once the target is caught up.

        Must be resumable: after a crash, called again with the resumed ``run``, it redoes the
        least that is correct. Steps are ``run.step(f"{kind}.<name>")``; progress uses the shared
        vocabulary of ``toolkit.runs.events``.
        """

    @abstractmethod
    def status(self) -> dict[str, Any]:
        """State and lag, as plain JSON data. Must change nothing."""

    @abstractmethod
    def verify(self) -> Verification:
        """Compare source and target. Must change nothing; every difference is named."""

    @abstractmethod
    def stop(self) -> list[str]:
        """Remove every trace made on the source and the target; return what was removed.

        Must be idempotent: a second call removes nothing and returns an empty list.
        """
