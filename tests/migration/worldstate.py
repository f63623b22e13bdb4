"""Everything a migration could change, captured from the lab's real parts, to prove a dry run changed none.

- the source database: publications and their tables, replication slots, role attributes,
  per-database and per-role settings (read with the spec's admin role, as the toolkit reads it);
- Route53 (moto over HTTP): every record set of every hosted zone;
- PowerDNS on each dns host: every rrset of every zone, through its HTTP API;
- each bare-metal host's disk: its overlay upper dir, hashed (runtime noise ignored).
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import psycopg

from tests.baremetal.hostfs import RUNTIME, hash_upper, upper_dir
from tests.fixtures.lab import baremetal_hosts
from toolkit.spec import load_spec

SOURCE_QUERIES = {
    "publications": """
        SELECT p.pubname, array_agg(t.schemaname || '.' || t.tablename ORDER BY 1)
        FROM pg_publication p LEFT JOIN pg_publication_tables t USING (pubname) GROUP BY 1 ORDER BY 1""",
    "slots": "SELECT slot_name, plugin, slot_type, database FROM pg_replication_slots ORDER BY 1",
    "roles": """
        SELECT rolname, rolcanlogin, rolconnlimit, rolreplication, rolcreaterole FROM pg_roles
        WHERE rolname NOT LIKE 'pg\\_%' ORDER BY 1""",
    "settings": """
        SELECT coalesce(d.datname, '*'), coalesce(r.rolname, '*'), s.setconfig FROM pg_db_role_setting s
        LEFT JOIN pg_database d ON d.oid = s.setdatabase LEFT JOIN pg_roles r ON r.oid = s.setrole
        ORDER BY 1, 2""",
}


def source_state(lab: dict[str, Any]) -> dict[str, Any]:
    spec = load_spec(lab["spec"]).spec
    assert spec.database.admin is not None
    admin = spec.database.admin
    password = admin.password.resolve(Path(lab["spec"]).parent).reveal()
    host = lab["source_dsn"].split("@", 1)[1].split(":", 1)[0]
    with psycopg.connect(host=host, port=spec.database.port, dbname=spec.database.name, user=admin.name,
                         password=password, connect_timeout=10) as conn:
        return {name: [list(row) for row in conn.execute(query)] for name, query in SOURCE_QUERIES.items()}


def route53_state(lab: dict[str, Any]) -> dict[str, Any]:
    client = boto3.client("route53", endpoint_url=lab["aws_endpoint"], region_name=lab["aws_region"],
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    zones: dict[str, Any] = {}
    for zone in client.list_hosted_zones()["HostedZones"]:
        pages = client.get_paginator("list_resource_record_sets").paginate(HostedZoneId=zone["Id"])
        zones[zone["Name"]] = sorted(json.dumps(r, sort_keys=True) for page in pages
                                      for r in page["ResourceRecordSets"])
    return zones


def powerdns_state(lab: dict[str, Any]) -> dict[str, Any]:
    spec = load_spec(lab["spec"]).spec
    target = spec.targets.baremetal
    if target is None or target.dns is None:
        return {}
    key = target.dns.api_key.resolve(Path(lab["spec"]).parent).reveal()
    found: dict[str, Any] = {}
    for host in baremetal_hosts(lab):
        if "dns" not in host["groups"]:
            continue
        base = f"http://{host['address']}:{target.dns.api_port}/api/v1/servers/localhost/zones"
        request = urllib.request.Request(base, headers={"X-API-Key": key})
        with urllib.request.urlopen(request, timeout=10) as answer:
            zones = json.load(answer)
        for zone in zones:
            detail = urllib.request.Request(f"{base}/{zone['id']}", headers={"X-API-Key": key})
            with urllib.request.urlopen(detail, timeout=10) as answer:
                rrsets = json.load(answer)["rrsets"]
            found[f"{host['name']}:{zone['name']}"] = sorted(json.dumps(r, sort_keys=True) for r in rrsets)
    return found


# A running object store rewrites its own index files (SeaweedFS's leveldb) whatever anyone does.
STORE_RUNTIME = ("srv/",)


def hosts_state(lab: dict[str, Any]) -> dict[str, Any]:
    return {host["name"]: hash_upper(upper_dir(lab, host["name"]), (*RUNTIME, *STORE_RUNTIME))
            for host in baremetal_hosts(lab)}


def capture(lab: dict[str, Any]) -> dict[str, Any]:
    return {"source": source_state(lab), "route53": route53_state(lab), "powerdns": powerdns_state(lab),
            "hosts": hosts_state(lab)}


def changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """What differs, part by part (empty when nothing changed)."""
    found: dict[str, Any] = {}
    for part in before:
        if part == "hosts":
            moved = {h: sorted(p for p in set(before[part][h]) | set(after[part].get(h, {}))
                               if before[part][h].get(p) != after[part].get(h, {}).get(p))
                     for h in before[part]}
            moved = {h: paths for h, paths in moved.items() if paths}
            if moved:
                found[part] = moved
        elif before[part] != after[part]:
            found[part] = {"before": before[part], "after": after[part]}
    return found
