"""The copy spread over processes, each with its own threads, fed from one heap of listed objects.

Profiling the pass showed a small object's time going to botocore building, signing and parsing
requests under the GIL: one Python process with 16 threads keeps one core busy and its threads
waiting. So the worker forks ``processes - 1`` children; the worker itself is the first
process. The threads (``threads`` in all, split between the processes, so the bytes in flight
and the memory stay those of ``threads`` copies) take objects from a queue and send back one
``Outcome`` each: the children's queues are pipes, paid for in pickles; the worker's own threads
have a local queue, which costs no pickle. Each side gets objects in proportion to its threads.
The worker alone writes the progress file and the manifest. The processes stay up as long as the
pool (``with``): the ``follow`` mode's passes do not pay for new processes and clients.

The copy starts with the listing's first page: a listing costs about 0.3 s a page of 1,000 keys
here (2.7 s of a 60 s pass over 10,000 objects; on S3, at about 0.2 s a page, half an hour over
ten million). A thread of the worker takes the pages while the first objects copy. The objects
wait in the worker, largest first among those listed so far, and only ``WINDOW_PER_THREAD`` per
thread are in the processes' queue at a time, so a large object listed last still starts long
before the end instead of finishing alone there.

Large objects and small ones are copied side by side (``Waiting``). Largest first alone put
every thread on the large objects, then every thread on the small ones: a lab pass (20 x 64 MiB
then 10,000 x 1-4 KiB) completed no object in its first 12 s, so its progress, its ETA and
what a ``kill -9`` leaves proven stood still. Large objects now take at most ``LARGE_SHARE`` of
the threads while small ones wait, and small ones complete from the first second. The pass's
time did not change (SeaweedFS's writes bound the large objects either way).
"""

from __future__ import annotations

import contextlib
import ctypes
import heapq
import itertools
import multiprocessing
import os
import queue
import resource
import signal
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from . import s3http, transfer
from .manifest import Entry, Listed
from .store import Store

CHILD_CHECK_S = 1.0
LISTING_POLL_S = 0.05  # while pages come in and the processes have room for more
FORWARD_POLL_S = 0.1
WINDOW_PER_THREAD = 2  # objects handed to the processes per thread: none waits, the rest keep their order
OBJECT_ATTEMPTS = 3  # a whole object, after its requests' own retries
LARGE_OBJECT = 8 * 1024 * 1024  # from here an object's time is its bytes, not its requests
LARGE_SHARE = 0.5  # of the threads, at most, on large objects while small ones wait
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


def _serve(clients: Clients, settings: transfer.Settings, threads: int, tasks: Any,
           send: Callable[[Any], None], child: bool) -> None:
    if child:
        _die_with_parent()
    source, target = clients()

    def loop() -> None:
        while (listed := tasks.get()) is not None:
            send(copy_one(source, target, listed, settings))

    workers = [threading.Thread(target=loop, daemon=True) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if child:
        send(_Finished(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))


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
        self._shares = [self.threads // self.processes + (i < self.threads % self.processes)
                        for i in range(self.processes)]
        # The children's tasks and results cross processes (pickled, through pipes); this
        # process's own threads take theirs from a local queue, at no such cost.
        self._tasks: Any = context.Queue()
        self._results: Any = context.Queue()
        self._my_tasks: queue.SimpleQueue[Listed | None] = queue.SimpleQueue()
        self._outcomes: queue.SimpleQueue[tuple[bool, Any]] = queue.SimpleQueue()  # (from a child, what)
        self._children: list[Any] = []
        self._threads: list[threading.Thread] = []
        self._ended = threading.Event()

    def __enter__(self) -> CopyPool:
        self._children = [self._context.Process(target=_serve, daemon=True, args=(
            self.clients, self.settings, share, self._tasks, self._results.put, True))
            for share in self._shares[1:]]
        for process in self._children:
            process.start()
        self.pids = [process.pid for process in self._children if process.pid]
        self._threads = [
            threading.Thread(target=_serve, daemon=True, args=(
                self.clients, self.settings, self._shares[0], self._my_tasks,
                lambda outcome: self._outcomes.put((False, outcome)), False)),
            threading.Thread(target=self._forward, daemon=True)]
        for thread in self._threads:
            thread.start()
        return self

    def _forward(self) -> None:
        """The children's results, into the one queue ``copy`` waits on, until the pool ends.

        Stopped by an event, not by a message through the children's queue: a child terminated
        at the end may have died holding that queue's write lock, and a write would wait forever."""
        while not self._ended.is_set():
            try:
                got = self._results.get(timeout=FORWARD_POLL_S)
            except queue.Empty:
                continue
            self._outcomes.put((True, got))

    def copy(self, pages: Iterable[Sequence[Listed]]) -> Iterator[Outcome]:
        """Copy the objects of ``pages`` (taken in a thread while the first ones copy), largest
        first among those listed so far, large and small side by side (``Waiting``); yield each
        one's outcome as it comes. Consume it whole before the next call. An exception of
        ``pages`` is raised here."""
        lister = _Lister(pages)
        waiting = Waiting(large_slots=max(1, int(self.threads * LARGE_SHARE)))
        mine_window = WINDOW_PER_THREAD * self._shares[0]
        children_window = WINDOW_PER_THREAD * (self.threads - self._shares[0])
        mine = children = 0  # in flight in this process's threads, in the children's
        while True:
            for listed in lister.take(wait=not (mine or children) and not waiting):
                waiting.add(listed)
            while waiting and (mine < mine_window or children < children_window):
                if mine * children_window <= children * mine_window:  # the less busy side, by its share
                    self._my_tasks.put(waiting.pop())
                    mine += 1
                else:
                    self._tasks.put(waiting.pop())
                    children += 1
            if not (mine or children):
                if lister.finished:
                    return
                continue
            listing = not lister.finished and mine + children < mine_window + children_window
            try:
                from_child, got = self._outcomes.get(timeout=LISTING_POLL_S if listing else CHILD_CHECK_S)
            except queue.Empty:
                self._check_children()
                continue
            if isinstance(got, _Finished):  # not expected before the end; counted all the same
                self.children_max_rss_kb += got.max_rss_kb
                continue
            if from_child:
                children -= 1
            else:
                mine -= 1
            waiting.done(got.listed)
            yield got

    def _check_children(self) -> None:
        dead = [p for p in self._children if p.exitcode not in (None, 0)]
        if dead:
            raise RuntimeError(f"a copy process ended with exit code {dead[0].exitcode}")

    def __exit__(self, *exc: object) -> None:
        for _ in range(self._shares[0]):
            self._my_tasks.put(None)
        for _ in range(self.threads - self._shares[0]):
            self._tasks.put(None)
        running = sum(1 for process in self._children if process.is_alive())
        while running and exc[0] is None:
            try:
                _, got = self._outcomes.get(timeout=CHILD_CHECK_S)
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
        self._ended.set()
        for thread in self._threads:
            thread.join(timeout=CHILD_CHECK_S)


class Waiting:
    """The listed objects not yet handed out, large and small apart, each largest first (then in
    listing order). A large object is handed out while fewer than ``large_slots`` are out, or when
    no small one waits."""

    def __init__(self, large_slots: int) -> None:
        self.large_slots = large_slots
        self.large_out = 0
        self._large: list[tuple[int, int, Listed]] = []  # heaps
        self._small: list[tuple[int, int, Listed]] = []
        self._order = itertools.count()

    def __bool__(self) -> bool:
        return bool(self._large or self._small)

    def add(self, listed: Listed) -> None:
        heapq.heappush(self._large if _is_large(listed) else self._small,
                       (-listed.size, next(self._order), listed))

    def pop(self) -> Listed:
        if self._large and (self.large_out < self.large_slots or not self._small):
            self.large_out += 1
            return heapq.heappop(self._large)[2]
        return heapq.heappop(self._small)[2]

    def done(self, listed: Listed) -> None:
        """``listed``, handed out by ``pop``, is copied (or failed)."""
        if _is_large(listed):
            self.large_out -= 1


def _is_large(listed: Listed) -> bool:
    return listed.size >= LARGE_OBJECT


class _Lister:
    """Pages of objects taken in a thread of their own (a listing waits on the source store)."""

    def __init__(self, pages: Iterable[Sequence[Listed]]) -> None:
        self._pages: queue.Queue[Sequence[Listed] | None] = queue.Queue()
        self._error: BaseException | None = None
        self._ended = False
        threading.Thread(target=self._run, args=(pages,), daemon=True).start()

    def _run(self, pages: Iterable[Sequence[Listed]]) -> None:
        try:
            for page in pages:
                self._pages.put(page)
        except BaseException as error:
            self._error = error
        finally:
            self._pages.put(None)

    def take(self, *, wait: bool) -> list[Listed]:
        """The objects listed since the last call; with ``wait``, at least one page or the end."""
        found: list[Listed] = []
        while not self._ended:
            try:
                page = self._pages.get(block=wait and not found)
            except queue.Empty:
                break
            if page is None:
                self._ended = True
            else:
                found += page
        if self._error is not None:
            raise self._error
        return found

    @property
    def finished(self) -> bool:
        """Every page taken (``take`` saw the end)."""
        return self._ended
