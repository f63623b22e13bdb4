"""Fixtures for the reference service tests: a real PostgreSQL, a real moto S3, the app under gunicorn.

The shared fixtures (`postgres_server`, `moto_server`) live in tests/fixtures and are registered as
plugins by the root conftest.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from refservice.config import Settings
from refservice.schema import apply_schema
from tests.fixtures.moto import moto_client
from tests.fixtures.postgres import PostgresServer
from tests.refservice.harness import Deployment, app_env, run_app


@pytest.fixture(scope="session")
def refservice_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("refservice")


@pytest.fixture(scope="session")
def deployment(
    postgres_server: PostgresServer, moto_server: str, refservice_tmp: Path
) -> Iterator[Deployment]:
    """The app under gunicorn against its own database (schema applied) and bucket."""
    name = f"refsvc_{secrets.token_hex(4)}"
    password = postgres_server.create_database(name, owner=name)
    s3 = moto_client(moto_server, "s3")
    s3.create_bucket(Bucket=name.replace("_", "-"))
    env = app_env(postgres_server, name, name, password, moto_server, name.replace("_", "-"), refservice_tmp)
    apply_schema(Settings.from_env(env))
    with run_app(env, refservice_tmp) as url:
        yield Deployment(url, env, postgres_server, name, name.replace("_", "-"), s3)
