"""The copy spread over processes, each with its own threads, all taking objects from one queue.

Profiling the pass showed a small object's time going to botocore building, signing and parsing
requests under the GIL: one Python process with 16 threads keeps one core busy and its threads
waiting. So the worker forks ``processes - 1`` children; the worker itself is the first
process. The threads (``threads`` in all, split between the processes, so the bytes in flight
and the memory stay those of ``threads`` copies) take objects from a shared queue, largest first
so that a 64 MiB object does not finish alone at the end, and send back one ``Outcome`` each.
The worker alone writes the progress file and the manifest. The processes stay up as long as
the pool (``with``): the ``follow`` mode's passes do not pay for new processes and clients.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import queue
import resource
import signal
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from . import s3http, transfer
from .manifest import Entry, Listed
from .store import Store

CHILD_CHECK_S = 1.0
OBJECT_ATTEMPTS = 3  # a whole object, after its requests' own retries
PR_SET_PDEATHSIG = 1  # Linux prctl(2)

Clients = Callable[[], tuple[Store, Store]]  # (source, target), made in the process that uses them


@dataclass(frozen=True)
class Outcome:
    listed: Listed
    entry: Entry | None = None
    error: str = ""
    vanished: bool = False  # deleted on the source since it was listed


@dataclass(frozen=True)
class _Finished:
    max_rss_kb: int


def copy_one(source: Store, target: Store, listed: Listed, settings: transfer.Settings) -> Outcome:
    """One object copied and proven, or why not, as an ``Outcome`` (never raises)."""
    for attempt in range(1, OBJECT_ATTEMPTS + 1):
        try:
            return Outcome(listed, entry=transfer.copy_object(source, target, listed, settings))
        except Exception as error:  # sent back as text: a botocore error does not always pickle
            if attempt < OBJECT_ATTEMPTS and s3http.retryable(error):
                continue  # a streamed upload is not resent by the client: the object is copied again
            return Outcome(listed, error=str(error) or type(error).__name__,
                           vanished=transfer.vanished(error))
    raise AssertionError("unreachable")


def _serve(clients: Clients, settings: transfer.Settings, threads: int, tasks: Any, results: Any,
           child: bool) -> None:
    if child:
        _die_with_parent()
    source, target = clients()

    def loop() -> None:
        while (listed := tasks.get()) is not None:
            results.put(copy_one(source, target, listed, settings))

    workers = [threading.Thread(target=loop, daemon=True) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if child:
        results.put(_Finished(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))


def _die_with_parent() -> None:
    """A stopped worker (``kill``, or a lost SSH session) takes its copy processes with it."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() == 1:  # the parent ended before the call above
        os._exit(1)


class CopyPool:
    """Processes and threads that copy whatever ``copy`` is given, kept warm from ``with`` to its
    end: the ``follow`` mode's passes reuse them, and the children are forked before the calling
    process starts threads of its own (forking then would copy their locks)."""

    def __init__(self, clients: Clients, settings: transfer.Settings, *, processes: int,
                 threads: int) -> None:
        self.clients, self.settings = clients, settings
        self.processes = max(1, min(processes, threads))
        self.threads = max(1, threads)
        self.children_max_rss_kb = 0  # the sum of the children's peaks: they run side by side
        self.pids: list[int] = []  # the children's, once started
        context = multiprocessing.get_context("fork")
        self._context = context
        self._tasks: Any = context.Queue()
        self._results: Any = context.Queue()
        self._children: list[Any] = []
        self._mine: threading.Thread | None = None

    def __enter__(self) -> CopyPool:
        shares = [self.threads // self.processes + (i < self.threads % self.processes)
                  for i in range(self.processes)]
        self._children = [self._context.Process(target=_serve, daemon=True, args=(
            self.clients, self.settings, share, self._tasks, self._results, True)) for share in shares[1:]]
        for process in self._children:
            process.start()
        self.pids = [process.pid for process in self._children if process.pid]
        self._mine = threading.Thread(target=_serve, daemon=True, args=(
            self.clients, self.settings, shares[0], self._tasks, self._results, False))
        self._mine.start()
        return self

    def copy(self, items: list[Listed]) -> Iterator[Outcome]:
        """Copy ``items``, largest first (a 64 MiB object must not finish alone at the end); yield
        each one's outcome as it comes. Consume it whole before the next call."""
        for listed in sorted(items, key=lambda item: item.size, reverse=True):
            self._tasks.put(listed)
        pending = len(items)
        while pending:
            try:
                got = self._results.get(timeout=CHILD_CHECK_S)
            except queue.Empty:
                dead = [p for p in self._children if p.exitcode not in (None, 0)]
                if dead:
                    raise RuntimeError(f"a copy process ended with exit code {dead[0].exitcode}") from None
                continue
            if isinstance(got, _Finished):  # not expected before the end; counted all the same
                self.children_max_rss_kb += got.max_rss_kb
                continue
            pending -= 1
            yield got

    def __exit__(self, *exc: object) -> None:
        for _ in range(self.threads):
            self._tasks.put(None)
        running = sum(1 for process in self._children if process.is_alive())
        while running and exc[0] is None:
            try:
                got = self._results.get(timeout=CHILD_CHECK_S)
            except queue.Empty:
                running = sum(1 for process in self._children if process.is_alive())
                continue
            if isinstance(got, _Finished):
                self.children_max_rss_kb += got.max_rss_kb
                running -= 1
        for process in self._children:
            if process.is_alive():
                process.terminate()
            process.join()
        if self._mine is not None:
            self._mine.join(timeout=CHILD_CHECK_S)
