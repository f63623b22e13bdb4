"""The database benchmark's rounds: every contender once a round, none always in the same place,
and the last round ending with the toolkit, whose replication the lag measurement uses."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "database_copy.py"


def load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("database_copy_benchmark", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_every_round_runs_every_contender_once_and_the_last_ends_with_the_toolkit() -> None:
    bench = load()
    for rounds in (1, 2, 3, 5, 7):
        orders = [bench.turns(number, rounds) for number in range(1, rounds + 1)]
        for order in orders:
            assert sorted(order) == sorted(bench.CONTENDERS)
        assert orders[-1][-1] == bench.TOOLKIT


def test_over_as_many_rounds_as_contenders_each_takes_every_place() -> None:
    bench = load()
    rounds = len(bench.CONTENDERS)
    orders = [bench.turns(number, rounds) for number in range(1, rounds + 1)]
    for name in bench.CONTENDERS:
        assert sorted(order.index(name) for order in orders) == list(range(rounds))
