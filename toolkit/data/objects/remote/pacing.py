"""A cap on the requests a copy sends to the source S3 each second (the spec's
``targets.aws.s3_requests_per_second``, each objects host its share of it).

The source keeps serving its own application while we copy: S3 itself does not notice sixteen
requests in flight, but a small S3-compatible store (the lab's moto, one Python process) answers
its application late, and the application's clients time out. The pace spaces the requests
evenly: each takes the next free slot, ``1 / rate`` seconds after the previous one, and sleeps
until it. The slot lives in shared memory, so the copy processes forked after the pace was made
(``pool.py``) share one pace, not one each.
"""

from __future__ import annotations

import multiprocessing
import time
from typing import Any

_paces: dict[float, Pace] = {}


class Pace:
    def __init__(self, per_second: float) -> None:
        self.interval = 1.0 / per_second
        context = multiprocessing.get_context("fork")
        self._next = context.RawValue("d", 0.0)  # the next free slot, time.monotonic() (system-wide)
        self._lock = context.Lock()

    def wait(self) -> None:
        """Return when this request's slot has come."""
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next.value)
            self._next.value = slot + self.interval
        if slot > now:
            time.sleep(slot - now)


def for_side(side: dict[str, Any]) -> Pace | None:
    """The pace of a job's side (``requests_per_second``), None without one: one per process and
    rate, made by the first store of the side, which the worker makes before it forks."""
    rate = side.get("requests_per_second")
    if not rate:
        return None
    rate = float(rate)
    if rate not in _paces:
        _paces[rate] = Pace(rate)
    return _paces[rate]
