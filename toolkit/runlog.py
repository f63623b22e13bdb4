"""A run's log file: every toolkit log record at INFO and above, written into the run directory.

``with run_log(run_dir):`` attaches a handler to the ``toolkit`` logger for as long as the run
works and removes it afterwards, whether or not the CLI was asked for ``--verbose``. The file
(``run.log``, mode 0600) sits beside the run's other artifacts as part of its audit trail; log
messages never carry secret values (``Secret`` prints as ``***``), and the canary guard in the
tests scans this file like every other one.

Deliberately small: a later run mechanism (journal, lock, events) is expected to open it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOG_NAME = "run.log"
PACKAGE_LOGGER = "toolkit"
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@contextmanager
def run_log(run_dir: Path, level: int = logging.INFO) -> Iterator[Path]:
    """Log the package's records at ``level`` and above to ``run_dir/run.log`` while the block runs."""
    path = run_dir / LOG_NAME
    path.touch(mode=0o600, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter(FORMAT))
    logger = logging.getLogger(PACKAGE_LOGGER)
    previous = logger.level
    # Without this a package logger left at NOTSET inherits the root's WARNING and INFO never arrives.
    if logger.getEffectiveLevel() > level:
        logger.setLevel(level)
    logger.addHandler(handler)
    try:
        yield path
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
        handler.close()
