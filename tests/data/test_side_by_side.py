"""The movers' work side by side: at once, to the end of each, the first failure raised after."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import pytest

from toolkit.data.side_by_side import side_by_side


@dataclass
class Mover:
    kind: str


MOVERS: Any = [Mover("database"), Mover("objects")]


def test_every_mover_works_at_the_same_time_and_results_keep_their_order() -> None:
    both = threading.Barrier(2, timeout=10)  # broken, and raising, if one waited for the other

    def work(mover: Mover) -> str:
        both.wait()
        return mover.kind

    assert side_by_side(MOVERS, work) == ["database", "objects"]


def test_a_failure_lets_the_others_finish_then_is_raised() -> None:
    finished: list[str] = []

    def work(mover: Mover) -> None:
        if mover.kind == "database":
            raise RuntimeError("the copy agent stopped")
        time.sleep(0.3)  # still copying when the database's lane has failed
        finished.append(mover.kind)

    with pytest.raises(RuntimeError, match="the copy agent stopped"):
        side_by_side(MOVERS, work)
    assert finished == ["objects"]


def test_of_two_failures_the_first_mover_s_is_raised() -> None:
    def work(mover: Mover) -> None:
        if mover.kind == "objects":
            raise ValueError("objects failed first")
        time.sleep(0.2)
        raise RuntimeError("database failed later")

    with pytest.raises(RuntimeError, match="database failed later"):
        side_by_side(MOVERS, work)


def test_one_mover_works_in_the_calling_thread() -> None:
    assert side_by_side([Mover("database")], lambda mover: threading.current_thread().name) == [
        threading.current_thread().name]
