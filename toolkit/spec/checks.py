"""Semantic checks: what a schema cannot see, because it needs the whole spec or the machine.

Each check yields ``SpecIssue``s located at the offending field. A check that is only advice
(a secret file others can read) yields a warning, which does not fail validation.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from toolkit.spec.issues import IssueKind, SpecIssue
from toolkit.spec.model import COMPONENTS, Spec
from toolkit.spec.yamlsource import Located

# PostgreSQL majors each target can run. Bare metal is Debian bookworm, whose archive ships 15.
SUPPORTED_POSTGRES = {"baremetal": {15}, "aws": {12, 13, 14, 15, 16, 17}}
WELL_KNOWN_PORTS = {22: "SSH", 53: "DNS", 80: "HTTP", 443: "HTTPS"}


def semantic_issues(spec: Spec, located: Located, base_dir: Path, *,
                    environment: bool = True) -> Iterator[SpecIssue]:
    """Every semantic issue; ``environment`` adds those that depend on this machine (files, secrets)."""
    yield from _versions(spec, located)
    yield from _ports(spec, located)
    yield from _dns(spec, located)
    yield from _buckets(spec, located)
    if environment:
        yield from _files(spec, located, base_dir)
        yield from _secrets(spec, located, base_dir)


def _versions(spec: Spec, located: Located) -> Iterator[SpecIssue]:
    for target in ("baremetal", "aws"):
        if getattr(spec.targets, target) is None:
            continue
        supported = SUPPORTED_POSTGRES[target]
        if spec.database.version not in supported:
            yield located.issue(
                IssueKind.UNSUPPORTED_VERSION, ("database", "version"),
                f"PostgreSQL {spec.database.version} is not available on the {target} target "
                f"(supported: {', '.join(map(str, sorted(supported)))})")


def _ports(spec: Spec, located: Located) -> Iterator[SpecIssue]:
    taken = {spec.database.port: "database.port", **{p: name for p, name in WELL_KNOWN_PORTS.items()}}
    bare = spec.targets.baremetal
    if bare is not None:
        taken[bare.object_store.port] = "targets.baremetal.object_store.port"
        taken[bare.object_store.tls_port] = "targets.baremetal.object_store.tls_port"
        if bare.dns is not None:
            taken[bare.dns.api_port] = "targets.baremetal.dns.api_port"
    for port in spec.app.ports:
        if port in taken:
            yield located.issue(
                IssueKind.CONFLICT, ("app", "port"),
                f"app processes use ports {spec.app.ports.start}-{spec.app.ports.stop - 1}, "
                f"which includes {port}, already used by {taken[port]}")
            return


def _dns(spec: Spec, located: Located) -> Iterator[SpecIssue]:
    if spec.dns is None:
        return
    seen: dict[tuple[str, str], int] = {}
    types_by_name: dict[str, set[str]] = {}
    for index, record in enumerate(spec.dns.records):
        path = ("dns", "records", index)
        if record.target is not None and record.target not in COMPONENTS:
            yield located.issue(IssueKind.BROKEN_REFERENCE, (*path, "target"),
                                f"target {record.target!r} is not a component "
                                f"(one of: {', '.join(COMPONENTS)})")
        if record.target == "dns" and (spec.targets.baremetal is None or spec.targets.baremetal.dns is None):
            yield located.issue(IssueKind.BROKEN_REFERENCE, (*path, "target"),
                                "target 'dns' needs targets.baremetal.dns to be configured")
        key = (record.name.lower(), record.type)
        if key in seen:
            yield located.issue(IssueKind.CONFLICT, path,
                                f"{record.type} record {record.name!r} is already defined as "
                                f"dns.records[{seen[key]}]; list several values in one record")
        seen.setdefault(key, index)
        types_by_name.setdefault(record.name.lower(), set()).add(record.type)
        if record.type == "CNAME" and record.name == "@":
            yield located.issue(IssueKind.CONFLICT, (*path, "type"),
                                "a CNAME cannot be at the zone apex (@)")
        if record.name.endswith(".") and not record.name.lower().endswith(spec.dns.zone.lower()):
            yield located.issue(IssueKind.CONFLICT, (*path, "name"),
                                f"{record.name!r} is outside the zone {spec.dns.zone}")
    for index, record in enumerate(spec.dns.records):
        if record.type == "CNAME" and len(types_by_name[record.name.lower()]) > 1:
            yield located.issue(IssueKind.CONFLICT, ("dns", "records", index),
                                f"{record.name!r} has a CNAME and other records; a CNAME must stand alone")
            break


def _buckets(spec: Spec, located: Located) -> Iterator[SpecIssue]:
    seen: set[str] = set()
    for index, bucket in enumerate(spec.buckets):
        if bucket.name in seen:
            yield located.issue(IssueKind.CONFLICT, ("buckets", index, "name"),
                                f"bucket {bucket.name!r} is listed twice")
        if bucket.name == backups_bucket(spec):
            yield located.issue(IssueKind.CONFLICT, ("buckets", index, "name"),
                                f"bucket {bucket.name!r} is the bare-metal object store's backup "
                                "repository (the backups role); give the service's bucket another name")
        seen.add(bucket.name)


def backups_bucket(spec: Spec) -> str:
    """The bucket of the object store that holds pgBackRest's repository (playbooks' backups role)."""
    return f"{spec.service.name}-backups"


def _files(spec: Spec, located: Located, base_dir: Path) -> Iterator[SpecIssue]:
    source = base_dir / spec.app.source
    if not source.exists():
        yield located.issue(IssueKind.MISSING_FILE, ("app", "source"), f"app source {source} does not exist")
    bare = spec.targets.baremetal
    if bare is not None and not (base_dir / bare.inventory).exists():
        yield located.issue(IssueKind.MISSING_FILE, ("targets", "baremetal", "inventory"),
                            f"inventory {base_dir / bare.inventory} does not exist")
    if bare is not None and bare.drill is not None and not (base_dir / bare.drill.inventory).exists():
        yield located.issue(IssueKind.MISSING_FILE, ("targets", "baremetal", "drill", "inventory"),
                            f"drill inventory {base_dir / bare.drill.inventory} does not exist")
    if bare is not None and not (base_dir / Path(bare.ssh.known_hosts).expanduser()).is_file():
        yield located.issue(IssueKind.MISSING_FILE, ("targets", "baremetal", "ssh", "known_hosts"),
                            f"known_hosts file {base_dir / bare.ssh.known_hosts} does not exist")


def _secrets(spec: Spec, located: Located, base_dir: Path) -> Iterator[SpecIssue]:
    for path, ref in spec.secret_refs():
        problem = ref.problem(base_dir)
        if problem is not None:
            yield located.issue(IssueKind.UNRESOLVABLE_SECRET, path, problem)
        elif ref.readable_by_others(base_dir):
            yield located.issue(IssueKind.INSECURE_SECRET_FILE, path,
                                f"secret file {ref.path(base_dir)} can be read by other users "
                                "(chmod 600 it)", warning=True)
