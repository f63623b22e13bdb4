"""What a lab is and how it is doing: paths, endpoints, hosts, and a health probe per service."""

from __future__ import annotations

import logging
import socket
import ssl
from ipaddress import IPv4Network
from pathlib import Path
from typing import Any

from toolkit.dns import query
from toolkit.lab import artifacts, dns_world, hosts
from toolkit.lab.aws_side import http_status
from toolkit.lab.names import OPERATOR_OCTET, address
from toolkit.lab.record import LabRecord, Member

log = logging.getLogger(__name__)


def _service(name: str, healthy: bool, detail: str = "") -> dict[str, Any]:
    return {"name": name, "healthy": healthy, "detail": detail}


def _probe_postgres(host: str, port: int, database: str, user: str, password_file: Path) -> dict[str, Any]:
    import psycopg

    try:
        password = password_file.read_text().strip()
        with psycopg.connect(host=host, port=port, dbname=database, user=user, password=password,
                             connect_timeout=3) as conn:
            version = conn.execute("SHOW server_version").fetchone()
        return _service("postgresql", True, f"PostgreSQL {version[0] if version else '?'}")
    except Exception as exc:  # any failure is a health finding, not an error of status itself
        return _service("postgresql", False, str(exc).strip().splitlines()[0] if str(exc).strip() else
                        type(exc).__name__)


def _probe_dns(record: LabRecord, member: Member) -> dict[str, Any]:
    """The zone's SOA as this member answers it (the resolver by recursion)."""
    world = record.aws.get("dns", {})
    zone = world.get("parent_zone") if member.name == dns_world.REGISTRY else world.get("zone")
    if not zone:
        return _service("dns", False, "not started")
    answer = query.ask(member.address, zone, "SOA", recursive=member.name == dns_world.RESOLVER)
    return _service("dns", bool(answer.values), f"{zone} SOA: {answer.rcode}")


def _member_services(record: LabRecord, member: Member, labdir: Path) -> list[dict[str, Any]]:
    services: list[dict[str, Any]] = []
    if member.name in dns_world.MEMBERS:
        return [_probe_dns(record, member)]
    if member.kind == "process":
        status = http_status(f"http://{member.address}:{artifacts.MOTO_PORT}/moto-api/")
        services.append(_service("moto", status is not None,
                                 f"HTTP {status}" if status else "no answer"))
        return services
    running = hosts.alive(member.pid)
    init = hosts.container_init(member.pid) if running and member.pid else None
    pid1 = hosts.comm(init) if init else ""
    services.append(_service("systemd", pid1 == "systemd", f"PID 1 is {pid1}" if pid1 else "not running"))
    if not running:
        return services
    if member.side == "baremetal":
        ok = hosts.ssh_banner(member.address)
        services.append(_service("sshd", ok, "banner on port 22" if ok else "no SSH answer"))
    aws = record.aws
    if member.name == "aws-db":
        services.append(_probe_postgres(member.address, aws["db_port"], aws["database"], aws["owner"],
                                        labdir / "secrets" / "db_owner_password"))
    if member.name == "aws-app":
        for port in aws.get("app_ports", [artifacts.APP_PORT]):
            status = http_status(f"http://{member.address}:{port}/healthz")
            services.append(_service(f"refservice:{port}", status == 200,
                                     f"/healthz HTTP {status}" if status else "no answer"))
        if zone := aws.get("dns", {}).get("zone"):
            services.append(_probe_load_balancer(member.address, zone.rstrip("."),
                                                 labdir / artifacts.CA_CERT))
    return services


def _probe_load_balancer(address: str, name: str, ca: Path) -> dict[str, Any]:
    """``GET https://<name>/healthz`` at ``address``: the name for SNI and the certificate check."""
    try:
        context = ssl.create_default_context(cafile=str(ca))
        with socket.create_connection((address, 443), timeout=3) as raw, \
                context.wrap_socket(raw, server_hostname=name) as tls:
            tls.sendall(f"GET /healthz HTTP/1.1\r\nHost: {name}\r\nConnection: close\r\n\r\n".encode())
            status_line = tls.recv(64).decode(errors="replace").partition("\r\n")[0]
    except (OSError, ssl.SSLError) as exc:
        return _service("load-balancer:443", False, str(exc))
    return _service("load-balancer:443", status_line.split(" ")[1:2] == ["200"],
                    f"https://{name}/healthz: {status_line or 'no answer'}")


def _dns_addresses(record: LabRecord) -> dict[str, Any]:
    """Who answers for the zone: the resolver, the registry, each authoritative server by address."""
    world = dict(record.aws.get("dns", {}))
    world.pop("route53_mirror_pid", None)
    world["powerdns"] = [m.address for m in record.members if "dns" in m.groups and not m.drill]
    return world


def lab_status(record: LabRecord, *, probe: bool = True) -> dict[str, Any]:
    labdir = Path(record.dir)
    aws = record.aws
    members: list[dict[str, Any]] = []
    for member in record.members:
        members.append({
            "name": member.name, "address": member.address, "side": member.side, "kind": member.kind,
            "groups": member.groups, "drill": member.drill, "netns": member.netns, "pid": member.pid,
            "services": _member_services(record, member, labdir) if probe else [],
        })
    db = next((m for m in record.members if m.name == "aws-db"), None)
    app = next((m for m in record.members if m.name == "aws-app"), None)
    return {
        "name": record.name,
        "phase": record.phase,
        "healthy": all(s["healthy"] for m in members for s in m["services"]) if probe else None,
        "dir": str(labdir),
        "spec": str(labdir / artifacts.SPEC),
        "inventory": str(labdir / artifacts.INVENTORY),
        "drill_hosts": record.drill_hosts,
        "drill_inventory": str(labdir / artifacts.DRILL_INVENTORY) if record.drill_hosts else None,
        "aws_endpoint": aws.get("endpoint"),
        "aws_region": artifacts.AWS_REGION,
        "ssh_user": "deploy",
        "ssh_key": str(labdir / artifacts.SSH_KEY),
        "known_hosts": str(labdir / artifacts.KNOWN_HOSTS),
        "source_dsn": (f"postgresql://{aws.get('owner')}@{db.address}:{aws.get('db_port')}/{aws.get('database')}"
                       if db else None),
        "pgpassfile": str(labdir / artifacts.PGPASS),
        "app_url": f"http://{app.address}:{artifacts.APP_PORT}" if app else None,
        # What users call: the service's name, through the lab's resolver, trusting the lab's CA;
        # the AWS side's load balancer stand-in answers it until the migration switches DNS.
        "service_url": f"https://{zone.rstrip('.')}" if (zone := aws.get("dns", {}).get("zone")) else None,
        "subnet": record.subnet,
        "operator_address": address(IPv4Network(record.subnet), OPERATOR_OCTET),
        "ca_certificate": str(labdir / artifacts.CA_CERT),
        "weed_binary": aws.get("weed_binary"),
        "rclone_binary": aws.get("rclone_binary"),
        "dns": _dns_addresses(record),
        "image": record.image,
        "hosts": members,
    }
