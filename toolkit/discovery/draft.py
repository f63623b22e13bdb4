"""The draft service spec: what the account shows, in the spec's shape, every guess marked.

The AWS APIs tell the database, buckets, DNS records and the AWS identifiers; they cannot tell the
app's code, command or the service's own database role. Those are filled with a plausible value
marked ``# guessed: why`` on its line. Credentials are references (``{env: NAME}``), never values.
The draft is checked with the spec's own loader (schema and semantics) before it is written,
and it is never written over an existing file: a taken name gets ``.discovered`` before its suffix.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from toolkit.discovery.inventory import Inventory, Resource
from toolkit.discovery.yamlout import Flow, Guess, dump, guesses
from toolkit.errors import BadInput
from toolkit.spec import parse_spec
from toolkit.spec.checks import SUPPORTED_POSTGRES
from toolkit.spec.model import Backups, DnsRecord, Spec

POSTGRES_ENGINES = ("postgres", "aurora-postgresql")
SERVICE_NAME = re.compile(r"[^a-z0-9-]+")


@dataclass
class Draft:
    text: str
    guesses: list[tuple[str, Any, str]]
    secrets: list[tuple[str, str]]  # (field path, environment variable or file it references)
    notes: list[str]  # found in the account, not carried into the draft
    path: Path | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path) if self.path else None,
            "guesses": [{"path": p, "value": v, "why": w} for p, v, w in self.guesses],
            "secrets": [{"path": p, "reference": r} for p, r in self.secrets],
            "notes": self.notes,
        }


@dataclass(frozen=True)
class Wiring:
    """How the draft's ``targets.aws`` reaches the account, and the user's spec if there is one."""

    region: str
    endpoint: str | None = None
    credentials: dict[str, dict[str, str]] | None = None  # secret references, as written in a spec
    user_spec: Spec | None = None


def build(inventory: Inventory, wiring: Wiring) -> Draft:
    notes: list[str] = []
    database, db_resource = _database(inventory, wiring, notes)
    name = _service_name(inventory, db_resource)
    env_prefix = name.upper().replace("-", "_")
    database["owner"]["password"] = Guess(
        Flow(env=f"{env_prefix}_DB_PASSWORD"), "set this variable, or reference a file"
    )
    if "admin" in database:
        database["admin"]["password"] = Flow(env=f"{env_prefix}_DB_ADMIN_PASSWORD")
    data: dict[str, Any] = {
        "version": 1,
        "service": {
            "name": Guess(name, "from the zone or database name"),
            "description": f"Drafted by toolkit discover from account {inventory.account or 'unknown'}",
        },
        "app": _app(inventory),
        "database": database,
    }
    buckets = [_bucket(r) for r in inventory.of_type("AWS::S3::Bucket")]
    if buckets:
        data["buckets"] = buckets
    zone = _main_zone(inventory, notes)
    if zone is not None:
        data["dns"] = _dns(inventory, zone, notes)
    data["objectives"] = Guess(Flow(rto="5m", rpo="0s"), "the toolkit's defaults: set your own")
    data["targets"] = {"aws": _aws_target(inventory, wiring, db_resource, zone)}
    draft = Draft(text="", guesses=guesses(data), secrets=_secrets(data), notes=notes, data=data)
    draft.text = _header(inventory, draft) + "\n".join(dump(data)) + "\n"
    check(draft.text)
    return draft


def check(text: str) -> None:
    """The draft must be a spec the loader accepts (its files and secrets are the user's to add)."""
    parse_spec(text, "draft spec", check_environment=False)


def beside(path: Path) -> Path:
    """``path`` if it is free, else ``NAME.discovered.yaml`` (then ``.discovered-2``, ...) beside it."""
    if not path.exists():
        return path
    for index in range(1, 1000):
        tag = "discovered" if index == 1 else f"discovered-{index}"
        candidate = path.with_name(f"{path.stem}.{tag}{path.suffix or '.yaml'}")
        if not candidate.exists():
            return candidate
    raise BadInput(f"no free file name beside {path} for the draft spec")


def write(draft: Draft, requested: Path) -> Path:
    path = beside(requested)
    try:
        with path.open("x") as handle:  # "x": never over a file that appeared meanwhile
            handle.write(draft.text)
    except OSError as exc:
        raise BadInput(f"cannot write the draft spec {path}: {exc.strerror}") from exc
    draft.path = path
    return path


def _header(inventory: Inventory, draft: Draft) -> str:
    lines = [
        f"# Drafted by `toolkit discover --from aws` from account {inventory.account or '(unknown)'} "
        f"({', '.join(inventory.regions)}) at {time.strftime('%Y-%m-%d %H:%M:%S %Z')}.",
        "# Values marked '# guessed' are not in the AWS APIs: check each one.",
        "# Secrets are references, never values: provide "
        + ", ".join(sorted({ref for _, ref in draft.secrets}))
        + ".",
        "# No targets.baremetal yet: add your servers (see inventories/example and the README).",
    ]
    lines += [f"# Not in this draft: {note}" for note in draft.notes]
    if inventory.gaps:
        lines.append("# Incomplete: " + "; ".join(f"{g.subject} ({g.kind})" for g in inventory.gaps))
    return "\n".join(lines) + "\n"


def _service_name(inventory: Inventory, db: Resource | None) -> str:
    zones = [z for z in inventory.of_type("AWS::Route53::HostedZone") if not z.properties.get("private")]
    candidates = [z.name.split(".")[0] for z in zones]
    if db is not None:
        candidates.append(str(db.properties.get("db_name") or db.name.removesuffix("-db")))
    for candidate in candidates:
        name = SERVICE_NAME.sub("-", candidate.lower()).strip("-")
        if name and name[0].isalpha():
            return name[:40]
    return "service"


def _app(inventory: Inventory) -> dict[str, Any]:
    groups = inventory.of_type("AWS::ElasticLoadBalancingV2::TargetGroup")
    classic = inventory.of_type("AWS::ElasticLoadBalancing::LoadBalancer")
    port: Any = Guess(8000, "no load balancer names the app's port")
    health: Any = Guess("/healthz", "no health check names a path")
    if groups and groups[0].properties.get("port"):
        port = groups[0].properties["port"]
        if groups[0].properties.get("health_path"):
            health = groups[0].properties["health_path"]
    elif classic and classic[0].properties.get("instance_ports"):
        port = classic[0].properties["instance_ports"][0]
    return {
        "source": Guess(".", "the app's code is not in the AWS APIs: point at it"),
        "command": Guess("./start --port {port}", "how the app starts is not in the AWS APIs"),
        "port": port,
        "processes": Guess(2, "processes per app host"),
        "health_path": health,
    }


def _database(
    inventory: Inventory, wiring: Wiring, notes: list[str]
) -> tuple[dict[str, Any], Resource | None]:
    instances = [r for r in inventory.of_type("AWS::RDS::DBInstance") if not r.properties.get("cluster")]
    clusters = inventory.of_type("AWS::RDS::DBCluster")
    candidates = [r for r in instances + clusters if r.properties.get("engine") in POSTGRES_ENGINES]
    wanted = None
    if wiring.user_spec is not None and wiring.user_spec.targets.aws is not None:
        wanted = wiring.user_spec.targets.aws.resources.db_instance
    candidates.sort(key=lambda r: (r.name != wanted, r.type != "AWS::RDS::DBInstance", r.name))
    for other in [r for r in instances + clusters if r not in candidates[:1]]:
        notes.append(
            f"RDS {'cluster' if other.type.endswith('Cluster') else 'instance'} {other.name} "
            f"({other.properties.get('engine')} {other.properties.get('engine_version')}): "
            "the spec carries one PostgreSQL database"
        )
    if not candidates:
        return {
            "version": Guess(15, "no PostgreSQL database found in the account"),
            "name": Guess("app", "no PostgreSQL database found"),
            "owner": {"name": Guess("app", "no PostgreSQL database found")},
        }, None
    db = candidates[0]
    props = db.properties
    major = _major(str(props.get("engine_version") or ""))
    version: Any = major
    if major not in SUPPORTED_POSTGRES["aws"]:
        version = Guess(
            max(SUPPORTED_POSTGRES["aws"]),
            f"the database runs PostgreSQL {props.get('engine_version')}, which the toolkit does "
            "not support: upgrade it first",
        )
    name = props.get("db_name")
    database: dict[str, Any] = {
        "version": version,
        "name": name if name and _identifier(name) else Guess("postgres", "the database has no initial name"),
        "owner": {
            "name": Guess(
                name if name and _identifier(name) else "app", "the service's own role is not in the AWS APIs"
            )
        },
    }
    if props.get("port"):
        database["port"] = props["port"]
    master = props.get("master_username")
    if master and _identifier(master):
        database["admin"] = {"name": master}
    backups = _backups(db, notes)
    if backups is not None:
        database["backups"] = backups
    return database, db


def _backups(db: Resource, notes: list[str]) -> dict[str, Any] | None:
    """The database's automated backups as the spec's ``database.backups``; None if they are off."""
    default = Backups()
    retention = int(db.properties.get("backup_retention_days") or 0)
    if retention < 1:
        notes.append(
            f"RDS {db.name} has automated backups off: the draft keeps the spec's default "
            f"({default.retention_days} days of point-in-time recovery) for both targets"
        )
        return None
    window = db.properties.get("backup_window")
    try:
        Backups(retention_days=retention, window=window)
    except ValidationError:  # RDS reports nothing the spec refuses; an unread window is a guess
        why = f"RDS reports the backup window {window!r}" if window else "the backup window could not be read"
        return {"retention_days": min(retention, 35), "window": Guess(default.window, why)}
    return {"retention_days": retention, "window": window}


def _major(version: str) -> int | None:
    match = re.match(r"^(\d+)", version)
    return int(match.group(1)) if match else None


def _identifier(value: str) -> bool:
    return bool(re.match(r"^[a-z_][a-z0-9_]{0,62}$", value))


def _bucket(resource: Resource) -> dict[str, Any]:
    versioning = resource.properties.get("versioning")
    return Flow(
        name=resource.name,
        versioning=versioning if versioning is not None else Guess(True, "versioning could not be read"),
    )


def _main_zone(inventory: Inventory, notes: list[str]) -> Resource | None:
    """The public zone with the most records pointing at the app (the spec carries one zone)."""
    zones = [z for z in inventory.of_type("AWS::Route53::HostedZone") if not z.properties.get("private")]
    app = _app_addresses(inventory)
    zones.sort(key=lambda z: (-sum(_points_at_app(r, app) for r in z.properties["records"]), z.name))
    for other in zones[1:]:
        notes.append(f"hosted zone {other.name} ({other.items} records): the spec carries one zone")
    return zones[0] if zones else None


def _dns(inventory: Inventory, zone: Resource, notes: list[str]) -> dict[str, Any]:
    app = _app_addresses(inventory)
    origin = zone.name.rstrip(".").lower() + "."
    records: list[Any] = []
    seen: set[tuple[str, str]] = set()
    for record in zone.properties["records"]:
        converted = _spec_record(record, origin, app, notes)
        if converted is None:
            continue
        key = (str(converted["name"]).lower(), str(converted["type"]))
        if key in seen:
            notes.append(
                f"{record['type']} {record['name']} ({record.get('set_identifier')}): "
                "routing policies are not carried; one record set per name and type"
            )
            continue
        seen.add(key)
        records.append(converted)
    return {"zone": origin, "records": records}


def _app_addresses(inventory: Inventory) -> set[str]:
    addresses = {str(a) for r in inventory.of_type("AWS::EC2::Instance") for a in r.properties["addresses"]}
    for lb in inventory.of_type(
        "AWS::ElasticLoadBalancingV2::LoadBalancer", "AWS::ElasticLoadBalancing::LoadBalancer"
    ):
        if lb.properties.get("dns_name"):
            addresses.add(_host(lb.properties["dns_name"]))
    return addresses


def _host(name: str) -> str:
    return name.lower().rstrip(".").removeprefix("dualstack.")


def _points_at_app(record: dict[str, Any], app: set[str]) -> bool:
    if record["alias"]:
        return _host(record["alias"]) in app
    if record["type"] == "CNAME":  # to the load balancer's name
        return len(record["values"]) == 1 and _host(record["values"][0]) in app
    return record["type"] in ("A", "AAAA") and bool(record["values"]) and set(record["values"]) <= app


def _spec_record(record: dict[str, Any], origin: str, app: set[str], notes: list[str]) -> Any:
    name, rtype = record["name"].lower(), record["type"]
    if rtype == "SOA" or (rtype == "NS" and name == origin):
        return None  # the zone's own: the DNS role makes them for the bare-metal servers
    relative = "@" if name == origin else name.removesuffix("." + origin)
    where = f"{rtype} {record['name']}"
    entry: dict[str, Any] = {"name": relative, "type": rtype}
    if _points_at_app(record, app):
        entry["target"] = "app"
    elif record["alias"]:
        notes.append(f"{where}: an alias to {record['alias']}, which is not the app: not carried")
        return None
    else:
        entry["values"] = [_txt(v) if rtype == "TXT" else v for v in record["values"]]
    try:
        DnsRecord.model_validate({**entry, "ttl": record["ttl"] or 300})
    except ValidationError as exc:
        notes.append(f"{where}: not a record the spec can carry ({exc.errors()[0]['msg']})")
        return None
    entry["ttl"] = record["ttl"] if record["ttl"] else Guess(300, "an alias record has no TTL")
    return Flow(entry)


def _txt(value: str) -> str:
    """Route53's TXT presentation (``"part" "part"``) as the spec's single unquoted string."""
    parts = re.findall(r'"((?:[^"\\]|\\.)*)"', value)
    return "".join(re.sub(r"\\(.)", r"\1", p) for p in parts) if parts else value


def _aws_target(
    inventory: Inventory, wiring: Wiring, db: Resource | None, zone: Resource | None
) -> dict[str, Any]:
    region = db.region if db is not None else wiring.region
    target: dict[str, Any] = {"region": region}
    if wiring.endpoint:
        target["endpoint"] = wiring.endpoint
    if wiring.credentials:
        target["credentials"] = {key: Flow(ref) for key, ref in wiring.credentials.items()}
    resources: dict[str, Any] = {}
    if db is not None and db.type == "AWS::RDS::DBInstance":
        resources["db_instance"] = db.name
    if zone is not None:
        resources["hosted_zone_id"] = zone.properties["id"]
    instances = [r.name for r in inventory.of_type("AWS::EC2::Instance") if r.region == region]
    if instances:
        resources["instances"] = instances
    if resources:
        target["resources"] = resources
    return target


def _secrets(data: dict[str, Any]) -> list[tuple[str, str]]:
    found = []

    def walk(value: Any, path: tuple[str, ...]) -> None:
        value = value.value if isinstance(value, Guess) else value
        if isinstance(value, dict) and len(value) == 1 and set(value) <= {"env", "file"}:
            found.append((".".join(path), str(next(iter(value.values())))))
        elif isinstance(value, dict):
            for key, item in value.items():
                walk(item, (*path, str(key)))

    walk(data, ())
    return found
