"""The cap on the copy's requests to the source S3: evenly spaced, shared by the forked copy
processes, applied to every request of the source's client (retries too), split over the shards."""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fixtures.http_server import Handler, serving
from toolkit.data.objects.hosts import Fleet, ObjectHost
from toolkit.data.objects.mover import ObjectMover, paced
from toolkit.data.objects.remote import pacing, s3http
from toolkit.runs import Run
from toolkit.spec import load_spec
from toolkit.targets.baremetal.inventory import InventoryHost

RATE = 50.0


def paced_span(started: float, times: list[float], per_second: float) -> bool:
    """Whether ``times`` (each taken once its request's wait ended) show the pace: the n-th request
    cannot go before n - 1 intervals after the first could. (Gaps between two recorded times are
    no proof: a thread may record late.)"""
    return max(times) - started >= (len(times) - 1) / per_second


def test_requests_are_spaced_by_the_interval_across_threads() -> None:
    pace = pacing.Pace(RATE)
    started = time.monotonic()
    times: list[float] = []
    lock = threading.Lock()

    def request() -> None:
        for _ in range(5):
            pace.wait()
            with lock:
                times.append(time.monotonic())

    threads = [threading.Thread(target=request) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(times) == 20 and paced_span(started, times, RATE)


def _requests_in_child(pace: pacing.Pace, sent: Any) -> None:
    for _ in range(10):
        pace.wait()
        sent.put(time.monotonic())


def test_forked_copy_processes_share_one_pace() -> None:
    # As pool.py forks its copy processes after the worker made the source's store.
    pace = pacing.Pace(RATE)
    context = multiprocessing.get_context("fork")
    sent = context.Queue()
    started = time.monotonic()
    children = [context.Process(target=_requests_in_child, args=(pace, sent)) for _ in range(2)]
    for child in children:
        child.start()
    times = [sent.get(timeout=30) for _ in range(20)]
    for child in children:
        child.join(timeout=30)
    # Two paces of their own would have sent two requests at each slot: 9 intervals in all.
    assert paced_span(started, times, RATE)


def test_a_side_without_a_rate_has_no_pace_and_one_rate_one_pace_per_process() -> None:
    assert pacing.for_side({"endpoint": "http://x"}) is None
    assert pacing.for_side({"requests_per_second": None}) is None
    first = pacing.for_side({"requests_per_second": 7})
    assert first is not None and first is pacing.for_side({"requests_per_second": 7.0})
    assert first.interval == pytest.approx(1 / 7)


class Counting(Handler):
    """Answers 503 SlowDown to the first GET, then serves; records when each request came."""

    seen: list[float] = []

    def do_GET(self) -> None:
        Counting.seen.append(time.monotonic())
        if len(Counting.seen) == 1:
            self.answer(503, b"<Error><Code>SlowDown</Code></Error>")
        else:
            self.answer(200, b"x")


@pytest.fixture
def counting_url() -> Iterator[str]:
    Counting.seen = []
    with serving(Counting) as port:
        yield f"http://127.0.0.1:{port}"


def test_the_source_client_paces_every_request_retries_included(counting_url: str) -> None:
    client = s3http.from_side({"endpoint": counting_url, "access_key": "AK", "secret_key": "SK",
                               "requests_per_second": 10})
    started = time.monotonic()
    for _ in range(4):
        assert client.get("bucket", "key").body.read() == b"x"
    assert len(Counting.seen) == 5  # the first GET was refused once, then retried
    assert paced_span(started, Counting.seen, 10)  # unpaced: the retry's backoff, at most 0.2 s


def test_the_specs_cap_reaches_the_source_of_every_job(spec_dir: Path, sample_data: dict[str, Any]) -> None:
    sample_data["targets"]["aws"]["s3_requests_per_second"] = 60
    (spec_dir / "service.yaml").write_text(yaml.safe_dump(sample_data, sort_keys=False))
    job = ObjectMover(load_spec(spec_dir / "service.yaml"))._job({"mode": "copy"})
    assert job["source"]["requests_per_second"] == 60
    assert not job["target"].get("requests_per_second")  # the bare-metal store: ours, uncapped


@pytest.mark.parametrize("cap", [60, None])
def test_a_paced_pass_says_so_in_its_state_and_its_run(spec_dir: Path, sample_data: dict[str, Any],
                                                       cap: int | None) -> None:
    if cap is not None:
        sample_data["targets"]["aws"]["s3_requests_per_second"] = cap
    (spec_dir / "service.yaml").write_text(yaml.safe_dump(sample_data, sort_keys=False))
    loaded = load_spec(spec_dir / "service.yaml")
    mover, fleet, run = ObjectMover(loaded), Fleet.of(loaded), Run.start("replicate")
    mover._begin(run, "copy", fleet)
    notes = [record["message"] for record in run.journal.records() if record.get("event") == "note"]
    run.finish("succeeded")
    if cap is None:
        assert "source_requests_per_second" not in mover.status() and notes == []
        return
    assert mover.status()["source_requests_per_second"] == cap  # what --status shows
    share = f"{cap / len(fleet.hosts):g} per objects host"
    assert notes == [f"objects: requests to the source S3 paced at {cap} a second "
                     f"(targets.aws.s3_requests_per_second), {share}"]


def test_each_objects_host_takes_its_share_of_the_cap() -> None:
    inventory = InventoryHost(name="bm1", address="198.51.100.1", groups=["objects"])
    host = ObjectHost(name="bm1", inventory=inventory, shard=0, shards=3)
    assert paced({"endpoint": "e", "requests_per_second": 60}, host)["requests_per_second"] == 20
    assert paced({"endpoint": "e", "requests_per_second": None}, host) == {"endpoint": "e",
                                                                           "requests_per_second": None}
