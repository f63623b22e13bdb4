"""Shared fixtures, registered as plugins so every test folder can use them."""

import pytest

pytest_plugins = [
    "tests.fixtures.postgres",
    "tests.fixtures.moto",
    "tests.fixtures.spec",
    "tests.fixtures.lab",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The session's one lab is shared: tests that need its hosts as booted (blank) run before
    # any test provisions them. The sort is stable, so the order is otherwise unchanged.
    items.sort(key=lambda item: item.get_closest_marker("lab_blank") is None)
