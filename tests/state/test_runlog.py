"""A run's log file: the package's INFO records while the run works, nothing before or after."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from toolkit import state
from toolkit.runlog import LOG_NAME, run_log


@pytest.fixture
def package_logger() -> Iterator[logging.Logger]:
    logger = logging.getLogger("toolkit")
    level = logger.level
    logger.setLevel(logging.NOTSET)  # as in a CLI run without --verbose
    yield logger
    logger.setLevel(level)


def test_info_records_of_the_package_land_in_the_run_dir(package_logger: logging.Logger) -> None:
    run_dir = state.new_run_dir("provision")
    logging.getLogger("toolkit.targets.baremetal.provision").info("before: %s", "not logged")
    with run_log(run_dir) as path:
        logging.getLogger("toolkit.targets.baremetal.provision").info("provision: %d hosts", 5)
        logging.getLogger("toolkit.targets.baremetal.provision").debug("provision: a detail")
        logging.getLogger("paramiko.transport").warning("another library")
    logging.getLogger("toolkit.parity").info("after: %s", "not logged")
    assert path == run_dir / LOG_NAME
    assert path.stat().st_mode & 0o777 == 0o600
    lines = path.read_text().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].endswith("INFO toolkit.targets.baremetal.provision: provision: 5 hosts")
    assert package_logger.level == logging.NOTSET
    assert not [h for h in package_logger.handlers if isinstance(h, logging.FileHandler)]


def test_the_log_is_closed_and_complete_when_the_run_fails(package_logger: logging.Logger) -> None:
    run_dir = state.new_run_dir("parity")
    with pytest.raises(RuntimeError), run_log(run_dir):
        logging.getLogger("toolkit.parity").error("parity: roles could not be evaluated")
        raise RuntimeError("boom")
    assert "ERROR toolkit.parity: parity: roles could not be evaluated" in (run_dir / LOG_NAME).read_text()
    assert package_logger.handlers == []


def test_a_more_verbose_package_logger_is_left_as_it_is(package_logger: logging.Logger,
                                                         tmp_path: Path) -> None:
    package_logger.setLevel(logging.DEBUG)  # -vv
    with run_log(tmp_path):
        assert package_logger.level == logging.DEBUG
        logging.getLogger("toolkit.ssh").debug("connect: details for the console only")
    assert (tmp_path / LOG_NAME).read_text() == ""
