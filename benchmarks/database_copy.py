"""The database's initial copy, the toolkit against its peers, between the lab's two servers.

    sudo .venv/bin/python benchmarks/database_copy.py --lab NAME [--scale 80] [--rounds 3] [--lag-seconds 60]

``NAME`` is a lab that is up, whose bare-metal hosts were provisioned with ``--standby`` and saved
as the lab snapshot ``standby`` (``toolkit lab snapshot --name NAME standby``). The source gets
about ``scale * 12.5`` MB of pgbench tables (generated server-side), plus a bytea table and a jsonb
table. Every peer runs on the target's database host, pulling from the source, in its own target
database of the same cluster:

- ``pg_dump -Fc | pg_restore`` (one pipe, as most people run it);
- ``pgcopydb clone`` (Debian's; installed on the host from this machine's apt cache if missing);
- a native subscription with ``copy_data = true`` (schema restored whole first, as it requires);
- a raw ``COPY ... TO STDOUT | COPY ... FROM STDIN`` of the largest table into a bare table: the floor;
- ``toolkit replicate``'s database part (its mover's preflight and start, until caught up and
  streaming) into the spec's database, from the standby snapshot.

Then the steady-state lag: the reference app's load generator at 200 writes/s on the source while
``replicate --status`` is sampled every second. Prints seconds, MB/s and ratios, and JSON at the end.
With ``--rounds N`` every contender runs N times, the contenders in turn, and the medians compare.
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psycopg

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from refservice.loadgen import run_load  # noqa: E402
from toolkit import interface, ssh  # noqa: E402
from toolkit.data.mover import MoverOptions  # noqa: E402
from toolkit.data.postgres import PostgresMover  # noqa: E402
from toolkit.data.replication import subject  # noqa: E402
from toolkit.runs import Run  # noqa: E402
from toolkit.runs.journal import Journal  # noqa: E402

PASSFILE = "/var/lib/postgresql/bench.pgpass"
# Every peer copies the whole database: these and the reference service's own table.
TABLES = [
    "pgbench_accounts",
    "pgbench_branches",
    "pgbench_tellers",
    "pgbench_history",
    "blobs",
    "docs",
    "notes",
]


class Lab:
    def __init__(self, name: str) -> None:
        self.status = interface.lab_status(name)
        self.name = name
        self.dir = Path(self.status["dir"])
        spec = interface.load_spec(self.status["spec"]).spec
        assert spec.targets.aws is not None and spec.targets.aws.database_endpoint is not None
        self.source_host = spec.targets.aws.database_endpoint.host
        self.db_host = next(
            h for h in self.status["hosts"] if h["side"] == "baremetal"
        )  # 1-host lab: db there
        self.admin_password = (self.dir / "secrets" / "db_admin_password").read_text().strip()
        self.owner_password = (self.dir / "secrets" / "db_owner_password").read_text().strip()

    def source(self, role: str = "refservice") -> psycopg.Connection[Any]:
        password = self.owner_password if role == "refservice" else self.admin_password
        return psycopg.connect(
            host=self.source_host, dbname="refservice", user=role, password=password, autocommit=True
        )

    def client(self) -> Any:
        return ssh.connect(
            self.db_host["address"],
            user=self.status["ssh_user"],
            key_file=self.status["ssh_key"],
            known_hosts=self.status["known_hosts"],
        )

    def on_target(self, command: str, *, input: str | None = None, timeout: float = 7200) -> str:
        client = self.client()
        try:
            result = ssh.run(client, command, input=input, timeout=timeout)
        finally:
            client.close()
        if result.status != 0:
            raise RuntimeError(f"{command[:120]}: {result.stderr[-800:]}")
        return result.stdout

    def as_postgres(self, command: str) -> str:
        # pipefail: a pipe whose first command failed must not time as a fast, empty copy.
        return self.on_target(
            f"sudo -n -u postgres env PGPASSFILE={PASSFILE} bash -o pipefail -c {shlex.quote(command)}"
        )

    def target_sql(self, sql: str, dbname: str = "postgres") -> str:
        return self.on_target(
            f"sudo -n -u postgres psql -X -q -At -v ON_ERROR_STOP=1 -d {dbname} -f -", input=sql
        )

    def src(self) -> str:
        return f"-h {self.source_host} -U toolkit_admin -d refservice"


def generate(lab: Lab, scale: int) -> int:
    """pgbench tables generated on the server, a bytea and a jsonb table; the bytes of their heaps."""
    with lab.source() as conn:
        conn.execute(
            "DROP TABLE IF EXISTS pgbench_accounts, pgbench_branches, pgbench_tellers, pgbench_history, "
            "blobs, docs"
        )
    subprocess.run(
        [
            "pgbench",
            "-i",
            "-q",
            "-I",
            "dtGvp",
            "-s",
            str(scale),
            "-h",
            lab.source_host,
            "-U",
            "refservice",
            "refservice",
        ],
        check=True,
        env={"PGPASSWORD": lab.owner_password, "PATH": "/usr/bin:/usr/lib/postgresql/15/bin"},
        capture_output=True,
    )
    with lab.source() as conn:
        conn.execute("CREATE TABLE blobs (id int PRIMARY KEY, data bytea)")
        conn.execute(
            "INSERT INTO blobs SELECT g, decode(string_agg(md5(g::text || i::text), ''), 'hex') "
            "FROM generate_series(1, 20000) g, generate_series(1, 256) i GROUP BY g"
        )
        conn.execute("CREATE TABLE docs (id int PRIMARY KEY, doc jsonb)")
        conn.execute(
            "INSERT INTO docs SELECT g, jsonb_build_object('id', g, 'name', md5(g::text), 'tags', "
            "ARRAY[md5((g+1)::text), md5((g+2)::text)], 'nested', jsonb_build_object('a', g, 'b', "
            "repeat(md5(g::text), 8))) FROM generate_series(1, 300000) g"
        )
        conn.execute("CREATE INDEX docs_gin ON docs USING gin (doc)")
        # As a long-lived source is: hint bits and visibility map set, so the first contender to
        # read a table does not pay for it (pgbench's tables had theirs, -I v).
        conn.execute("VACUUM (ANALYZE) blobs, docs")
        conn.execute("ANALYZE")
    return measure(lab)


def measure(lab: Lab) -> int:
    with lab.source() as conn:
        row = conn.execute("SELECT sum(pg_table_size(c)) FROM unnest(%s::regclass[]) c", (TABLES,)).fetchone()
    assert row is not None
    return int(row[0])


def settle(lab: Lab, timeout: float = 600) -> None:
    """The target as quiet as at the first peer's start: the WAL the previous peer wrote archived
    (the backups role archives every segment) and a checkpoint taken. Otherwise a peer pays for
    the one before it, and the toolkit, which starts from the restored snapshot, would not."""
    deadline = time.monotonic() + timeout
    ready = "SELECT count(*) FROM pg_ls_archive_statusdir() WHERE name LIKE '%.ready'"
    while lab.target_sql(ready).strip() != "0":
        if time.monotonic() > deadline:
            sys.exit(f"the target's WAL archiving did not catch up within {timeout:.0f} s")
        time.sleep(1)
    lab.target_sql("CHECKPOINT;")


def timed(what: str, action: Any) -> float:
    started = time.monotonic()
    action()
    seconds = time.monotonic() - started
    print(f"  {what}: {seconds:.1f} s", flush=True)
    return seconds


def fresh_db(lab: Lab, name: str) -> None:
    lab.target_sql(
        f"DROP DATABASE IF EXISTS {name} WITH (FORCE);\nCREATE DATABASE {name} OWNER refservice;\n"
    )


def prepare_peers(lab: Lab) -> None:
    """The peers' passfile and pgcopydb on the target host (restoring the standby snapshot, as
    the toolkit's turn does, takes them away)."""
    lab.on_target(
        f"sudo -n -u postgres sh -c 'umask 077 && cat > {PASSFILE}'",
        input=f"{lab.source_host}:5432:*:toolkit_admin:{lab.admin_password}\n",
    )
    ensure_pgcopydb(lab)


def ensure_pgcopydb(lab: Lab) -> None:
    if lab.on_target("command -v pgcopydb || true").strip():
        return
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["apt-get", "download", "pgcopydb"], cwd=tmp, check=True, capture_output=True)
        deb = next(Path(tmp).glob("pgcopydb_*.deb"))
        client = lab.client()
        try:
            client.open_sftp().put(str(deb), "/tmp/pgcopydb.deb")
        finally:
            client.close()
    lab.on_target("sudo -n dpkg -i /tmp/pgcopydb.deb")


def dump_restore(lab: Lab) -> None:
    fresh_db(lab, "bench_dump")
    lab.as_postgres(f"pg_dump -Fc {lab.src()} | pg_restore -d bench_dump")


def pgcopydb(lab: Lab, jobs: int) -> None:
    fresh_db(lab, "bench_pgcopydb")
    lab.on_target("sudo -n rm -rf /var/lib/postgresql/pgcopydb")
    lab.as_postgres(
        "pgcopydb clone --no-owner --no-acl "
        f"--source postgres://toolkit_admin@{lab.source_host}/refservice "
        "--target 'postgres:///bench_pgcopydb?host=/var/run/postgresql' "
        f"--dir /var/lib/postgresql/pgcopydb --table-jobs {jobs} --index-jobs {jobs} "
        "> /var/lib/postgresql/pgcopydb.log 2>&1 "
        "|| { grep -v ' INFO ' /var/lib/postgresql/pgcopydb.log | tail -20 >&2; exit 1; }"
    )


def native_subscription(lab: Lab) -> None:
    fresh_db(lab, "bench_native")
    lab.as_postgres(f"pg_dump -Fc --schema-only {lab.src()} | pg_restore -d bench_native")
    with lab.source("toolkit_admin") as conn:
        conn.execute("DROP PUBLICATION IF EXISTS bench_native")
        conn.execute(f"CREATE PUBLICATION bench_native FOR TABLE {', '.join(TABLES)}")
    lab.target_sql(
        f"CREATE SUBSCRIPTION bench_native CONNECTION 'host={lab.source_host} dbname=refservice "
        f"user=toolkit_admin passfile={PASSFILE}' PUBLICATION bench_native WITH (copy_data = true);",
        "bench_native",
    )
    while (
        lab.target_sql(
            "SELECT count(*) FROM pg_subscription_rel WHERE srsubstate <> 'r'", "bench_native"
        ).strip()
        != "0"
    ):
        time.sleep(0.5)


def drop_native(lab: Lab) -> None:
    lab.target_sql("DROP SUBSCRIPTION IF EXISTS bench_native;", "bench_native")
    with lab.source("toolkit_admin") as conn:
        conn.execute("DROP PUBLICATION IF EXISTS bench_native")


def raw_copy(lab: Lab) -> None:
    fresh_db(lab, "bench_raw")
    lab.target_sql(
        "CREATE TABLE pgbench_accounts (aid int, bid int, abalance int, filler char(84));", "bench_raw"
    )
    lab.as_postgres(
        f"psql -X -q {lab.src()} -c 'COPY pgbench_accounts TO STDOUT' | "
        "psql -X -q -d bench_raw -c 'COPY pgbench_accounts FROM STDIN'"
    )


def standby(lab: Lab) -> None:
    interface.stop_replication("baremetal", lab.status["spec"])  # a previous run's, if any
    interface.lab_restore(lab.name, "standby")
    lab.status = interface.lab_status(lab.name)


def toolkit_replicate(lab: Lab) -> dict[str, Any]:
    """The database's part of ``replicate``, as it drives it: the database mover's preflight, then
    its start, until the database is caught up and streaming. The objects' pass, which ``replicate``
    runs beside it, is left out: the peers copy the database only, and on this 1-host lab the two
    would share the same cores (``object_copy.py`` measures the objects)."""
    loaded = interface.load_spec(lab.status["spec"])
    # pgbench_history has no key: the toolkit refuses it unless told to set REPLICA IDENTITY FULL.
    mover = PostgresMover(loaded, MoverOptions(replica_identity_full=True))
    with Run.start("replicate", subject=subject(loaded)) as run:
        with run.step("preflight"):
            refused = [f"{f.subject}: {f.message}" for f in mover.preflight() if f.severity == "error"]
            if refused:
                sys.exit("preflight refused: " + "; ".join(refused))
        mover.start(run)
    steps = {r["step"]: r["values"]["seconds"] for r in Journal(run.dir).records()
             if r.get("event") == "step-ended"}
    return {"run": run.id, "steps": steps}


def steady_lag(lab_status: dict[str, Any], seconds: float) -> dict[str, Any]:
    """The replication lag sampled every second while the load generator writes 200/s on the source."""
    samples: list[tuple[int, float]] = []
    stop = threading.Event()
    summary: dict[str, Any] = {}

    def load() -> None:
        with tempfile.TemporaryDirectory() as tmp:
            summary["load"] = run_load(
                lab_status["app_url"],
                rate=200,
                duration=seconds,
                journal_path=Path(tmp) / "load.jsonl",
                stop=stop,
            )

    thread = threading.Thread(target=load)
    thread.start()
    time.sleep(3)
    while thread.is_alive():
        status = interface.replication_status("baremetal", lab_status["spec"])["database"]
        # lag_seconds is the walsender's replay_lag: None while PostgreSQL has no fresh estimate.
        seconds = status["lag_seconds"]
        samples.append((int(status["lag_bytes"] or 0), float(seconds) if seconds is not None else -1.0))
        time.sleep(1)
    thread.join()
    lag_bytes = sorted(s[0] for s in samples)
    lag_seconds = sorted(s[1] for s in samples if s[1] >= 0) or [0.0]
    return {
        "writes_per_s": round(summary["load"].achieved_rate, 1),
        "samples": len(samples),
        "lag_bytes_median": statistics.median(lag_bytes),
        "lag_bytes_max": lag_bytes[-1],
        "lag_seconds_median": round(statistics.median(lag_seconds), 3),
        "lag_seconds_max": lag_seconds[-1],
        "lag_seconds_p95": lag_seconds[int(0.95 * (len(lag_seconds) - 1))],
        "lag_seconds_known": sum(1 for s in samples if s[1] >= 0),
    }


RAW, TOOLKIT = "raw COPY pipe, largest table", "toolkit replicate"
CONTENDERS = [RAW, "pg_dump -Fc | pg_restore", "pgcopydb clone",
              "native subscription copy_data=true", TOOLKIT]


def turns(number: int, rounds: int) -> list[str]:
    """The contenders' order in round ``number`` (1-based): rotated from round to round, so that
    none always runs first or after the same one; the last round ends with the toolkit, whose
    replication the lag measurement then uses."""
    shift = (number - rounds) % len(CONTENDERS)
    return CONTENDERS[shift:] + CONTENDERS[:shift]


def one_round(lab: Lab, jobs: int, run: dict[str, Any], order: list[str]) -> dict[str, float]:
    """Every contender once, each from a settled target holding none of the others' copies; the
    toolkit's run recorded in ``run``."""
    peers = {
        RAW: ("raw COPY of pgbench_accounts", lambda: raw_copy(lab), "bench_raw"),
        "pg_dump -Fc | pg_restore": ("pg_dump | pg_restore", lambda: dump_restore(lab), "bench_dump"),
        "pgcopydb clone": ("pgcopydb clone", lambda: pgcopydb(lab, jobs), "bench_pgcopydb"),
        "native subscription copy_data=true": (
            "native subscription", lambda: native_subscription(lab), "bench_native"),
    }
    seconds: dict[str, float] = {}
    peers_ready = False
    for name in order:
        if name == TOOLKIT:
            standby(lab)  # stops the previous run's replication, restores the target's snapshot
            settle(lab)
            seconds[name] = timed(TOOLKIT, lambda: run.update(toolkit_replicate(lab)))
            peers_ready = False
            continue
        if not peers_ready:  # the toolkit's publication would be in the dump; the snapshot has no passfile
            interface.stop_replication("baremetal", lab.status["spec"])
            prepare_peers(lab)
            peers_ready = True
        what, action, database = peers[name]
        settle(lab)
        seconds[name] = timed(what, action)
        if database == "bench_native":
            drop_native(lab)  # its slot on the source too
        lab.target_sql(f"DROP DATABASE IF EXISTS {database} WITH (FORCE);")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lab", required=True)
    parser.add_argument("--scale", type=int, default=80)
    parser.add_argument("--lag-seconds", type=float, default=60)
    parser.add_argument("--reuse", action="store_true", help="keep the data a previous run generated")
    parser.add_argument("--rounds", type=int, default=1,
                        help="run every contender this many times, in turn, and compare medians")
    args = parser.parse_args()
    lab = Lab(args.lab)
    interface.stop_replication("baremetal", lab.status["spec"])  # before generating: no slot holds WAL
    print(f"generating scale {args.scale} on the source ...", flush=True)
    size = measure(lab) if args.reuse else generate(lab, args.scale)
    mb = size / 1e6
    print(f"source tables: {mb:.0f} MB", flush=True)
    jobs = max(2, min(8, 2 * int(lab.on_target("nproc").strip())))
    rounds: dict[str, list[float]] = {}
    run: dict[str, Any] = {}
    for number in range(1, args.rounds + 1):
        print(f"round {number} of {args.rounds}", flush=True)
        for name, value in one_round(lab, jobs, run, turns(number, args.rounds)).items():
            rounds.setdefault(name, []).append(value)
    # The median of each contender's rounds: a round's figures move by a tenth on 2 busy cores.
    seconds = {name: statistics.median(values) for name, values in rounds.items()}
    with lab.source() as conn:
        row = conn.execute("SELECT pg_table_size('pgbench_accounts')").fetchone()
    assert row is not None
    largest_mb = int(row[0]) / 1e6
    print(f"\n{'peer':40} {'seconds':>8} {'MB/s':>7} {'toolkit is x faster':>20}  rounds")
    toolkit = seconds[TOOLKIT]
    for name in CONTENDERS:
        value = seconds[name]
        volume = largest_mb if name.startswith("raw") else mb
        each = " ".join(f"{v:.1f}" for v in rounds[name])
        print(f"{name:40} {value:8.1f} {volume / value:7.1f} {value / toolkit:20.2f}  {each}")
    raw_rate = largest_mb / seconds[RAW]
    toolkit_rate = mb / toolkit
    print(f"toolkit MB/s over the raw pipe's MB/s (the floor's rate): {toolkit_rate / raw_rate:.2f}")
    lab.on_target(f"sudo -n rm -f {PASSFILE}")
    print(f"\nsteady-state lag under 200 writes/s for {args.lag_seconds:.0f} s ...", flush=True)
    lag = steady_lag(lab.status, args.lag_seconds)
    print(
        json.dumps(
            {
                "source_mb": round(mb),
                "largest_table_mb": round(largest_mb),
                "seconds": seconds,
                "rounds": rounds,
                "lag": lag,
                **run,
            },
            indent=1,
        )
    )
    interface.stop_replication("baremetal", lab.status["spec"])


if __name__ == "__main__":
    main()
