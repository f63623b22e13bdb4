"""The base of every provider: it owns the workflow, subclasses fill two hooks.

``populate()`` returns what the provider holds now; ``_apply(changes)`` makes the changes.
Capabilities are class constants checked before anything is changed (``cannot_hold``).
"""

from __future__ import annotations

import logging
from typing import ClassVar

from toolkit.dns.plan import Change, Plan
from toolkit.dns.zone import Rrset, Zone

log = logging.getLogger(__name__)

COMMON_TYPES = frozenset({"A", "AAAA", "CAA", "CNAME", "MX", "NS", "PTR", "SOA", "SRV", "TXT"})


class Provider:
    SUPPORTS: ClassVar[frozenset[str]] = COMMON_TYPES
    SUPPORTS_ALIAS: ClassVar[bool] = False

    def __init__(self, id: str, zone: str, servers: list[str]) -> None:
        self.id = id
        self.zone = zone
        self.servers = servers  # addresses of the authoritative servers that answer for it

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.id!r})"

    def populate(self) -> Zone:
        """What the provider holds now, normalized. Must not change anything."""
        raise NotImplementedError

    def _apply(self, changes: list[Change]) -> None:
        """Make ``changes`` (each names the existing rrset it replaces or deletes)."""
        raise NotImplementedError

    def cannot_hold(self, rrset: Rrset) -> str | None:
        """Why this provider cannot hold ``rrset``, or None."""
        if rrset.alias and not self.SUPPORTS_ALIAS:
            return (f"it is a Route53 alias to {rrset.alias}, which {type(self).__name__} cannot "
                    "hold; replace it with concrete A/AAAA records first")
        if rrset.type not in self.SUPPORTS:
            return f"type {rrset.type} is not supported by {type(self).__name__}"
        return None

    def apply(self, plan: Plan, *, force: bool = False, checksum: str | None = None) -> int:
        """Apply ``plan`` after its safety check (and checksum, if given); returns the changes made."""
        plan.check(checksum)
        plan.raise_if_unsafe(force)
        if plan.changes:
            log.info("apply: %s: %d changes", self.id, len(plan.changes))
            self._apply(plan.changes)
        return len(plan.changes)
