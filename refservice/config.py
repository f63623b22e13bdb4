"""Configuration, read only from environment variables (see README.md for the list)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import psycopg.conninfo

from refservice.errors import ConfigError


def _read_secret_file(env: Mapping[str, str], name: str) -> str | None:
    path = env.get(name, "").strip()
    if not path:
        return None
    try:
        # Secret files conventionally end with a newline that is not part of the secret.
        return Path(path).read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as exc:
        raise ConfigError(f"{name} names {path!r}, which cannot be read ({exc.strerror}).") from None


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, not {raw!r}.") from None


@dataclass(frozen=True)
class Settings:
    """Everything the service needs; secrets are kept out of repr() so they never reach a log."""

    database_url: str
    s3_bucket: str
    database_password: str | None = field(default=None, repr=False)
    s3_endpoint: str | None = None
    s3_region: str = "us-east-1"
    s3_access_key: str | None = field(default=None, repr=False)
    s3_secret_key: str | None = field(default=None, repr=False)
    connect_timeout_s: int = 3
    statement_timeout_ms: int = 5000

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        url = env.get("REFSERVICE_DATABASE_URL", "").strip()
        if not url:
            raise ConfigError("REFSERVICE_DATABASE_URL is not set.")
        try:
            parsed = psycopg.conninfo.conninfo_to_dict(url)
        except psycopg.ProgrammingError:
            raise ConfigError("REFSERVICE_DATABASE_URL is not a valid libpq connection string.") from None
        if parsed.get("password"):
            raise ConfigError(
                "REFSERVICE_DATABASE_URL must not contain a password; use PGPASSFILE, PGPASSWORD "
                "or REFSERVICE_DATABASE_PASSWORD_FILE."
            )
        bucket = env.get("REFSERVICE_S3_BUCKET", "").strip()
        if not bucket:
            raise ConfigError("REFSERVICE_S3_BUCKET is not set.")
        return cls(
            database_url=url,
            database_password=_read_secret_file(env, "REFSERVICE_DATABASE_PASSWORD_FILE"),
            s3_endpoint=env.get("REFSERVICE_S3_ENDPOINT", "").strip() or None,
            s3_bucket=bucket,
            s3_region=env.get("REFSERVICE_S3_REGION", "").strip() or "us-east-1",
            # None lets boto3 use AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY and its other usual sources.
            s3_access_key=_read_secret_file(env, "REFSERVICE_S3_ACCESS_KEY_FILE"),
            s3_secret_key=_read_secret_file(env, "REFSERVICE_S3_SECRET_KEY_FILE"),
            connect_timeout_s=_int(env, "REFSERVICE_DB_CONNECT_TIMEOUT", 3),
            statement_timeout_ms=_int(env, "REFSERVICE_DB_STATEMENT_TIMEOUT_MS", 5000),
        )
