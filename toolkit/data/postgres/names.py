"""What the PostgreSQL mover creates, named so that anyone can tell it is ours: ``toolkit_<service>``.

On the source: the publication and the logical replication slot. On the target: the subscription,
the ledger schema in the service's database (the copy's plan and progress, written in the same
transaction as the rows they describe), the copy agent's unit and its private directory, and the
password file that lets the target's copy workers and subscription reach the source.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Names:
    service: str

    @property
    def prefix(self) -> str:
        return f"toolkit_{self.service.replace('-', '_')}"

    @property
    def publication(self) -> str:
        return self.prefix

    @property
    def slot(self) -> str:
        return self.prefix

    @property
    def subscription(self) -> str:
        return self.prefix

    @property
    def ledger(self) -> str:
        """The schema on the target holding the copy's plan and progress."""
        return self.prefix

    @property
    def loader(self) -> str:
        """The ``application_name`` of the copy agent's connections to the target (``agent.py``
        derives it from the slot's name: it imports nothing from the toolkit)."""
        return f"{self.slot}_load"

    @property
    def unit(self) -> str:
        return f"toolkit-{self.service}-copy"

    @property
    def directory(self) -> str:
        """The agent's private directory on the target's database host (0700 postgres)."""
        return f"/var/lib/postgresql/{self.prefix}"

    @property
    def passfile(self) -> str:
        return f"{self.directory}/pgpass"
