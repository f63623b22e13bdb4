"""The source database (RDS), reached only over PostgreSQL as the spec's admin role.

The admin role is RDS's master user: not a superuser, a member of the service's owner role (so it
may publish the owner's tables), with REPLICATION (``rds_replication``). Its password is revealed
at the moment of connecting and goes nowhere else on this machine.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from toolkit.errors import BadInput, CheckFailed
from toolkit.spec import LoadedSpec
from toolkit.spec.secrets import Secret


@dataclass(frozen=True)
class SourceEndpoint:
    host: str
    port: int
    dbname: str
    user: str
    password: Secret

    def conninfo(self) -> str:
        """libpq keywords without the password (it is passed apart, or read from a passfile)."""
        return f"host={self.host} port={self.port} dbname={self.dbname} user={self.user}"

    def passfile_line(self) -> str:
        def escape(text: str) -> str:
            return text.replace("\\", "\\\\").replace(":", "\\:")

        return ":".join(escape(part) for part in (self.host, str(self.port), "*", self.user,
                                                   self.password.reveal())) + "\n"


def source_endpoint(loaded: LoadedSpec) -> SourceEndpoint:
    spec = loaded.spec
    aws = spec.targets.aws
    if aws is None or aws.database_endpoint is None:
        raise BadInput(f"{loaded.path}: targets.aws.database_endpoint is not set; the source database's "
                       "address is needed to replicate from it")
    role = spec.database.admin or spec.database.owner
    return SourceEndpoint(host=aws.database_endpoint.host, port=aws.database_endpoint.port,
                          dbname=spec.database.name, user=role.name,
                          password=role.password.resolve(loaded.base_dir))


@contextmanager
def connect(endpoint: SourceEndpoint) -> Iterator[Any]:
    """An autocommit psycopg connection to the source as the admin role."""
    import psycopg

    try:
        conn = psycopg.connect(endpoint.conninfo(), password=endpoint.password.reveal(), autocommit=True,
                               connect_timeout=10, application_name="toolkit")
    except psycopg.OperationalError as exc:
        raise CheckFailed(f"the source database {endpoint.host}:{endpoint.port}/{endpoint.dbname} "
                          f"refused {endpoint.user}: {str(exc).strip().splitlines()[-1]}") from None
    try:
        yield conn
    finally:
        conn.close()


def query(conn: Any, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
    return list(conn.execute(sql, params).fetchall())


def scalar(conn: Any, sql: str, params: Any = None) -> Any:
    row = conn.execute(sql, params).fetchone()
    return None if row is None else row[0]
