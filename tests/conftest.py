"""Shared fixtures, registered as plugins so every test folder can use them.

Tests own their state: the session runs in a throwaway state root (``$TOOLKIT_STATE_DIR``), so a
developer's own labs and runs are never touched, while the lab image, expensive to build, comes
from the developer's cache (``$TOOLKIT_CACHE_DIR``, kept if already set).
"""

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from toolkit import state

pytest_plugins = [
    "tests.fixtures.postgres",
    "tests.fixtures.moto",
    "tests.fixtures.spec",
    "tests.fixtures.lab",
]

_STATE_ROOT: Path | None = None


def pytest_configure(config: pytest.Config) -> None:
    global _STATE_ROOT
    os.environ.setdefault("TOOLKIT_CACHE_DIR", str(state.cache_dir()))
    _STATE_ROOT = Path(tempfile.mkdtemp(prefix="toolkit-tests-"))
    os.environ["TOOLKIT_STATE_DIR"] = str(_STATE_ROOT)


def pytest_unconfigure(config: pytest.Config) -> None:
    # Never walk into a host's overlay that a crashed teardown left mounted.
    if _STATE_ROOT is not None and str(_STATE_ROOT) not in Path("/proc/mounts").read_text():
        shutil.rmtree(_STATE_ROOT, ignore_errors=True)
