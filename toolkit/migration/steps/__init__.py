"""The steps of ``toolkit migrate --to baremetal``, in order (DESIGN.md, "The picture").

Before the cutover window: preflight, a safety snapshot of the source, the standby target,
replication, DNS TTLs lowered and waited out. The window (writes frozen on the source until they
open on the target): freeze, drain, sequences, the objects' final delta, verification, the DNS
switch and its verification, writes opened. After it: the resolver checked once the old TTL has
passed, TTLs restored, the source's replication objects removed, the report.
"""

from __future__ import annotations

from toolkit.migration.step import Step
from toolkit.migration.steps.after import CleanUpSource, RestoreTtls, VerifyClients
from toolkit.migration.steps.before import LowerTtls, Preflight, Replicate, SafetySnapshot, Standby, WaitTtls
from toolkit.migration.steps.window import (
    Drain,
    Freeze,
    ObjectsDelta,
    OpenWrites,
    Sequences,
    SwitchDns,
    VerifyData,
    VerifyDns,
)

STEPS: tuple[type[Step], ...] = (
    Preflight, SafetySnapshot, Standby, Replicate, LowerTtls, WaitTtls,
    Freeze, Drain, Sequences, ObjectsDelta, VerifyData, SwitchDns, VerifyDns, OpenWrites,
    VerifyClients, RestoreTtls, CleanUpSource,
)


def migration_steps() -> list[Step]:
    return [step() for step in STEPS]
