"""``lab up``, ``lab status`` and ``lab down``: the lab's whole life cycle.

``up`` on a lab that is already up and healthy changes nothing and returns its status; a lab that
exists but is unhealthy or half-made (a killed ``up``) is torn down and rebuilt. ``up`` records
what it will make before making it (``lab.json``), so ``down`` can always clean up.
"""

from __future__ import annotations

import concurrent.futures
import ipaddress
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from toolkit.errors import EnvironmentNotReady
from toolkit.lab import (
    artifacts,
    aws_side,
    cgroups,
    dns_world,
    hosts,
    image,
    keys,
    network,
    snapshots,
    teardown,
)
from toolkit.lab.layout import check_size, plan_members
from toolkit.lab.names import OPERATOR_OCTET, LabNames, address, check_name, choose_subnet
from toolkit.lab.record import RECORD, LabRecord, Member, lab_dir, labs_root, other_records
from toolkit.lab.status import lab_status
from toolkit.lab.tools import file_lock, require_root, require_tools

log = logging.getLogger(__name__)

Progress = Callable[[str], None]
DEFAULT_NAME = "default"
DEFAULT_HOSTS = 5


def _quiet(_: str) -> None:
    pass


def _preflight(name: str) -> None:
    check_name(name)
    require_root()
    require_tools("ip", "systemd-nspawn", "nsenter", "mount", "umount")
    dns_world.require_binaries()


def _leftovers(names: LabNames, directory: Path) -> bool:
    return directory.exists() or bool(network.own_namespaces(names)) or bool(network.own_links(names))


def up(name: str = DEFAULT_NAME, hosts_count: int = DEFAULT_HOSTS, *, drill_hosts: int = 0,
       progress: Progress | None = None) -> dict[str, Any]:
    """Bring lab ``name`` up with ``hosts_count`` bare-metal hosts, and ``drill_hosts`` more for
    ``toolkit drill`` (bm(N+1)..bm(N+M)); return its status."""
    step = progress or _quiet
    check_size(hosts_count, drill_hosts)  # the user's mistake first, whatever the machine
    _preflight(name)
    names = LabNames(name)
    directory = lab_dir(name)
    existing = LabRecord.load(directory / RECORD)
    if existing is not None and existing.phase == "up":
        current = lab_status(existing)
        if current["healthy"] and (existing.hosts, existing.drill_hosts) == (hosts_count, drill_hosts):
            step(f"lab {name} is already up")
            return {**current, "already_up": True}
        step(f"lab {name} exists but is unhealthy or differently sized: rebuilding it")
    if existing is not None or _leftovers(names, directory):
        step(f"removing what is left of lab {name}")
        teardown.remove(name)

    step("lab image (debootstrap on the first run, then cached)")
    rootfs = image.ensure_image()
    binaries = {name: image.cached_binary(name) for name in image.WHEEL_BINARIES}

    # Serializes subnet choice between labs started at the same time.
    with file_lock(labs_root() / ".lock"):
        if names.bridge in network.links():
            raise EnvironmentNotReady(f"link {names.bridge} already exists but lab {name} has no record; "
                                      "another lab's name has the same short hash, choose another name")
        taken = [ipaddress.IPv4Network(r.subnet) for r in other_records(name)]
        subnet = choose_subnet(name, taken + network.addresses_in_reserved_range())
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(0o700)
        record = LabRecord(name=name, tag=names.tag, subnet=str(subnet), dir=str(directory),
                           hosts=hosts_count, drill_hosts=drill_hosts, phase="starting", image=str(rootfs),
                           members=plan_members(names, subnet, hosts_count, drill_hosts),
                           created_at=time.time())
        record.save()
    try:
        _build(record, names, rootfs, binaries, step)
    except BaseException as exc:
        log.error("up: lab %s failed halfway; `toolkit lab down --name %s` removes it; logs in %s",
                  name, name, directory / "logs")
        # A note, not a rebuilt error: the error keeps its type, attributes and message.
        exc.add_note(f"lab {name} is left as it is for inspection (logs in {directory / 'logs'}); "
                     f"`toolkit lab down --name {name}` removes it")
        raise
    return lab_status(record)


def _build(record: LabRecord, names: LabNames, rootfs: Path, binaries: dict[str, Path],
           step: Progress) -> None:
    directory = Path(record.dir)
    subnet = ipaddress.IPv4Network(record.subnet)
    (directory / "logs").mkdir(exist_ok=True)
    source, sample_path = artifacts.reference_service()
    sample = artifacts.with_lab_ttls(artifacts.sample_spec(sample_path))
    database = sample.database
    admin = (database.admin or database.owner).name
    creds = artifacts.Secrets.generate()
    members = {m.name: m for m in record.members}
    baremetal = [m for m in record.members if m.side == "baremetal"]  # the drill hosts too
    containers = [m for m in record.members if m.kind == "container"]
    moto, db, app = members["moto"], members["aws-db"], members["aws-app"]
    moto_url = f"http://{moto.address}:{artifacts.MOTO_PORT}"
    ports = list(sample.app.ports)
    record.aws = {"endpoint": moto_url, "db_port": database.port,
                  "database": database.name, "owner": database.owner.name, "admin": admin,
                  "app_ports": ports,
                  **{f"{name}_binary": str(path) for name, path in binaries.items()}}
    record.save()

    step("keys, secrets and certificates")
    creds.write(directory)
    operator_key = artifacts.write_operator_key(directory, record.name)
    host_keys = {m.name: keys.ssh_keypair(f"root@{m.name}") for m in containers}
    artifacts.write_known_hosts(directory, [(m.address, host_keys[m.name].public_line) for m in baremetal])
    load_balancer_tls = artifacts.write_tls(directory, record.name, artifacts.zone_of(sample),
                                            [m for m in baremetal if "web" in m.groups and not m.drill],
                                            [m for m in baremetal if m.drill])
    artifacts.write_pgpass(directory, db.address, record.aws["db_port"], [
        (database.name, database.owner.name, creds.db_owner_password),
        ("*", admin, creds.db_admin_password)])

    step(f"network: bridge {names.bridge} on {subnet}")
    network.create_bridge(names, subnet, address(subnet, OPERATOR_OCTET))
    for member in record.members:
        network.create_member(names, member.name, member.octet, member.address, subnet)

    step("starting moto (AWS APIs)")
    moto.pid = aws_side.start_moto(moto.netns, moto.address, directory / "logs" / "moto.log")
    record.save()

    step(f"booting {len(containers)} hosts")
    hosts.ensure_inotify_instances()
    app_host = aws_side.app_host(sample, source=source, moto_url=moto_url, db_address=db.address, creds=creds)
    for member in containers:
        dirs = hosts.HostDirs(directory / "hosts" / member.name)
        hosts.mount_overlay(dirs, rootfs, member.netns)
        hosts.set_identity(dirs.root, hostname=member.name,
                           host_key_private=host_keys[member.name].private_openssh,
                           host_key_public=host_keys[member.name].public_line,
                           authorized_key=operator_key if member.side == "baremetal" else None,
                           ssh_enabled=member.side == "baremetal")
        if member is app:
            aws_side.install_user_data(dirs.root, app_host, creds)
            aws_side.install_load_balancer(dirs.root, load_balancer_tls, ports)
        if member.side == "baremetal":
            snapshots.save_upper(record, snapshots.BOOTED, member)  # blank hosts, to return to
    for member in containers:
        machine = names.machine(member.name)
        member.cgroups = [str(path) for path in cgroups.hierarchy_paths(machine)]
        record.save()
        paths = cgroups.create(machine)
        member.pid = hosts.boot(root=hosts.HostDirs(directory / "hosts" / member.name).root,
                                machine=machine, netns=member.netns, cgroup_paths=paths,
                                log_file=directory / "logs" / f"{member.name}.log")
        record.save()

    def seed() -> dict[str, Any]:
        aws_side.wait_http(f"{moto_url}/moto-api/", what="moto", pid=moto.pid,
                           log_file=directory / "logs" / "moto.log")
        aws_side.create_buckets(moto_url, creds, [bucket.name for bucket in sample.buckets])
        aws_side.seed_app_host(moto_url, creds, app_host)
        # The app host boots from its user data now; its bootstrap waits for the database.
        aws_side.start_user_data(hosts.wait_for_boot(_pid(app), host="aws-app",
                                                     log_file=directory / "logs" / "aws-app.log"))
        return aws_side.seed_moto(moto_url, creds, lab=record.name, spec=sample, app_address=app.address,
                                  instances={"aws-db": db.address, "aws-app": app.address},
                                  admin_password=creds.db_admin_password, ns_ttl=dns_world.NS_TTL)

    def source_database() -> None:
        db_init = hosts.wait_for_boot(_pid(db), host="aws-db", log_file=directory / "logs" / "aws-db.log")
        aws_side.setup_source_database(db_init, hosts.HostDirs(directory / "hosts" / "aws-db").root,
                                       aws_side.DatabasePlan(
                                           address=db.address, subnet=str(subnet), port=database.port,
                                           name=database.name, admin=admin, locale=database.locale),
                                       creds)

    # moto takes seconds to import; the database is set up meanwhile.
    step("moto seeded (S3, SSM, RDS, EC2, Route53), the source PostgreSQL on aws-db, aws-app booting")
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        seeding, setting_up = pool.submit(seed), pool.submit(source_database)
        seeded = seeding.result()
        setting_up.result()
    record.aws.update(seeded)
    record.save()

    step("DNS world: Route53's name servers, the registry delegating the zone, the resolver")
    record.aws["dns"] = dns_world.start_world(record, directory, creds, zone=artifacts.zone_of(sample),
                                              hosted_zone_id=seeded["hosted_zone_id"], moto_url=moto_url)
    record.save()

    step("aws-app booted from the AWS stack's user data (bootstrap, then the app), and the data")
    app_init = hosts.wait_for_boot(_pid(app), host="aws-app", log_file=directory / "logs" / "aws-app.log")
    aws_side.finish_user_data(app_init, directory / "logs" / "aws-app-user-data.log")
    app_url = f"http://{app.address}:{ports[0]}"
    for port in ports:
        aws_side.wait_http(f"http://{app.address}:{port}/healthz", what=f"the app on aws-app:{port}",
                           ok=(200,), timeout=60)
    record.aws["seeded_notes"] = aws_side.seed_notes(app_url)
    record.save()

    step("waiting for SSH on the bare-metal hosts")
    for member in baremetal:
        hosts.wait_for_ssh(member.address, host=member.name, pid=_pid(member),
                           log_file=directory / "logs" / f"{member.name}.log")

    step("inventory and spec")
    artifacts.write_inventory(directory, record.members, binaries["weed"])
    wiring = artifacts.SpecWiring(
        app_source=source, moto_url=moto_url, hosted_zone_id=seeded["hosted_zone_id"],
        instances=seeded["instances"], db_address=db.address,
        objects_address=_first(record.members, "objects").address,
        dns_address=_first(record.members, "dns").address,
        resolver_address=record.member(dns_world.RESOLVER).address,
        registry_address=record.member(dns_world.REGISTRY).address,
        drill_hosts=record.drill_hosts)
    spec_path = artifacts.write_spec(directory, record.name, sample_path, sample, wiring)
    from toolkit.spec import load_spec

    load_spec(spec_path)  # the lab's spec must validate; fail here rather than in the user's hands
    record.phase = "up"
    record.save()
    step(f"lab {record.name} is up")


def _pid(member: Member) -> int:
    assert member.pid is not None, member.name
    return member.pid


def _first(members: list[Member], group: str) -> Member:
    """The first production host in ``group`` (drill hosts serve the drill, not the service)."""
    return next(m for m in members if group in m.groups and not m.drill)


def status(name: str = DEFAULT_NAME, *, probe: bool = True) -> dict[str, Any]:
    _preflight(name)
    directory = lab_dir(name)
    record = LabRecord.load(directory / RECORD)
    if record is None:
        raise EnvironmentNotReady(f"lab {name} is not up (no {directory / RECORD}); "
                                  f"run `toolkit lab up --name {name}`")
    return lab_status(record, probe=probe)


def _up_record(name: str) -> LabRecord:
    _preflight(name)
    record = LabRecord.load(lab_dir(name) / RECORD)
    if record is None or record.phase != "up":
        raise EnvironmentNotReady(f"lab {name} is not up; run `toolkit lab up --name {name}`")
    return record


def snapshot(name: str, label: str) -> dict[str, Any]:
    """Save the bare-metal hosts' disks as snapshot ``label`` (the hosts reboot)."""
    record = _up_record(name)
    snapshots.take(record, label)
    return {"name": name, "snapshot": label, "snapshots": snapshots.labels(record)}


def restore(name: str, label: str = snapshots.BOOTED) -> dict[str, Any]:
    """Return the bare-metal hosts to snapshot ``label`` (default: blank, as booted by ``up``)."""
    record = _up_record(name)
    snapshots.restore(record, label)
    return {**lab_status(record), "restored": label}


def down(name: str = DEFAULT_NAME, *, progress: Progress | None = None) -> dict[str, Any]:
    """Remove lab ``name`` entirely; safe to run twice, and after a killed ``up``."""
    step = progress or _quiet
    _preflight(name)
    step(f"removing lab {name}")
    removed = teardown.remove(name)
    return {"name": name, "removed": removed.to_json()}


def build_image() -> dict[str, Any]:
    """Build the lab image now if it is not cached (``up`` would otherwise do it on first use)."""
    require_root()
    ident = image.image_id()
    cached = (image.images_dir() / ident / "rootfs").is_dir()
    rootfs = image.ensure_image()
    return {"image": str(rootfs), "id": ident, "cached": cached,
            **{f"{name}_binary": str(image.cached_binary(name)) for name in image.WHEEL_BINARIES}}
