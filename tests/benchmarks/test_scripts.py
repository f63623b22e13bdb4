"""Every benchmark starts as it is run: a script, whose own folder Python puts first on the path.

A benchmark is run by hand, rarely; one that no longer starts is found a release later. Here each
one is run with ``--help``, which imports everything it imports and parses its options, and nothing
more (no lab, no root). The case that made this test: a script named ``dns.py`` in that folder
stood in for dnspython in every other benchmark's imports.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = sorted((Path(__file__).resolve().parents[2] / "benchmarks").glob("*.py"))


def test_there_are_benchmarks() -> None:
    assert len(BENCHMARKS) >= 5, BENCHMARKS


@pytest.mark.parametrize("script", BENCHMARKS, ids=lambda path: path.name)
def test_the_benchmark_starts(script: Path) -> None:
    done = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True,
                          timeout=120, cwd=script.parent)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("usage:"), done.stdout[:500]
