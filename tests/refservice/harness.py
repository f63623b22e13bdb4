"""Running the reference service for tests: gunicorn as a subprocess, and its environment."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.fixtures.moto import MOTO_CREDENTIALS
from tests.fixtures.postgres import PostgresServer, free_port

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Deployment:
    """One running app: its URL, environment, database and bucket."""

    url: str
    env: dict[str, str]
    pg: PostgresServer
    dbname: str
    bucket: str
    s3: Any  # a boto3 S3 client on moto

    def sql(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Run SQL as the superuser in the app's database, behind the app's back."""
        with self.pg.connect(self.dbname) as conn:
            cur = conn.execute(query, params)
            return cur.fetchall() if cur.description else []


def gunicorn_command(port: int) -> list[str]:
    """The venv's gunicorn, or REFSERVICE_TEST_GUNICORN (e.g. /usr/bin/gunicorn to try Debian's stack)."""
    exe = Path(sys.executable).with_name("gunicorn")
    launcher = [str(exe)] if exe.exists() else [sys.executable, "-m", "gunicorn"]
    if os.environ.get("REFSERVICE_TEST_GUNICORN"):
        launcher = os.environ["REFSERVICE_TEST_GUNICORN"].split()
    return [*launcher, "--bind", f"127.0.0.1:{port}", "--workers", "2", "--timeout", "30",
            "--graceful-timeout", "2", "refservice.wsgi:app"]


@contextmanager
def run_app(env: dict[str, str], tmp: Path) -> Iterator[str]:
    """Start the app under gunicorn; yield its base URL once it answers HTTP."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp / f"gunicorn-{port}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            gunicorn_command(port), cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
            env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), **env},
        )
    try:
        deadline = time.monotonic() + 20
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                urllib.request.urlopen(f"{url}/healthz", timeout=2).close()
                break
            except urllib.error.HTTPError:
                break  # answering (maybe 503) is enough here
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"gunicorn did not answer:\n{log.read_text()[-3000:]}") from None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def app_env(pg: PostgresServer, dbname: str, role: str, password: str, moto: str, bucket: str,
            tmp: Path) -> dict[str, str]:
    pwfile = tmp / f"{dbname}.password"
    pwfile.write_text(password + "\n")
    pwfile.chmod(0o600)
    return {
        "REFSERVICE_DATABASE_URL": pg.url(dbname, role),
        "REFSERVICE_DATABASE_PASSWORD_FILE": str(pwfile),
        "REFSERVICE_S3_ENDPOINT": moto,
        "REFSERVICE_S3_BUCKET": bucket,
        "REFSERVICE_S3_REGION": "us-east-1",
        "REFSERVICE_DB_STATEMENT_TIMEOUT_MS": "3000",
        "AWS_ACCESS_KEY_ID": MOTO_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        "AWS_SECRET_ACCESS_KEY": MOTO_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    }
