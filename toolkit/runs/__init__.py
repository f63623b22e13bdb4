"""Runs: the one mechanism behind provisioning, replication, DNS work, migrations and drills.

A run is a private directory under ``<state>/runs/`` with a journal (JSON lines, fsynced), an
optional lock on its subject, and events the CLI renders. See ``run.py`` for the life of one.
"""

from toolkit.runs.events import Event, Listener
from toolkit.runs.listing import RunInfo, list_runs
from toolkit.runs.lock import RunLocked
from toolkit.runs.run import Run

__all__ = ["Event", "Listener", "Run", "RunInfo", "RunLocked", "list_runs"]
