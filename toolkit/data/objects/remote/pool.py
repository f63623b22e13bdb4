"""The copy spread over processes, each with its own threads, all taking objects from one queue.

Profiling the pass showed a small object's time going to botocore building, signing and parsing
requests under the GIL: one Python process with 16 threads keeps one core busy and its threads
waiting. So the worker forks ``processes - 1`` children; the worker itself is the first
process. The threads (``threads`` in all, split between the processes, so the bytes in flight and
the memory stay those of ``threads`` copies) take objects from a shared queue, largest first so
that a 64 MiB object does not finish alone at the end, and send back one ``Outcome`` each. The
worker alone writes the progress file and the manifest, as before.
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

from . import transfer
from .manifest import Entry, Listed

CHILD_CHECK_S = 1.0
PR_SET_PDEATHSIG = 1  # Linux prctl(2)

Clients = Callable[[], tuple[Any, Any]]  # (source, target), made in the process that uses them


@dataclass(frozen=True)
class Outcome:
    listed: Listed
    entry: Entry | None = None
    error: str = ""
    vanished: bool = False  # deleted on the source since it was listed


@dataclass(frozen=True)
class _Finished:
    max_rss_kb: int


def _copy_one(source: Any, target: Any, listed: Listed, settings: transfer.Settings) -> Outcome:
    try:
        return Outcome(listed, entry=transfer.copy_object(source, target, listed, settings))
    except Exception as error:  # sent back as text: a botocore error does not always pickle
        return Outcome(listed, error=str(error) or type(error).__name__, vanished=transfer.vanished(error))


def _serve(clients: Clients, settings: transfer.Settings, threads: int, tasks: Any, results: Any,
           child: bool) -> None:
    if child:
        _die_with_parent()
    source, target = clients()

    def loop() -> None:
        while (listed := tasks.get()) is not None:
            results.put(_copy_one(source, target, listed, settings))

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
    """Copies ``items`` and yields their outcomes as they come; ``children_max_rss_kb`` after."""

    def __init__(self, clients: Clients, settings: transfer.Settings, *, processes: int,
                 threads: int) -> None:
        self.clients, self.settings = clients, settings
        self.processes = max(1, min(processes, threads))
        self.threads = max(1, threads)
        self.children_max_rss_kb = 0  # the sum of the children's peaks: they run side by side
        self.pids: list[int] = []  # the children's, once started

    def run(self, items: list[Listed]) -> Iterator[Outcome]:
        context = multiprocessing.get_context("fork")
        tasks: Any = context.Queue()
        results: Any = context.Queue()
        shares = [self.threads // self.processes + (i < self.threads % self.processes)
                  for i in range(self.processes)]
        for listed in sorted(items, key=lambda item: item.size, reverse=True):
            tasks.put(listed)
        for _ in range(self.threads):
            tasks.put(None)
        # Children first: forking after this process started its own threads would copy their locks.
        children = [context.Process(target=_serve, daemon=True,
                                    args=(self.clients, self.settings, share, tasks, results, True))
                    for share in shares[1:]]
        for process in children:
            process.start()
        self.pids = [process.pid for process in children if process.pid]
        mine = threading.Thread(target=_serve, daemon=True,
                                args=(self.clients, self.settings, shares[0], tasks, results, False))
        mine.start()
        pending, running = len(items), len(children)
        try:
            while pending or running:
                try:
                    got = results.get(timeout=CHILD_CHECK_S)
                except queue.Empty:
                    dead = [p for p in children if p.exitcode not in (None, 0)]
                    if dead:
                        code = dead[0].exitcode
                        raise RuntimeError(f"a copy process ended with exit code {code}") from None
                    continue
                if isinstance(got, _Finished):
                    self.children_max_rss_kb += got.max_rss_kb
                    running -= 1
                    continue
                pending -= 1
                yield got
        finally:
            for process in children:
                if process.is_alive():
                    process.terminate()
                process.join()
            mine.join(timeout=CHILD_CHECK_S)
