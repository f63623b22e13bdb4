"""The toolkit's state directory: runs, journals, artifacts and labs live under one root.

The root is ``$TOOLKIT_STATE_DIR`` if set, else ``$XDG_STATE_HOME/toolkit``, else
``~/.local/state/toolkit``. Layout::

    <root>/runs/<run-id>/     one directory per run (mode 0700): journal, artifacts, report
    <root>/labs/<name>/       one directory per lab (see toolkit.lab)
    <root>/cache/             things expensive to rebuild (the lab image, binaries)

The cache may live elsewhere (``$TOOLKIT_CACHE_DIR``): the tests run in a throwaway state root
but share one image cache with the developer's own labs.
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path


def state_root() -> Path:
    explicit = os.environ.get("TOOLKIT_STATE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_STATE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "state"
    return base / "toolkit"


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) and make it readable by its owner only."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def new_run_dir(kind: str) -> Path:
    """A fresh, private directory for one run; its name sorts by start time."""
    run_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{kind}-{secrets.token_hex(3)}"
    private_dir(state_root() / "runs")
    run_dir = state_root() / "runs" / run_id
    run_dir.mkdir(mode=0o700)
    run_dir.chmod(0o700)
    return run_dir


def cache_dir() -> Path:
    explicit = os.environ.get("TOOLKIT_CACHE_DIR")
    path = Path(explicit) if explicit else state_root() / "cache"
    path.mkdir(parents=True, exist_ok=True)
    return path
