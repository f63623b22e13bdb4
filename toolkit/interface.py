"""The toolkit's public Python interface: the CLI is a thin layer over these functions.

Each function does the work and raises ``toolkit.errors.ToolkitError`` subclasses on failure;
none prints. Results are plain dataclasses with a ``to_json()`` for ``--json`` output.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit.errors import BadInput
from toolkit.spec import LoadedSpec, SpecIssue, load_spec
from toolkit.targets import ProvisionResult

if TYPE_CHECKING:
    from toolkit.data import Verification
    from toolkit.data.replication import ReplicationResult
    from toolkit.dns.cutover import Outcome as DnsOutcome
    from toolkit.dns.world import DnsWorld
    from toolkit.lockin import LockinReport
    from toolkit.parity import ParityReport
    from toolkit.reports import RunReport
    from toolkit.runs import Listener, RunInfo

# Heavy modules (Pulumi, ansible-runner, the lab) are imported inside the functions that need
# them, so that `toolkit validate` starts fast.


@dataclass
class ValidationResult:
    spec_path: Path
    loaded: LoadedSpec
    warnings: list[SpecIssue] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        spec = self.loaded.spec
        return {
            "ok": True,
            "spec": str(self.spec_path),
            "service": spec.service.name,
            "targets": [name for name in ("aws", "baremetal") if getattr(spec.targets, name)],
            "warnings": [w.to_json() for w in self.warnings],
            "errors": [],
        }


def validate(spec_path: Path | str | None = None) -> ValidationResult:
    """Validate a spec: schema, semantics, files and secret references. Raises ``SpecError``."""
    loaded = load_spec(spec_path)
    return ValidationResult(spec_path=loaded.path, loaded=loaded, warnings=loaded.warnings)


def provision(target: str, spec_path: Path | str | None = None, *, check: bool = False,
              standby: bool = False, listeners: list[Listener] | None = None) -> ProvisionResult:
    """Provision ``target`` ("baremetal" or "aws") from the spec; ``check`` changes nothing.

    ``listeners`` receive the run's events (see ``toolkit.runs``); the CLI draws them.
    """
    loaded = load_spec(spec_path)
    if target == "baremetal":
        from toolkit.targets.baremetal.provision import provision_baremetal

        return provision_baremetal(loaded, check=check, standby=standby, listeners=listeners or [])
    if target == "aws":
        if standby:
            raise BadInput("--standby applies to --target baremetal only")
        from toolkit.targets.aws.provision import provision_aws

        return provision_aws(loaded, check=check, show_progress=bool(listeners))
    raise BadInput(f"unknown target {target!r} (baremetal or aws)")


def parity(spec_path: Path | str | None = None, *, playbooks_dir: Path | None = None) -> ParityReport:
    """Compare the AWS and bare-metal realizations of the spec; ``report.ok`` is the verdict."""
    from toolkit.parity import run_parity

    return run_parity(load_spec(spec_path), playbooks_dir=playbooks_dir)


def lockin(spec_path: Path | str | None = None, resource_types: list[str] | None = None) -> LockinReport:
    """Lint AWS resource types (default: those the AWS program declares) and the spec for lock-in."""
    from toolkit.lockin import AwsResource, lint
    from toolkit.targets.aws.offline import run_offline
    from toolkit.targets.aws.program import StackConfig

    loaded = load_spec(spec_path)
    if resource_types is not None:
        return lint(resource_types, loaded.spec)
    run = run_offline(StackConfig.from_spec(loaded))
    return lint([AwsResource(r.type, r.name, r.inputs) for r in run.resources if r.custom], loaded.spec)


def lab_up(name: str = "default", hosts: int = 5, *,
           listeners: list[Listener] | None = None) -> dict[str, Any]:
    """Bring the lab ``name`` up (or return its status if it already is); see ``toolkit.lab``.

    A run of its own (kind ``lab-up``): each phase is a step that ``listeners`` see.
    """
    from toolkit.lab import api
    from toolkit.runs import Run
    from toolkit.runs.sequence import StepSequence

    with Run.start("lab-up", listeners=listeners or [], meta={"lab": name, "hosts": hosts}) as run, \
            StepSequence(run) as step:
        return api.up(name, hosts, progress=step)


def lab_status(name: str = "default") -> dict[str, Any]:
    """The lab's paths, endpoints and hosts with a health probe per service."""
    from toolkit.lab import api

    return api.status(name)


def lab_down(name: str = "default") -> dict[str, Any]:
    """Remove the lab ``name`` entirely; safe to repeat and after a killed ``lab_up``."""
    from toolkit.lab import api

    return api.down(name)


def lab_snapshot(name: str, label: str) -> dict[str, Any]:
    """Save the lab's bare-metal disks as snapshot ``label`` (the hosts reboot)."""
    from toolkit.lab import api

    return api.snapshot(name, label)


def lab_restore(name: str, label: str = "booted") -> dict[str, Any]:
    """Return the lab's bare-metal hosts to snapshot ``label`` (``booted``: blank, as ``up`` made them)."""
    from toolkit.lab import api

    return api.restore(name, label)


def lab_image() -> dict[str, Any]:
    """Build the lab image if it is not cached; return its path and whether it was cached."""
    from toolkit.lab import api

    return api.build_image()


def runs() -> list[RunInfo]:
    """Past and current runs under the state directory, newest first."""
    from toolkit.runs import list_runs

    return list_runs()


def replicate(target: str, spec_path: Path | str | None = None, *,
              listeners: list[Listener] | None = None) -> ReplicationResult:
    """Start or continue replication to ``target``; return once it is caught up and streaming."""
    from toolkit.data.replication import replicate as run_replication

    return run_replication(load_spec(spec_path), target, listeners=listeners or [])


def replication_status(target: str, spec_path: Path | str | None = None) -> dict[str, Any]:
    """Lag, per-table state, retained WAL and the object pass's state; changes nothing."""
    from toolkit.data.replication import replication_status as status

    return status(load_spec(spec_path), target)


def stop_replication(target: str, spec_path: Path | str | None = None) -> dict[str, list[str]]:
    """Stop replication and remove what it made on both sides; safe to repeat."""
    from toolkit.data.replication import stop_replication as stop

    return stop(load_spec(spec_path), target)


def verify_data(target: str, spec_path: Path | str | None = None) -> list[Verification]:
    """Compare the source's data with the target's; each result names its differences."""
    from toolkit.data.replication import verify

    return verify(load_spec(spec_path), target)


def report(run_id: str, html_path: Path | None = None) -> RunReport:
    """The report of run ``run_id`` from its journal; with ``html_path``, also written as HTML."""
    from toolkit.reports import build_report
    from toolkit.reports.html import render_html

    built = build_report(run_id)
    if html_path is not None:
        html_path.write_text(render_html(built), encoding="utf-8")
    return built


def dns_plan(target: str, spec_path: Path | str | None = None) -> dict[str, Any]:
    """The zone sync diff per target, the records that switch with their TTLs, and the timeline."""
    from toolkit.dns import cutover

    return cutover.plan(_dns_world(target, spec_path))


def dns_apply(target: str, spec_path: Path | str | None = None, *, listeners: list[Listener] | None = None,
              force: bool = False, checksum: str | None = None, max_wait: float | None = None,
              delegation_moved: bool = False) -> DnsOutcome:
    """Perform the cutover steps that are due (a resumable run); returns where it stands."""
    from toolkit.dns import cutover

    return cutover.apply(_dns_world(target, spec_path), listeners=listeners or [], force=force,
                         checksum=checksum, delegation_moved=delegation_moved,
                         max_wait=cutover.DEFAULT_MAX_WAIT if max_wait is None else max_wait)


def dns_verify(spec_path: Path | str | None = None) -> dict[str, Any]:
    """Answers of every authoritative server, by address, and of the resolver; ``ok`` if they agree."""
    from toolkit.dns import cutover

    return cutover.verify(_dns_world("baremetal", spec_path))


def dns_rollback(spec_path: Path | str | None = None, *,
                 listeners: list[Listener] | None = None) -> DnsOutcome:
    """Restore every provider and the delegation to what the latest cutover run saved."""
    from toolkit.dns import cutover

    return cutover.rollback(_dns_world("baremetal", spec_path), listeners=listeners or [])


def _dns_world(target: str, spec_path: Path | str | None) -> DnsWorld:
    if target != "baremetal":
        raise BadInput(f"unknown target {target!r} (baremetal)")
    from toolkit.dns.world import load_world

    return load_world(load_spec(spec_path))
