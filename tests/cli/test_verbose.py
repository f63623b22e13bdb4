"""``toolkit -v``: the package's logging on stderr; without it, none."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.stacks.specdir import make_spec
from toolkit.cli import configure_logging


def aws_check(spec: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "toolkit", *flags, "provision", "--target", "aws",
                           "--check", "--json", "--spec", str(spec)],
                          capture_output=True, text=True, timeout=120, cwd=spec.parent)


def test_verbose_logs_to_stderr_and_keeps_stdout_clean(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    spec = make_spec(tmp_path / "spec", monkeypatch)
    quiet, verbose = aws_check(spec), aws_check(spec, "-v")
    assert quiet.returncode == verbose.returncode == 0, verbose.stderr
    assert "INFO toolkit.targets.aws.provision: provision_aws: no pulumi CLI" in verbose.stderr
    assert "INFO" not in quiet.stderr
    assert verbose.stdout.startswith("{") and quiet.stdout.startswith("{")


@pytest.fixture
def clean_logging() -> Iterator[None]:
    root, package = logging.getLogger(), logging.getLogger("toolkit")
    saved = (root.level, list(root.handlers), package.level)
    yield
    root.handlers[:] = saved[1]
    root.setLevel(saved[0])
    package.setLevel(saved[2])


@pytest.mark.usefixtures("clean_logging")
def test_levels_per_count_and_one_console_handler() -> None:
    configure_logging(1)
    package = logging.getLogger("toolkit.lab.tools")
    assert package.isEnabledFor(logging.INFO) and not package.isEnabledFor(logging.DEBUG)
    assert not logging.getLogger("botocore").isEnabledFor(logging.INFO)
    configure_logging(2)
    assert package.isEnabledFor(logging.DEBUG)
    assert len([h for h in logging.getLogger().handlers if h.get_name() == "toolkit-cli"]) == 1
