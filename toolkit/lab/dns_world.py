"""The lab's DNS world: a registry, Route53's name servers, and a caching resolver.

moto's Route53 is an API only; these make the zone answer, cache and delegate as on the internet.
Each runs as plain processes in a lab namespace of its own (removed by ``lab down`` with the
namespace), from Debian packages on the operator's machine (``scripts/setup``):

- ``registry``: PowerDNS authoritative for the root zone and for the service zone's parent, which
  delegates the zone (NS and glue, the parent's NS TTL). Its HTTP API is the registrar.
  The root zone also holds the addresses of Route53's name server names (``ns-*.awsdns-*``),
  standing in for the rest of the internet.
- ``route53-ns``: PowerDNS fed by ``route53_mirror`` with exactly what moto's hosted zone holds.
- ``resolver``: unbound, whose only hint is the registry: it reaches the zone by following the
  delegations, and caches by TTL. Lab clients (the load generator's ``--resolve-with``, health
  checks, tests) ask it.
"""

from __future__ import annotations

import logging
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from toolkit.dns import query
from toolkit.dns.normalize import zone_name
from toolkit.dns.powerdns_api import PowerDnsApi, replace
from toolkit.dns.registrar import Delegation, PowerDnsRegistry
from toolkit.errors import CheckFailed, EnvironmentNotReady
from toolkit.lab import hosts
from toolkit.lab.artifacts import LAB_NS_TTL, Secrets
from toolkit.lab.record import LabRecord, Member

log = logging.getLogger(__name__)

REGISTRY, ROUTE53_NS, RESOLVER = "registry", "route53-ns", "resolver"
MEMBERS = (REGISTRY, ROUTE53_NS, RESOLVER)
ROOT_NS = "registry.lab."
API_PORT = 8081
MIRROR_API = "127.0.0.1:8081"  # inside route53-ns only
NS_TTL = LAB_NS_TTL  # the parent's NS TTL and the zone's own NS TTL (real ones are days)
PDNS_SCHEMA = Path("/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql")
BINARIES = {"pdns_server": "pdns-server pdns-backend-sqlite3", "unbound": "unbound"}


def parent_of(zone: str) -> str:
    """``refservice.example.`` -> ``example.``"""
    labels = zone_name(zone).split(".", 1)
    return labels[1] if labels[1] else "."


def require_binaries() -> None:
    for binary, package in BINARIES.items():
        if not any((Path(d) / binary).exists() for d in ("/usr/sbin", "/usr/bin")):
            raise EnvironmentNotReady(f"{binary} is missing for the lab's DNS world "
                                      f"(apt-get install {package}, or scripts/setup)")


def _spawn(netns: str, argv: list[str], log_file: Path) -> int:
    with log_file.open("ab") as out:
        proc = subprocess.Popen(["ip", "netns", "exec", netns, *argv], stdin=subprocess.DEVNULL,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    return proc.pid


def write_pdns_config(directory: Path, *, address: str, port: int = 53, api_address: str, api_key: str,
                      allow_from: str, extra: tuple[str, ...] = ()) -> Path:
    """A PowerDNS authoritative configuration (sqlite backend, HTTP API) in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    database = directory / "pdns.sqlite3"
    if not database.exists():
        with sqlite3.connect(database) as db:
            db.executescript(PDNS_SCHEMA.read_text())
    host, api_port = api_address.rsplit(":", 1)
    conf = directory / "pdns.conf"
    conf.write_text("\n".join([
        "# Written by toolkit lab: one of the lab's DNS world servers.",
        "launch=gsqlite3", f"gsqlite3-database={database}", "gsqlite3-dnssec=no",
        f"local-address={address}", f"local-port={port}", f"socket-dir={directory}",
        "guardian=no", "daemon=no", "disable-syslog=yes", "security-poll-suffix=",
        # Answers follow API changes at once (the API purges; no packet cache between).
        "cache-ttl=0", "negquery-cache-ttl=0", "query-cache-ttl=0", "consistent-backends=yes",
        "api=yes", f"api-key={api_key}", "webserver=yes", f"webserver-address={host}",
        f"webserver-port={api_port}", f"webserver-allow-from={allow_from}", *extra, ""]))
    conf.chmod(0o600)
    return directory


def start_pdns(member: Member, directory: Path, *, api_address: str, api_key: str, allow_from: str,
               log_file: Path) -> int:
    """A PowerDNS authoritative server on the member's address, sqlite backend, HTTP API."""
    write_pdns_config(directory, address=member.address, api_address=api_address, api_key=api_key,
                      allow_from=allow_from)
    return _spawn(member.netns, ["pdns_server", f"--config-dir={directory}"], log_file)


def start_resolver(member: Member, directory: Path, *, subnet: str, registry: str, log_file: Path) -> int:
    """unbound with the registry as its only root hint; no DNSSEC (the lab signs nothing)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "root.hints").write_text(f".  3600000 NS {ROOT_NS}\n{ROOT_NS} 3600000 A {registry}\n")
    conf = directory / "unbound.conf"
    conf.write_text(f"""# Written by toolkit lab: the lab's caching resolver.
server:
    interface: {member.address}
    interface: 127.0.0.1
    port: 53
    do-ip6: no
    access-control: {subnet} allow
    access-control: 127.0.0.0/8 allow
    username: ""
    chroot: ""
    directory: "{directory}"
    pidfile: "{directory}/unbound.pid"
    use-syslog: no
    logfile: ""
    verbosity: 1
    root-hints: "{directory}/root.hints"
    module-config: "iterator"
    qname-minimisation: no
    harden-referral-path: no
    prefetch: no
    serve-expired: no
    cache-min-ttl: 0
    infra-host-ttl: 10
remote-control:
    control-enable: yes
    control-interface: 127.0.0.1
    control-use-cert: no
""")
    return _spawn(member.netns, ["unbound", "-d", "-c", str(conf)], log_file)


def start_mirror(member: Member, labdir: Path, *, moto: str, zone_id: str, zone: str, log_file: Path) -> int:
    return _spawn(member.netns, [sys.executable, "-m", "toolkit.lab.route53_mirror", "--labdir", str(labdir),
                                 "--moto", moto, "--zone-id", zone_id, "--zone", zone,
                                 "--pdns-url", f"http://{MIRROR_API}"], log_file)


def wait_api(api: PowerDnsApi, *, what: str, pid: int, log_file: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not api.alive():
        if not hosts.alive(pid):
            raise CheckFailed(f"{what} exited while starting; see {log_file}")
        if time.monotonic() > deadline:
            raise CheckFailed(f"{what} did not answer within {timeout:.0f} s; see {log_file}")
        time.sleep(0.2)


def seed_registry(api: PowerDnsApi, *, zone: str, delegation: Delegation, registry: str,
                  route53_addresses: dict[str, str]) -> None:
    """The root zone (with Route53's name server names) and the parent delegating ``zone``."""
    soa = f"{ROOT_NS} hostmaster.registry.lab. 1 3600 600 86400 5"
    root: list[dict[str, object]] = [replace(".", "SOA", 3600, [soa]), replace(".", "NS", 3600, [ROOT_NS]),
                                     replace(ROOT_NS, "A", 3600, [registry])]
    root += [replace(name, "A", 3600, [address]) for name, address in sorted(route53_addresses.items())]
    parent = parent_of(zone)
    if parent != ".":
        root.append(replace(parent, "NS", 3600, [ROOT_NS]))
        api.create_zone(parent, [replace(parent, "SOA", 3600, [soa]), replace(parent, "NS", 3600, [ROOT_NS])])
    api.create_zone(".", root)
    PowerDnsRegistry(api, parent).set_delegation(zone, delegation)


def flush_resolver(status: dict[str, Any]) -> None:
    """Empty the resolver's cache (tests start from a cold cache; lab clients never need this)."""
    resolver = next(h for h in status["hosts"] if h["name"] == RESOLVER)
    conf = Path(status["dir"]) / "dns" / RESOLVER / "unbound.conf"
    subprocess.run(["ip", "netns", "exec", resolver["netns"], "unbound-control", "-c", str(conf), "reload"],
                   check=True, capture_output=True, timeout=30)


def wait_answer(server: str, name: str, rtype: str, *, what: str, timeout: float = 30,
                recursive: bool = False) -> query.Answer:
    deadline = time.monotonic() + timeout
    while True:
        answer = query.ask(server, name, rtype, recursive=recursive)
        if answer.values:
            return answer
        if time.monotonic() > deadline:
            raise CheckFailed(f"{what} ({server}) gave no answer for {name} {rtype} within "
                              f"{timeout:.0f} s (rcode {answer.rcode})")
        time.sleep(0.2)


def start_world(record: LabRecord, labdir: Path, creds: Secrets, *, zone: str, hosted_zone_id: str,
                moto_url: str) -> dict[str, Any]:
    """Start the registry, Route53's name servers and the resolver; return what status shows.

    Each process's PID goes into the record as soon as it exists, so ``lab down`` (which also
    stops everything in the lab's namespaces) never depends on this finishing.
    """
    registry, mirror, resolver = (record.member(name) for name in MEMBERS)
    logs = labdir / "logs"
    registry_api = PowerDnsApi(f"http://{registry.address}:{API_PORT}", creds.registry_api_key)
    registry.pid = start_pdns(registry, labdir / "dns" / REGISTRY,
                              api_address=f"{registry.address}:{API_PORT}", api_key=creds.registry_api_key,
                              allow_from=record.subnet,
                              log_file=logs / "registry.log")
    mirror.pid = start_pdns(mirror, labdir / "dns" / ROUTE53_NS, api_address=MIRROR_API,
                            api_key=creds.route53_mirror_api_key, allow_from="127.0.0.0/8",
                            log_file=logs / "route53-ns.log")
    resolver.pid = start_resolver(resolver, labdir / "dns" / RESOLVER, subnet=record.subnet,
                                  registry=registry.address, log_file=logs / "resolver.log")
    record.save()
    mirror_loop = start_mirror(mirror, labdir, moto=moto_url.split("//")[1].split(":")[0],
                               zone_id=hosted_zone_id, zone=zone, log_file=logs / "route53-mirror.log")
    wait_api(registry_api, what="the lab's registry (PowerDNS)", pid=registry.pid,
             log_file=logs / "registry.log")
    # The delegation points at Route53's name servers, as moto names them.
    soa_ns = wait_answer(mirror.address, zone, "NS", what="Route53's name servers (the mirror)")
    route53_names = {name: mirror.address for name in soa_ns.values}
    seed_registry(registry_api, zone=zone, registry=registry.address, route53_addresses=route53_names,
                  delegation=Delegation(tuple(sorted(route53_names)), {}, NS_TTL))
    wait_answer(resolver.address, zone, "SOA", what="the lab's resolver", recursive=True)
    return {"registry": registry.address, "registry_api": f"http://{registry.address}:{API_PORT}",
            "parent_zone": parent_of(zone), "route53": [mirror.address], "route53_mirror_pid": mirror_loop,
            "resolver": resolver.address, "zone": zone_name(zone)}
