"""The schema in two halves, run on the target's database host with the source's own dump.

``pg_dump -Fc --schema-only`` of the source (from the target host, password from the passfile)
is restored in two sections: ``pre-data`` before the copy (tables, types, functions, views,
sequences: no index, no key, no foreign key, so rows load fast), ``post-data`` after it, with
``pg_restore -j`` building indexes and constraints in parallel, then ``ANALYZE`` in parallel.

Not carried: privileges granted to other roles (``--no-privileges``: a role that exists only on
the source would stop the restore), publications and subscriptions. Owners are kept: the owner
role exists on the standby.

Drift: the same schema-only dump of both sides, taken on the target host, compared as text
(comments and ``toolkit_*`` schemas left out): DDL run on the source during replication is not
replicated, and ``verify`` fails on it.
"""

from __future__ import annotations

import shlex

from toolkit.data.postgres.names import Names
from toolkit.data.postgres.source import SourceEndpoint
from toolkit.data.postgres.target import TargetHost
from toolkit.errors import CheckFailed

DUMP_FLAGS = "--schema-only --no-publications --no-subscriptions"
COMPARE_FLAGS = f"{DUMP_FLAGS} --no-owner --no-privileges --exclude-schema='toolkit_*'"


def _source_args(endpoint: SourceEndpoint) -> str:
    return (f"-h {shlex.quote(endpoint.host)} -p {endpoint.port} -U {shlex.quote(endpoint.user)} "
            f"-d {shlex.quote(endpoint.dbname)}")


def _as_postgres(names: Names, command: str, options: str = "") -> str:
    extra = f"PGOPTIONS={shlex.quote(options)} " if options else ""
    return (f"sudo -n -u postgres env PGPASSFILE={shlex.quote(names.passfile)} PGCONNECT_TIMEOUT=10 "
            f"{extra}{command}")


def index_memory_mb(target: TargetHost, jobs: int) -> int:
    """``maintenance_work_mem`` for each of ``jobs`` index builds: a quarter of the host's memory
    shared among them, at most 1 GB each (64 MB, the default, makes a GIN index crawl)."""
    kib = target.run("awk '/^MemTotal/ {print $2}' /proc/meminfo", what="reading memory").stdout.strip()
    total_mb = int(kib) // 1024 if kib.isdigit() else 4096
    return max(64, min(1024, total_mb // (4 * max(1, jobs))))


def dump_path(names: Names) -> str:
    return f"{names.directory}/schema.dump"


def dump(target: TargetHost, names: Names, endpoint: SourceEndpoint) -> None:
    command = f"pg_dump -Fc {DUMP_FLAGS} {_source_args(endpoint)} -f {shlex.quote(dump_path(names))}"
    target.run(_as_postgres(names, command), what="pg_dump of the source schema")


def restore(target: TargetHost, names: Names, section: str, *, jobs: int = 1, strict: bool = True,
            skip: list[str] | None = None) -> None:
    """``pg_restore --section``, without the entries named in ``skip`` (``pg_restore -l`` names:
    what the copy agent built already); not ``strict`` after a crash (objects already made are
    reported and skipped; ``verify``'s drift check then proves the result)."""
    flags = (f"--section={section} --no-privileges -p {target.settings.port} "
             f"-d {shlex.quote(target.settings.dbname)}")
    if skip:
        listing = target.run(f"sudo -n -u postgres pg_restore -l {shlex.quote(dump_path(names))}",
                             what="listing the schema dump").stdout
        kept = without_entries(listing, skip)
        list_file = f"{names.directory}/{section}.list"
        target.write_private(list_file, "\n".join(kept) + "\n")
        flags += f" -L {shlex.quote(list_file)}"
    if jobs > 1:
        flags += f" -j {jobs}"
    if strict:
        flags += " --exit-on-error"
    options = f"-c maintenance_work_mem={index_memory_mb(target, jobs)}MB" if section == "post-data" else ""
    result = target.run(_as_postgres(names, f"pg_restore {flags} {shlex.quote(dump_path(names))}", options),
                        check=strict, what=f"pg_restore --section={section}", timeout=7200)
    if not strict and result.status != 0 and "already exists" not in result.stderr:
        raise CheckFailed(f"{target.name}: pg_restore --section={section} failed: "
                          f"{result.stderr.strip()[-400:]}")


def without_entries(listing: str, skip: list[str]) -> list[str]:
    """The lines of a ``pg_restore -l`` listing but those naming an entry of ``skip``.

    A line reads ``<id>; <catalog> <oid> <kind> <schema> <name...> <owner>``; an entry is
    ``<kind> <schema> <name...>`` (``INDEX public x``, ``CONSTRAINT public t t_pkey``), matched
    whole, so that ``INDEX public x`` does not take ``INDEX public x2`` with it.
    """
    return [line for line in listing.splitlines()
            if line.startswith(";") or not any(f" {entry} " in line for entry in skip)]


def analyze(target: TargetHost, names: Names, jobs: int, tables: list[str]) -> None:
    """ANALYZE of ``tables`` (quoted ``schema.name``), ``jobs`` at a time."""
    if not tables:
        return
    listed = " ".join(f"-t {shlex.quote(table)}" for table in tables)
    target.run(f"sudo -n -u postgres vacuumdb --quiet --analyze-only -j {min(jobs, len(tables))} "
               f"-p {target.settings.port} -d {shlex.quote(target.settings.dbname)} {listed}",
               what="ANALYZE", timeout=7200)


def target_has_tables(target: TargetHost) -> list[str]:
    return list(target.json(
        "SELECT coalesce(json_agg(format('%s.%s', n.nspname, c.relname)), '[]') FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') "
        "AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'toolkit\\_%'"))


def drift(target: TargetHost, names: Names, endpoint: SourceEndpoint) -> list[str]:
    """Lines of a unified diff between the source's schema and the target's (empty: none)."""
    directory = shlex.quote(names.directory)
    # Comments, settings and pg_dump's per-dump restrict keys are not schema.
    clean = ("grep -v -e '^--' -e '^$' -e '^SET ' -e '^SELECT pg_catalog.set_config' "
             "-e '^\\\\restrict ' -e '^\\\\unrestrict '")
    script = (f"cd {directory} && pg_dump {COMPARE_FLAGS} {_source_args(endpoint)} | {clean} > source.sql && "
              f"pg_dump {COMPARE_FLAGS} -p {target.settings.port} -d {shlex.quote(target.settings.dbname)} "
              f"| {clean} > target.sql && {{ diff -U0 source.sql target.sql; test $? -le 1; }}")
    result = target.run(_as_postgres(names, f"sh -c {shlex.quote(script)}"), what="comparing schemas")
    return [line for line in result.stdout.splitlines()
            if line[:1] in "+-" and not line.startswith(("+++", "---"))]
