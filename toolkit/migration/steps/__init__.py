"""The steps of ``toolkit migrate --to baremetal``, in order (DESIGN.md, "The picture").

Before the cutover window: preflight, a safety snapshot of the source, the standby target and
its preflight, replication, the target's first full backup, the standby served (its database
roles still shut), DNS TTLs lowered and waited out, everything compared. The window (writes
frozen on the source until they open on the target): freeze, the objects' final pass started,
drain, sequences, continuity since the comparison, the objects' final pass awaited, the DNS
switch and its verification, writes opened (the target's roles may log in).
After it: the app's health, the WAL since archived and the recovery window stated, a listing
pass over the objects, the resolver checked once the old TTL has passed, TTLs restored, the
source's replication objects removed, the report.
"""

from __future__ import annotations

from toolkit.migration.step import Step
from toolkit.migration.steps.after import (
    AppHealth,
    CleanUpSource,
    ReconcileObjects,
    RestoreTtls,
    VerifyClients,
)
from toolkit.migration.steps.backups import FirstBackup, RecoveryWindow
from toolkit.migration.steps.before import (
    LowerTtls,
    Preflight,
    Replicate,
    SafetySnapshot,
    ServeStandby,
    Standby,
    TargetPreflight,
    VerifyBeforeWindow,
    WaitTtls,
)
from toolkit.migration.steps.window import (
    Drain,
    Freeze,
    ObjectsDelta,
    ObjectsFinal,
    OpenWrites,
    Sequences,
    SwitchDns,
    VerifyData,
    VerifyDns,
)

STEPS: tuple[type[Step], ...] = (
    Preflight, SafetySnapshot, Standby, TargetPreflight, Replicate, FirstBackup, ServeStandby,
    LowerTtls, WaitTtls, VerifyBeforeWindow,
    Freeze, ObjectsFinal, Drain, Sequences, VerifyData, ObjectsDelta, SwitchDns, VerifyDns, OpenWrites,
    AppHealth, RecoveryWindow, ReconcileObjects, VerifyClients, RestoreTtls, CleanUpSource,
)


def migration_steps() -> list[Step]:
    return [step() for step in STEPS]
