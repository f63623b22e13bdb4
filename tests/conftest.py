"""Shared fixtures, registered as plugins so every test folder can use them."""

pytest_plugins = [
    "tests.fixtures.postgres",
    "tests.fixtures.moto",
    "tests.fixtures.spec",
    "tests.fixtures.lab",
]
