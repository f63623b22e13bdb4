"""The drill's teardown: the source freed of the drill's slot and publication, the drill hosts left
with no service running and no data.

Each part is attempted even if another failed, the source's first: a slot left behind would hold
the source's WAL. Safe to run again, and after a drill that died at any point (what was never
made is skipped).
"""

from __future__ import annotations

from collections.abc import Iterable

from toolkit.errors import CheckFailed
from toolkit.runs import Listener, Run
from toolkit.spec import LoadedSpec

PLAYBOOK = "drill-teardown.yml"


def tear_down(drill: LoadedSpec, run: Run, listeners: Iterable[Listener] = ()) -> list[str]:
    """Remove everything drill ``drill`` (the drill's spec) made; what was removed, named. Raises
    ``CheckFailed`` naming what could not be removed (it is journaled too)."""
    from toolkit.data.postgres import PostgresMover
    from toolkit.targets.baremetal.provision import provision_baremetal

    removed: list[str] = []
    failures: list[str] = []
    database = PostgresMover(drill)
    try:
        removed += database.stop()
    except Exception as exc:
        # The drill's database may never have been made, or be unreachable: the source is freed
        # alone, and the subscription goes with the cluster the playbook drops.
        run.note(f"teardown: the drill's replication could not be stopped from its target ({exc}); "
                 "freeing the source directly", step="teardown")
        try:
            removed += database.release_source()
        except Exception as exc2:
            failures.append(f"the source's slot and publication: {exc2}")
    if drill.spec.buckets:
        from toolkit.data.objects import ObjectMover

        try:
            removed += ObjectMover(drill).stop()
        except Exception as exc:  # e.g. the store is down: the playbook removes it all anyway
            run.note(f"teardown: the objects hosts' work could not be ended in order ({exc}); the "
                     "playbook removes it with the store's data", step="teardown")
    try:
        result = provision_baremetal(drill, playbook=PLAYBOOK, listeners=listeners)
        if result.ok:
            removed.append(f"the drill hosts' services and data (run {result.run_dir.name})")
        else:
            failures.append(f"the drill hosts' services and data (run {result.run_dir.name} failed)")
    except Exception as exc:
        failures.append(f"the drill hosts' services and data: {exc}")
    run.measure("teardown", removed=removed, failures=failures, torn_down=not failures)
    if failures:
        raise CheckFailed("the drill's teardown is incomplete: " + "; ".join(failures)
                          + "; run `toolkit drill --cleanup` once the cause is fixed")
    return removed
