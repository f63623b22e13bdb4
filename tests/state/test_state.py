"""The state directory: one documented root, private run directories."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from toolkit import state


def test_root_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOOLKIT_STATE_DIR", str(tmp_path / "s"))
    assert state.state_root() == tmp_path / "s"


def test_root_from_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOOLKIT_STATE_DIR", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert state.state_root() == tmp_path / "toolkit"


def test_run_dirs_are_private_and_distinct(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOOLKIT_STATE_DIR", str(tmp_path))
    first, second = state.new_run_dir("provision"), state.new_run_dir("provision")
    assert first != second and first.parent == tmp_path / "runs"
    for run_dir in (first, second, tmp_path / "runs"):
        assert stat.S_IMODE(run_dir.stat().st_mode) == 0o700


def test_cache_may_live_outside_the_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOOLKIT_STATE_DIR", str(tmp_path / "s"))
    monkeypatch.delenv("TOOLKIT_CACHE_DIR", raising=False)
    assert state.cache_dir() == tmp_path / "s" / "cache"
    monkeypatch.setenv("TOOLKIT_CACHE_DIR", str(tmp_path / "c"))
    assert state.cache_dir() == tmp_path / "c" and (tmp_path / "c").is_dir()
