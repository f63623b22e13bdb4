"""The service spec's data model (``version: 1``): what a service is, independent of where it runs.

Every model forbids unknown fields so that a typo is an error with a suggestion, not a silently
ignored setting. Credentials are ``SecretRef``s only. Semantic checks that need the whole spec
(references between components, supported versions) live in ``toolkit.spec.checks``.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from toolkit.spec.secrets import SecretRef

SPEC_VERSION = 1
DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d)$")
DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
HOSTNAME = re.compile(r"^(?=.{1,253}\.?$)([A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\.)*"
                      r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\.?$")
IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
BUCKET = re.compile(r"^(?!\d+\.\d+\.\d+\.\d+$)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

Port = Annotated[int, Field(ge=1, le=65535)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


def seconds(text: str) -> float:
    """``"90s"``, ``"5m"``, ``"1.5h"``, ``"0s"`` -> seconds."""
    match = DURATION.match(text)
    if match is None:
        raise PydanticCustomError("invalid_duration",
                                  "{value!r} is not a duration like 30s, 5m or 2h", {"value": text})
    return float(match.group(1)) * DURATION_UNITS[match.group(2)]


class Service(Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9-]{0,39}$")
    description: str = ""


class App(Strict):
    """Stateless app servers: ``processes`` copies per app host on ports port..port+processes-1."""

    source: str = Field(min_length=1, description="path to the app's code, relative to the spec")
    command: str = Field(min_length=1, description="start command; {port} is replaced per process")
    port: Port = 8000
    processes: int = Field(default=2, ge=1, le=64)
    health_path: str = Field(default="/healthz", pattern=r"^/")
    environment: dict[str, str] = {}
    secret_environment: dict[str, SecretRef] = {}
    schema_command: str | None = Field(default=None, description="explicit schema setup step")

    @field_validator("environment", "secret_environment")
    @classmethod
    def _env_names(cls, value: dict[str, object]) -> dict[str, object]:
        for name in value:
            if not ENV_NAME.match(name):
                raise PydanticCustomError("invalid_env_name",
                                          "{name!r} is not a valid environment variable name",
                                          {"name": name})
        return value

    @property
    def ports(self) -> range:
        return range(self.port, self.port + self.processes)


def _pg_identifier(value: str) -> str:
    if not IDENTIFIER.match(value):
        raise PydanticCustomError("invalid_identifier",
                                  "{value!r} is not a plain PostgreSQL identifier "
                                  "(lowercase letters, digits, _)", {"value": value})
    return value


PgIdentifier = Annotated[str, AfterValidator(_pg_identifier)]


class DatabaseRole(Strict):
    name: PgIdentifier
    password: SecretRef


WINDOW = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")


class Backups(Strict):
    """Point-in-time recovery, as RDS's automated backups give it: a backup a day in ``window``
    and the WAL in between, so that any moment of the last ``retention_days`` can be restored."""

    retention_days: int = Field(default=7, ge=1, le=35, description="RDS's backup_retention_period")
    window: str = Field(default="03:00-04:00", description="UTC, hh:mm-hh:mm, at least 30 minutes "
                                                           "(RDS's preferred_backup_window)")

    @field_validator("window")
    @classmethod
    def _window(cls, value: str) -> str:
        match = WINDOW.match(value)
        if match is None:
            raise PydanticCustomError("invalid_window", "{value!r} is not a UTC window like 03:00-04:00",
                                      {"value": value})
        start_h, start_m, end_h, end_m = map(int, match.groups())
        if ((end_h * 60 + end_m) - (start_h * 60 + start_m)) % 1440 < 30:
            raise PydanticCustomError("invalid_window", "the backup window {value!r} is shorter than "
                                      "30 minutes", {"value": value})
        return value

    @property
    def start(self) -> str:
        """When the daily backup starts, hh:mm UTC."""
        return self.window.split("-")[0]


class Database(Strict):
    engine: Literal["postgresql"] = "postgresql"
    version: int = Field(ge=9, le=99, description="PostgreSQL major version")
    name: PgIdentifier
    port: Port = 5432
    encoding: str = "UTF8"
    locale: str = "C.UTF-8"
    extensions: list[PgIdentifier] = []
    owner: DatabaseRole
    admin: DatabaseRole | None = Field(
        default=None, description="source admin credential (RDS master user, not a superuser)")
    backups: Backups = Backups()


class Bucket(Strict):
    name: str
    versioning: bool = True

    @field_validator("name")
    @classmethod
    def _bucket_name(cls, value: str) -> str:
        if not BUCKET.match(value) or ".." in value:
            raise PydanticCustomError("invalid_bucket_name",
                                      "{value!r} is not a valid S3 bucket name (3-63 lowercase "
                                      "letters, digits, dots, hyphens)", {"value": value})
        return value


RecordType = Literal["A", "AAAA", "CNAME", "MX", "TXT", "NS", "SRV", "CAA", "PTR"]
COMPONENTS = ("app", "dns")  # what a record's ``target:`` may name
ADDRESS_TYPES = ("A", "AAAA", "CNAME")


def _check_value(rtype: str, value: str) -> str | None:
    """Why ``value`` is not valid rdata for ``rtype``, or None."""
    parts = value.split()

    def host(text: str) -> bool:
        return bool(HOSTNAME.match(text))

    def number(text: str, high: int) -> bool:
        return text.isdigit() and int(text) <= high

    try:
        match rtype:
            case "A":
                ipaddress.IPv4Address(value)
                return None
            case "AAAA":
                ipaddress.IPv6Address(value)
                return None
    except ValueError:
        return f"{value!r} is not an IPv{4 if rtype == 'A' else 6} address"
    if rtype in ("CNAME", "NS", "PTR"):
        return None if host(value) else f"{value!r} is not a host name"
    if rtype == "MX":
        ok = len(parts) == 2 and number(parts[0], 65535) and host(parts[1])
        return None if ok else f"{value!r} is not 'PREFERENCE HOST'"
    if rtype == "SRV":
        ok = len(parts) == 4 and all(number(p, 65535) for p in parts[:3]) and host(parts[3])
        return None if ok else f"{value!r} is not 'PRIORITY WEIGHT PORT HOST'"
    if rtype == "CAA":
        ok = len(parts) >= 3 and number(parts[0], 255) and parts[1] in ("issue", "issuewild", "iodef")
        return None if ok else f"{value!r} is not 'FLAGS issue|issuewild|iodef VALUE'"
    return None if value else "a TXT value must not be empty"


class DnsRecord(Strict):
    """A record points at a component (``target: app``) or carries literal ``values``."""

    name: str = Field(description="relative to the zone; @ for the apex")
    type: RecordType
    ttl: int = Field(default=300, ge=1, le=604800)
    target: str | None = None
    values: list[str] | None = None

    @model_validator(mode="after")
    def _target_or_values(self) -> DnsRecord:
        # ``field`` in the error context locates the problem below this record (see loader).
        if (self.target is None) == (self.values is None):
            raise PydanticCustomError("target_or_values",
                                      "a record needs exactly one of target: (a component) or values:")
        if self.target is not None and self.type not in ADDRESS_TYPES:
            raise PydanticCustomError("target_or_values",
                                      "only A, AAAA and CNAME records can point at a component; "
                                      "give values: for a {type} record",
                                      {"type": self.type, "field": ("target",)})
        for index, value in enumerate(self.values or []):
            problem = _check_value(self.type, value)
            if problem:
                raise PydanticCustomError("invalid_rdata", "{problem}",
                                          {"problem": problem, "field": ("values", index)})
        if self.values == []:
            raise PydanticCustomError("target_or_values", "values: must list at least one value",
                                      {"field": ("values",)})
        if self.name != "@" and not HOSTNAME.match(self.name.replace("*.", "x.", 1)):
            raise PydanticCustomError("invalid_record_name", "{name!r} is not a valid record name",
                                      {"name": self.name, "field": ("name",)})
        return self


class Registrar(Strict):
    """Where the zone's delegation is changed: a registry's API, or by hand (``manual``)."""

    provider: Literal["powerdns", "manual"] = "manual"
    api_url: str | None = Field(default=None, pattern=r"^https?://")
    api_key: SecretRef | None = None
    parent: str | None = Field(default=None, description="the parent zone the registry serves")


class Dns(Strict):
    zone: str
    records: list[DnsRecord] = []
    cutover_ttl: int = Field(default=60, ge=1, le=86400,
                             description="TTL of the switching records during a cutover")
    resolver: str | None = Field(default=None, description="a caching resolver clients use, ADDRESS[:PORT]; "
                                 "verification asks it after the old TTL")
    registrar: Registrar = Registrar()

    @field_validator("zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        if not HOSTNAME.match(value) or "." not in value.rstrip("."):
            raise PydanticCustomError("invalid_zone", "{value!r} is not a DNS zone name like example.com",
                                      {"value": value})
        return value.rstrip(".") + "."


class Tls(Strict):
    certificate: SecretRef
    key: SecretRef


class Objectives(Strict):
    """Recovery objectives: how long the service may be down (RTO), how much data lost (RPO)."""

    rto: str = "5m"
    rpo: str = "0s"

    @field_validator("rto", "rpo")
    @classmethod
    def _duration(cls, value: str) -> str:
        seconds(value)
        return value

    @property
    def rto_seconds(self) -> float:
        return seconds(self.rto)

    @property
    def rpo_seconds(self) -> float:
        return seconds(self.rpo)


class AwsCredentials(Strict):
    access_key_id: SecretRef
    secret_access_key: SecretRef


class AwsResources(Strict):
    """Identifiers of the live AWS resources that realize this service (for migration/discovery)."""

    db_instance: str | None = None
    hosted_zone_id: str | None = None
    instances: list[str] = []


class DatabaseEndpoint(Strict):
    host: str
    port: Port = 5432


class AwsTarget(Strict):
    region: str = Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")
    endpoint: str | None = Field(default=None, pattern=r"^https?://",
                                 description="AWS API endpoint (an emulator or a private endpoint)")
    credentials: AwsCredentials | None = None
    resources: AwsResources = AwsResources()
    database_endpoint: DatabaseEndpoint | None = Field(
        default=None, description="reachable address of the RDS instance where discovery cannot give one")
    nat_gateways: Literal["per-zone", "single"] = Field(
        default="per-zone", description="one NAT gateway per zone (a zone's loss spares the others) or one")
    database_multi_az: bool = Field(default=True, description="RDS with a standby in a second zone")
    s3_requests_per_second: float | None = Field(
        default=None, gt=0, description="at most this many requests a second from the object copy to "
        "this S3, over every objects host; none: no cap (S3 itself needs none; a small S3-compatible "
        "store that also serves the application does)")


class ObjectStore(Strict):
    endpoint: str | None = Field(default=None, pattern=r"^https?://")
    port: Port = 9000
    tls_port: Port = Field(default=9443, description="the same store over HTTPS, with a certificate of its "
                                                     "own, for clients that require TLS (pgBackRest)")
    access_key: SecretRef
    secret_key: SecretRef

    @model_validator(mode="after")
    def _distinct_ports(self) -> ObjectStore:
        if self.tls_port == self.port:
            raise PydanticCustomError("same_port", "tls_port must differ from port ({port})",
                                      {"port": self.port, "field": ("tls_port",)})
        return self


class BaremetalDns(Strict):
    provider: Literal["powerdns"] = "powerdns"
    api_url: str | None = Field(default=None, pattern=r"^https?://")
    api_port: Port = 8081
    api_key: SecretRef
    nameservers: list[str] = Field(default=[], description="NS host names for the zone (at least two)")


class Ssh(Strict):
    """How the toolkit and Ansible reach servers: a deploy user with sudo, known host keys only."""

    user: str = Field(default="deploy", pattern=r"^[a-z_][a-z0-9_-]{0,31}$")
    key: SecretRef = Field(description="the operator's private key, as {file: PATH}")
    known_hosts: str = Field(min_length=1, description="the one known_hosts file used, strictly")


class Drill(Strict):
    """Where ``toolkit drill`` rehearses the exit: hosts of its own and DNS names of its own."""

    inventory: str = Field(min_length=1, description="the drill hosts' Ansible inventory, relative to the "
                                                     "spec; none of them may be a production host")
    label: str = Field(default="drill", pattern=r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$",
                       description="the drill's zone is LABEL.<zone>, served by the drill hosts' "
                                   "PowerDNS only")


class BaremetalBackups(Strict):
    """pgBackRest's repository in the bare-metal object store, encrypted with this passphrase."""

    passphrase: SecretRef | None = Field(default=None, description="the repository's cipher passphrase; "
                                         "without one the repository is not encrypted (parity fails)")


class BaremetalTarget(Strict):
    inventory: str = Field(min_length=1, description="Ansible inventory, relative to the spec")
    ssh: Ssh
    object_store: ObjectStore
    dns: BaremetalDns | None = None
    drill: Drill | None = None
    backups: BaremetalBackups = BaremetalBackups()


class Targets(Strict):
    aws: AwsTarget | None = None
    baremetal: BaremetalTarget | None = None


class Spec(Strict):
    version: Literal[1]
    service: Service
    app: App
    database: Database
    buckets: list[Bucket] = []
    dns: Dns | None = None
    tls: Tls | None = None
    objectives: Objectives = Objectives()
    targets: Targets

    def secret_refs(self) -> list[tuple[tuple[str | int, ...], SecretRef]]:
        """Every secret reference in the spec with its field path."""
        found: list[tuple[tuple[str | int, ...], SecretRef]] = []

        def walk(value: object, path: tuple[str | int, ...]) -> None:
            if isinstance(value, SecretRef):
                found.append((path, value))
            elif isinstance(value, BaseModel):
                for name in type(value).model_fields:
                    walk(getattr(value, name), (*path, name))
            elif isinstance(value, dict):
                for key, item in value.items():
                    walk(item, (*path, key))
            elif isinstance(value, list):
                for index, item in enumerate(value):
                    walk(item, (*path, index))

        walk(self, ())
        return found
