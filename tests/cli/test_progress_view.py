"""The CLI's event view: plain lines off a terminal, the shared progress vocabulary described."""

from __future__ import annotations

import io

from rich.console import Console

from toolkit.cli.progress import describe, event_view
from toolkit.runs import Event


def test_describe_reads_the_shared_vocabulary() -> None:
    assert describe({"done": 512 * 1024**2, "total": 1024**3, "unit": "bytes", "rate": 64 * 1024**2,
                     "eta": 8}) == "512.0 MiB of 1.0 GiB (50%), 64.0 MiB/s, ETA 8 s"
    assert describe({"done": 3, "total": 7, "unit": "tables"}, "copy") == "copy, 3 of 7 tables (43%)"
    assert describe({"lag_bytes": 2048, "lag_seconds": 0.25}) == "lag 2.0 KiB, 0.2 s behind"


def test_off_a_terminal_each_step_is_a_plain_line() -> None:
    out = io.StringIO()
    with event_view(console=Console(file=out, force_terminal=False, width=200)) as view:
        view(Event("r", "step-started", "schema"))
        view(Event("r", "progress", "schema", values={"done": 1, "total": 2, "unit": "tables"}))
        view(Event("r", "progress", "schema", values={"done": 2, "total": 2, "unit": "tables"}))
        view(Event("r", "step-ended", "schema", values={"seconds": 1.25}))
        view(Event("r", "step-failed", "copy", "disk full"))
    assert out.getvalue().splitlines() == [
        "schema: started", "schema: 1 of 2 tables (50%)", "schema: done in 1.2 s", "copy: FAILED: disk full"]
