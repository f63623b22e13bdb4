"""The migration lab tests' fixture: a migration leaves the shared lab's source frozen and its
zone pointing at bare metal; this puts it back after the test, whatever happened."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.fixtures.lab_states import LabStates
from tests.migration.migration_lab import put_source_back
from toolkit.spec import load_spec


@pytest.fixture
def restore_source(lab_standby: dict[str, Any], lab_states: LabStates) -> Iterator[list[str]]:
    """Yields a list the test appends its migrations' run ids to; puts the shared lab back after
    (roles unfrozen from each run's journal, DNS as saved before the switch, replication stopped)
    and marks the bare-metal hosts changed."""
    from toolkit.data.postgres import PostgresMover

    runs: list[str] = []
    yield runs
    for run_id in runs:
        put_source_back(lab_standby, run_id)
    PostgresMover(load_spec(lab_standby["spec"])).stop()
    lab_states.changed()
