"""Preflight: everything checked before anything is made, on either side. Reads only.

Source (as the admin role): ``wal_level = logical``, the REPLICATION attribute and a free slot,
ownership of every table (publishing needs it), tables whose UPDATE/DELETE would fail once
published (no primary key, no replica identity), sequences the role cannot read, large objects.
Target (as the superuser through sudo): reachable, its database empty or ours, the extensions the
source uses available, free disk against the source's size.
"""

from __future__ import annotations

import shlex
from typing import Any

from toolkit.data.mover import Finding
from toolkit.data.postgres import ledger, schema
from toolkit.data.postgres.catalog import Table
from toolkit.data.postgres.names import Names
from toolkit.data.postgres.source import query, scalar
from toolkit.data.postgres.target import TargetHost
from toolkit.errors import CheckFailed

DISK_MARGIN = 1.2  # the copy, its indexes and WAL need more than the heap's size

IDENTITY_FULL_COST = ("REPLICA IDENTITY FULL writes the whole old row to the source's WAL on every "
                      "UPDATE and DELETE, and the target finds each such row by scanning the table "
                      "(slow for a large table)")


def no_identity_finding(table: Table, identity_full: bool) -> Finding:
    if identity_full:
        return Finding("warning", table.label, f"has no primary key: it will be set to REPLICA IDENTITY FULL "
                                               f"(--replica-identity-full); {IDENTITY_FULL_COST}")
    return Finding("error", table.label,
                   "has no primary key or replica identity: once published, UPDATE and DELETE on it fail "
                   f"on the source. Add a primary key (ALTER TABLE {table.qualified} ADD PRIMARY KEY (...)), "
                   f"or run again with --replica-identity-full ({IDENTITY_FULL_COST})")


def source_findings(conn: Any, tables: list[Table], names: Names, identity_full: bool) -> list[Finding]:
    found: list[Finding] = []
    wal_level = scalar(conn, "SHOW wal_level")
    if wal_level != "logical":
        found.append(Finding("error", "wal_level", f"is {wal_level} on the source, logical replication "
                             "needs logical (on RDS: set rds.logical_replication = 1 in the parameter group "
                             "and reboot the instance)"))
    replication = scalar(conn, "SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user")
    in_rds_group = scalar(conn, "SELECT pg_has_role(current_user, oid, 'member') FROM pg_roles "
                                "WHERE rolname = 'rds_replication'")
    if not (replication or in_rds_group):
        found.append(Finding("error", "privileges", "the admin role may not replicate: grant it REPLICATION "
                             "(on RDS: GRANT rds_replication TO <role>)"))
    free_slots = scalar(conn, "SELECT current_setting('max_replication_slots')::int - count(*) "
                              "FROM pg_replication_slots")
    ours = scalar(conn, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = %s", (names.slot,))
    if int(free_slots) < 1 and not ours:
        found.append(Finding("error", "max_replication_slots",
                             "every replication slot of the source is taken"))
    not_owned = [row[0] for row in query(
        conn, "SELECT format('%s.%s', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON "
              "n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') AND NOT pg_has_role(c.relowner, 'USAGE') "
              "AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%' "
              "ORDER BY 1")]
    for label in not_owned:
        found.append(Finding("error", label, "is owned by a role the admin role is not a member of, so it "
                             "cannot be published; GRANT <owner> TO <admin role>"))
    not_readable = [row[0] for row in query(
        conn, "SELECT format('%s.%s', schemaname, tablename) FROM pg_tables WHERE schemaname NOT IN "
              "('pg_catalog', 'information_schema') AND NOT has_table_privilege(format('%I.%I', schemaname, "
              "tablename), 'SELECT') ORDER BY 1")]
    for label in not_readable:
        found.append(Finding("error", label, "cannot be read by the admin role; GRANT SELECT on it (or "
                             "pg_read_all_data) to the admin role"))
    for label in (row[0] for row in query(
            conn, "SELECT format('%s.%s', schemaname, sequencename) FROM pg_sequences WHERE NOT "
                  "has_sequence_privilege(format('%I.%I', schemaname, sequencename), 'SELECT') ORDER BY 1")):
        found.append(Finding("error", label, "is a sequence the admin role cannot read (pg_sequences shows "
                             "NULL for it), so it could not be synced; GRANT SELECT on it to the admin role"))
    large_objects = int(scalar(conn, "SELECT count(*) FROM pg_largeobject_metadata"))
    if large_objects:
        found.append(Finding("error", "large objects", f"the source holds {large_objects} large objects, "
                             "which logical replication cannot carry; move them into bytea columns first"))
    for table in tables:
        if not table.replicable:
            found.append(no_identity_finding(table, identity_full))
    if not tables:
        found.append(Finding("warning", "tables", "the source database has no table to copy"))
    return found


def source_extensions(conn: Any) -> list[str]:
    return [row[0] for row in query(conn, "SELECT extname FROM pg_extension WHERE extname <> 'plpgsql' "
                                          "ORDER BY 1")]


def target_findings(target: TargetHost, names: Names, extensions: list[str],
                    source_bytes: int) -> list[Finding]:
    found: list[Finding] = []
    try:
        available = set(target.json("SELECT coalesce(json_agg(name), '[]') FROM pg_available_extensions"))
    except CheckFailed as exc:
        return [Finding("error", target.name, f"the target database does not answer: {exc}")]
    for extension in extensions:
        if extension not in available:
            found.append(Finding("error", f"extension {extension}", "is used on the source and not "
                                 f"available on {target.name}; install its package there"))
    tables = schema.target_has_tables(target)
    if tables and not ledger.exists(target, names.ledger):
        found.append(Finding("error", f"{target.name}:{target.settings.dbname}", f"already holds tables "
                             f"({', '.join(tables[:5])}) that no replication of ours made; replicate into an "
                             "empty standby database (toolkit provision --target baremetal --standby)"))
    data_dir = target.json("SELECT to_json(current_setting('data_directory'))")
    free = target.run(f"sudo -n df --output=avail -B1 {shlex.quote(str(data_dir))} | tail -1",
                      what="measuring free disk").stdout.strip()
    needed = int(source_bytes * DISK_MARGIN)
    if free.isdigit() and int(free) < needed:
        found.append(Finding("error", f"{target.name} disk", f"{int(free) // 2**20} MiB free under "
                             f"{data_dir}, the copy needs about {needed // 2**20} MiB"))
    return found
