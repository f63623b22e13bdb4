"""Data movers: PostgreSQL and objects copied, replicated and verified from AWS to bare metal.

``movers(loaded)`` is the family's registry: every mover that applies to the spec, in the order
they start (the database first: it is the one that streams).
"""

from __future__ import annotations

from toolkit.data.mover import DataMover, Difference, Finding, MoverOptions, Verification
from toolkit.spec import LoadedSpec

__all__ = ["DataMover", "Difference", "Finding", "MoverOptions", "Verification", "movers"]


def movers(loaded: LoadedSpec, options: MoverOptions | None = None) -> list[DataMover]:
    """The movers for this spec. Each kind registers here (imports stay lazy: they are heavy)."""
    found: list[DataMover] = []
    from toolkit.data.postgres import PostgresMover

    found.append(PostgresMover(loaded, options))
    if loaded.spec.buckets:
        from toolkit.data.objects import ObjectMover

        found.append(ObjectMover(loaded, options))
    return found
