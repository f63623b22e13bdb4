"""Steps announced one after another by message, as the lab's ``progress(message)`` callback does.

``with StepSequence(run) as step: work(progress=step)``: each call ends the step before (as
succeeded) and starts one named by the message; leaving the block ends the last one, as failed
if the block raised. Code that knows its steps up front uses ``run.step`` instead.
"""

from __future__ import annotations

import contextlib
from types import TracebackType

from toolkit.runs.run import Run


class StepSequence:
    def __init__(self, run: Run) -> None:
        self.run = run
        self._current: contextlib.ExitStack | None = None

    def __call__(self, message: str) -> None:
        self._end(None, None, None)
        self._current = contextlib.ExitStack()
        self._current.enter_context(self.run.step(message))

    def _end(self, kind: type[BaseException] | None, exc: BaseException | None,
             tb: TracebackType | None) -> None:
        current, self._current = self._current, None
        if current is not None:
            current.__exit__(kind, exc, tb)

    def __enter__(self) -> StepSequence:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            self._end(kind, exc, tb)
        except BaseException as raised:
            if raised is not exc:
                raise
