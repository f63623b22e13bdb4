"""Data movers: PostgreSQL and objects copied, replicated and verified from AWS to bare metal.

``movers(loaded)`` is the family's registry: every mover that applies to the spec (the database
first, the order of their reports). They start side by side (``side_by_side.py``).
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
