"""The lab raises root's inotify budget that its hosts' systemd share, and never lowers it."""

from __future__ import annotations

from pathlib import Path

import pytest

from toolkit.lab import hosts


@pytest.mark.parametrize(("current", "after"), [(128, 1024), (1024, 1024), (8192, 8192)])
def test_budget_is_raised_to_the_floor_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            current: int, after: int) -> None:
    knob = tmp_path / "max_user_instances"
    knob.write_text(f"{current}\n")
    monkeypatch.setattr(hosts, "INOTIFY_INSTANCES", knob)
    hosts.ensure_inotify_instances()
    assert int(knob.read_text()) == after


def test_an_unwritable_budget_is_only_a_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(hosts, "INOTIFY_INSTANCES", tmp_path / "missing" / "max_user_instances")
    hosts.ensure_inotify_instances()
    assert "cannot raise fs.inotify.max_user_instances" in caplog.text
