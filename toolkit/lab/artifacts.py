"""The lab directory's files: keys, known_hosts, secrets, TLS, inventory, spec and pgpass.

Layout of ``<state_root>/labs/<name>/``::

    lab.json               the lab's record (see record.py)
    service.yaml           the reference service's spec, wired to this lab
    inventory/hosts.yml    Ansible inventory of the production bare-metal hosts
    inventory/drill.yml    Ansible inventory of the drill hosts (only with ``--drill-hosts``)
    ssh/id_ed25519(.pub)   the operator key (deploy user on bare-metal hosts)
    ssh/known_hosts        every host key, by address; the only one the toolkit trusts
    secrets/*              one secret per file, mode 0600, referenced by the spec
    tls/ca.crt, ca.key     the lab CA; tls/service.crt is signed by it
    pgpass                 libpq password file for the source database
    hosts/<host>/          each host's overlay (upper, work, root)
    logs/                  nspawn consoles and moto's log
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from toolkit.errors import EnvironmentNotReady
from toolkit.lab import keys
from toolkit.lab.layout import GROUPS
from toolkit.lab.record import Member
from toolkit.spec import Spec, load_spec

SPEC = "service.yaml"
INVENTORY = "inventory/hosts.yml"
DRILL_INVENTORY = "inventory/drill.yml"
DRILL_LABEL = "drill"  # the drill's names in the lab: drill.<zone>, www.drill.<zone>
SSH_KEY = "ssh/id_ed25519"
KNOWN_HOSTS = "ssh/known_hosts"
PGPASS = "pgpass"
CA_CERT = "tls/ca.crt"
SERVICE_CERT = "tls/service.crt"
SERVICE_KEY = "secrets/tls.key"

DB_INSTANCE = "refservice-db"
LAB_S3_REQUESTS_PER_SECOND = 60  # the object copy's cap on moto (see where the spec is written)
AWS_REGION = "us-east-1"
MOTO_PORT = 5000
OBJECTS_PORT = 9000
PDNS_API_PORT = 8081
APP_PORT = 8000


def reference_service() -> tuple[Path, Path]:
    """The reference service's code folder and the repo's sample spec."""
    import refservice

    source = Path(refservice.__file__).resolve().parent
    sample = source.parent / SPEC
    if not sample.is_file():
        raise EnvironmentNotReady(f"the sample spec {sample} was not found next to the refservice "
                                  "package; run the lab from a checkout of the toolkit")
    return source, sample


def sample_spec(path: Path) -> Spec:
    """The sample spec read through the spec model, which owns every default.

    Its secrets are not resolved: they name the user's environment, and the lab makes its own.
    """
    spec = load_spec(path, check_environment=False).spec
    if spec.dns is None or not spec.buckets:
        raise EnvironmentNotReady(f"the sample spec {path} needs a dns zone and a bucket: "
                                  "the lab seeds Route53 and S3 from them")
    return spec


def zone_of(spec: Spec) -> str:
    assert spec.dns is not None  # sample_spec() refuses a sample without one
    return spec.dns.zone


def write_private(path: Path, data: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, data.encode() if isinstance(data, str) else data)
    finally:
        os.close(fd)
    return path


@dataclass(frozen=True)
class Secrets:
    """Every credential of the lab; each is also a file ``secrets/<field>`` (mode 0600)."""

    db_owner_password: str
    db_admin_password: str
    objects_access_key: str
    objects_secret_key: str
    pdns_api_key: str
    aws_access_key_id: str
    aws_secret_access_key: str
    registry_api_key: str
    route53_mirror_api_key: str
    backup_passphrase: str

    @classmethod
    def generate(cls) -> Secrets:
        # URL-safe tokens: no ':' or '\\' (pgpass) and long enough for S3 stores (>= 16).
        return cls(
            db_owner_password=secrets.token_urlsafe(24),
            db_admin_password=secrets.token_urlsafe(24),
            objects_access_key=f"lab{secrets.token_hex(10)}",
            objects_secret_key=secrets.token_urlsafe(30),
            pdns_api_key=secrets.token_urlsafe(24),
            aws_access_key_id=f"AKIA{secrets.token_hex(8).upper()}",
            aws_secret_access_key=secrets.token_urlsafe(30),
            registry_api_key=secrets.token_urlsafe(24),
            route53_mirror_api_key=secrets.token_urlsafe(24),
            backup_passphrase=secrets.token_urlsafe(32),
        )

    def write(self, labdir: Path) -> None:
        for name, value in vars(self).items():
            write_private(labdir / "secrets" / name, value + "\n")

    @classmethod
    def read(cls, labdir: Path) -> Secrets:
        return cls(**{name: (labdir / "secrets" / name).read_text().strip()
                      for name in cls.__dataclass_fields__})


def write_operator_key(labdir: Path, lab: str) -> str:
    pair = keys.ssh_keypair(f"toolkit-lab-{lab}-operator")
    write_private(labdir / SSH_KEY, pair.private_openssh)
    (labdir / f"{SSH_KEY}.pub").write_text(pair.public_line + "\n")
    return pair.public_line


def write_known_hosts(labdir: Path, entries: list[tuple[str, str]]) -> Path:
    """``address keytype base64`` lines, the format both OpenSSH and paramiko read."""
    lines = []
    for address, public_line in entries:
        keytype, blob = public_line.split()[:2]
        lines.append(f"{address} {keytype} {blob}\n")
    path = labdir / KNOWN_HOSTS
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(lines))
    return path


def write_tls(labdir: Path, lab: str, zone: str, web_hosts: list[Member],
              drill_hosts: list[Member] | None = None) -> keys.Pem:
    """The lab CA and the bare-metal service's pair in the lab's files; returns the AWS side's
    load balancer's own pair for the service's names (as ACM's would be: it never leaves that
    host, so no file of the lab and no operator's command holds its key).

    With drill hosts the service's pair also covers them and the drill's names
    (``drill.<zone>``, ``www.drill.<zone>``): a drill deploys the same spec, certificate and all.
    """
    ca, ca_key, ca_cert = keys.lab_ca(lab)
    (labdir / CA_CERT).parent.mkdir(parents=True, exist_ok=True)
    (labdir / CA_CERT).write_bytes(ca.certificate)
    write_private(labdir / "tls/ca.key", ca.key)
    apex = zone.rstrip(".")
    served = [*web_hosts, *(drill_hosts or [])]
    drill_names = [f"{DRILL_LABEL}.{apex}", f"www.{DRILL_LABEL}.{apex}"] if drill_hosts else []
    names = [apex, f"www.{apex}", *drill_names, *(f"{host.name}.{apex}" for host in served),
             *(host.name for host in served)]
    pem = keys.server_certificate(ca_key, ca_cert, names, [host.address for host in served])
    write_private(labdir / SERVICE_CERT, pem.certificate)
    write_private(labdir / SERVICE_KEY, pem.key)
    return keys.server_certificate(ca_key, ca_cert, [apex, f"www.{apex}"], [])


def write_inventory(labdir: Path, members: list[Member], weed: Path) -> list[Path]:
    """The production bare-metal hosts in groups (``inventory/hosts.yml``) and, if the lab has
    drill hosts, those in ``inventory/drill.yml`` with the same variables; returns what it wrote.

    SSH settings are not here, they come from the spec.
    """
    baremetal = [m for m in members if m.side == "baremetal"]
    written = [_write_inventory(labdir / INVENTORY, [m for m in baremetal if not m.drill], weed,
                                "the lab's production bare-metal hosts")]
    drill = [m for m in baremetal if m.drill]
    if drill:
        written.append(_write_inventory(labdir / DRILL_INVENTORY, drill, weed,
                                        "the lab's drill hosts, for `toolkit drill`"))
    else:
        (labdir / DRILL_INVENTORY).unlink(missing_ok=True)
    return written


def _write_inventory(path: Path, hosts: list[Member], weed: Path, what: str) -> Path:
    children: dict[str, Any] = {}
    for group in GROUPS:
        children[group] = {"hosts": {
            m.name: {"ansible_host": m.address, "service_address": m.address}
            for m in hosts if group in m.groups}}
    ungrouped = {m.name: {"ansible_host": m.address, "service_address": m.address}
                 for m in hosts if not m.groups}
    inventory: dict[str, Any] = {"all": {
        "vars": {
            "ansible_user": "deploy",
            "ansible_become": True,
            "ansible_python_interpreter": "/usr/bin/python3",
            "toolkit_apt_update": False,  # lab hosts have no route to a registry
            "toolkit_weed_binary": str(weed),
            "dns_ns_ttl": LAB_NS_TTL,  # a delegation's timeline runs in seconds in the lab
        },
        **({"hosts": ungrouped} if ungrouped else {}),
        "children": children,
    }}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"# Written by `toolkit lab up`: {what}.\n"
                    + yaml.safe_dump(inventory, sort_keys=False))
    return path


def write_pgpass(labdir: Path, host: str, port: int, entries: list[tuple[str, str, str]]) -> Path:
    """``entries``: (database or *, role, password)."""
    text = "".join(f"{host}:{port}:{database}:{role}:{password}\n" for database, role, password in entries)
    return write_private(labdir / PGPASS, text)


@dataclass(frozen=True)
class SpecWiring:
    app_source: Path
    moto_url: str
    hosted_zone_id: str
    instances: list[str]
    db_address: str
    objects_address: str
    dns_address: str
    resolver_address: str
    registry_address: str
    drill_hosts: int = 0


def lab_spec(sample: Spec, wiring: SpecWiring) -> dict[str, Any]:
    """The sample spec with every reference pointed at this lab (secrets as 0600 files).

    Written from the model as the sample states it (fields it leaves out stay out, so that their
    defaults keep coming from the model).
    """
    spec = sample.model_dump(mode="json", exclude_unset=True, exclude_none=True)

    def secret(name: str) -> dict[str, str]:
        return {"file": f"secrets/{name}"}

    spec["app"]["source"] = str(wiring.app_source)
    spec["database"]["owner"]["password"] = secret("db_owner_password")
    if sample.database.admin is not None:
        spec["database"]["admin"]["password"] = secret("db_admin_password")
    spec["tls"] = {"certificate": {"file": SERVICE_CERT}, "key": secret("tls.key")}
    zone = zone_of(sample).rstrip(".")
    aws = spec["targets"].get("aws", {})
    aws.update({
        "region": AWS_REGION,
        "endpoint": wiring.moto_url,
        "credentials": {"access_key_id": secret("aws_access_key_id"),
                        "secret_access_key": secret("aws_secret_access_key")},
        "resources": {"db_instance": DB_INSTANCE, "hosted_zone_id": wiring.hosted_zone_id,
                      "instances": wiring.instances},
        "database_endpoint": {"host": wiring.db_address, "port": sample.database.port},
        # moto, one Python process on 2 cores shared with everything, is also the source app's S3:
        # an uncapped copy (16 requests in flight, ~140/s) made the app's writes wait past its
        # clients' 2 s timeout.
        "s3_requests_per_second": LAB_S3_REQUESTS_PER_SECOND,
    })
    bare = spec["targets"].get("baremetal", {})
    bare.update({
        "inventory": INVENTORY,
        "ssh": {"user": "deploy", "key": {"file": SSH_KEY}, "known_hosts": KNOWN_HOSTS},
        "object_store": {"endpoint": f"http://{wiring.objects_address}:{OBJECTS_PORT}",
                         "port": OBJECTS_PORT, "access_key": secret("objects_access_key"),
                         "secret_key": secret("objects_secret_key")},
        "dns": {"provider": "powerdns", "api_url": f"http://{wiring.dns_address}:{PDNS_API_PORT}",
                "api_port": PDNS_API_PORT, "api_key": secret("pdns_api_key"),
                "nameservers": [f"ns1.{zone}.", f"ns2.{zone}."]},
    })
    bare["backups"] = {"passphrase": secret("backup_passphrase")}
    if wiring.drill_hosts:
        bare["drill"] = {"inventory": DRILL_INVENTORY, "label": DRILL_LABEL}
    else:
        bare.pop("drill", None)  # the lab has no hosts for one
    spec["targets"] = {"aws": aws, "baremetal": bare}
    spec["dns"] = {**spec["dns"], **lab_dns(wiring)}
    for record in spec["dns"]["records"]:
        record["ttl"] = LAB_RECORD_TTL
    return spec


# The lab's short TTLs, so that a whole cutover timeline runs in seconds.
LAB_RECORD_TTL = 4
LAB_NS_TTL = 5
LAB_CUTOVER_TTL = 1


def with_lab_ttls(sample: Spec) -> Spec:
    """The sample with the lab's short record TTLs (what Route53 is seeded with and the spec says)."""
    assert sample.dns is not None
    records = [r.model_copy(update={"ttl": LAB_RECORD_TTL}) for r in sample.dns.records]
    return sample.model_copy(update={"dns": sample.dns.model_copy(update={"records": records})})


def lab_dns(wiring: SpecWiring) -> dict[str, Any]:
    """The spec's dns section in the lab: short TTLs, the lab's resolver and its registry."""
    from toolkit.lab.dns_world import API_PORT

    return {
        "cutover_ttl": LAB_CUTOVER_TTL,
        "resolver": wiring.resolver_address,
        "registrar": {"provider": "powerdns", "api_url": f"http://{wiring.registry_address}:{API_PORT}",
                      "api_key": {"file": "secrets/registry_api_key"}},
    }


def write_spec(labdir: Path, lab: str, sample_path: Path, sample: Spec, wiring: SpecWiring) -> Path:
    spec = lab_spec(sample, wiring)
    path = labdir / SPEC
    path.write_text(f"# Written by `toolkit lab up --name {lab}` from {sample_path}: the reference\n"
                    "# service as deployed in this lab. Secrets are files under secrets/ (mode 0600).\n"
                    + yaml.safe_dump(spec, sort_keys=False, width=110))
    return path
