"""A migration step: one small base class; the migration is an ordered list of them.

Every step is idempotent (``run`` called again after a crash finishes the job or finds it done),
says what it would do without doing it (``plan``), and, where it changes something that a
rollback must put back, knows how (``undo``). Class constants say how the engine treats it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from toolkit.migration.context import MigrationContext


class Step(ABC):
    name: ClassVar[str]
    # A gate: if it fails, the migration rolls back (as long as writes have not opened on the target).
    gate: ClassVar[bool] = True
    # Once this step has ended, writes happen on the target: a rollback would lose them.
    opens_writes: ClassVar[bool] = False
    # Part of the cutover window (writes frozen until they open on the target).
    in_window: ClassVar[bool] = False
    # Its ``plan`` takes long and needs nothing the others' do (Ansible's check mode): the dry run
    # starts it first and plans the other steps beside it.
    plans_slowly: ClassVar[bool] = False

    @abstractmethod
    def run(self, ctx: MigrationContext) -> None:
        """Do the step. Must be idempotent: after a crash it is called again from the start."""

    def plan(self, ctx: MigrationContext) -> dict[str, Any]:
        """What the step would do, as plain data. Must change nothing anywhere."""
        return {}

    def estimate(self, ctx: MigrationContext) -> float:
        """Seconds the step is expected to take (from measured sizes and bandwidth)."""
        return 1.0

    def undo(self, ctx: MigrationContext) -> None:  # noqa: B027 - most steps have nothing to undo
        """Put back what ``run`` changed. Must be idempotent and safe after a partial ``run``."""
