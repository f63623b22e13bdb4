"""Worker jobs on the objects hosts side by side: one thread per host, records back in order.

The threads only talk SSH and queue what the workers say; the caller's thread takes the records
(``take``, ``wait``), so progress and the run's journal stay on one thread. A job started with
its stdin open (the ``follow`` mode) is told things through ``send``.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from toolkit import ssh
from toolkit.data.objects.hosts import ObjectHost


@dataclass
class HostOutcome:
    records: list[dict[str, Any]] = field(default_factory=list)
    error: Exception | None = None

    def last(self, kind: str) -> dict[str, Any]:
        return next((r for r in reversed(self.records) if r.get("type") == kind), {})


Work = Callable[[ObjectHost, "HostJobs"], None]  # runs one host's job, ``put``s its records


class HostJobs:
    def __init__(self, hosts: list[ObjectHost], work: Work) -> None:
        self.hosts = hosts
        self.outcomes = {host.name: HostOutcome() for host in hosts}
        self.running = len(hosts)
        self._records: queue.Queue[tuple[ObjectHost, dict[str, Any] | None]] = queue.Queue()
        self._streams: dict[str, ssh.Stream] = {}
        self._unsent: dict[str, list[str]] = {}  # said to a host before its job started
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(host, work), daemon=True) for host in hosts]
        for thread in self._threads:
            thread.start()

    def _run(self, host: ObjectHost, work: Work) -> None:
        try:
            work(host, self)
        except Exception as error:  # reported per host; the others go on
            self.outcomes[host.name].error = error
        finally:
            self._records.put((host, None))

    # -- for ``work``, on the hosts' threads -----------------------------------------------------
    def put(self, host: ObjectHost, record: dict[str, Any]) -> None:
        self._records.put((host, record))

    def attach(self, host: ObjectHost, stream: ssh.Stream) -> None:
        with self._lock:
            self._streams[host.name] = stream
            for text in self._unsent.pop(host.name, []):
                stream.send(text)

    # -- for the caller --------------------------------------------------------------------------
    def take(self, timeout: float | None = None) -> tuple[ObjectHost, dict[str, Any] | None] | None:
        """The next record (``None`` as the record: that host's job ended), or None on timeout."""
        try:
            host, record = self._records.get(timeout=timeout)
        except queue.Empty:
            return None
        if record is None:
            self.running -= 1
        else:
            self.outcomes[host.name].records.append(record)
        return host, record

    def wait(self, on_record: Callable[[ObjectHost, dict[str, Any]], None] | None = None,
             ) -> dict[str, HostOutcome]:
        """Until every host's job ended; ``on_record`` sees each record on the way."""
        while self.running:
            taken = self.take()
            if taken is not None and taken[1] is not None and on_record is not None:
                on_record(taken[0], taken[1])
        for thread in self._threads:
            thread.join()
        return self.outcomes

    def send(self, text: str) -> None:
        """``text`` to every job's stdin (see ``send_to``)."""
        for host in self.hosts:
            self.send_to(host, text)

    def send_to(self, host: ObjectHost, text: str) -> None:
        """``text`` to ``host``'s job, kept until it has started; a job that ended is skipped."""
        with self._lock:
            stream = self._streams.get(host.name)
            if stream is None:
                self._unsent.setdefault(host.name, []).append(text)
                return
            with contextlib.suppress(OSError, EOFError):
                stream.send(text)

    def close(self) -> None:
        """End every job's session: a ``follow`` worker sees its stdin close and stops."""
        for stream in list(self._streams.values()):
            stream.channel.close()
